use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domainflow::DomainflowConfig;
use crate::error::{Error, ErrorKind};

/// The order in which a space's names are produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Pattern by pattern; within a pattern lexicographic over its pieces,
    /// the rightmost piece varying fastest.
    #[default]
    Sequential,
    /// A keyed pseudorandom permutation of the sequential order, driven by
    /// [`Spec::seed`].
    Shuffled,
}

impl std::str::FromStr for Order {
    type Err = String;

    fn from_str(s: &str) -> Result<Order, String> {
        match s {
            "sequential" => Ok(Order::Sequential),
            "shuffled" => Ok(Order::Shuffled),
            _ => Err(format!(
                "unknown order `{s}`: use `sequential` or `shuffled`"
            )),
        }
    }
}

impl std::fmt::Display for Order {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Order::Sequential => "sequential",
            Order::Shuffled => "shuffled",
        })
    }
}

/// A list of words (keywords, TLDs or a named list) and where it came from,
/// so that an error can point at the file and line of a bad word.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct WordList {
    /// The words as written (normalisation happens when the spec compiles).
    pub words: Vec<String>,
    /// The file the words were read from, if any.
    pub source: Option<String>,
    /// For words read from a file: the 1-based line of each word.
    pub lines: Vec<usize>,
}

impl WordList {
    /// Words given inline (in a spec file's array or on the command line).
    pub fn inline<I, S>(words: I) -> WordList
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        WordList {
            words: words.into_iter().map(Into::into).collect(),
            source: None,
            lines: Vec::new(),
        }
    }

    /// Parses a word file: one word per line; blank lines and everything
    /// after a `#` are ignored. `source` names the file in error messages.
    pub fn parse(text: &str, source: &str) -> WordList {
        let mut list = WordList {
            words: Vec::new(),
            source: Some(source.to_owned()),
            lines: Vec::new(),
        };
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if !line.is_empty() {
                list.words.push(line.to_owned());
                list.lines.push(number + 1);
            }
        }
        list
    }

    /// Whether the list holds no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Where word `i` came from: `file:line`, or its 1-based place in the list.
    pub fn locate(&self, i: usize) -> String {
        match (&self.source, self.lines.get(i)) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            _ => format!("item {}", i + 1),
        }
    }
}

/// A generation spec: what to combine and in which order.
///
/// It is plain data; [`Space::compile`](crate::Space::compile) validates it
/// and builds the exact space. Build one in code, from a TOML text with
/// [`SpecFile`], or from a campaign-service config with
/// [`Spec::from_domainflow`](crate::Spec::from_domainflow).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Spec {
    /// Values of `{keyword}`, in order.
    pub keywords: WordList,
    /// Values of `{tld}`, in order; a TLD may have several labels (`co.uk`).
    pub tlds: WordList,
    /// The patterns; the space is pattern 1's names, then pattern 2's, …
    pub patterns: Vec<String>,
    /// Named lists for `{list:NAME}`.
    pub lists: BTreeMap<String, WordList>,
    /// Custom charsets for `{NAME:N}`: characters from `[a-z0-9]`, in order.
    pub charsets: BTreeMap<String, String>,
    /// Sequential or shuffled.
    pub order: Order,
    /// The key of the shuffled order.
    pub seed: u64,
    /// The first position to produce.
    pub offset: u64,
    /// How many positions to produce (all remaining when `None`).
    pub limit: Option<u64>,
    /// Accept TLDs that are not on the Public Suffix List.
    pub allow_unknown_tlds: bool,
    /// The campaign-service config this spec was converted from, set by
    /// [`Spec::from_domainflow`](crate::Spec::from_domainflow): a campaign
    /// continuing this spec then advances the service's own offset for that
    /// config ([`Spec::service_key`](crate::Spec::service_key)). `None` for
    /// every other spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainflow: Option<DomainflowConfig>,
}

