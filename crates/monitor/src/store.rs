//! The writer thread: it takes events from the backlog and hands them to
//! the [`Recorder`], one at a time, oldest first.
//!
//! What happens to an event the recorder fails on depends on the
//! [`RecordError`]'s kind. A [`Transient`](RecordErrorKind::Transient)
//! failure (the store unreachable or too slow; the recorder bounds each
//! call's time) puts the event back at the head of the backlog, and the
//! writer tries it again within 500 ms, while the sampler keeps queueing
//! behind it (dropping the oldest when the backlog is full). A
//! [`Rejected`](RecordErrorKind::Rejected) event is one the store will
//! never take: it is dropped and counted, and the writer goes on with the
//! next one. Either way the failure is counted as a write error and kept
//! as the monitor's last error, with its time.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use uuid::Uuid;

use crate::shared::{Event, Shared, lock};
use crate::{Leak, RecordError, RecordErrorKind, Sample, State, WriteError};

/// Whose events a [`Recorder`] records.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// [`Config::service`](crate::Config::service).
    pub service: &'a str,
    /// The sampled process's id.
    pub process_id: &'a str,
    /// [`Config::run_id`](crate::Config::run_id).
    pub run_id: Option<Uuid>,
    /// [`Config::max_heap`](crate::Config::max_heap): the heap the
    /// utilisation is a share of.
    pub max_heap: u64,
    /// [`Config::backlog`](crate::Config::backlog).
    pub backlog: usize,
}

