//! What domgen tells a host while it runs: the names of its metrics, for
//! the [`metrics`] facade, and [`describe`], which gives each its unit and
//! help text.
//!
//! The library records through whatever recorder the host installed (a
//! Prometheus exporter, say); with none installed, recording is a no-op.
//! Metrics are recorded at most once per batch, never per name.
//! Campaign metrics carry the label `campaign` (the campaign's id): a
//! process works few campaigns, so their number stays small.
//!
//! The library's [`tracing`] events follow the same moments: a span per
//! run (`campaign`, `worker`), `info` for a run's start and end, `warn`
//! for a refused commit, a lease taken over, a retry or reconnection and
//! memory pressure, `debug` per batch. Nothing is printed unless the host
//! installs a subscriber.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Counter: names the engine rendered and handed to a sink, for files and
/// databases alike. Added once per batch.
pub const NAMES_GENERATED: &str = "domgen_names_generated_total";

/// Gauge: batches that exist now, being rendered, waiting for their turn
/// or being written, over all runs of the process.
pub const BATCHES_IN_FLIGHT: &str = "domgen_batches_in_flight";

/// Gauge, bytes: the live heap as the counting allocator counts it, set
/// after each batch and at each memory-monitor sample (only where the
/// counting allocator is installed).
pub const LIVE_HEAP_BYTES: &str = "domgen_live_heap_bytes";

/// Counter: times a run's planner waited for a batch to finish because
/// the live heap was over its memory budget.
pub const MEMORY_WAITS: &str = "domgen_memory_waits_total";

/// Counter: times memory pressure throttled the engine (a
/// [`Gauge`](crate::Gauge) throttle set where none was).
pub const THROTTLED: &str = "domgen_throttled_total";

/// Gauge: engines (their [`Gauge`](crate::Gauge)s) that memory pressure
/// throttles now; for one engine, 1 while it is throttled, else 0.
pub const THROTTLED_NOW: &str = "domgen_throttled";

/// Counter, label `campaign`: rows committed to the campaign's table.
pub const ROWS_COMMITTED: &str = "domgen_rows_committed_total";

/// Counter, label `campaign`: batches committed, each with its ledger rows.
pub const BATCHES_COMMITTED: &str = "domgen_batches_committed_total";

/// Histogram, seconds, label `campaign`: how long a batch's commit took
/// (its COPY and ledger row; for a worker, rendering into the COPY too).
pub const COMMIT_SECONDS: &str = "domgen_commit_seconds";

/// Counter, label `campaign`: batches a worker claimed under a lease.
pub const BATCHES_CLAIMED: &str = "domgen_batches_claimed_total";

/// Counter, label `campaign`: commits refused because the lease was lost
/// (expired or taken over); nothing was written.
pub const LEASES_REFUSED: &str = "domgen_leases_refused_total";

/// Counter, label `campaign`: expired leases of other workers taken over.
pub const LEASES_TAKEN_OVER: &str = "domgen_leases_taken_over_total";

/// Counter, label `campaign`: connections lost during a run and opened
/// anew.
pub const RECONNECTS: &str = "domgen_reconnects_total";

/// Counter: pauses before trying again after a transient failure (a lost
/// connection, a call unanswered in time, a lost race).
pub const RETRIES: &str = "domgen_retries_total";

/// Counter, label `rule`: leaks the memory monitor reported.
pub const LEAKS_REPORTED: &str = "domgen_leaks_reported_total";

/// Counter, label `kind` (`transient` or `rejected`): the memory monitor's
/// failed attempts to record a sample or a leak.
pub const MONITOR_WRITE_ERRORS: &str = "domgen_monitor_write_errors_total";

/// Gives the recorder installed now the unit and help text of every
/// metric above (Prometheus's `HELP` lines). Call it once, after the
/// recorder is installed.
pub fn describe() {
    describe_counter!(
        NAMES_GENERATED,
        Unit::Count,
        "Names rendered by the engine and handed to a sink."
    );
    describe_gauge!(
        BATCHES_IN_FLIGHT,
        Unit::Count,
        "Batches being rendered, waiting or being written."
    );
    describe_gauge!(
        LIVE_HEAP_BYTES,
        Unit::Bytes,
        "Live heap bytes, as the counting allocator counts them."
    );
    describe_counter!(
        MEMORY_WAITS,
        Unit::Count,
        "Times a run waited because the live heap was over its memory budget."
    );
    describe_counter!(
        THROTTLED,
        Unit::Count,
        "Times memory pressure throttled the engine."
    );
    describe_gauge!(
        THROTTLED_NOW,
        Unit::Count,
        "Engines throttled by memory pressure now: 1 while one is, else 0."
    );
    describe_counter!(
        ROWS_COMMITTED,
        Unit::Count,
        "Rows committed to a campaign's table."
    );
    describe_counter!(
        BATCHES_COMMITTED,
        Unit::Count,
        "Batches committed with their ledger rows."
    );
    describe_histogram!(
        COMMIT_SECONDS,
        Unit::Seconds,
        "Seconds a batch's commit took."
    );
    describe_counter!(
        BATCHES_CLAIMED,
        Unit::Count,
        "Batches claimed by a worker under a lease."
    );
    describe_counter!(
        LEASES_REFUSED,
        Unit::Count,
        "Commits refused because the lease was lost; nothing was written."
    );
    describe_counter!(
        LEASES_TAKEN_OVER,
        Unit::Count,
        "Expired leases of other workers taken over."
    );
    describe_counter!(
        RECONNECTS,
        Unit::Count,
        "Connections lost during a run and opened anew."
    );
    describe_counter!(
        RETRIES,
        Unit::Count,
        "Pauses before trying again after a transient failure."
    );
    describe_counter!(
        LEAKS_REPORTED,
        Unit::Count,
        "Leaks reported by the memory monitor."
    );
    describe_counter!(
        MONITOR_WRITE_ERRORS,
        Unit::Count,
        "Failed attempts of the memory monitor to record a sample or a leak."
    );
}
