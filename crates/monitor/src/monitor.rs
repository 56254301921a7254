use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use domgen_engine::Gauge;

use crate::config::MIN_INTERVAL;
use crate::leak::{self, Detector, Leak};
use crate::store::{Recorder, Store};
use crate::{Config, Sample, State};

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

/// Counters of a monitor's life, read with [`Handle::counts`].
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) samples: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) leaks: AtomicU64,
    pub(crate) leaks_written: AtomicU64,
    pub(crate) write_errors: AtomicU64,
    pub(crate) cpu_ns: AtomicU64,
    pub(crate) state: Mutex<Option<State>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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

    fn sample(&self, reader: &crate::sample::Reader) {
        let sample = reader.read();
        if sample.heap_used().is_none() {
            // Nothing to read (the sampled process is gone): a figure that
            // is unavailable is left out, never recorded as zero.
            return;
        }
        self.counts.samples.fetch_add(1, Relaxed);
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
            self.counts.leaks.fetch_add(1, Relaxed);
            self.push(Event::Leak(leak));
        }
    }

    pub(crate) fn set_state(&self, state: State) {
        let mut current = lock(&self.counts.state);
        if *current != Some(state) {
            *current = Some(state);
            drop(current);
            for callback in &self.config.callbacks {
                // A panicking callback must not take the writer down with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(state)));
            }
        }
    }
}

/// Adds the CPU time the calling thread has used to `total` (Linux; a
/// no-op elsewhere).
fn add_own_cpu(total: &AtomicU64) {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
    if let Some(ns) = ns {
        total.fetch_add(ns, Relaxed);
    }
}

/// The memory monitor: start it with [`Monitor::start`].
#[derive(Debug)]
pub struct Monitor;

impl Monitor {
    /// Starts the sampler thread, which samples and runs the leak rules
    /// but records nothing (see [`Monitor::start_recording`]). The first
    /// sample is taken at once. `gauge` is the engine's, when there is one
    /// to read.
    pub fn start(config: Config, gauge: Option<Arc<Gauge>>) -> Handle {
        Monitor::spawn(config, gauge, None)
    }

    /// Starts the sampler thread and a writer thread that hands samples and
    /// leaks to `recorder` (e.g. `domgen_pg::monitor::PgRecorder`) through
    /// the bounded backlog; the states it returns drive the pressure
    /// callbacks.
    pub fn start_recording(
        config: Config,
        gauge: Option<Arc<Gauge>>,
        recorder: impl Recorder + 'static,
    ) -> Handle {
        Monitor::spawn(config, gauge, Some(Box::new(recorder)))
    }

    fn spawn(
        config: Config,
        gauge: Option<Arc<Gauge>>,
        recorder: Option<Box<dyn Recorder>>,
    ) -> Handle {
        let mut config = config;
        config.interval = config.interval.max(MIN_INTERVAL);
        let interval = config.interval;
        let reader = crate::sample::Reader {
            pid: config.pid,
            gauge,
            started: Instant::now(),
        };
        let shared = Arc::new(Shared {
            config,
            writes: recorder.is_some(),
            backlog: Mutex::new(Backlog::default()),
            ready: Condvar::new(),
            history: Mutex::new(VecDeque::new()),
            detector: Mutex::new(Detector::default()),
            counts: Counts::default(),
        });
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let s = shared.clone();
        let sampler = std::thread::Builder::new()
            .name("domgen-monitor".into())
            .spawn(move || {
                loop {
                    s.sample(&reader);
                    if let Err(RecvTimeoutError::Timeout) = stop_rx.recv_timeout(interval) {
                        continue;
                    }
                    // Stopped: one last sample, so a run's end is on record.
                    s.sample(&reader);
                    break;
                }
                add_own_cpu(&s.counts.cpu_ns);
            })
            .expect("a thread for the monitor's sampler");
        let writer = recorder.map(|recorder| {
            let s = shared.clone();
            std::thread::Builder::new()
                .name("domgen-monitor-writer".into())
                .spawn(move || {
                    Store::run(&s, recorder);
                    add_own_cpu(&s.counts.cpu_ns);
                })
                .expect("a thread for the monitor's writer")
        });
        Handle {
            shared,
            stop: Some(stop_tx),
            sampler: Some(sampler),
            writer,
        }
    }
}

/// A running monitor. [`stop`](Handle::stop) (or dropping it) stops and
/// joins its threads.
#[derive(Debug)]
pub struct Handle {
    shared: Arc<Shared>,
    stop: Option<mpsc::Sender<()>>,
    sampler: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a monitor did, returned by [`Handle::stop`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Samples taken.
    pub samples: u64,
    /// Samples written to the database.
    pub written: u64,
    /// Samples and leaks dropped from a full backlog (the oldest first).
    pub dropped: u64,
    /// Leaks the rules found (and operations reported).
    pub leaks: u64,
    /// Leak reports written to the database.
    pub leaks_written: u64,
    /// Failed attempts to write (the database unreachable or refusing).
    pub write_errors: u64,
    /// Events still queued when the writer gave up at stop.
    pub unwritten: u64,
    /// CPU time the monitor's own threads used, in nanoseconds.
    pub cpu_ns: u64,
}

impl Handle {
    /// The counts so far.
    pub fn summary(&self) -> Summary {
        let c = &self.shared.counts;
        Summary {
            samples: c.samples.load(Relaxed),
            written: c.written.load(Relaxed),
            dropped: c.dropped.load(Relaxed),
            leaks: c.leaks.load(Relaxed),
            leaks_written: c.leaks_written.load(Relaxed),
            write_errors: c.write_errors.load(Relaxed),
            unwritten: u64::try_from(lock(&self.shared.backlog).events.len()).unwrap_or(u64::MAX),
            cpu_ns: c.cpu_ns.load(Relaxed),
        }
    }

    /// The samples in the history, oldest first.
    pub fn history(&self) -> Vec<Sample> {
        lock(&self.shared.history).iter().copied().collect()
    }

    /// The last state the database returned, if any.
    pub fn state(&self) -> Option<State> {
        *lock(&self.shared.counts.state)
    }

    /// The per-operation rule: reports `operation_id` as a leak when it
    /// left at least the configured bytes more live heap than it found.
    /// Returns the leak when there is one.
    pub fn operation(&self, operation_id: &str, before: u64, after: u64) -> Option<Leak> {
        let leak = leak::operation(&self.shared.config, operation_id, before, after)?;
        self.shared.counts.leaks.fetch_add(1, Relaxed);
        self.shared.push(Event::Leak(leak.clone()));
        Some(leak)
    }

    /// Takes a last sample, writes what is queued (giving up after 5 s, or
    /// at once when the database is unreachable), stops and joins the
    /// threads.
    pub fn stop(mut self) -> Summary {
        self.shutdown();
        self.summary()
    }

    fn shutdown(&mut self) {
        // Dropping the sender wakes the sampler, which takes its last sample.
        drop(self.stop.take());
        if let Some(t) = self.sampler.take() {
            let _ = t.join();
        }
        lock(&self.shared.backlog).closed = true;
        self.shared.ready.notify_all();
        if let Some(t) = self.writer.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How long the writer keeps trying at stop.
pub(crate) const FLUSH: Duration = Duration::from_secs(5);
