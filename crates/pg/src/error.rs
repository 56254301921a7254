use std::fmt;

/// An error of domgen's PostgreSQL side.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The class of an [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request cannot be carried out as given (a campaign that exists
    /// without `--resume`, a resume with a different spec, a bad table
    /// name, an unmigrated database).
    Usage,
    /// The server refused or failed a statement, or the connection broke.
    Database,
    /// The engine failed (its sink, a worker, the budget).
    Engine,
}

impl Error {
    pub(crate) fn usage(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Usage,
            message: message.into(),
            source: None,
        }
    }

    /// The database is not as the work needs it: not migrated, or it
    /// answered what it should not have.
    pub(crate) fn database(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Database,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn db(e: tokio_postgres::Error) -> Error {
        let message = match e.as_db_error() {
            Some(db) => {
                let mut m = format!("PostgreSQL: {}", db.message());
                if let Some(detail) = db.detail() {
                    m.push_str(&format!(" ({detail})"));
                }
                m
            }
            None if e.is_closed() => "the connection to PostgreSQL was lost".to_owned(),
            None => format!("PostgreSQL: {e}"),
        };
        Error {
            kind: ErrorKind::Database,
            message,
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn pool(e: deadpool_postgres::PoolError) -> Error {
        match e {
            deadpool_postgres::PoolError::Backend(e) => Error::db(e),
            e => Error {
                kind: ErrorKind::Database,
                message: format!("cannot take a connection from the pool: {e}"),
                source: Some(Box::new(e)),
            },
        }
    }

    pub(crate) fn engine(e: domgen_engine::Error) -> Error {
        Error {
            kind: ErrorKind::Engine,
            message: e.to_string(),
            source: Some(Box::new(e)),
        }
    }

    /// A task of ours failed (it panicked or was cancelled): no fault of
    /// the input or the server.
    pub(crate) fn task(what: &str, e: tokio::task::JoinError) -> Error {
        Error {
            kind: ErrorKind::Engine,
            message: format!("{what} failed: {e}"),
            source: Some(Box::new(e)),
        }
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
