use std::fmt;

use crate::migrate::{MigrateError, MigrateErrorKind};

/// An error of domgen's PostgreSQL side: what went wrong, its class, and
/// the error that caused it.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The class of an [`Error`]: whose move it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request cannot be carried out as given: a campaign that exists
    /// already, a resume with another spec, a bad table name, a spec that
    /// does not compile. The caller changes the request.
    Usage,
    /// No connection could be had: the server is unreachable, refused the
    /// login, or the local cluster could not be started.
    Connection,
    /// The server refused or failed a statement, the connection broke, or
    /// the database is not as the work needs it (not migrated, a corrupt
    /// ledger row).
    Database,
    /// The engine failed (its sink, a worker, the budget), or a task of
    /// ours did.
    Engine,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage, message)
    }

    /// The database is not as the work needs it, or it answered what it
    /// should not have.
    pub(crate) fn database(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Database, message)
    }

    /// `source` caused this error.
    pub(crate) fn because(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// A statement failed or the connection broke; the message is the
    /// server's, never the connection's password.
    pub(crate) fn db(e: tokio_postgres::Error) -> Error {
        let message = match e.as_db_error() {
            Some(db) => {
                let mut m = format!("PostgreSQL: {}", db.message());
                if let Some(detail) = db.detail() {
                    m.push_str(&format!(" ({detail})"));
                }
                if let Some(grant) = missing_grant(db) {
                    m.push_str(&format!("; {grant}"));
                }
                m
            }
            None if e.is_closed() => "the connection to PostgreSQL was lost".to_owned(),
            None => format!("PostgreSQL: {}", reason(&e)),
        };
        Error::new(ErrorKind::Database, message).because(e)
    }

    /// Connecting to the database `shown` failed.
    pub(crate) fn connect(shown: &str, e: tokio_postgres::Error) -> Error {
        Error::new(
            ErrorKind::Connection,
            format!("cannot connect to PostgreSQL at {shown}: {}", reason(&e)),
        )
        .because(e)
    }

    /// Connecting to the database `shown` failed for `why`, which says it
    /// better than the client's error `e` (a refused TLS certificate).
    pub(crate) fn connect_because(shown: &str, why: &str, e: tokio_postgres::Error) -> Error {
        Error::new(
            ErrorKind::Connection,
            format!("cannot connect to PostgreSQL at {shown}: {why}"),
        )
        .because(e)
    }

    pub(crate) fn pool(e: deadpool_postgres::PoolError) -> Error {
        match e {
            deadpool_postgres::PoolError::Backend(e) => Error::db(e),
            e => Error::new(
                ErrorKind::Connection,
                format!("cannot take a connection from the pool: {e}"),
            )
            .because(e),
        }
    }

    pub(crate) fn engine(e: domgen_engine::Error) -> Error {
        Error::new(ErrorKind::Engine, e.to_string()).because(e)
    }

    /// A task of ours failed (it panicked or was cancelled): no fault of
    /// the input or the server.
    pub(crate) fn task(what: &str, e: tokio::task::JoinError) -> Error {
        Error::new(ErrorKind::Engine, format!("{what} failed: {e}")).because(e)
    }

    /// Adds what the caller knows to the message.
    pub(crate) fn context(mut self, text: String) -> Error {
        self.message = format!("{}; {text}", self.message);
        self
    }

    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the same call may succeed on a new connection or a moment
    /// later: the connection was lost, refused or cut, went unanswered, or
    /// the server answered with a SQLSTATE of a shutdown, restart,
    /// failover, a resource or a race lost for now (see the README's
    /// "Restarts, failovers and lost connections"). A request the caller
    /// must change, a refused login or certificate, and a statement the
    /// server rejects are not.
    pub fn is_transient(&self) -> bool {
        if self.kind == ErrorKind::Usage {
            return false;
        }
        let mut source = self
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(e) = source {
            if e.is::<crate::retry::TimedOut>() || e.is::<std::io::Error>() {
                return true;
            }
            if let Some(pg) = e.downcast_ref::<tokio_postgres::Error>() {
                if crate::tls::handshake_error(pg).is_some() {
                    // A certificate refused is refused at every try.
                    return false;
                }
                return match pg.as_db_error() {
                    Some(db) => crate::retry::transient_state(db.code().code()),
                    None if pg.is_closed() => true,
                    // An I/O error is further down the chain; a TLS or
                    // configuration error is not transient.
                    None => chain_has_io(pg),
                };
            }
            if let Some(pool) = e.downcast_ref::<deadpool_postgres::PoolError>() {
                return matches!(pool, deadpool_postgres::PoolError::Timeout(_))
                    || chain_has_io(pool);
            }
            source = e.source();
        }
        false
    }

    /// What went wrong with the schema, when migrating or checking it
    /// failed ([`crate::migrate`]): an edited migration, a newer database,
    /// missing tables, …
    pub fn migration(&self) -> Option<&MigrateErrorKind> {
        self.source
            .as_deref()?
            .downcast_ref::<MigrateError>()
            .map(MigrateError::kind)
    }
}

