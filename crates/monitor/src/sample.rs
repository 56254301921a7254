use std::sync::Arc;
use std::time::{Instant, SystemTime};

use domgen_engine::Gauge;

/// One reading of the process, the allocator and the engine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// When it was taken (wall clock, for the database).
    pub at: SystemTime,
    /// Seconds since the monitor started (for the leak rules).
    pub secs: f64,
    /// Live heap bytes (the counting allocator), `None` where it is not installed.
    pub live_bytes: Option<u64>,
    /// Peak live heap bytes since the allocator's last peak reset.
    pub peak_bytes: Option<u64>,
    /// Resident set size.
    pub rss_bytes: Option<u64>,
    /// Threads of the process.
    pub threads: Option<u64>,
    /// The engine's batches in flight (with a gauge).
    pub batches_in_flight: Option<u64>,
    /// The engine's arena resets so far (with a gauge).
    pub arena_resets: Option<u64>,
}

impl Sample {
    /// The heap used, as the rules see it: live heap, or RSS where the
    /// allocator is not ours to read (another process).
    pub fn heap_used(&self) -> Option<u64> {
        self.live_bytes.or(self.rss_bytes)
    }
}

/// Reads samples of this process or of another one.
pub(crate) struct Reader {
    pub(crate) pid: Option<u32>,
    pub(crate) gauge: Option<Arc<Gauge>>,
    pub(crate) started: Instant,
}

impl Reader {
    pub(crate) fn read(&self) -> Sample {
        let process = match self.pid {
            None => domgen_alloc::process(),
            Some(pid) => domgen_alloc::process_of(pid),
        };
        // The allocator's counters are this process's, not another's.
        let stats = self.pid.is_none().then(domgen_alloc::stats).flatten();
        Sample {
            at: SystemTime::now(),
            secs: self.started.elapsed().as_secs_f64(),
            live_bytes: stats.map(|s| s.live_bytes),
            peak_bytes: stats.map(|s| s.peak_live_bytes),
            rss_bytes: process.map(|p| p.rss_bytes),
            threads: process.map(|p| p.threads),
            batches_in_flight: self.gauge.as_ref().map(|g| g.batches_in_flight()),
            arena_resets: self.gauge.as_ref().map(|g| g.arena_resets()),
        }
    }
}
