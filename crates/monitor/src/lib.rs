/*!
A memory monitor for domgen: it samples the process, the counting allocator
and the engine, keeps a bounded history, runs leak rules over it, records
samples and leaks in PostgreSQL, and tells the engine to slow down under
memory pressure.

[`Monitor::start`] starts a sampler thread ([`Monitor::start_recording`]
also a writer thread that hands events to a [`Recorder`]) and returns a [`Handle`]; [`Handle::stop`] or dropping the handle
stops and joins them. Every [`Config::interval`] the sampler reads a
[`Sample`] (live and peak heap, RSS and threads from `domgen-alloc`,
batches in flight and arena resets from the engine's
[`Gauge`]), puts it in the history and runs the
rules: rapid growth, steady growth (a least-squares slope with its R²) and
thread growth; [`Handle::operation`] is the per-operation rule. A [`Leak`]
names its [`Rule`] and its evidence.

This crate does no I/O beyond `/proc`: `domgen_pg::monitor::PgRecorder` is
the recorder for PostgreSQL. It records each sample through
`record_memory_sample` (migration V4), which calls V1's `record_memory_metrics`, so the memory state, the
optimisation advice and the alerts are decided in the database; the state
it returns drives the pressure callbacks ([`Config::on_pressure`],
[`throttle`]). Leaks go through `report_memory_leak`, which calls
`detect_memory_leak`. The sampler never waits for the recorder: events
queue in a bounded backlog, the oldest dropped first when it is full, and a
`memory_metrics_dropped` row in `system_alerts` says how many were lost.
An event the recorder fails on is kept and tried again when the failure is
[transient](RecordErrorKind::Transient) (the store unreachable or too slow;
`PgRecorder` bounds each call with a timeout), and dropped and counted in
[`Summary::rejected`] when the store [rejected](RecordErrorKind::Rejected)
it for good, so that it does not hold up the events after it.
[`Summary::last_error`] keeps the last failure, with its time.

```
use std::time::Duration;
use domgen_monitor::{Config, Monitor};

let config = Config { interval: Duration::from_millis(100), ..Config::default() };
let handle = Monitor::start(config, None)?;
std::thread::sleep(Duration::from_millis(250));
let summary = handle.stop();
assert!(summary.samples >= 2);
# Ok::<(), Box<dyn std::error::Error>>(())
```

Each sample sets the `domgen_live_heap_bytes` gauge, each leak counts in
`domgen_leaks_reported_total` and is a `warn` event, and a change of
memory state is an event (see `domgen_engine::telemetry`).

# Crate features

This crate has no optional features.
*/

#![deny(missing_docs)]

mod config;
mod error;
mod leak;
mod monitor;
mod sample;
mod shared;
mod store;

use std::sync::Arc;

use domgen_engine::Gauge;

pub use crate::config::{Config, MIN_INTERVAL, PressureCallback};
pub use crate::error::{Error, ErrorKind, RecordError, RecordErrorKind};
pub use crate::leak::{Leak, Rule, fit};
pub use crate::monitor::{Handle, Monitor, Summary, WriteError};
pub use crate::sample::Sample;
pub use crate::store::{Recorder, Source};

/// A sample's memory state, as `record_memory_metrics` classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum State {
    /// No heap size to compare with.
    Unknown,
    /// Below 60 % of the heap.
    Normal,
    /// 60 % or more.
    Elevated,
    /// 75 % or more.
    Warning,
    /// 90 % or more (or RSS above [`Config::max_memory`]).
    Critical,
}

impl State {
    /// The state named as the database names it.
    pub fn parse(name: &str) -> State {
        match name {
            "normal" => State::Normal,
            "elevated" => State::Elevated,
            "warning" => State::Warning,
            "critical" => State::Critical,
            _ => State::Unknown,
        }
    }

    /// The database's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Normal => "normal",
            State::Elevated => "elevated",
            State::Warning => "warning",
            State::Critical => "critical",
        }
    }
}

/// The engine's pressure callback: at warning the gauge throttles runs to
/// half of `in_flight`, at critical to one batch; otherwise it lets them
/// run at their own limit again.
pub fn throttle(gauge: Arc<Gauge>, in_flight: usize) -> impl Fn(State) + Send + Sync + 'static {
    move |state| match state {
        State::Warning => gauge.throttle((in_flight / 2).max(1)),
        State::Critical => gauge.throttle(1),
        _ => gauge.release(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_halves_at_warning_and_goes_to_one_at_critical() {
        let gauge = Arc::new(Gauge::new());
        let callback = throttle(gauge.clone(), 10);
        callback(State::Warning);
        assert_eq!(gauge.throttled_to(), Some(5));
        callback(State::Critical);
        assert_eq!(gauge.throttled_to(), Some(1));
        callback(State::Normal);
        assert_eq!(gauge.throttled_to(), None);
    }

    #[test]
    fn states_round_trip() {
        for s in [
            State::Unknown,
            State::Normal,
            State::Elevated,
            State::Warning,
            State::Critical,
        ] {
            assert_eq!(State::parse(s.name()), s);
        }
    }
}
