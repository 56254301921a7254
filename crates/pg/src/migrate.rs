/*!
Schema migrations.

The SQL files in the workspace's `migrations/` directory are embedded into the
build and applied by [refinery] in version order, each in a savepoint of one
transaction that holds the migration lock. [`migrate`] applies the ones a database does not have yet and returns a
[`Report`] of what it applied (nothing, the second time). Refinery records a
checksum of every migration it applies, so a migration edited after it was
applied is an error ([`MigrateErrorKind::Edited`]), never a silent re-run.
[`check_migrated`] is the cheap test every other command makes before it
touches the tables.

| file | contents |
|---|---|
| `V1__memory_monitoring.sql` | `memory_metrics`, `memory_allocations`, `memory_leak_detection`, `memory_optimization_recommendations`, `system_alerts`; `record_memory_metrics`, `check_memory_optimization_opportunities`, `detect_memory_leak` |
| `V2__generation.sql` | `generated_domains`, `domain_generation_config_states`, `generation_campaigns`, `generation_batches`, `generation_runs` |
| `V3__workers.sql` | `generation_campaigns.next_start` (the workers' lazy batch cursor), the `released` batch status, a partial index on open (leased, released) batches |
| `V4__monitor.sql` | the memory monitor's columns on `memory_metrics` (`run_id`, `rss_bytes`, …); `record_memory_sample`, `report_memory_leak` (wrappers of V1's functions) |
| `V5__adaptive_batches.sql` | `generation_campaigns.adaptive`: whether a commit groups a measured number of the grid's cells |

domgen needs PostgreSQL 13 or newer (`gen_random_uuid()` is built in from
13 on).

```no_run
# async fn example() -> Result<(), Box<dyn std::error::Error>> {
let (mut client, connection) =
    tokio_postgres::connect("host=/tmp dbname=domgen", tokio_postgres::NoTls).await?;
tokio::spawn(connection);

let report = domgen_pg::migrate::migrate(&mut client).await?;
println!("{report}");
domgen_pg::migrate::check_migrated(&client).await?;
# Ok(())
# }
```

[refinery]: https://docs.rs/refinery
*/

use std::error::Error as StdError;
use std::fmt;

use refinery::error::Kind;
use tokio_postgres::Client;
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::types::Type;

use crate::error::Error;

mod embedded {
    // The path is relative to this crate's Cargo.toml.
    refinery::embed_migrations!("../../migrations");
}

/// Refinery's history table (its default name).
const HISTORY_TABLE: &str = "refinery_schema_history";

/// The tables the migrations create; [`check_migrated`] wants all of them.
const TABLES: &[&str] = &[
    "memory_metrics",
    "memory_allocations",
    "memory_leak_detection",
    "memory_optimization_recommendations",
    "system_alerts",
    "generated_domains",
    "domain_generation_config_states",
    "generation_campaigns",
    "generation_batches",
    "generation_runs",
];

/// The tables the migrations create.
#[cfg(test)]
pub(crate) fn tables() -> &'static [&'static str] {
    TABLES
}

/// Key of the transaction advisory lock that serialises concurrent migrations
/// of one database ("domgenmi" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x646f_6d67_656e_6d69;

/// `gen_random_uuid()` is built in from PostgreSQL 13 on.
const MIN_SERVER_VERSION_NUM: i32 = 130_000;

/// Refinery's message prefix for a migration whose SQL failed.
const APPLYING_PREFIX: &str = "error applying migration ";

/// One migration: a version and a name, as in its file name
/// `V{version}__{name}.sql`, and the checksum refinery records for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    version: i64,
    name: String,
    checksum: u64,
}

impl Migration {
    /// The version, the number after the `V` of the file name.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The name, the part of the file name after `__`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Refinery's checksum of the name, the version and the SQL.
    pub fn checksum(&self) -> u64 {
        self.checksum
    }

    fn from_refinery(migration: &refinery::Migration) -> Migration {
        Migration {
            version: i64::from(migration.version()),
            name: migration.name().to_owned(),
            checksum: migration.checksum(),
        }
    }
}

impl fmt::Display for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "V{}__{}", self.version, self.name)
    }
}

