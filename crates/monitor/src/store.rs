use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::monitor::{Event, FLUSH, Shared};
use crate::{Leak, Sample, State};

/// How long the writer waits before it tries an unreachable database again.
const RETRY: Duration = Duration::from_millis(500);

/// The writer thread's side: a client on a runtime of its own.
pub(crate) struct Store<'a> {
    shared: &'a Shared,
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    process_id: String,
    reported_dropped: u64,
}

fn i64_of(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

impl Store<'_> {
    /// Writes queued events until the monitor stops: never holds the
    /// backlog's lock while it talks to the database, so the sampler never
    /// waits for it.
    pub(crate) fn run(shared: &Shared) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let mut store = Store {
            shared,
            rt,
            client: None,
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
                store.client = None;
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

    fn connect(&mut self) -> Result<(), tokio_postgres::Error> {
        if self.client.is_some() {
            return Ok(());
        }
        let mut config = self
            .shared
            .config
            .database
            .clone()
            .expect("the writer runs only with a database");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(2));
        }
        let (client, _connection) = self.rt.block_on(domgen_pg::connect(&config))?;
        self.client = Some(client);
        Ok(())
    }

    /// Writes one event; gives it back when it could not.
    fn write(&mut self, event: Event) -> Result<(), Event> {
        if self.connect().is_err() {
            return Err(event);
        }
        if self.report_dropped().is_err() {
            return Err(event);
        }
        let outcome = match &event {
            Event::Sample(sample) => self.write_sample(sample).map(|state| {
                self.shared.counts.written.fetch_add(1, Relaxed);
                let over = sample
                    .rss_bytes
                    .is_some_and(|rss| rss > self.shared.config.max_memory);
                self.shared
                    .set_state(if over { State::Critical } else { state });
            }),
            Event::Leak(leak) => self.write_leak(leak).map(|()| {
                self.shared.counts.leaks_written.fetch_add(1, Relaxed);
            }),
        };
        outcome.map_err(|_| event)
    }

    fn write_sample(&self, s: &Sample) -> Result<State, tokio_postgres::Error> {
        let client = self.client.as_ref().expect("connected");
        let config = &self.shared.config;
        let used = i64_of(s.heap_used().unwrap_or(0));
        let threads = s
            .threads
            .map_or(0, |t| i32::try_from(t).unwrap_or(i32::MAX));
        let row = self.rt.block_on(client.query_one(
            "SELECT memory_state FROM record_memory_sample($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &config.service,
                &self.process_id,
                &i64_of(config.max_heap),
                &used,
                &threads,
                &config.run_id,
                &s.rss_bytes.map(i64_of),
                &s.peak_bytes.map(i64_of),
                &s.batches_in_flight.map(i64_of),
                &s.arena_resets.map(i64_of),
                &s.at,
            ],
        ))?;
        let state: Option<String> = row.get(0);
        Ok(State::parse(state.as_deref().unwrap_or("unknown")))
    }

    fn write_leak(&self, leak: &Leak) -> Result<(), tokio_postgres::Error> {
        let client = self.client.as_ref().expect("connected");
        let config = &self.shared.config;
        let operation = leak
            .operation_id
            .clone()
            .unwrap_or_else(|| format!("monitor:{}", self.process_id));
        // leak_source is VARCHAR(255); the whole evidence is in the details.
        let source: String = leak.evidence.chars().take(255).collect();
        self.rt.block_on(client.execute(
            "SELECT report_memory_leak($1, $2, $3, $4, $5, $6, $7)",
            &[
                &config.service,
                &operation,
                &i64_of(leak.leaked),
                &leak.rule.name(),
                &source,
                &config.run_id,
                &leak.details,
            ],
        ))?;
        Ok(())
    }

    /// A `memory_metrics_dropped` alert for samples dropped since the last one.
    fn report_dropped(&mut self) -> Result<(), tokio_postgres::Error> {
        let dropped = self.shared.counts.dropped.load(Relaxed);
        if dropped <= self.reported_dropped {
            return Ok(());
        }
        let Some(client) = self.client.as_ref() else {
            return Ok(());
        };
        let config = &self.shared.config;
        let context = serde_json::json!({
            "service_name": config.service,
            "process_id": self.process_id,
            "run_id": config.run_id,
            "dropped": dropped - self.reported_dropped,
            "dropped_total": dropped,
            "backlog": config.backlog,
        });
        self.rt.block_on(client.execute(
            "INSERT INTO system_alerts (alert_type, severity, message, context)
             VALUES ('memory_metrics_dropped', 'warning', $1, $2)",
            &[
                &format!(
                    "{} memory samples of {} were dropped while the database was unreachable (backlog of {})",
                    dropped - self.reported_dropped,
                    config.service,
                    config.backlog
                ),
                &context,
            ],
        ))?;
        self.reported_dropped = dropped;
        Ok(())
    }
}
