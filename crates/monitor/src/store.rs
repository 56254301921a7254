use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::shared::{Event, Shared};
use crate::{Leak, Sample, State};

/// An error a [`Recorder`] returns: the event stays in the backlog and is
/// tried again.
pub type RecordError = Box<dyn std::error::Error + Send + Sync>;

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
/// writer thread only, never from the sampler, so it may block on I/O; an
/// error keeps the event in the backlog to be tried again, so a recorder
/// that loses its connection should reconnect on the next call.
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
                shared.counts.write_errors.fetch_add(1, Relaxed);
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
        let _ = store.report_dropped();
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

    /// Writes one event; gives it back when it could not.
    fn write(&mut self, event: Event) -> Result<(), Event> {
        if self.report_dropped().is_err() {
            return Err(event);
        }
        let shared = self.shared;
        let source = source(shared, &self.process_id);
        match &event {
            Event::Sample(sample) => match self.recorder.sample(&source, sample) {
                Ok(state) => {
                    shared.counts.written.fetch_add(1, Relaxed);
                    let over = sample
                        .rss_bytes
                        .is_some_and(|rss| rss > shared.config.max_memory);
                    shared.set_state(if over { State::Critical } else { state });
                    Ok(())
                }
                Err(_) => Err(event),
            },
            Event::Leak(leak) => match self.recorder.leak(&source, leak) {
                Ok(()) => {
                    shared.counts.leaks_written.fetch_add(1, Relaxed);
                    Ok(())
                }
                Err(_) => Err(event),
            },
        }
    }

    /// Reports samples dropped since the last report.
    fn report_dropped(&mut self) -> Result<(), RecordError> {
        let dropped = self.shared.counts.dropped.load(Relaxed);
        if dropped <= self.reported_dropped {
            return Ok(());
        }
        let source = source(self.shared, &self.process_id);
        self.recorder
            .dropped(&source, dropped - self.reported_dropped, dropped)?;
        self.reported_dropped = dropped;
        Ok(())
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