/// What one call of [`migrate`] applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    applied: Vec<Migration>,
}

impl Report {
    /// The migrations applied by this call, in the order they were applied;
    /// empty when the database was already up to date.
    pub fn applied(&self) -> &[Migration] {
        &self.applied
    }

    /// Whether the database was already up to date, so nothing was applied.
    pub fn is_up_to_date(&self) -> bool {
        self.applied.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.applied.is_empty() {
            return f.write_str("the database is up to date: no migrations to apply");
        }
        write!(f, "applied {} migration", self.applied.len())?;
        if self.applied.len() > 1 {
            f.write_str("s")?;
        }
        for (i, migration) in self.applied.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            write!(f, "{migration}")?;
        }
        Ok(())
    }
}

/// Why [`migrate`] or [`check_migrated`] failed: the source of the crate's
/// [`Error`] they return, whose [`Error::migration`] says what happened.
pub(crate) struct MigrateError {
    kind: MigrateErrorKind,
    source: Option<BoxError>,
}

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What made [`migrate`] or [`check_migrated`] fail.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrateErrorKind {
    /// The server is older than PostgreSQL 13.
    UnsupportedServer {
        /// The server's `server_version`.
        version: String,
    },
    /// A migration applied to the database differs from the one in this
    /// build: it was edited after it was applied (or renamed).
    Edited {
        /// The migration as recorded in the database.
        applied: Migration,
        /// The migration of the same version in this build.
        embedded: Migration,
    },
    /// The database has a migration this build does not know: a newer domgen
    /// migrated it.
    NewerDatabase {
        /// The unknown migration, as recorded in the database.
        migration: Migration,
    },
    /// A migration of this build is missing from the database although a
    /// later one is applied.
    Skipped {
        /// The migration that was never applied.
        migration: Migration,
    },
    /// The SQL of a migration failed. The migration was rolled back; the
    /// migrations before it that this call applied stay applied.
    Failed {
        /// The migration that failed.
        migration: Migration,
        /// The line of the migration file the server pointed at, if it did.
        line: Option<usize>,
        /// What the server said.
        message: String,
    },
    /// The database lacks migrations (or has none): `domgen migrate` has not
    /// been run against it.
    NotMigrated {
        /// Where the database is, e.g. `host=/tmp port=5432 dbname=x user=y`
        /// (never a password).
        database: String,
        /// The migrations not applied yet.
        pending: Vec<Migration>,
    },
    /// Every migration is recorded as applied but tables are missing: the
    /// schema was changed by hand.
    MissingTables {
        /// Where the database is (never a password).
        database: String,
        /// The missing tables.
        tables: Vec<String>,
    },
    /// Refinery's history table holds something refinery did not write.
    CorruptHistory {
        /// Where the database is (never a password).
        database: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The migrations embedded in this build are invalid (a bug in the
    /// build, e.g. two files with one version).
    InvalidMigrations {
        /// Refinery's complaint.
        message: String,
    },
    /// Talking to the database failed.
    Database {
        /// What domgen was doing.
        action: String,
        /// What the server or the connection said.
        message: String,
    },
}

impl MigrateError {
    /// What happened.
    pub(crate) fn kind(&self) -> &MigrateErrorKind {
        &self.kind
    }

    fn new(kind: MigrateErrorKind) -> MigrateError {
        MigrateError { kind, source: None }
    }

    fn with_source(kind: MigrateErrorKind, source: impl Into<BoxError>) -> MigrateError {
        MigrateError {
            kind,
            source: Some(source.into()),
        }
    }

    /// The underlying error, without refinery's wrapper: that only repeats
    /// our message (and its Debug carries the SQL of every migration).
    fn cause(&self) -> Option<&(dyn StdError + 'static)> {
        let source = self.source.as_deref()?;
        if let Some(refinery_error) = source.downcast_ref::<refinery::Error>() {
            if let Kind::Connection(_, inner) = refinery_error.kind() {
                return Some(inner.as_ref());
            }
        }
        Some(source)
    }
}

impl fmt::Debug for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigrateError")
            .field("kind", &self.kind)
            .field("source", &self.cause())
            .finish()
    }
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MigrateErrorKind as K;
        match &self.kind {
            K::UnsupportedServer { version } => write!(
                f,
                "the server runs PostgreSQL {version}, domgen needs 13 or newer: \
                 upgrade the server or connect to a newer one"
            ),
            K::Edited { applied, embedded } if applied.name == embedded.name => write!(
                f,
                "migration {embedded} differs from the one applied to this database \
                 (recorded checksum {}, this build's {}): a migration must not change once \
                 applied. If you edited migrations/{embedded}.sql, restore it and put the \
                 change into a new migration; if another domgen version migrated this \
                 database, use that version",
                applied.checksum, embedded.checksum
            ),
            K::Edited { applied, embedded } => write!(
                f,
                "version {} of the schema was applied to this database as {applied}, \
                 but this build calls it {embedded}: a migration must not change once \
                 applied. Restore the original file name, or use the domgen version \
                 that migrated this database",
                embedded.version
            ),
            K::NewerDatabase { migration } => write!(
                f,
                "the database has migration {migration}, which this build of domgen does \
                 not know: a newer domgen migrated it; upgrade domgen"
            ),
            K::Skipped { migration } => write!(
                f,
                "migration {migration} was never applied to this database although later \
                 ones were; it cannot be applied out of order: migrate a new database, or \
                 apply migrations/{migration}.sql by hand and record it"
            ),
            K::Failed {
                migration,
                line,
                message,
            } => {
                write!(f, "migration {migration} failed")?;
                if let Some(line) = line {
                    write!(f, " at line {line} of migrations/{migration}.sql")?;
                }
                write!(
                    f,
                    " and was rolled back: {message}\nfix the cause and run `domgen migrate` again"
                )
            }
            K::NotMigrated { database, pending } => {
                write!(f, "the database at {database} is not migrated (")?;
                for (i, migration) in pending.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{migration}")?;
                }
                f.write_str(if pending.len() == 1 { " is" } else { " are" })?;
                f.write_str(" missing): run `domgen migrate`")
            }
            K::MissingTables { database, tables } => write!(
                f,
                "the database at {database} lacks table(s) {} although every migration is \
                 recorded as applied: the schema was changed by hand; restore the tables \
                 from a backup or migrate a new database",
                tables.join(", ")
            ),
            K::CorruptHistory { database, detail } => write!(
                f,
                "the migration history ({HISTORY_TABLE}) of the database at {database} is \
                 damaged: {detail}; restore it from a backup or migrate a new database"
            ),
            K::InvalidMigrations { message } => write!(
                f,
                "the migrations built into this domgen are invalid ({message}); this is a bug \
                 in domgen, please report it"
            ),
            K::Database { action, message } => write!(
                f,
                "{action} failed: {message}\ncheck the connection and the role's privileges \
                 (`domgen migrate` runs as the schema's owner, the other commands need the \
                 grants of README.md's \"Least privilege\"), then try again"
            ),
        }
    }
}

