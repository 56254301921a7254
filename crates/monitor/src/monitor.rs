use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use domgen_engine::Gauge;

use crate::config::MIN_INTERVAL;
use crate::error::{Error, RecordErrorKind};
use crate::leak::{self, Detector, Leak};
use crate::shared::{Backlog, Counts, Shared, lock};
use crate::store::{Recorder, Store};
use crate::{Config, Sample, State};

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
    /// to read. Fails when the thread cannot be started.
    pub fn start(config: Config, gauge: Option<Arc<Gauge>>) -> Result<Handle, Error> {
        Monitor::spawn(config, gauge, None)
    }

    /// Starts the sampler thread and a writer thread that hands samples and
    /// leaks to `recorder` (e.g. `domgen_pg::monitor::PgRecorder`) through
    /// the bounded backlog; the states it returns drive the pressure
    /// callbacks. Fails when a thread cannot be started; then none is left
    /// running.
    pub fn start_recording(
        config: Config,
        gauge: Option<Arc<Gauge>>,
        recorder: impl Recorder + 'static,
    ) -> Result<Handle, Error> {
        Monitor::spawn(config, gauge, Some(Box::new(recorder)))
    }

    fn spawn(
        config: Config,
        gauge: Option<Arc<Gauge>>,
        recorder: Option<Box<dyn Recorder>>,
    ) -> Result<Handle, Error> {
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
            .map_err(|e| Error::spawn("sampler", e))?;
        let mut handle = Handle {
            shared,
            stop: Some(stop_tx),
            sampler: Some(sampler),
            writer: None,
        };
        if let Some(recorder) = recorder {
            let s = handle.shared.clone();
            // On failure, dropping the handle stops and joins the sampler.
            let writer = std::thread::Builder::new()
                .name("domgen-monitor-writer".into())
                .spawn(move || {
                    Store::run(&s, recorder);
                    add_own_cpu(&s.counts.cpu_ns);
                })
                .map_err(|e| Error::spawn("writer", e))?;
            handle.writer = Some(writer);
        }
        Ok(handle)
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

/// What a monitor did, returned by [`Handle::stop`].
///
/// With a recorder, once the monitor has stopped, every sample and leak is
/// counted once: `samples + leaks == written + leaks_written + dropped +
/// rejected + unwritten`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    /// Failed attempts to write, whatever their
    /// [kind](crate::RecordErrorKind): the database unreachable, too slow
    /// to answer, or refusing.
    pub write_errors: u64,
    /// Samples and leaks the database refused for good
    /// ([`RecordErrorKind::Rejected`]): dropped, not tried again.
    pub rejected: u64,
    /// Events still queued when the writer gave up at stop.
    pub unwritten: u64,
    /// CPU time the monitor's own threads used, in nanoseconds.
    pub cpu_ns: u64,
    /// The last failed attempt to write, if any failed.
    pub last_error: Option<WriteError>,
}

/// A failed attempt to write: when, what kind of failure, and the
/// recorder's message (which never holds a password).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteError {
    /// When the recorder returned it.
    pub at: SystemTime,
    /// Whether the event was kept to try again or dropped.
    pub kind: RecordErrorKind,
    /// The recorder's message.
    pub message: String,
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
            rejected: c.rejected.load(Relaxed),
            unwritten: u64::try_from(lock(&self.shared.backlog).events.len()).unwrap_or(u64::MAX),
            cpu_ns: c.cpu_ns.load(Relaxed),
            last_error: lock(&c.last_error).clone(),
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
        self.shared.leak_found(leak.clone());
        Some(leak)
    }

    /// Takes a last sample, writes what is queued (giving up after 5 s, or
    /// after the first attempt that fails for want of the database; the
    /// recorder bounds an attempt's time), stops and joins the threads.
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
