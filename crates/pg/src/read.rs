//! The readers: what the writers left, read back for people and reports.
//!
//! [`status`] is a worker campaign's progress from its ledger;
//! [`sample_rows`] a few of a campaign's rows; [`allocation`] a run's
//! `memory_allocations` row; [`run_samples`] a monitored run's samples and
//! leaks (`memory_metrics`, `memory_leak_detection`), as `domgen report`
//! draws them.

use std::fmt;

use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::error::Error;
use crate::ledger::quote_table;

/// A campaign's progress.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The campaign.
    pub campaign_id: Uuid,
    /// Positions in all.
    pub positions: u64,
    /// Names per batch: the grid (a cell, when `adaptive`).
    pub batch_names: u64,
    /// Whether workers lease a measured number of cells at once: then the
    /// counts below are of cells, not of leases.
    pub adaptive: bool,
    /// Batches (cells) in all.
    pub batches: u64,
    /// Batches (cells) committed.
    pub done: u64,
    /// Batches (cells) held by a live lease.
    pub leased: u64,
    /// Batches (cells) not committed and not held by a live lease (not cut
    /// yet, released, or expired).
    pub pending: u64,
    /// Of the pending: those of leases that expired, waiting to be taken
    /// over.
    pub expired: u64,
    /// Rows committed.
    pub rows: u64,
    /// Rows per second committed over the last minute (or since the first
    /// commit, if later).
    pub rows_per_sec: f64,
    /// Workers holding a live lease or that committed in the last minute.
    pub workers: Vec<String>,
    /// Whether every batch is committed.
    pub complete: bool,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "campaign {}: {} of {} rows ({:.1}%){}",
            self.campaign_id,
            self.rows,
            self.positions,
            if self.positions == 0 {
                100.0
            } else {
                // Display only: the ratio needs no exactness.
                self.rows as f64 * 100.0 / self.positions as f64
            },
            if self.complete { ", complete" } else { "" }
        )?;
        writeln!(
            f,
            "{} of {}: {} done, {} leased, {} pending ({} in expired leases) of {}",
            if self.adaptive { "cells" } else { "batches" },
            self.batch_names,
            self.done,
            self.leased,
            self.pending,
            self.expired,
            self.batches
        )?;
        write!(
            f,
            "rate: {:.0} rows/s over the last minute; workers: {}",
            self.rows_per_sec,
            if self.workers.is_empty() {
                "none".to_owned()
            } else {
                format!("{} ({})", self.workers.len(), self.workers.join(", "))
            }
        )
    }
}