fn chain_has_io(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = e.source();
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// For a privilege the server refused (SQLSTATE 42501,
/// insufficient_privilege), the grant that is missing and where the list
/// of them is; `None` for other errors.
pub(crate) fn missing_grant(db: &tokio_postgres::error::DbError) -> Option<String> {
    if db.code() != &tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE {
        return None;
    }
    let message = db.message();
    let unquote = |name: &str| name.trim_matches('"').to_owned();
    let grant = if let Some(table) = message.strip_prefix("permission denied for table ") {
        // A `--table` of the caller's own needs what generated_domains does.
        let privileges = crate::migrate::worker_privileges(table).unwrap_or("SELECT, INSERT");
        format!("GRANT {privileges} ON {table} TO <role>")
    } else if let Some(db) =
        message.strip_prefix("permission denied to create temporary tables in database ")
    {
        format!("GRANT TEMPORARY ON DATABASE {} TO <role>", unquote(db))
    } else if let Some(schema) = message.strip_prefix("permission denied for schema ") {
        format!("GRANT USAGE ON SCHEMA {schema} TO <role>")
    } else if let Some(function) = message.strip_prefix("permission denied for function ") {
        format!("GRANT EXECUTE ON FUNCTION {function} TO <role>")
    } else if let Some(table) = message.strip_prefix("must be owner of table ") {
        return Some(format!(
            "`--unique` needs a unique index on {table} (domain_name), and only the table's \
             owner may create it: have the owner run `CREATE UNIQUE INDEX \"{}_domain_name_unique\" \
             ON {table} (domain_name)` once (README.md, \"Least privilege\")",
            table.replace('.', "_")
        ));
    } else {
        return Some(
            "the role lacks a privilege: README.md's \"Least privilege\" lists the grants \
             domgen needs (`domgen migrate` runs as the schema's owner)"
                .to_owned(),
        );
    };
    Some(format!(
        "the role lacks a privilege: have the owner of the object (or a superuser) run `{grant}` \
         (README.md's \"Least privilege\" lists every grant domgen needs)"
    ))
}

/// The server's words for a failure, or the client's with its causes.
pub(crate) fn reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<tokio_postgres::Error> for Error {
    /// A database error, described without the connection's password.
    fn from(e: tokio_postgres::Error) -> Error {
        Error::db(e)
    }
}

impl From<MigrateError> for Error {
    /// Migrating or checking the schema failed: the database is not as
    /// domgen needs it.
    fn from(e: MigrateError) -> Error {
        Error::database(e.to_string()).because(e)
    }
}

impl From<domgen_pattern::Error> for Error {
    /// A spec that does not compile is the caller's to fix.
    fn from(e: domgen_pattern::Error) -> Error {
        Error::usage(e.to_string()).because(e)
    }
}
