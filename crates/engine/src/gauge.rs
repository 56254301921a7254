//! Live figures of the runs of a generator, read by a monitor while they go.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::telemetry;

/// Counters a [`Generator`](crate::Generator) updates while it runs, and a
/// throttle a monitor sets to lower its in-flight limit under memory
/// pressure. Share one through an `Arc` with
/// [`GeneratorBuilder::gauge`](crate::GeneratorBuilder::gauge).
///
/// All fields are atomics read and written with relaxed ordering: they are
/// figures to sample, not synchronisation.
#[derive(Debug, Default)]
pub struct Gauge {
    in_flight: AtomicU64,
    arena_resets: AtomicU64,
    batches: AtomicU64,
    throttle: AtomicUsize,
}

impl Gauge {
    /// A gauge with every counter at zero and no throttle.
    pub fn new() -> Gauge {
        Gauge::default()
    }

    /// Batches that exist now (rendering, waiting or being written).
    pub fn batches_in_flight(&self) -> u64 {
        self.in_flight.load(Relaxed)
    }

    /// Times a pooled buffer was cleared and reused for a new batch.
    pub fn arena_resets(&self) -> u64 {
        self.arena_resets.load(Relaxed)
    }

    /// Batches written since the gauge was made.
    pub fn batches_written(&self) -> u64 {
        self.batches.load(Relaxed)
    }

    /// Caps the in-flight limit of runs at `batches` (at least 1) until
    /// [`release`](Gauge::release) is called. A run applies it before it
    /// dispatches the next batch; batches already out finish as they are.
    pub fn throttle(&self, batches: usize) {
        let batches = batches.max(1);
        let was = self.throttle.swap(batches, Relaxed);
        if was == 0 {
            metrics::counter!(telemetry::THROTTLED).increment(1);
            metrics::gauge!(telemetry::THROTTLED_NOW).increment(1.0);
            tracing::warn!(batches, "memory pressure: throttling the engine");
        } else if was != batches {
            tracing::info!(batches, "memory pressure: throttle changed");
        }
    }

    /// Lifts the cap set by [`throttle`](Gauge::throttle).
    pub fn release(&self) {
        if self.throttle.swap(0, Relaxed) != 0 {
            metrics::gauge!(telemetry::THROTTLED_NOW).decrement(1.0);
            tracing::info!("memory pressure over: throttle released");
        }
    }

    /// The cap in force, if any.
    pub fn throttled_to(&self) -> Option<usize> {
        match self.throttle.load(Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    /// `limit`, lowered to the throttle when one is set.
    pub(crate) fn limit(&self, limit: usize) -> usize {
        self.throttled_to().map_or(limit, |cap| cap.min(limit))
    }

    pub(crate) fn dispatched(&self, reused: bool) {
        self.in_flight.fetch_add(1, Relaxed);
        if reused {
            self.arena_resets.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn retired(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }

    pub(crate) fn written(&self) {
        self.batches.fetch_add(1, Relaxed);
    }
}

impl Drop for Gauge {
    /// A gauge dropped while throttled is an engine throttled no more.
    fn drop(&mut self) {
        if *self.throttle.get_mut() != 0 {
            metrics::gauge!(telemetry::THROTTLED_NOW).decrement(1.0);
        }
    }
}