impl StdError for MigrateError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause()
    }
}

/// Applies the migrations the database does not have yet.
///
/// The whole call is one transaction holding an advisory lock, so
/// concurrent calls against one database wait for each other and the second
/// finds the work done; each migration runs in a savepoint of it, and one
/// that fails is rolled back while those before it are committed. Being one
/// transaction, it holds no session state, and so also works through
/// PgBouncer's transaction pooling. Calling it again applies nothing
/// ([`Report::is_up_to_date`]).
///
/// # Errors
///
/// An [`Error`] of kind `Database` whose [`Error::migration`] is
/// [`MigrateErrorKind::Edited`] if a migration applied to the database differs
/// from this build's, [`MigrateErrorKind::NewerDatabase`] or
/// [`MigrateErrorKind::Skipped`] if the history does not fit this build,
/// [`MigrateErrorKind::Failed`] if a migration's SQL fails,
/// [`MigrateErrorKind::UnsupportedServer`] before PostgreSQL 13, and
/// [`MigrateErrorKind::Database`] when the connection or a privilege fails.
pub async fn migrate(client: &mut Client) -> Result<Report, Error> {
    Ok(migrate_under_lock(client).await?)
}

async fn migrate_under_lock(client: &mut Client) -> Result<Report, MigrateError> {
    check_server_version(client).await?;
    // Refinery panics on a history row it cannot parse; find those first.
    read_history(client).await?;
    let runner = embedded::migrations::runner();
    let mut run = OneTransaction {
        client,
        open: false,
    };
    let result = runner.run_async(&mut run).await;
    // After a failed migration, COMMIT keeps the ones before it (its
    // savepoint is rolled back); in an aborted transaction it rolls back.
    let committed = if run.open {
        run.client.batch_execute("COMMIT").await
    } else {
        Ok(())
    };
    match result {
        Ok(report) => {
            committed.map_err(|e| database_error("committing the migrations", e))?;
            Ok(Report {
                applied: report
                    .applied_migrations()
                    .iter()
                    .map(Migration::from_refinery)
                    .collect(),
            })
        }
        Err(error) => Err(from_refinery(error, &runner)),
    }
}

