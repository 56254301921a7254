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
