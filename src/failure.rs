//! How a command fails: the exit code it earns, and the library's words
//! turned into the command line's ([`crate::flags`]).

use std::io;

use uuid::Uuid;

/// A failure and the exit code it earns: 2 for a bad spec or bad flags,
/// 1 for a failure while running, 130 when interrupted.
pub(crate) enum Failure {
    Usage(anyhow::Error),
    Run(anyhow::Error),
    Interrupted,
}

impl From<domgen::Error> for Failure {
    fn from(e: domgen::Error) -> Failure {
        Failure::Usage(anyhow::Error::new(Worded::new(e, None)))
    }
}

impl From<domgen::engine::Error> for Failure {
    /// The engine refused its settings before a run: the caller's to fix.
    fn from(e: domgen::engine::Error) -> Failure {
        Failure::Usage(anyhow::Error::new(Worded::new(e, None)))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Run(e)
    }
}

impl From<domgen::pg::Error> for Failure {
    fn from(e: domgen::pg::Error) -> Failure {
        Failure::pg(e, None, String::new())
    }
}

impl Failure {
    /// A PostgreSQL-side error of the library: the request's fault (exit
    /// 2) or the run's (exit 1, with `context` said first). Library names
    /// become the flags and commands that set them; `campaign` fills in
    /// the commands that name a campaign.
    pub(crate) fn pg(e: domgen::pg::Error, campaign: Option<Uuid>, context: String) -> Failure {
        let usage = e.kind() == domgen::pg::ErrorKind::Usage;
        let error = anyhow::Error::new(Worded::new(e, campaign));
        match (usage, context.is_empty()) {
            (true, _) => Failure::Usage(error),
            (false, true) => Failure::Run(error),
            (false, false) => Failure::Run(error.context(context)),
        }
    }
}

/// A library error told in the command line's words, its causes kept.
#[derive(Debug)]
struct Worded {
    text: String,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl Worded {
    fn new(
        error: impl std::error::Error + Send + Sync + 'static,
        campaign: Option<Uuid>,
    ) -> Worded {
        Worded {
            text: crate::flags::cli_message(&error.to_string(), campaign),
            error: Box::new(error),
        }
    }
}

impl std::fmt::Display for Worded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Worded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// An error and its causes, each shown once: a cause whose text the message
/// before it already holds is skipped.
pub(crate) fn chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

/// Whether the reader of our output went away (`head`): not a failure.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}