/// Reads a campaign's progress from its ledger.
pub async fn status(client: &Client, campaign_id: Uuid) -> Result<Status, Error> {
    let campaign = client
        .query_typed_opt(
            "SELECT first_position, end_position, batch_names, next_start IS NOT NULL, adaptive
               FROM generation_campaigns WHERE campaign_id = $1",
            &[(&campaign_id, Type::UUID)],
        )
        .await?
        .ok_or_else(|| {
            Error::usage(format!(
                "campaign {campaign_id} does not exist; plan it with `workers::plan`"
            ))
        })?;
    if !campaign.get::<_, bool>(3) {
        return Err(Error::usage(format!(
            "campaign {campaign_id} was started by `campaign::generate`, not planned for workers; it has no worker status"
        )));
    }
    let first = u64::try_from(campaign.get::<_, i64>(0)).unwrap_or(0);
    let end = u64::try_from(campaign.get::<_, i64>(1)).unwrap_or(0);
    let batch_names = u64::try_from(campaign.get::<_, i64>(2)).unwrap_or(1).max(1);
    // A lease of an adaptive campaign covers whole cells (the last one of
    // the campaign may be short): counted in cells, so the counts add up.
    let row = client
        .query_typed_one(
            "WITH b AS (
                 SELECT *, (batch_end - batch_start - 1) / $2 + 1 AS cells
                   FROM generation_batches WHERE campaign_id = $1)
             SELECT coalesce(sum(cells) FILTER (WHERE status = 'committed'), 0)::bigint,
                    coalesce(sum(rows) FILTER (WHERE status = 'committed'), 0)::bigint,
                    coalesce(sum(cells) FILTER (WHERE status = 'leased' AND lease_expires_at > statement_timestamp()), 0)::bigint,
                    coalesce(sum(cells) FILTER (WHERE status = 'leased' AND lease_expires_at <= statement_timestamp()), 0)::bigint,
                    coalesce(sum(rows) FILTER (WHERE committed_at > statement_timestamp() - interval '60 seconds'), 0)::bigint,
                    extract(epoch FROM statement_timestamp() - min(committed_at))::float8,
                    coalesce(array_agg(DISTINCT worker_id) FILTER (
                        WHERE (status = 'leased' AND lease_expires_at > statement_timestamp())
                           OR committed_at > statement_timestamp() - interval '60 seconds'), '{}')
               FROM b",
            &[
                (&campaign_id, Type::UUID),
                (&i64::try_from(batch_names).unwrap_or(i64::MAX), Type::INT8),
            ],
        )
        .await?;
    let count = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
    let (done, rows, leased, expired, recent) = (count(0), count(1), count(2), count(3), count(4));
    let since_first: Option<f64> = row.get(5);
    let window = since_first.unwrap_or(0.0).clamp(0.0, 60.0);
    // A rate for display: precision beyond 2^53 rows does not matter.
    let rows_per_sec = if window > 0.0 {
        recent as f64 / window
    } else {
        0.0
    };
    let batches = (end - first).div_ceil(batch_names);
    Ok(Status {
        campaign_id,
        positions: end - first,
        batch_names,
        adaptive: campaign.get(4),
        batches,
        done,
        leased,
        pending: batches.saturating_sub(done + leased),
        expired,
        rows,
        rows_per_sec,
        workers: row.get(6),
        complete: done == batches,
    })
}

/// Up to `limit` rows of a campaign in `table`, as `(offset_index,
/// domain_name)`, in no particular order: a glimpse, not a sorted read
/// (the table needs no index, and a sort would read it all).
pub async fn sample_rows(
    client: &Client,
    table: &str,
    campaign_id: Uuid,
    limit: i64,
) -> Result<Vec<(i64, String)>, Error> {
    let rows = client
        .query_typed(
            &format!(
                "SELECT offset_index, domain_name FROM {} WHERE campaign_id = $1 LIMIT $2",
                quote_table(table)?
            ),
            &[(&campaign_id, Type::UUID), (&limit, Type::INT8)],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A run's `memory_allocations` row (its `operation_id` is the run id).
#[derive(Clone, Debug, Serialize)]
pub struct Allocation {
    /// The run's id.
    pub operation_id: String,
    /// Bytes allocated during the run; `None`: unavailable (no counting
    /// allocator).
    pub allocated_bytes: Option<i64>,
    /// Peak live heap during the run; `None`: unavailable.
    pub peak_bytes: Option<i64>,
    /// How long the run took.
    pub duration_ms: Option<i32>,
    /// Live heap after the run minus before.
    pub memory_leaked_bytes: Option<i64>,
    /// Whether the run ended well and left no heap behind.
    pub cleanup_successful: Option<bool>,
}

impl fmt::Display for Allocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = |b: Option<i64>| b.map_or("unavailable".to_owned(), |v| v.to_string());
        write!(
            f,
            "operation_id={} allocated_bytes={} peak_bytes={} duration_ms={} memory_leaked_bytes={} cleanup_successful={}",
            self.operation_id,
            bytes(self.allocated_bytes),
            bytes(self.peak_bytes),
            self.duration_ms.unwrap_or(0),
            self.memory_leaked_bytes.unwrap_or(0),
            self.cleanup_successful.unwrap_or(false),
        )
    }
}

