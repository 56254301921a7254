//! The binary's flags in the library's error messages.
//!
//! The library crates name a setting the way a library user sets it:
//! `domgen-pattern` in fixed phrases about the spec ("add patterns = [...]
//! to the spec", "set allow_unknown_tlds = true in the spec"; its crate docs
//! list them), `domgen-engine` by builder method in backticks
//! (`` `GeneratorBuilder::threads` ``). The binary also takes these settings
//! as flags, so before it prints a library error it passes the text through
//! [`cli_message`], which puts the flags back from the one table below.

/// Library wording → CLI wording, tried in this order at each position of a
/// message. In a library phrase, `{NAME}` stands for a list name (letters,
/// digits, `_`), which the CLI phrase repeats where it has `{NAME}`.
const FLAGS: &[(&str, &str)] = &[
    // domgen-engine: builder methods.
    ("`GeneratorBuilder::threads`", "--threads"),
    ("`GeneratorBuilder::memory_budget`", "--memory-budget"),
    ("`GeneratorBuilder::batch_names`", "--batch-size"),
    // domgen-pattern: spec settings.
    (
        r#"add patterns = ["{keyword}.{tld}"] to the spec"#,
        r#"add patterns = ["{keyword}.{tld}"] to the spec or pass --pattern"#,
    ),
    (
        "add keywords = [...] or keywords_file to the spec",
        "add keywords = [...] or keywords_file to the spec, or pass --keyword / --keywords-file",
    ),
    (
        "add tlds = [...] or tlds_file to the spec",
        "add tlds = [...] or tlds_file to the spec, or pass --tld / --tlds-file",
    ),
    (
        "define `{NAME}` in the spec's [lists]",
        "define it in the spec's [lists] or with --list {NAME}=FILE",
    ),
    (
        "define the list in the spec's [lists]",
        "define the list in the spec's [lists] or with --list NAME=FILE",
    ),
    (
        "define others in the spec's [charsets]",
        "define others in the spec's [charsets] or with --charset NAME=CHARS",
    ),
    (
        "set allow_unknown_tlds = true in the spec to accept it",
        "pass --allow-unknown-tlds (allow_unknown_tlds = true) to accept it",
    ),
    (
        "set allow_unknown_tlds = true in the spec",
        "pass --allow-unknown-tlds",
    ),
];

/// The PostgreSQL side's names → the CLI's. `{id}` in a CLI phrase stands
/// for the campaign's id where the command knows it. Longer phrases come
/// first, so that a phrase wins over the names inside it.
const PG: &[(&str, &str)] = &[
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
    ("`CampaignOptions::unique`", "--unique"),
    ("`offset`/`limit`", "--offset/--limit"),
    ("spec and options", "spec and flags"),
    (
        "give a connection string (a database URL)",
        "pass --database-url",
    ),
    (
        "or write to a file instead",
        "or write the names to a file with --out FILE",
    ),
];

const NAME: &str = "{NAME}";

