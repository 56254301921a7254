use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::State;

/// A callback run when the memory state changes (see [`Config::on_pressure`]).
pub type PressureCallback = Arc<dyn Fn(State) + Send + Sync>;

/// The shortest sampling interval.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// What a [`Monitor`](crate::Monitor) samples, where it writes, and the
/// thresholds of its leak rules. Fields are public; [`Config::default`]
/// holds the original plan's defaults.
#[derive(Clone)]
pub struct Config {
    /// Time between samples (default 10 s, at least 100 ms).
    pub interval: Duration,
    /// Samples kept in memory for the leak rules (default 360: an hour at 10 s).
    pub history: usize,
    /// Samples kept for the database while it is unreachable (default 8,640:
    /// a day at 10 s); the oldest is dropped first, and counted.
    pub backlog: usize,
    /// `service_name` of the rows.
    pub service: String,
    /// The run samples belong to (`memory_metrics.run_id`).
    pub run_id: Option<uuid::Uuid>,
    /// Whose figures: `None` is this process (allocator, engine and /proc),
    /// `Some(pid)` another one (only what /proc/PID tells: RSS, threads).
    pub pid: Option<u32>,
    /// The heap the utilisation is a share of (`heap_size_bytes`; default
    /// 1 GiB, the original plan's max heap): 75 % is warning, 90 % critical.
    pub max_heap: u64,
    /// The RSS above which the pressure callbacks are told `Critical`,
    /// whatever the heap's state (default 2 GiB, the original plan's max
    /// memory).
    pub max_memory: u64,
    /// Rapid growth: live heap this far above the baseline … (default 100 MiB)
    pub rapid_bytes: u64,
    /// … within this window fires (default 5 min).
    pub rapid_window: Duration,
    /// Otherwise the baseline moves forward this often (default 10 min).
    pub baseline_every: Duration,
    /// Steady growth: a least-squares slope of the live heap above this
    /// many bytes a minute … (default 10 MiB/min)
    pub steady_bytes_per_min: f64,
    /// … with a fit (R²) at least this good … (default 0.9)
    pub steady_min_r2: f64,
    /// … over at least this many samples fires (default 20).
    pub steady_min_samples: usize,
    /// Thread growth: this many threads above the first sample fires (default 50).
    pub thread_growth: u64,
    /// Per operation: a run leaving at least this much more live heap than
    /// it found is reported (default 256 KiB; less is allocator noise).
    pub operation_bytes: u64,
    /// Run on every change of state; see [`Config::on_pressure`].
    pub callbacks: Vec<PressureCallback>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            interval: Duration::from_secs(10),
            history: 360,
            backlog: 8_640,
            service: "domgen".to_owned(),
            run_id: None,
            pid: None,
            max_heap: 1 << 30,
            max_memory: 2 << 30,
            rapid_bytes: 100 << 20,
            rapid_window: Duration::from_secs(5 * 60),
            baseline_every: Duration::from_secs(10 * 60),
            steady_bytes_per_min: f64::from(10u32 << 20),
            steady_min_r2: 0.9,
            steady_min_samples: 20,
            thread_growth: 50,
            operation_bytes: 256 << 10,
            callbacks: Vec::new(),
        }
    }
}

impl Config {
    /// Runs `callback` on the monitor's writer thread whenever the state
    /// the database returns for a sample differs from the last one.
    pub fn on_pressure(&mut self, callback: impl Fn(State) + Send + Sync + 'static) -> &mut Config {
        self.callbacks.push(Arc::new(callback));
        self
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("interval", &self.interval)
            .field("history", &self.history)
            .field("backlog", &self.backlog)
            .field("service", &self.service)
            .field("run_id", &self.run_id)
            .field("pid", &self.pid)
            .field("max_heap", &self.max_heap)
            .field("max_memory", &self.max_memory)
            .field("rapid_bytes", &self.rapid_bytes)
            .field("rapid_window", &self.rapid_window)
            .field("baseline_every", &self.baseline_every)
            .field("steady_bytes_per_min", &self.steady_bytes_per_min)
            .field("steady_min_r2", &self.steady_min_r2)
            .field("steady_min_samples", &self.steady_min_samples)
            .field("thread_growth", &self.thread_growth)
            .field("operation_bytes", &self.operation_bytes)
            .field("callbacks", &self.callbacks.len())
            .finish()
    }
}
