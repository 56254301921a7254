//! What the monitor's threads share: the sampler pushes events into the
//! backlog, the writer ([`Store`](crate::store::Store)) takes them out, and
//! both count what they did.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use crate::leak::{Detector, Leak};
use crate::sample::Reader;
use crate::{Config, Sample, State, WriteError};
use domgen_engine::telemetry;

/// What the sampler hands the writer.
#[derive(Debug)]
pub(crate) enum Event {
    Sample(Sample),
    Leak(Leak),
}

/// The writer's queue: bounded, oldest dropped first.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    pub(crate) events: VecDeque<Event>,
    pub(crate) closed: bool,
}

/// What the threads share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Whether a writer takes events from the backlog.
    pub(crate) writes: bool,
    pub(crate) backlog: Mutex<Backlog>,
    pub(crate) ready: Condvar,
    pub(crate) history: Mutex<VecDeque<Sample>>,
    pub(crate) detector: Mutex<Detector>,
    pub(crate) counts: Counts,
}

/// Counters of a monitor's life, read with [`Handle::summary`](crate::Handle::summary).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) samples: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) leaks: AtomicU64,
    pub(crate) leaks_written: AtomicU64,
    pub(crate) write_errors: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) cpu_ns: AtomicU64,
    pub(crate) state: Mutex<Option<State>>,
    pub(crate) last_error: Mutex<Option<WriteError>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Queues an event for the writer; never waits for it.
    pub(crate) fn push(&self, event: Event) {
        if !self.writes {
            return;
        }
        let mut backlog = lock(&self.backlog);
        if backlog.events.len() >= self.config.backlog.max(1) {
            backlog.events.pop_front();
            self.counts.dropped.fetch_add(1, Relaxed);
        }
        backlog.events.push_back(event);
        drop(backlog);
        self.ready.notify_one();
    }

    pub(crate) fn lock_backlog(&self) -> MutexGuard<'_, Backlog> {
        lock(&self.backlog)
    }

    pub(crate) fn sample(&self, reader: &Reader) {
        let sample = reader.read();
        if sample.heap_used().is_none() {
            // Nothing to read (the sampled process is gone): a figure that
            // is unavailable is left out, never recorded as zero.
            return;
        }
        self.counts.samples.fetch_add(1, Relaxed);
        if let Some(live) = sample.live_bytes {
            metrics::gauge!(telemetry::LIVE_HEAP_BYTES).set(live as f64);
        }
        let leaks = {
            let mut history = lock(&self.history);
            if history.len() >= self.config.history.max(1) {
                history.pop_front();
            }
            history.push_back(sample);
            lock(&self.detector).check(&self.config, &history)
        };
        self.push(Event::Sample(sample));
        for leak in leaks {
            self.leak_found(leak);
        }
    }

    /// Counts, reports and queues a leak a rule found.
    pub(crate) fn leak_found(&self, leak: Leak) {
        self.counts.leaks.fetch_add(1, Relaxed);
        metrics::counter!(telemetry::LEAKS_REPORTED, "rule" => leak.rule.name()).increment(1);
        tracing::warn!(
            rule = leak.rule.name(),
            leaked = leak.leaked,
            operation = leak.operation_id.as_deref(),
            evidence = %leak.evidence,
            "memory leak suspected"
        );
        self.push(Event::Leak(leak));
    }

    pub(crate) fn set_state(&self, state: State) {
        let mut current = lock(&self.counts.state);
        if *current != Some(state) {
            let previous = current.replace(state);
            drop(current);
            let (from, to) = (previous.map_or("none", State::name), state.name());
            if state >= State::Warning {
                tracing::warn!(from, to, "memory state changed");
            } else {
                tracing::info!(from, to, "memory state changed");
            }
            for callback in &self.config.callbacks {
                // A panicking callback must not take the writer down with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(state)));
            }
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