/// `library_message` (an error's text from a library crate) with its
/// references to settings replaced by the flags that set them, and those to
/// library calls by the commands that make them (naming `campaign` where
/// the command knows it). Text that names no setting is returned unchanged.
pub(crate) fn cli_message(library_message: &str, campaign: Option<uuid::Uuid>) -> String {
    let id = campaign.map_or_else(|| "UUID".to_owned(), |id| id.to_string());
    let mut out = String::with_capacity(library_message.len() + 32);
    let mut rest = library_message;
    'scan: while let Some(c) = rest.chars().next() {
        for &(library, cli) in FLAGS.iter().chain(PG) {
            if let Some((len, name)) = matches(rest, library) {
                out.push_str(&cli.replace(NAME, name).replace("{id}", &id));
                rest = &rest[len..];
                continue 'scan;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Whether `text` starts with the phrase `library`: the length it covers
/// and the name `{NAME}` matched ("" where the phrase has none).
fn matches<'t>(text: &'t str, library: &str) -> Option<(usize, &'t str)> {
    let Some((before, after)) = library.split_once(NAME) else {
        return text.starts_with(library).then_some((library.len(), ""));
    };
    let tail = text.strip_prefix(before)?;
    let name_len = tail
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(tail.len());
    let (name, tail) = tail.split_at(name_len);
    if name.is_empty() || !tail.starts_with(after) {
        return None;
    }
    Some((before.len() + name_len + after.len(), name))
}

#[cfg(test)]
mod tests {
    use domgen_engine::{GeneratorBuilder, Lines};
    use domgen_pattern::{Space, Spec, WordList};

    use super::{FLAGS, cli_message, matches};

    fn refused(spec: Spec) -> String {
        Space::compile(&spec).unwrap_err().to_string()
    }

    fn spec(patterns: &[&str]) -> Spec {
        Spec {
            patterns: patterns.iter().map(|&p| p.to_owned()).collect(),
            ..Spec::default()
        }
    }

    /// Every library message that names a setting, with what the CLI
    /// printed for it before the library stopped naming flags.
    fn messages() -> Vec<(String, &'static str)> {
        let mut lists = spec(&["{list:prefx}{digit:1}.com"]);
        lists
            .lists
            .insert("prefix".into(), WordList::inline(["get"]));
        let space = Space::compile(&spec(&["{alpha:3}.com"])).unwrap();
        let small = GeneratorBuilder::new()
            .threads(1)
            .memory_budget(2048)
            .build()
            .unwrap();
        vec![
            (
                refused(Spec {
                    keywords: WordList::inline(["shop"]),
                    ..Spec::default()
                }),
                r#"the spec has no patterns: add patterns = ["{keyword}.{tld}"] to the spec or pass --pattern"#,
            ),
            (
                refused(spec(&["get{keyword}.com"])),
                "help: add keywords = [...] or keywords_file to the spec, or pass --keyword / --keywords-file",
            ),
            (
                refused(Spec {
                    keywords: WordList::inline(["shop"]),
                    ..spec(&["{keyword}.{tld}"])
                }),
                "help: add tlds = [...] or tlds_file to the spec, or pass --tld / --tlds-file",
            ),
            (
                refused(lists),
                "help: define it in the spec's [lists] or with --list prefx=FILE (defined lists: prefix)",
            ),
            (
                refused(spec(&["{list}.com"])),
                "help: define the list in the spec's [lists] or with --list NAME=FILE",
            ),
            (
                refused(spec(&["x{greek:3}.com"])),
                "; define others in the spec's [charsets] or with --charset NAME=CHARS",
            ),
            (
                refused(spec(&["shop.notatld"])),
                "help: check the spelling, or pass --allow-unknown-tlds (allow_unknown_tlds = true) to accept it",
            ),
            (
                refused(Spec {
                    tlds: WordList::inline(["com", "zzzz"]),
                    ..spec(&["a.{tld}"])
                }),
                "is not on the Public Suffix List; check the spelling, or pass --allow-unknown-tlds (allow_unknown_tlds = true) to accept it",
            ),
            (
                refused(Spec {
                    tlds: WordList::inline(["example.com"]),
                    ..spec(&["a.{tld}"])
                }),
                "use `com` and put the rest in the pattern, or pass --allow-unknown-tlds",
            ),
            (
                GeneratorBuilder::new()
                    .threads(0)
                    .build()
                    .err()
                    .unwrap()
                    .to_string(),
                "--threads must be at least 1",
            ),
            (
                small.check(&space, &Lines).unwrap_err().to_string(),
                "; raise --memory-budget to at least ",
            ),
            (
                domgen::pg::sizing::PINNED.to_owned(),
                "the batch size was given (--batch-size), which pins it",
            ),
        ]
    }

    #[test]
    fn the_cli_prints_what_it_printed_when_the_library_named_flags() {
        for (library, cli) in messages() {
            let mapped = cli_message(&library, None);
            assert!(mapped.contains(cli), "{library}\n  became\n{mapped}");
            assert!(!mapped.contains("GeneratorBuilder::"), "{mapped}");
        }
    }

    /// What `tests/bad_spec.rs` and `tests/engine.rs` assert on stderr.
    #[test]
    fn the_cli_tests_still_find_their_words() {
        let no_patterns = cli_message(&refused(Spec::default()), None);
        for needle in ["no patterns", "--pattern"] {
            assert!(no_patterns.contains(needle), "{no_patterns}");
        }
        let space = Space::compile(&spec(&["{alpha:3}.com"])).unwrap();
        let small = GeneratorBuilder::new()
            .threads(1)
            .memory_budget(2048)
            .build()
            .unwrap();
        let budget = cli_message(&small.check(&space, &Lines).unwrap_err().to_string(), None);
        for needle in [
            "memory budget of 2048 bytes",
            "raise --memory-budget to at least",
        ] {
            assert!(budget.contains(needle), "{budget}");
        }
        let threads = GeneratorBuilder::new().threads(0).build().err().unwrap();
        let threads = cli_message(&threads.to_string(), None);
        assert!(
            threads.contains("--threads must be at least 1"),
            "{threads}"
        );
    }

    /// A phrase the library no longer writes would leave a flag out of the
    /// CLI's message without failing anything else.
    #[test]
    fn every_row_of_the_table_is_a_phrase_the_library_writes() {
        let library: Vec<String> = messages().into_iter().map(|(m, _)| m).collect();
        for (phrase, _) in FLAGS {
            let used = library.iter().any(|m| {
                m.char_indices()
                    .any(|(i, _)| matches(&m[i..], phrase).is_some())
            });
            assert!(used, "no library message holds `{phrase}`");
        }
    }

    #[test]
    fn text_that_names_no_setting_is_unchanged() {
        for text in [
            "",
            "cannot read nope.toml: No such file or directory",
            "pattern 1 `café.com`, position 4: `é`",
            "define `` in the spec's [lists]",
            "define `a-b` in the spec's [lists]",
        ] {
            assert_eq!(cli_message(text, None), text);
        }
    }

    #[test]
    fn the_postgresql_names_become_flags_and_commands() {
        let id = uuid::Uuid::nil();
        assert_eq!(
            cli_message(
                &format!("campaign {id} is not planned; run `workers::plan` first"),
                Some(id)
            ),
            format!(
                "campaign {id} is not planned; run `domgen plan SPEC --campaign-id {id}` first"
            )
        );
        assert_eq!(
            cli_message(
                "campaign x already exists; set `Start::Resume` to finish it, or use a new `campaign_id`",
                None
            ),
            "campaign x already exists; pass --resume to finish it, or use a new --campaign-id"
        );
        assert_eq!(
            cli_message(
                "finish it with `campaign::generate` and `Start::Resume`",
                Some(id)
            ),
            format!("finish it with `domgen generate --campaign-id {id} --resume`")
        );
    }
}