/// The `memory_allocations` row of run `run_id`, if there is one.
pub async fn allocation(client: &Client, run_id: Uuid) -> Result<Option<Allocation>, Error> {
    let row = client
        .query_typed_opt(
            "SELECT operation_id, allocated_bytes, peak_bytes, duration_ms, memory_leaked_bytes, cleanup_successful
             FROM memory_allocations WHERE operation_id = $1",
            &[(&run_id.to_string(), Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| Allocation {
        operation_id: r.get(0),
        allocated_bytes: r.get(1),
        peak_bytes: r.get(2),
        duration_ms: r.get(3),
        memory_leaked_bytes: r.get(4),
        cleanup_successful: r.get(5),
    }))
}

/// One sample of a monitored run, as stored in `memory_metrics`.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    /// Seconds since the run's first sample.
    pub secs: f64,
    /// When it was taken (RFC 3339).
    pub sampled_at: String,
    /// Live heap.
    pub heap_used_bytes: i64,
    /// The heap the utilisation is a share of.
    pub heap_size_bytes: i64,
    /// RSS.
    pub rss_bytes: Option<i64>,
    /// Peak heap.
    pub peak_heap_bytes: Option<i64>,
    /// Threads.
    pub threads: Option<i32>,
    /// Engine batches in flight.
    pub batches_in_flight: Option<i64>,
    /// The database's state.
    pub memory_state: Option<String>,
}

/// A leak reported during a monitored run (`memory_leak_detection`).
#[derive(Clone, Debug, Serialize)]
pub struct LeakReport {
    /// Seconds since the run's first sample.
    pub secs: f64,
    /// The rule.
    pub leak_type: String,
    /// Its evidence.
    pub leak_source: String,
    /// Bytes (threads for thread growth).
    pub leaked_bytes: i64,
    /// The database's severity.
    pub severity: Option<String>,
}

/// A monitored run's samples in time order and its leaks; no samples when
/// the run is unknown.
pub async fn run_samples(
    client: &Client,
    run_id: Uuid,
) -> Result<(Vec<Sample>, Vec<LeakReport>), Error> {
    let samples = client
        .query_typed(
            "WITH s AS (
               SELECT *, coalesce(sampled_at, recorded_at) AS t FROM memory_metrics WHERE run_id = $1)
             SELECT extract(epoch FROM t - min(t) OVER ())::float8, to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                    heap_used_bytes, heap_size_bytes, rss_bytes, peak_heap_bytes, goroutines_count,
                    batches_in_flight, memory_state
             FROM s ORDER BY t",
            &[(&run_id, Type::UUID)],
        )
        .await
        .map_err(|e| Error::db(e).context("reading the run's samples from memory_metrics".into()))?
        .iter()
        .map(|r| Sample {
            secs: r.get(0),
            sampled_at: r.get(1),
            heap_used_bytes: r.get(2),
            heap_size_bytes: r.get(3),
            rss_bytes: r.get(4),
            peak_heap_bytes: r.get(5),
            threads: r.get(6),
            batches_in_flight: r.get(7),
            memory_state: r.get(8),
        })
        .collect();
    let leaks = client
        .query_typed(
            "SELECT extract(epoch FROM l.detected_at - (SELECT min(coalesce(sampled_at, recorded_at))
                                                       FROM memory_metrics WHERE run_id = $1))::float8,
                    leak_type, leak_source, leaked_bytes, severity
             FROM memory_leak_detection l WHERE run_id = $1 ORDER BY detected_at",
            &[(&run_id, Type::UUID)],
        )
        .await
        .map_err(|e| {
            Error::db(e).context("reading the run's leaks from memory_leak_detection".into())
        })?
        .iter()
        .map(|r| LeakReport {
            secs: r.get(0),
            leak_type: r.get(1),
            leak_source: r.get(2),
            leaked_bytes: r.get(3),
            severity: r.get(4),
        })
        .collect();
    Ok((samples, leaks))
}
