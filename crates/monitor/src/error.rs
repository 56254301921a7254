use std::fmt;

/// An error that kept a monitor from starting.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: std::io::Error,
}

/// The class of an [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operating system refused a thread for the sampler or the
    /// writer (too many threads or processes, too little memory).
    Spawn,
}

impl Error {
    pub(crate) fn spawn(thread: &str, source: std::io::Error) -> Error {
        Error {
            kind: ErrorKind::Spawn,
            message: format!(
                "cannot start the monitor's {thread} thread: {source}; lower the number of threads or processes, or run without the monitor"
            ),
            source,
        }
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
        Some(&self.source)
    }
}

/// An error a [`Recorder`](crate::Recorder) returns: the event was not
/// recorded, and its [`RecordErrorKind`] says whether trying again can help.
///
/// Its message is shown to the user (the monitor keeps the last one, see
/// [`Summary::last_error`](crate::Summary::last_error)): it names what
/// failed and why, and never a password.
#[derive(Debug)]
pub struct RecordError {
    kind: RecordErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The class of a [`RecordError`]: what the monitor's writer does with the
/// event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordErrorKind {
    /// The store could not be reached or did not answer in time (no
    /// connection, a lost one, a timeout, a server shutting down or
    /// failing over). The event stays at the head of the backlog and is
    /// tried again, and the recorder reconnects on its next call.
    Transient,
    /// The store refused this event and would refuse it again (a
    /// constraint or type error, a missing function or privilege). The
    /// writer drops it, counts it in
    /// [`Summary::rejected`](crate::Summary::rejected) and goes on with
    /// the next event, so one bad event does not hold up the others.
    Rejected,
}

impl RecordError {
    /// An error of `kind`, described by `message`.
    pub fn new(kind: RecordErrorKind, message: impl Into<String>) -> RecordError {
        RecordError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The store was unreachable or did not answer: the event is tried
    /// again.
    pub fn transient(message: impl Into<String>) -> RecordError {
        RecordError::new(RecordErrorKind::Transient, message)
    }

    /// The store refused the event for good: it is dropped.
    pub fn rejected(message: impl Into<String>) -> RecordError {
        RecordError::new(RecordErrorKind::Rejected, message)
    }

    /// `source` caused this error.
    pub fn because(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> RecordError {
        self.source = Some(Box::new(source));
        self
    }

    /// The class of this error.
    pub fn kind(&self) -> RecordErrorKind {
        self.kind
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