/// Refinery's connection for one [`migrate`] call: each transaction refinery
/// asks for is a savepoint of one transaction, which takes the migration
/// lock first. A lock held for a session would not survive a pooler that
/// hands each transaction to another server connection; this one lives and
/// dies with the transaction.
struct OneTransaction<'c> {
    client: &'c mut Client,
    open: bool,
}

impl OneTransaction<'_> {
    async fn begin(&mut self) -> Result<(), tokio_postgres::Error> {
        if !self.open {
            // Read committed: the history read after the lock must see what
            // the call that held it before committed.
            self.client
                .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                .await?;
            self.open = true;
            self.client
                .execute_typed(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[(&MIGRATION_LOCK_KEY, Type::INT8)],
                )
                .await?;
        }
        Ok(())
    }
}

impl refinery_core::traits::r#async::AsyncTransaction for OneTransaction<'_> {
    type Error = tokio_postgres::Error;

    async fn execute<'a, T: Iterator<Item = &'a str> + Send + 'a>(
        &'a mut self,
        queries: T,
    ) -> Result<usize, Self::Error> {
        self.begin().await?;
        self.client
            .batch_execute("SAVEPOINT domgen_migration")
            .await?;
        let mut count = 0;
        for query in queries {
            if let Err(error) = self.client.batch_execute(query).await {
                // Keep what succeeded before; a failed rollback leaves the
                // transaction aborted, and the final COMMIT rolls it back.
                let _ = self
                    .client
                    .batch_execute("ROLLBACK TO SAVEPOINT domgen_migration")
                    .await;
                return Err(error);
            }
            count += 1;
        }
        self.client
            .batch_execute("RELEASE SAVEPOINT domgen_migration")
            .await?;
        Ok(count)
    }
}

impl refinery_core::traits::r#async::AsyncQuery<Vec<refinery::Migration>> for OneTransaction<'_> {
    async fn query<'a>(
        &'a mut self,
        query: &'a str,
    ) -> Result<Vec<refinery::Migration>, Self::Error> {
        self.begin().await?;
        let rows = self.client.query_typed(query, &[]).await?;
        // Refinery's own query of its history; `read_history` has checked
        // the checksums, and the dates are refinery's RFC 3339.
        Ok(rows
            .iter()
            .map(|row| {
                let applied_on: String = row.get(2);
                let checksum: String = row.get(3);
                refinery::Migration::applied(
                    row.get(0),
                    row.get(1),
                    time::OffsetDateTime::parse(
                        &applied_on,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
                    checksum.parse().unwrap_or(0),
                )
            })
            .collect())
    }
}

impl refinery::AsyncMigrate for OneTransaction<'_> {}

/// Checks that every migration of this build is applied to the database and
/// that its tables exist, without changing anything.
///
/// # Errors
///
/// An [`Error`] of kind `Database` whose [`Error::migration`] is
/// [`MigrateErrorKind::NotMigrated`] ("the database at … is not migrated: run
/// `domgen migrate`") when migrations are missing,
/// [`MigrateErrorKind::MissingTables`] when tables are missing although the
/// migrations are recorded, and the kinds of [`migrate`] when the history
/// does not fit this build.
pub async fn check_migrated(client: &Client) -> Result<(), Error> {
    Ok(check(client).await?)
}

