use std::fmt;
use std::ops::Range;

/// An error that stopped (or prevented) a run.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    written: Range<u64>,
}

/// The class of an [`Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The settings are invalid (zero threads, zero batch size, …).
    Config,
    /// The memory budget cannot hold even the smallest run.
    Budget,
    /// The positions lie outside the space, or the encoder cannot
    /// represent them.
    Positions,
    /// The sink failed.
    Sink,
    /// Encoding a batch panicked (a bug).
    Worker,
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message.into(), None)
    }

    pub(crate) fn positions(message: String) -> Error {
        Error::new(ErrorKind::Positions, message, None)
    }

    pub(crate) fn budget(message: String) -> Error {
        Error::new(ErrorKind::Budget, message, None)
    }

    pub(crate) fn sink<E>(source: E, written: Range<u64>) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut e = Error::new(ErrorKind::Sink, source.to_string(), Some(Box::new(source)));
        e.written = written;
        e
    }

    pub(crate) fn worker(message: String) -> Error {
        Error::new(
            ErrorKind::Worker,
            format!(
                "a worker panicked while encoding a batch: {message} (this is a bug; please report it)"
            ),
            None,
        )
    }

    fn new(
        kind: ErrorKind,
        message: String,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error {
            kind,
            message,
            source,
            written: 0..0,
        }
    }

    pub(crate) fn with_written(mut self, written: Range<u64>) -> Error {
        self.written = written;
        self
    }

    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The positions written before the error (ordered sinks write a
    /// prefix of the run).
    pub fn written(&self) -> Range<u64> {
        self.written.clone()
    }

    /// The sink's own error, if this is a [`ErrorKind::Sink`] error from a
    /// sink whose error type is `E`: a writer gives its callers its own
    /// error back, with its kind, rather than the engine's wrapper.
    pub fn into_sink_error<E>(self) -> Result<E, Error>
    where
        E: std::error::Error + 'static,
    {
        match self.source {
            Some(source) if self.kind == ErrorKind::Sink && source.is::<E>() => Ok(*source
                .downcast::<E>()
                .expect("the source was checked to be an E")),
            source => Err(Error { source, ..self }),
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