/// Where a monitor's samples and leaks go. It is called from the monitor's
/// writer thread only, never from the sampler, so it may block on I/O, but
/// it should bound the time a call takes: the writer waits for it, and so
/// does [`Handle::stop`](crate::Handle::stop). A
/// [transient](RecordErrorKind::Transient) error keeps the event in the
/// backlog to be tried again, so a recorder that loses its connection
/// should reconnect on the next call; a
/// [rejected](RecordErrorKind::Rejected) event is dropped.
/// `domgen_pg::monitor::PgRecorder` records into PostgreSQL.
pub trait Recorder: Send {
    /// Records a sample and returns the memory state the store decided
    /// (it drives the pressure callbacks).
    fn sample(&mut self, source: &Source<'_>, sample: &Sample) -> Result<State, RecordError>;
    /// Records a leak one of the rules found.
    fn leak(&mut self, source: &Source<'_>, leak: &Leak) -> Result<(), RecordError>;
    /// Says that `dropped` more samples (`total` in all) were dropped from
    /// a full backlog while the store was unreachable.
    fn dropped(&mut self, source: &Source<'_>, dropped: u64, total: u64)
    -> Result<(), RecordError>;
}

/// How long the writer waits before it tries an unreachable store again.
const RETRY: Duration = Duration::from_millis(500);

/// How long the writer keeps trying at stop.
const FLUSH: Duration = Duration::from_secs(5);

/// The writer thread's side.
pub(crate) struct Store<'a> {
    shared: &'a Shared,
    recorder: Box<dyn Recorder>,
    process_id: String,
    reported_dropped: u64,
}

impl Store<'_> {
    /// Writes queued events until the monitor stops: never holds the
    /// backlog's lock while it talks to the database, so the sampler never
    /// waits for it.
    pub(crate) fn run(shared: &Shared, recorder: Box<dyn Recorder>) {
        let mut store = Store {
            shared,
            recorder,
            process_id: shared
                .config
                .pid
                .unwrap_or_else(std::process::id)
                .to_string(),
            reported_dropped: 0,
        };
        let mut closed_at: Option<Instant> = None;
        loop {
            let (event, closed) = {
                let mut backlog = shared.lock_backlog();
                while backlog.events.is_empty() && !backlog.closed {
                    backlog = shared
                        .ready
                        .wait(backlog)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                (backlog.events.pop_front(), backlog.closed)
            };
            if closed {
                let since = *closed_at.get_or_insert_with(Instant::now);
                if since.elapsed() > FLUSH {
                    store.put_back(event);
                    break;
                }
            }
            let Some(event) = event else { break };
            if let Err(event) = store.write(event) {
                store.put_back(Some(event));
                if closed {
                    break;
                }
                // Wait before the next try, but wake at once for a stop.
                let backlog = shared.lock_backlog();
                if !backlog.closed {
                    let _ = shared.ready.wait_timeout(backlog, RETRY);
                }
            }
        }
        // A last word on what was lost, if the database is there for it.
        if let Err(e) = store.report_dropped() {
            store.failed(&e);
        }
    }

    /// Returns an event not written to the front of the backlog; if the
    /// backlog filled up meanwhile, it is the oldest and is dropped.
    fn put_back(&self, event: Option<Event>) {
        let Some(event) = event else { return };
        let mut backlog = self.shared.lock_backlog();
        if backlog.events.len() >= self.shared.config.backlog.max(1) {
            self.shared.counts.dropped.fetch_add(1, Relaxed);
        } else {
            backlog.events.push_front(event);
        }
    }

    /// Writes one event; gives it back when it could not but may yet.
    fn write(&mut self, event: Event) -> Result<(), Event> {
        if let Err(e) = self.report_dropped()
            && self.failed(&e) == RecordErrorKind::Transient
        {
            return Err(event);
        }
        let shared = self.shared;
        let source = source(shared, &self.process_id);
        let outcome = match &event {
            Event::Sample(sample) => self.recorder.sample(&source, sample).map(|state| {
                shared.counts.written.fetch_add(1, Relaxed);
                let over = sample
                    .rss_bytes
                    .is_some_and(|rss| rss > shared.config.max_memory);
                shared.set_state(if over { State::Critical } else { state });
            }),
            Event::Leak(leak) => self.recorder.leak(&source, leak).map(|()| {
                shared.counts.leaks_written.fetch_add(1, Relaxed);
            }),
        };
        let Err(e) = outcome else { return Ok(()) };
        match self.failed(&e) {
            RecordErrorKind::Rejected => {
                shared.counts.rejected.fetch_add(1, Relaxed);
                Ok(())
            }
            RecordErrorKind::Transient => Err(event),
        }
    }

    /// Counts a failed call and keeps it as the last error; returns its kind.
    fn failed(&self, e: &RecordError) -> RecordErrorKind {
        let counts = &self.shared.counts;
        counts.write_errors.fetch_add(1, Relaxed);
        let kind = match e.kind() {
            RecordErrorKind::Transient => "transient",
            RecordErrorKind::Rejected => "rejected",
        };
        metrics::counter!(domgen_engine::telemetry::MONITOR_WRITE_ERRORS, "kind" => kind)
            .increment(1);
        tracing::debug!(kind, error = %e, "memory monitor: recording failed");
        *lock(&counts.last_error) = Some(WriteError {
            at: SystemTime::now(),
            kind: e.kind(),
            message: e.to_string(),
        });
        e.kind()
    }

    /// Reports samples dropped since the last report. A report the store
    /// rejects is given up; the next report's total still counts them.
    fn report_dropped(&mut self) -> Result<(), RecordError> {
        let dropped = self.shared.counts.dropped.load(Relaxed);
        if dropped <= self.reported_dropped {
            return Ok(());
        }
        let source = source(self.shared, &self.process_id);
        let outcome = self
            .recorder
            .dropped(&source, dropped - self.reported_dropped, dropped);
        if outcome.is_ok()
            || outcome
                .as_ref()
                .is_err_and(|e| e.kind() == RecordErrorKind::Rejected)
        {
            self.reported_dropped = dropped;
        }
        outcome
    }
}

fn source<'a>(shared: &'a Shared, process_id: &'a str) -> Source<'a> {
    let config = &shared.config;
    Source {
        service: &config.service,
        process_id,
        run_id: config.run_id,
        max_heap: config.max_heap,
        backlog: config.backlog,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use domgen_test_support::wait_for;

    use super::*;
    use crate::{Config, Monitor, Summary};

    /// What a [`Scripted`] recorder was asked and what it wrote: samples
    /// are known by their `secs`.
    #[derive(Debug, Default)]
    struct Log {
        /// Every call of `sample`, in order.
        tried: Vec<f64>,
        /// The samples written, in order.
        written: Vec<f64>,
        /// Calls of `dropped`.
        dropped_reports: usize,
    }

    type Fate = Box<dyn FnMut(usize) -> Option<RecordError> + Send>;

    /// A recorder whose `n`th call of `sample` fails as `fate(n)` says;
    /// `dropped` fails as `dropped_fate` says.
    struct Scripted {
        log: Arc<Mutex<Log>>,
        fate: Fate,
        dropped_fate: Fate,
    }

    impl Recorder for Scripted {
        fn sample(&mut self, _: &Source<'_>, sample: &Sample) -> Result<State, RecordError> {
            let mut log = self.log.lock().unwrap();
            let n = log.tried.len();
            log.tried.push(sample.secs);
            if let Some(e) = (self.fate)(n) {
                return Err(e);
            }
            log.written.push(sample.secs);
            Ok(State::Normal)
        }

        fn leak(&mut self, _: &Source<'_>, _: &Leak) -> Result<(), RecordError> {
            Ok(())
        }

        fn dropped(&mut self, _: &Source<'_>, _: u64, _: u64) -> Result<(), RecordError> {
            let mut log = self.log.lock().unwrap();
            log.dropped_reports += 1;
            match (self.dropped_fate)(log.dropped_reports - 1) {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
    }

    /// Runs a monitor on `recorder` every 100 ms until `written` samples
    /// are written; returns its summary and the log.
    fn run(fate: Fate, dropped_fate: Fate, backlog: usize, written: u64) -> (Summary, Log) {
        let log = Arc::new(Mutex::new(Log::default()));
        let recorder = Scripted {
            log: log.clone(),
            fate,
            dropped_fate,
        };
        let config = Config {
            interval: Duration::from_millis(100),
            backlog,
            ..Config::default()
        };
        let handle = Monitor::start_recording(config, None, recorder).unwrap();
        wait_for("samples written", Duration::from_secs(20), || {
            handle.summary().written >= written
        });
        let summary = handle.stop();
        let log = std::mem::take(&mut *log.lock().unwrap());
        // Every event is counted once.
        assert_eq!(
            summary.samples + summary.leaks,
            summary.written
                + summary.leaks_written
                + summary.dropped
                + summary.rejected
                + summary.unwritten,
            "{summary:?}"
        );
        assert_eq!(u64::try_from(log.written.len()).unwrap(), summary.written);
        (summary, log)
    }

    fn never() -> Fate {
        Box::new(|_| None)
    }

    #[test]
    fn a_rejected_sample_is_dropped_counted_and_the_next_ones_are_written() {
        let fate: Fate = Box::new(|n| (n == 1).then(|| RecordError::rejected("bad sample")));
        let (summary, log) = run(fate, never(), 100, 5);
        assert_eq!(
            (summary.rejected, summary.write_errors),
            (1, 1),
            "{summary:?}"
        );
        let last = summary.last_error.clone().unwrap();
        assert_eq!(
            (last.kind, last.message.as_str()),
            (RecordErrorKind::Rejected, "bad sample")
        );
        assert!(last.at <= SystemTime::now());
        // Tried once, never again, and the others written in order.
        let rejected = log.tried[1];
        assert_eq!(log.tried.iter().filter(|&&s| s == rejected).count(), 1);
        let mut others = log.tried.clone();
        others.remove(1);
        assert_eq!(log.written, others);
    }

    #[test]
    fn a_transient_error_keeps_the_sample_and_tries_it_again() {
        let fate: Fate = Box::new(|n| match n {
            1 => Some(RecordError::transient("down")),
            2 => Some(RecordError::transient("still down")),
            _ => None,
        });
        let (summary, log) = run(fate, never(), 100, 5);
        assert_eq!(
            (summary.rejected, summary.write_errors),
            (0, 2),
            "{summary:?}"
        );
        let last = summary.last_error.clone().unwrap();
        assert_eq!(
            (last.kind, last.message.as_str()),
            (RecordErrorKind::Transient, "still down")
        );
        // The same sample three times, then written once; none lost.
        assert_eq!(log.tried[1..4], [log.tried[1]; 3]);
        assert_eq!(log.written[..2], [log.tried[0], log.tried[1]]);
        assert!(log.written.windows(2).all(|w| w[0] < w[1]), "{log:?}");
        assert_eq!(
            summary.written + summary.unwritten,
            summary.samples,
            "{summary:?}"
        );
    }

    #[test]
    fn a_rejected_report_of_dropped_samples_does_not_hold_up_the_samples() {
        // Unreachable for the first 3 tries (1 s and more at 100 ms a
        // sample): a backlog of 2 overflows.
        let fate: Fate = Box::new(|n| (n < 3).then(|| RecordError::transient("down")));
        let dropped_fate: Fate = Box::new(|_| Some(RecordError::rejected("no alerts table")));
        let (summary, log) = run(fate, dropped_fate, 2, 5);
        assert!(summary.dropped > 0, "{summary:?}");
        assert_eq!(summary.rejected, 0, "{summary:?}");
        // Reported once per batch of drops, not once per sample written.
        assert!(
            u64::try_from(log.dropped_reports).unwrap() <= summary.dropped,
            "{log:?} {summary:?}"
        );
        assert_eq!(
            summary.write_errors,
            3 + u64::try_from(log.dropped_reports).unwrap()
        );
    }
}