async fn check(client: &Client) -> Result<(), MigrateError> {
    let mut embedded: Vec<Migration> = embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(Migration::from_refinery)
        .collect();
    embedded.sort_by_key(Migration::version);
    let history = read_history(client).await?.unwrap_or_default();

    for applied in &history {
        match embedded.iter().find(|m| m.version == applied.version) {
            None => {
                return Err(MigrateError::new(MigrateErrorKind::NewerDatabase {
                    migration: applied.clone(),
                }));
            }
            Some(migration) if migration != applied => {
                return Err(MigrateError::new(MigrateErrorKind::Edited {
                    applied: applied.clone(),
                    embedded: migration.clone(),
                }));
            }
            Some(_) => {}
        }
    }
    let pending: Vec<Migration> = embedded
        .into_iter()
        .filter(|m| !history.iter().any(|applied| applied.version == m.version))
        .collect();
    if !pending.is_empty() {
        return Err(MigrateError::new(MigrateErrorKind::NotMigrated {
            database: describe_database(client).await,
            pending,
        }));
    }

    let rows = client
        .query_typed(
            "SELECT name FROM unnest($1::text[]) AS t(name) \
             WHERE to_regclass(quote_ident(name)) IS NULL",
            &[(&TABLES, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(|e| database_error("looking for domgen's tables", e))?;
    if !rows.is_empty() {
        return Err(MigrateError::new(MigrateErrorKind::MissingTables {
            database: describe_database(client).await,
            tables: rows.iter().map(|row| row.get(0)).collect(),
        }));
    }
    Ok(())
}

async fn check_server_version(client: &Client) -> Result<(), MigrateError> {
    let row = client
        .query_typed_one(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version')",
            &[],
        )
        .await
        .map_err(|e| database_error("reading the server version", e))?;
    let version_num: i32 = row.get(0);
    if version_num < MIN_SERVER_VERSION_NUM {
        return Err(MigrateError::new(MigrateErrorKind::UnsupportedServer {
            version: row.get(1),
        }));
    }
    Ok(())
}

/// Refinery's history, or `None` when the table does not exist yet.
async fn read_history(client: &Client) -> Result<Option<Vec<Migration>>, MigrateError> {
    let exists: bool = client
        .query_typed_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[(&HISTORY_TABLE, Type::TEXT)],
        )
        .await
        .map_err(|e| database_error("looking for the migration history", e))?
        .get(0);
    if !exists {
        return Ok(None);
    }
    // Cast so that the query works whether refinery stores versions as int4
    // or int8.
    let rows = client
        .query_typed(
            &format!("SELECT version::int8, name, checksum FROM {HISTORY_TABLE} ORDER BY version"),
            &[],
        )
        .await
        .map_err(|e| database_error("reading the migration history", e))?;
    let mut history = Vec::with_capacity(rows.len());
    for row in rows {
        let version: i64 = row.get(0);
        let name: Option<String> = row.get(1);
        let checksum: Option<String> = row.get(2);
        let Some(checksum) = checksum.as_deref().and_then(|c| c.parse::<u64>().ok()) else {
            return Err(MigrateError::new(MigrateErrorKind::CorruptHistory {
                database: describe_database(client).await,
                detail: format!(
                    "version {version} has checksum {}, which is not a number",
                    checksum.map_or("NULL".to_owned(), |c| format!("{c:?}"))
                ),
            }));
        };
        history.push(Migration {
            version,
            name: name.unwrap_or_default(),
            checksum,
        });
    }
    Ok(Some(history))
}

/// Says where the connected database is, like a libpq connection string
/// without the password, from what the server reports.
async fn describe_database(client: &Client) -> String {
    // pg_settings hides the socket directories from unprivileged roles
    // (current_setting would fail); the host is then left out.
    let query = "SELECT coalesce(host(inet_server_addr()), \
                                 (SELECT setting FROM pg_settings \
                                  WHERE name = 'unix_socket_directories')), \
                        current_setting('port'), current_database(), current_user";
    let Ok(row) = client.query_typed_one(query, &[]).await else {
        return "this connection".to_owned();
    };
    let host: Option<String> = row.get(0);
    let port: String = row.get(1);
    let dbname: String = row.get(2);
    let user: String = row.get(3);
    let mut text = String::new();
    // The socket directory list may name several; the first will do.
    if let Some(host) = host.as_deref().and_then(|h| h.split(',').next()) {
        text.push_str("host=");
        text.push_str(host.trim());
        text.push(' ');
    }
    text.push_str(&format!("port={port} dbname={dbname} user={user}"));
    text
}

fn from_refinery(error: refinery::Error, runner: &refinery::Runner) -> MigrateError {
    let kind = match error.kind() {
        Kind::DivergentVersion(applied, embedded) => MigrateErrorKind::Edited {
            applied: Migration::from_refinery(applied),
            embedded: Migration::from_refinery(embedded),
        },
        // Refinery reports both an applied migration this build lacks and
        // one of this build skipped in the database as missing; only the
        // former comes from the database and so has a date.
        Kind::MissingVersion(migration) if migration.applied_on().is_some() => {
            MigrateErrorKind::NewerDatabase {
                migration: Migration::from_refinery(migration),
            }
        }
        Kind::MissingVersion(migration) => MigrateErrorKind::Skipped {
            migration: Migration::from_refinery(migration),
        },
        Kind::Connection(action, cause) => {
            let message = describe_cause(cause.as_ref());
            let failed = action.strip_prefix(APPLYING_PREFIX).and_then(|name| {
                runner
                    .get_migrations()
                    .iter()
                    .find(|m| m.to_string() == name)
            });
            match failed {
                Some(migration) => MigrateErrorKind::Failed {
                    migration: Migration::from_refinery(migration),
                    line: cause
                        .downcast_ref::<tokio_postgres::Error>()
                        .and_then(tokio_postgres::Error::as_db_error)
                        .and_then(|db| match db.position() {
                            Some(ErrorPosition::Original(position)) => Some(*position),
                            _ => None,
                        })
                        .and_then(|position| line_of(migration.sql()?, position)),
                    message,
                },
                None => MigrateErrorKind::Database {
                    action: action.trim_start_matches("error ").to_owned(),
                    message,
                },
            }
        }
        other => MigrateErrorKind::InvalidMigrations {
            message: other.to_string(),
        },
    };
    MigrateError::with_source(kind, error)
}

/// What a role needs that runs every command but `migrate`, table by
/// table (found by revoking each in turn; none deletes, no table has a
/// sequence). `system_alerts` is only written to, by the monitor's
/// functions.
const WORKER_PRIVILEGES: &[(&str, &str)] = &[
    (HISTORY_TABLE, "SELECT"),
    ("generated_domains", "SELECT, INSERT"),
    ("generation_campaigns", "SELECT, INSERT, UPDATE"),
    ("generation_batches", "SELECT, INSERT, UPDATE"),
    ("generation_runs", "SELECT, INSERT, UPDATE"),
    ("domain_generation_config_states", "SELECT, INSERT, UPDATE"),
    ("memory_allocations", "SELECT, INSERT"),
    ("memory_metrics", "SELECT, INSERT, UPDATE"),
    ("memory_leak_detection", "SELECT, INSERT, UPDATE"),
    ("memory_optimization_recommendations", "SELECT, INSERT"),
    ("system_alerts", "INSERT"),
];

/// The privileges [`WORKER_PRIVILEGES`] lists for `table`.
pub(crate) fn worker_privileges(table: &str) -> Option<&'static str> {
    WORKER_PRIVILEGES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, privileges)| *privileges)
}

