//! What both writers report of a campaign: its metric handles, and the
//! events of a commit, a refusal and a reconnection (names and meanings in
//! [`domgen_engine::telemetry`]).

use std::ops::Range;

use domgen_engine::telemetry::{
    BATCHES_CLAIMED, BATCHES_COMMITTED, COMMIT_SECONDS, LEASES_REFUSED, LEASES_TAKEN_OVER,
    RECONNECTS, ROWS_COMMITTED,
};
use metrics::{Counter, Histogram, counter, histogram};
use uuid::Uuid;

/// A campaign's metric handles (label `campaign`), registered once per run
/// so that a batch pays an atomic add, or nothing when no recorder is
/// installed.
pub(crate) struct Meters {
    campaign_id: Uuid,
    rows: Counter,
    batches: Counter,
    commit_seconds: Histogram,
    claimed: Counter,
    refused: Counter,
    taken_over: Counter,
    reconnects: Counter,
}

impl Meters {
    pub(crate) fn new(campaign_id: Uuid) -> Meters {
        let label = campaign_id.to_string();
        Meters {
            campaign_id,
            rows: counter!(ROWS_COMMITTED, "campaign" => label.clone()),
            batches: counter!(BATCHES_COMMITTED, "campaign" => label.clone()),
            commit_seconds: histogram!(COMMIT_SECONDS, "campaign" => label.clone()),
            claimed: counter!(BATCHES_CLAIMED, "campaign" => label.clone()),
            refused: counter!(LEASES_REFUSED, "campaign" => label.clone()),
            taken_over: counter!(LEASES_TAKEN_OVER, "campaign" => label.clone()),
            reconnects: counter!(RECONNECTS, "campaign" => label),
        }
    }

    /// A batch of `positions` (its first cell's start to its last cell's
    /// end) committed `rows`; `seconds` when this writer timed the commit
    /// (not when the ledger says a cut commit landed).
    pub(crate) fn committed(&self, positions: Range<u64>, rows: u64, seconds: Option<f64>) {
        self.rows.increment(rows);
        self.batches.increment(1);
        if let Some(seconds) = seconds {
            self.commit_seconds.record(seconds);
        }
        tracing::debug!(
            campaign = %self.campaign_id,
            start = positions.start,
            end = positions.end,
            rows,
            seconds,
            "batch committed"
        );
    }

    /// The lease fence refused the commit of `positions`.
    pub(crate) fn refused(&self, positions: &Range<u64>) {
        self.refused.increment(1);
        tracing::warn!(
            campaign = %self.campaign_id,
            start = positions.start,
            end = positions.end,
            "commit refused: the lease was lost, nothing written"
        );
    }

    /// `worker` claimed `positions`; `taken_from` is the worker whose
    /// expired lease it took over, `released` whether the batch had been
    /// given back.
    pub(crate) fn claimed(
        &self,
        worker: &str,
        positions: &Range<u64>,
        taken_from: Option<&str>,
        released: bool,
    ) {
        self.claimed.increment(1);
        match taken_from {
            Some(from) => {
                self.taken_over.increment(1);
                tracing::warn!(
                    campaign = %self.campaign_id,
                    worker,
                    from,
                    start = positions.start,
                    end = positions.end,
                    "took over an expired lease"
                );
            }
            None => tracing::debug!(
                campaign = %self.campaign_id,
                worker,
                start = positions.start,
                end = positions.end,
                released,
                "batch claimed"
            ),
        }
    }

    /// A lost connection was opened anew.
    pub(crate) fn reconnected(&self) {
        self.reconnects.increment(1);
        tracing::warn!(campaign = %self.campaign_id, "reconnected");
    }
}
