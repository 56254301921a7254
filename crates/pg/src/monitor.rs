/*!
The memory monitor's recorder for PostgreSQL.

[`PgRecorder`] is the [`domgen_monitor::Recorder`] that writes a monitor's
samples through `record_memory_sample` (migration V4, a wrapper of V1's
`record_memory_metrics`, which decides the memory state, the optimisation
advice and the alerts), its leaks through `report_memory_leak` (which calls
`detect_memory_leak`), and samples dropped from a full backlog as a
`memory_metrics_dropped` row in `system_alerts`. It runs on the monitor's
writer thread, on a current-thread runtime of its own, and connects lazily.

Every call, connecting included, is bounded by a timeout (5 s unless
[`PgRecorder::with_timeout`] says otherwise), so a server that stops
answering, or a network that drops the packets, cannot hang the writer.
What a failure means for the event is in the [`RecordError`] it returns:

- **transient**: no connection could be had, the connection was lost or
  timed out, or the server's SQLSTATE is one a run rides through too
  (see [`Error::is_transient`](crate::Error::is_transient): a shutdown,
  restart or failover, a resource or a race lost for now). The
  connection is dropped, the monitor keeps the event and tries it again,
  and the next call connects anew.
- **rejected**: any other server error (a constraint or type error, a
  missing function, table or privilege), or a value that does not
  convert to or from its SQL type. Trying again would fail again, so the
  monitor drops the event, counts it and goes on; the connection stays.

An error's message names the call and the server's words with the
SQLSTATE, or the server as [`Database`] shows it, never
the password.
*/

use std::time::Duration;

use domgen_monitor::{Leak, RecordError, RecordErrorKind, Recorder, Sample, Source, State};
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::Database;

/// How long one call may take, connecting included, unless
/// [`PgRecorder::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a connection attempt to one host may take when the config sets
/// no limit: with several hosts, the next is tried within the call's
/// timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Records a memory monitor's events in PostgreSQL (see the module docs).
pub struct PgRecorder {
    db: Database,
    timeout: Duration,
    rt: tokio::runtime::Runtime,
    connection: Option<Connection>,
}

/// A client and the task that runs its connection.
struct Connection {
    client: Client,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for PgRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgRecorder")
            .field("database", &self.db.to_string())
            .field("timeout", &self.timeout)
            .field("connected", &self.connection.is_some())
            .finish_non_exhaustive()
    }
}

fn i64_of(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

/// How a call failed.
enum Failure {
    Connect(crate::Error),
    Statement(tokio_postgres::Error),
}

impl PgRecorder {
    /// A recorder for the database `db` names (migrated to V4 or later;
    /// a [`Database`], with its TLS settings, or a `tokio_postgres::Config`);
    /// it connects on first use, and gives each call [`DEFAULT_TIMEOUT`].
    /// Fails only when the runtime cannot be built (the OS refused its
    /// resources).
    pub fn new(db: impl Into<Database>) -> std::io::Result<PgRecorder> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut db = db.into();
        db.limit_connect(CONNECT_TIMEOUT);
        Ok(PgRecorder {
            db,
            timeout: DEFAULT_TIMEOUT,
            rt,
            connection: None,
        })
    }

    /// The recorder with each call, connecting included, bounded by
    /// `timeout`: a call that takes longer is abandoned, its connection
    /// dropped, and the event tried again later.
    pub fn with_timeout(mut self, timeout: Duration) -> PgRecorder {
        self.timeout = timeout;
        self
    }

    /// How long a call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `call` (`what` names it in messages) on a connected client,
    /// connecting first if need be, all within the timeout. A transient
    /// failure forgets the connection, so the next call connects again.
    fn with_client<T>(
        &mut self,
        what: &str,
        call: impl AsyncFnOnce(&Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, RecordError> {
        let PgRecorder {
            db,
            rt,
            connection,
            timeout,
            ..
        } = self;
        let work = async {
            if connection.is_none() {
                let (client, task) = db.connect_with_task().await.map_err(Failure::Connect)?;
                *connection = Some(Connection { client, task });
            }
            let client = &connection.as_ref().expect("connected above").client;
            call(client).await.map_err(Failure::Statement)
        };
        // The timer is made inside the runtime, whose clock it needs.
        let outcome = rt.block_on(async { tokio::time::timeout(*timeout, work).await });
        let error = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(Failure::Statement(e))) => statement_error(what, e),
            Ok(Err(Failure::Connect(e))) => {
                RecordError::transient(format!("{what}: {e}")).because(e)
            }
            Err(elapsed) => RecordError::transient(format!(
                "{what}: no answer from PostgreSQL at {} within {:?}",
                self.db, self.timeout
            ))
            .because(elapsed),
        };
        if error.kind() == RecordErrorKind::Transient {
            self.forget();
        }
        Err(error)
    }

    /// Drops the connection: its task too, which a server that does not
    /// answer would otherwise keep waiting.
    fn forget(&mut self) {
        if let Some(connection) = self.connection.take() {
            connection.task.abort();
        }
    }
}

/// A failed statement as the monitor needs it: rejected or transient, in
/// words without the password.
fn statement_error(what: &str, e: tokio_postgres::Error) -> RecordError {
    let code = e.as_db_error().map(|db| db.code().code().to_owned());
    let error = crate::Error::db(e);
    let mut message = format!("{what}: {error}");
    if let Some(code) = code {
        message.push_str(&format!(" [SQLSTATE {code}]"));
    }
    let kind = if error.is_transient() {
        RecordErrorKind::Transient
    } else {
        RecordErrorKind::Rejected
    };
    RecordError::new(kind, message).because(error)
}

impl Recorder for PgRecorder {
    fn sample(&mut self, source: &Source<'_>, s: &Sample) -> Result<State, RecordError> {
        let used = i64_of(s.heap_used().unwrap_or(0));
        let threads = s
            .threads
            .map_or(0, |t| i32::try_from(t).unwrap_or(i32::MAX));
        let row = self.with_client("recording a sample", async |client| {
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
        self.with_client("reporting a leak", async |client| {
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
        self.with_client("reporting dropped samples", async |client| {
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