/// The grants that let `role` run every command but `migrate` (`generate`
/// with `--resume`, `--continue` and `--unique`, `plan`, `worker`, `status`,
/// the monitor and `report`) on the migrated `database`, whose tables are
/// in `schema`: SQL for the schema's owner to run in that database.
/// `TEMPORARY` is for `--unique`'s staging table; `--unique` also needs
/// its unique index on `domain_name`, which only the table's owner can
/// create (once). The functions the monitor calls are executable by
/// `PUBLIC` unless that was revoked.
///
/// ```
/// let sql = domgen_pg::migrate::grants("domgen_worker", "domgen", "public");
/// assert!(sql.contains("GRANT SELECT ON refinery_schema_history TO domgen_worker;"));
/// ```
pub fn grants(role: &str, database: &str, schema: &str) -> String {
    let (role, database, schema) = (ident(role), ident(database), ident(schema));
    let mut sql = format!(
        "GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role};\n\
         GRANT USAGE ON SCHEMA {schema} TO {role};\n"
    );
    // Qualified, unless in `public`, so that the grants reach the tables
    // whatever the owner's search_path.
    let prefix = if schema == "public" {
        String::new()
    } else {
        format!("{schema}.")
    };
    for (table, privileges) in WORKER_PRIVILEGES {
        sql.push_str(&format!(
            "GRANT {privileges} ON {prefix}{table} TO {role};\n"
        ));
    }
    sql
}