/// The TOML form of a spec, before word files are read.
///
/// ```toml
/// keywords = ["shop", "cloud"]
/// tlds = ["com", "co.uk"]
/// patterns = ["{keyword}.{tld}", "{list:prefix}{keyword}.{tld}"]
/// order = "shuffled"
/// seed = 42
/// [lists]
/// prefix = ["get", "try"]
/// suffix = { file = "suffixes.txt" }
/// [charsets]
/// vowel2 = "aeiouy"
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// Inline keywords.
    pub keywords: Option<Vec<String>>,
    /// A file of keywords, one per line (relative to the spec file).
    pub keywords_file: Option<PathBuf>,
    /// Inline TLDs.
    pub tlds: Option<Vec<String>>,
    /// A file of TLDs, one per line (relative to the spec file).
    pub tlds_file: Option<PathBuf>,
    /// The patterns.
    pub patterns: Option<Vec<String>>,
    /// Named lists: inline arrays or `{ file = "…" }`.
    #[serde(default)]
    pub lists: BTreeMap<String, ListDef>,
    /// Custom charsets.
    #[serde(default)]
    pub charsets: BTreeMap<String, String>,
    /// `sequential` or `shuffled`.
    pub order: Option<Order>,
    /// The shuffle key.
    pub seed: Option<u64>,
    /// The first position to produce.
    pub offset: Option<u64>,
    /// How many positions to produce.
    pub limit: Option<u64>,
    /// Accept TLDs missing from the Public Suffix List.
    pub allow_unknown_tlds: Option<bool>,
}

/// A named list in a spec file: inline words or a file of words.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ListDef {
    /// Inline words.
    Words(Vec<String>),
    /// A word file, one word per line.
    File {
        /// The file's path, relative to the spec file.
        file: PathBuf,
    },
}

impl SpecFile {
    /// Parses the TOML text of a spec. `source` names it in errors, which
    /// carry the line and column of the problem.
    pub fn from_toml(text: &str, source: &str) -> Result<SpecFile, Error> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => line_column(text, span.start),
                None => (1, 1),
            };
            Error::new(
                ErrorKind::SpecSyntax,
                format!(
                    "{source}:{line}:{column}: {}\n  help: see the spec format in README.md (keywords, tlds, patterns, [lists], [charsets], order, seed)",
                    e.message().trim_end()
                ),
            )
        })
    }

    /// Turns the file form into a [`Spec`], reading word files through
    /// `read` (given the path joined to `base`; it returns the text or a
    /// message). The pattern crate does no I/O itself.
    pub fn resolve<R>(self, base: &Path, mut read: R) -> Result<Spec, Error>
    where
        R: FnMut(&Path) -> Result<String, String>,
    {
        let mut load = |what: &str, path: &Path| -> Result<WordList, Error> {
            let full = base.join(path);
            let shown = full.display().to_string();
            let text = read(&full).map_err(|why| {
                Error::new(
                    ErrorKind::Read,
                    format!("cannot read {what} file {shown}: {why}"),
                )
            })?;
            Ok(WordList::parse(&text, &shown))
        };
        let keywords = pick("keywords", self.keywords, self.keywords_file, &mut load)?;
        let tlds = pick("tlds", self.tlds, self.tlds_file, &mut load)?;
        let mut lists = BTreeMap::new();
        for (name, def) in self.lists {
            let words = match def {
                ListDef::Words(words) => WordList::inline(words),
                ListDef::File { file } => load(&format!("list `{name}`"), &file)?,
            };
            lists.insert(name, words);
        }
        Ok(Spec {
            keywords,
            tlds,
            patterns: self.patterns.unwrap_or_default(),
            lists,
            charsets: self.charsets,
            order: self.order.unwrap_or_default(),
            seed: self.seed.unwrap_or(0),
            offset: self.offset.unwrap_or(0),
            limit: self.limit,
            allow_unknown_tlds: self.allow_unknown_tlds.unwrap_or(false),
            domainflow: None,
        })
    }
}

fn pick<L>(
    field: &str,
    inline: Option<Vec<String>>,
    file: Option<PathBuf>,
    load: &mut L,
) -> Result<WordList, Error>
where
    L: FnMut(&str, &Path) -> Result<WordList, Error>,
{
    match (inline, file) {
        (Some(_), Some(_)) => Err(Error::new(
            ErrorKind::SpecSyntax,
            format!("both `{field}` and `{field}_file` are given: keep one of them"),
        )),
        (Some(words), None) => Ok(WordList::inline(words)),
        (None, Some(path)) => load(field, &path),
        (None, None) => Ok(WordList::default()),
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}
