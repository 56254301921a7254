//! How a command fails: the exit code it earns, and the library's words
//! turned into the command line's.

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
            text: cli_words(&error.to_string(), campaign),
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

/// Library names in its messages, and what the command line calls them.
/// `{id}` stands for the campaign's id where the command knows it. Longer
/// phrases come first, so that a phrase wins over the names inside it.
const WORDS: &[(&str, &str)] = &[
    (
        "`campaign::generate` and `Start::Resume`",
        "`domgen generate --campaign-id {id} --resume`",
    ),
    ("set `Start::Resume`", "pass --resume"),
    ("`Start::Resume`", "--resume"),
    ("`Start::Continue`", "--continue"),
    ("(`workers::plan`)", "(`domgen plan`)"),
    ("`workers::plan`", "`domgen plan SPEC --campaign-id {id}`"),
    ("`workers::work`", "`domgen worker --campaign-id {id}`"),
    ("`campaign::generate`", "`domgen generate`"),
    ("`migrate::migrate`", "`domgen migrate`"),
    ("`WorkOptions::lease`", "--lease-seconds"),
    ("`batch_names`", "--batch-size"),
    ("`campaign_id`", "--campaign-id"),
    ("`offset`/`limit`", "--offset/--limit"),
    ("spec and options", "spec and flags"),
];

/// `message` in the command line's words.
pub(crate) fn cli_words(message: &str, campaign: Option<Uuid>) -> String {
    let id = campaign.map_or_else(|| "UUID".to_owned(), |id| id.to_string());
    let mut text = message.to_owned();
    for (library, cli) in WORDS {
        if text.contains(library) {
            text = text.replace(library, &cli.replace("{id}", &id));
        }
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_become_flags_and_commands() {
        let id = Uuid::nil();
        assert_eq!(
            cli_words(
                &format!("campaign {id} is not planned; run `workers::plan` first"),
                Some(id)
            ),
            format!(
                "campaign {id} is not planned; run `domgen plan SPEC --campaign-id {id}` first"
            )
        );
        assert_eq!(
            cli_words(
                "campaign x already exists; set `Start::Resume` to finish it, or use a new `campaign_id`",
                None
            ),
            "campaign x already exists; pass --resume to finish it, or use a new --campaign-id"
        );
        assert_eq!(
            cli_words(
                "finish it with `campaign::generate` and `Start::Resume`",
                Some(id)
            ),
            format!("finish it with `domgen generate --campaign-id {id} --resume`")
        );
    }
}
