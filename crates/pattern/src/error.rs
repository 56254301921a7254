use std::fmt;

/// An error raised while loading a spec or compiling it into a [`Space`].
///
/// Every message names the offending value, where it came from (a file and
/// line, or a pattern and a character position) and what to do about it.
/// [`Error::kind`] tells the broad class for programs that branch on it.
///
/// [`Space`]: crate::Space
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The class of an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The spec text (TOML) is malformed or has a field of the wrong type.
    SpecSyntax,
    /// A pattern is malformed: a bad piece, a bad character, a bad range.
    PatternSyntax,
    /// A pattern names a list or charset the spec does not define, or uses
    /// `{keyword}`/`{tld}` without keywords/TLDs.
    Undefined,
    /// A keyword, list word, TLD or charset is not acceptable.
    BadValue,
    /// Some name of the space would not be a valid hostname.
    InvalidName,
    /// A TLD is not on the Public Suffix List.
    UnknownTld,
    /// The space holds more than `u64::MAX` names.
    TooLarge,
    /// `offset`/`limit` select positions outside the space.
    Selection,
    /// A campaign-service (DomainFlow) config cannot be expressed or would
    /// produce invalid names.
    Domainflow,
    /// A spec or word file could not be read.
    Read,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A spec or word file at `path` could not be read, for `why`.
    pub fn read(path: &str, why: impl fmt::Display) -> Error {
        Error::new(ErrorKind::Read, format!("cannot read {path}: {why}"))
    }

    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Prefixes the message with where the spec came from, e.g. a file name.
    #[must_use]
    pub fn in_source(mut self, source: &str) -> Error {
        self.message = format!("{source}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Formats "pattern N `TEXT`" followed by a caret line under the characters
/// `[start, end)` (counted in characters) and a message.
pub(crate) fn pattern_error(
    kind: ErrorKind,
    number: usize,
    pattern: &str,
    span: (usize, usize),
    what: &str,
    help: &str,
) -> Error {
    let (start, end) = span;
    let width = end.saturating_sub(start).max(1);
    let mut message = format!(
        "pattern {number} `{pattern}`, position {}: {what}\n    {pattern}\n    {}{}",
        start + 1,
        " ".repeat(start),
        "^".repeat(width),
    );
    if !help.is_empty() {
        message.push_str("\n  help: ");
        message.push_str(help);
    }
    Error::new(kind, message)
}