/// An SQL identifier, quoted unless it is a plain lower-case one.
fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn database_error(action: &str, error: tokio_postgres::Error) -> MigrateError {
    MigrateError::with_source(
        MigrateErrorKind::Database {
            action: action.to_owned(),
            message: describe_cause(&error),
        },
        error,
    )
}

/// What the server said: severity, message, detail, hint and context, or the
/// connection error and its causes.
fn describe_cause(error: &(dyn StdError + 'static)) -> String {
    if let Some(db) = error
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::as_db_error)
    {
        let mut text = db.to_string();
        if let Some(context) = db.where_() {
            text.push_str("\nCONTEXT: ");
            text.push_str(context);
        }
        // Only a table's grant: refused DDL (no CREATE on the schema, not
        // the owner) means `migrate` ran as another role than the owner.
        if let Some(grant) = crate::error::missing_grant(db)
            .filter(|_| db.message().starts_with("permission denied for table "))
        {
            text.push('\n');
            text.push_str(&grant);
        }
        return text;
    }
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// The line of `sql` that a server error position (characters, from 1)
/// points at.
fn line_of(sql: &str, position: u32) -> Option<usize> {
    let before = usize::try_from(position).ok()?.checked_sub(1)?;
    if before >= sql.chars().count() {
        return None;
    }
    Some(1 + sql.chars().take(before).filter(|&c| c == '\n').count())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migration file added without a rebuild of this crate is not
    /// embedded (the macro reads the directory at compile time).
    #[test]
    fn every_migration_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter_map(|name| name.strip_suffix(".sql").map(str::to_owned))
            .collect();
        files.sort();
        let mut embedded: Vec<String> = embedded::migrations::runner()
            .get_migrations()
            .iter()
            .map(ToString::to_string)
            .collect();
        embedded.sort();
        assert_eq!(embedded, files);
        assert!(embedded.contains(&"V1__memory_monitoring".to_owned()));
    }

    #[test]
    fn report_says_what_was_applied() {
        let m = |version, name: &str| Migration {
            version,
            name: name.to_owned(),
            checksum: 0,
        };
        assert_eq!(
            Report { applied: vec![] }.to_string(),
            "the database is up to date: no migrations to apply"
        );
        assert_eq!(
            Report {
                applied: vec![m(1, "a"), m(2, "b")]
            }
            .to_string(),
            "applied 2 migrations: V1__a, V2__b"
        );
    }

    #[test]
    fn server_positions_become_lines() {
        let sql = "SELECT 1;\nCREATE TABLE é (\n  x nope\n);";
        assert_eq!(line_of(sql, 1), Some(1));
        assert_eq!(line_of(sql, 10), Some(1));
        assert_eq!(line_of(sql, 11), Some(2));
        // Counted in characters, not bytes: "nope" is on line 3.
        let nope = sql.chars().position(|c| c == 'n').unwrap() + 1;
        assert_eq!(line_of(sql, u32::try_from(nope).unwrap()), Some(3));
        assert_eq!(line_of(sql, 0), None);
        assert_eq!(line_of(sql, 1000), None);
    }
}
