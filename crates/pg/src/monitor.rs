/*!
The memory monitor's recorder for PostgreSQL.

[`PgRecorder`] is the [`domgen_monitor::Recorder`] that writes a monitor's
samples through `record_memory_sample` (migration V4, a wrapper of V1's
`record_memory_metrics`, which decides the memory state, the optimisation
advice and the alerts), its leaks through `report_memory_leak` (which calls
`detect_memory_leak`), and samples dropped from a full backlog as a
`memory_metrics_dropped` row in `system_alerts`. It runs on the monitor's
writer thread, on a current-thread runtime of its own, and connects lazily:
an error forgets the connection, the monitor keeps the event and tries
again, and the next call connects anew.
*/

use std::time::Duration;

use domgen_monitor::{Leak, RecordError, Recorder, Sample, Source, State};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Config};

/// How long a connection attempt may take when the config sets no limit:
/// the writer must come back to its backlog, not hang on a dead server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Records a memory monitor's events in PostgreSQL (see the module docs).
pub struct PgRecorder {
    config: Config,
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
}

impl std::fmt::Debug for PgRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgRecorder")
            .field("connected", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

fn i64_of(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

impl PgRecorder {
    /// A recorder for the database `config` names (migrated to V4 or
    /// later); it connects on first use. Fails only when the runtime
    /// cannot be built (the OS refused its resources).
    pub fn new(config: Config) -> std::io::Result<PgRecorder> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(PgRecorder {
            config,
            rt,
            client: None,
        })
    }

    /// Runs `call` on a connected client; an error forgets the connection,
    /// so the next call connects again.
    fn with_client<T>(
        &mut self,
        call: impl AsyncFnOnce(&Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, RecordError> {
        if self.client.is_none() {
            let mut config = self.config.clone();
            if config.get_connect_timeout().is_none() {
                config.connect_timeout(CONNECT_TIMEOUT);
            }
            let (client, _connection) = self.rt.block_on(crate::connect(&config))?;
            self.client = Some(client);
        }
        let client = self.client.as_ref().expect("connected above");
        let outcome = self.rt.block_on(call(client));
        if outcome.is_err() {
            self.client = None;
        }
        Ok(outcome?)
    }
}

impl Recorder for PgRecorder {
    fn sample(&mut self, source: &Source<'_>, s: &Sample) -> Result<State, RecordError> {
        let used = i64_of(s.heap_used().unwrap_or(0));
        let threads = s
            .threads
            .map_or(0, |t| i32::try_from(t).unwrap_or(i32::MAX));
        let row = self.with_client(async |client| {
            client
                .query_typed_one(
                    "SELECT memory_state FROM record_memory_sample($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    &[
                        (&source.service, Type::VARCHAR),
                        (&source.process_id, Type::VARCHAR),
                        (&i64_of(source.max_heap), Type::INT8),
                        (&used, Type::INT8),
                        (&threads, Type::INT4),
                        (&source.run_id, Type::UUID),
                        (&s.rss_bytes.map(i64_of), Type::INT8),
                        (&s.peak_bytes.map(i64_of), Type::INT8),
                        (&s.batches_in_flight.map(i64_of), Type::INT8),
                        (&s.arena_resets.map(i64_of), Type::INT8),
                        (&s.at, Type::TIMESTAMPTZ),
                    ],
                )
                .await
        })?;
        let state: Option<String> = row.get(0);
        Ok(State::parse(state.as_deref().unwrap_or("unknown")))
    }

    fn leak(&mut self, source: &Source<'_>, leak: &Leak) -> Result<(), RecordError> {
        let operation = leak
            .operation_id
            .clone()
            .unwrap_or_else(|| format!("monitor:{}", source.process_id));
        // leak_source is VARCHAR(255); the whole evidence is in the details.
        let evidence: String = leak.evidence.chars().take(255).collect();
        self.with_client(async |client| {
            client
                .execute_typed(
                    "SELECT report_memory_leak($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        (&source.service, Type::VARCHAR),
                        (&operation, Type::VARCHAR),
                        (&i64_of(leak.leaked), Type::INT8),
                        (&leak.rule.name(), Type::VARCHAR),
                        (&evidence, Type::VARCHAR),
                        (&source.run_id, Type::UUID),
                        (&leak.details, Type::JSONB),
                    ],
                )
                .await
        })?;
        Ok(())
    }

    fn dropped(
        &mut self,
        source: &Source<'_>,
        dropped: u64,
        total: u64,
    ) -> Result<(), RecordError> {
        let context = serde_json::json!({
            "service_name": source.service,
            "process_id": source.process_id,
            "run_id": source.run_id,
            "dropped": dropped,
            "dropped_total": total,
            "backlog": source.backlog,
        });
        let message = format!(
            "{dropped} memory samples of {} were dropped while the database was unreachable (backlog of {})",
            source.service, source.backlog
        );
        self.with_client(async |client| {
            client
                .execute_typed(
                    "INSERT INTO system_alerts (alert_type, severity, message, context)
                     VALUES ('memory_metrics_dropped', 'warning', $1, $2)",
                    &[(&message, Type::TEXT), (&context, Type::JSONB)],
                )
                .await
        })?;
        Ok(())
    }
}
