use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domainflow::DomainflowConfig;
use crate::error::{Error, ErrorKind};
use crate::shuffle::{LATEST_SHUFFLE, SHUFFLE_VERSIONS};
use crate::typo::{Keyboard, TypoAlgorithm};

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
///
/// The words sit back to back in one buffer, each followed by a `0xFF`
/// byte (which no UTF-8 text holds), so a million-word file costs its own
/// size and not a `String` per word. Lines are kept as the few places
/// where the line number jumps (blank and comment lines), not one number
/// per word.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "WordListRepr", into = "WordListRepr")]
pub struct WordList {
    /// The words as written, each followed by [`SEPARATOR`] (normalisation
    /// happens when the spec compiles).
    text: Vec<u8>,
    /// How many words `text` holds.
    len: usize,
    /// The file the words were read from, if any.
    source: Option<String>,
    /// For words read from a file: `(word index, line)` where the 1-based
    /// line stops being the previous jump's line plus the words since;
    /// empty for inline words.
    jumps: Vec<(usize, usize)>,
}

/// Ends every word in [`WordList::text`]: a byte no UTF-8 text holds, so
/// any word, even one with a newline, is kept whole.
const SEPARATOR: u8 = 0xFF;

/// The serialised form of a [`WordList`], as specs stored by earlier
/// versions hold it: every word, and every word's line.
#[derive(Deserialize, Serialize)]
struct WordListRepr {
    words: Vec<String>,
    source: Option<String>,
    lines: Vec<usize>,
}

impl From<WordListRepr> for WordList {
    fn from(repr: WordListRepr) -> WordList {
        let mut list = WordList::inline(repr.words);
        list.source = repr.source;
        // A stored list with a line for every word keeps them; any other
        // (none, or a count that does not match) is located by position,
        // as it was.
        if list.source.is_some() && repr.lines.len() == list.len {
            for (i, &line) in repr.lines.iter().enumerate() {
                list.note_line(i, line);
            }
        }
        list
    }
}

impl From<WordList> for WordListRepr {
    fn from(list: WordList) -> WordListRepr {
        WordListRepr {
            words: list.iter().map(str::to_owned).collect(),
            lines: (0..list.len).filter_map(|i| list.line(i)).collect(),
            source: list.source,
        }
    }
}

impl WordList {
    /// Words given inline (in a spec file's array or on the command line).
    pub fn inline<I, S>(words: I) -> WordList
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = WordList::default();
        for word in words {
            list.push(word.as_ref());
        }
        list
    }

    /// Parses a word file: one word per line; blank lines and everything
    /// after a `#` are ignored. `source` names the file in error messages.
    pub fn parse(text: &str, source: &str) -> WordList {
        WordList::read(text.as_bytes(), source).expect("a string is UTF-8 and reads without error")
    }

    /// Reads a word file line by line, as [`WordList::parse`] does, holding
    /// only the words: the file's text is never all in memory. `source`
    /// names the file in error messages. A line that is not UTF-8 is an
    /// error of kind [`std::io::ErrorKind::InvalidData`].
    pub fn read<R: BufRead>(reader: R, source: &str) -> std::io::Result<WordList> {
        WordList::read_with_capacity(reader, source, 0)
    }

    /// [`WordList::read`] into a buffer made room for `bytes` bytes at
    /// once: given the file's size plus one (which its words and their
    /// separators never exceed), the buffer is allocated once and never
    /// copied.
    pub fn read_with_capacity<R: BufRead>(
        mut reader: R,
        source: &str,
        bytes: usize,
    ) -> std::io::Result<WordList> {
        let mut list = WordList {
            text: Vec::with_capacity(bytes),
            source: Some(source.to_owned()),
            ..WordList::default()
        };
        let mut line = Vec::new();
        let mut number = 0;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            number += 1;
            // As `str::lines`: the newline and a carriage return before it
            // end the line.
            let mut bytes = line.as_slice();
            if let Some(rest) = bytes.strip_suffix(b"\n") {
                bytes = rest.strip_suffix(b"\r").unwrap_or(rest);
            }
            let text = std::str::from_utf8(bytes).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                )
            })?;
            let word = text.split('#').next().unwrap_or("").trim();
            if !word.is_empty() {
                list.note_line(list.len, number);
                list.push(word);
            }
        }
        Ok(list)
    }

    /// Appends a word.
    pub fn push(&mut self, word: &str) {
        self.text.extend_from_slice(word.as_bytes());
        self.text.push(SEPARATOR);
        self.len += 1;
    }

    /// The words, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.text
            .split(|&b| b == SEPARATOR)
            .take(self.len)
            .map(|bytes| std::str::from_utf8(bytes).expect("words are pushed as UTF-8"))
    }

    /// Word `i`, if the list has that many.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.iter().nth(i)
    }

    /// How many words the list holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list holds no words.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes the words take, separators included.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// The file the words were read from, if any.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// The 1-based line of word `i`, for words read from a file.
    pub fn line(&self, i: usize) -> Option<usize> {
        if self.source.is_none() || i >= self.len {
            return None;
        }
        let jump = self.jumps.partition_point(|&(word, _)| word <= i);
        let (word, line) = self.jumps.get(jump.checked_sub(1)?)?;
        Some(line + (i - word))
    }

    /// Where word `i` came from: `file:line`, or its 1-based place in the list.
    pub fn locate(&self, i: usize) -> String {
        match (&self.source, self.line(i)) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            _ => format!("item {}", i + 1),
        }
    }

    /// Records that word `i` (the next one) is on `line`, keeping only
    /// the jumps.
    fn note_line(&mut self, i: usize, line: usize) {
        let follows = self
            .jumps
            .last()
            .is_some_and(|&(word, at)| line.checked_sub(at) == i.checked_sub(word));
        if !follows {
            self.jumps.push((i, line));
        }
    }
}

/// A generation spec: what to combine and in which order.
///
/// It is plain data; [`Space::compile`](crate::Space::compile) validates it
/// and builds the exact space. Build one in code, from a TOML text with
/// [`SpecFile`], or from a campaign-service config with
/// [`Spec::from_domainflow`](crate::Spec::from_domainflow).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
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
    /// The version of the shuffled order (one of [`SHUFFLE_VERSIONS`]):
    /// the same seed gives the same order in every release that knows the
    /// version. New specs get [`LATEST_SHUFFLE`]; a spec stored before
    /// versions existed reads as 1, the order it was made with.
    #[serde(default = "first_shuffle_version")]
    pub shuffle_version: u8,
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
    /// Names left out of the space, which stays exact: positions, counts,
    /// orders and offsets are those of the names that remain.
    #[serde(default, skip_serializing_if = "Filter::is_empty")]
    pub filter: Filter,
    /// The algorithms of `{typo}` (a `{typo:ALGO,...}` piece names its
    /// own); every one when empty, `dictionary` only with a `dictionary`
    /// list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub typo_algorithms: Vec<TypoAlgorithm>,
    /// The keyboards of the `insertion` and `replacement` algorithms;
    /// every one when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub typo_keyboards: Vec<Keyboard>,
}

/// Names a spec leaves out ([`Spec::filter`]). The filtered sequence is
/// the unfiltered one with these names removed and its order kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct Filter {
    /// The fewest octets a name may have without its TLD (`shop-abc` of
    /// `shop-abc.co.uk`).
    pub min_length: Option<usize>,
    /// The most octets a name may have without its TLD.
    pub max_length: Option<usize>,
    /// Words no name may contain anywhere before its TLD; each list keeps
    /// where it came from (inline words, a file).
    pub exclude: Vec<WordList>,
    /// Whole names to leave out (names already registered, say), with or
    /// without a trailing dot, matched after normalisation.
    pub exclude_names: Vec<WordList>,
    /// Names that match any of these regular expressions (searched in the
    /// whole name, TLD and all, as written out) are left out.
    pub exclude_regex: Vec<String>,
    /// Names must match every one of these regular expressions.
    pub include_regex: Vec<String>,
}

impl Filter {
    /// Whether the filter leaves every name in.
    pub fn is_empty(&self) -> bool {
        self.min_length.is_none()
            && self.max_length.is_none()
            && self.exclude.iter().all(WordList::is_empty)
            && self.exclude_names.iter().all(WordList::is_empty)
            && self.exclude_regex.is_empty()
            && self.include_regex.is_empty()
    }

    /// The rules in words, for messages: `max_length 12, 3 excluded
    /// words, exclude_regex `x$``; `no filter` when there are none.
    pub fn summary(&self) -> String {
        let mut rules = Vec::new();
        if let Some(min) = self.min_length {
            rules.push(format!("min_length {min}"));
        }
        if let Some(max) = self.max_length {
            rules.push(format!("max_length {max}"));
        }
        let words: usize = self.exclude.iter().map(WordList::len).sum();
        if words > 0 {
            rules.push(format!("{words} excluded words"));
        }
        for re in &self.exclude_regex {
            rules.push(format!("exclude_regex `{re}`"));
        }
        for re in &self.include_regex {
            rules.push(format!("include_regex `{re}`"));
        }
        let names: usize = self.exclude_names.iter().map(WordList::len).sum();
        if names > 0 {
            rules.push(format!("{names} excluded names"));
        }
        if rules.is_empty() {
            return "no filter".to_owned();
        }
        rules.join(", ")
    }
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            keywords: WordList::default(),
            tlds: WordList::default(),
            patterns: Vec::new(),
            lists: BTreeMap::new(),
            charsets: BTreeMap::new(),
            order: Order::default(),
            seed: 0,
            shuffle_version: LATEST_SHUFFLE,
            offset: 0,
            limit: None,
            allow_unknown_tlds: false,
            domainflow: None,
            filter: Filter::default(),
            typo_algorithms: Vec::new(),
            typo_keyboards: Vec::new(),
        }
    }
}

fn first_shuffle_version() -> u8 {
    SHUFFLE_VERSIONS[0]
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
    /// The version of the shuffled order (the latest when absent).
    pub shuffle_version: Option<u8>,
    /// The first position to produce.
    pub offset: Option<u64>,
    /// How many positions to produce.
    pub limit: Option<u64>,
    /// Accept TLDs missing from the Public Suffix List.
    pub allow_unknown_tlds: Option<bool>,
    /// Names to leave out.
    pub filter: Option<FilterFile>,
    /// The algorithms of `{typo}`.
    pub typo_algorithms: Option<Vec<TypoAlgorithm>>,
    /// The keyboards of the `insertion` and `replacement` algorithms.
    pub typo_keyboards: Option<Vec<Keyboard>>,
}

/// The `[filter]` table of a spec file, before its files are read.
///
/// ```toml
/// [filter]
/// min_length = 5
/// max_length = 12
/// exclude = ["sex", "xxx"]
/// exclude_file = "blocklist.txt"
/// exclude_names_file = "taken.txt"
/// exclude_regex = ["(xn--)"]
/// include_regex = ["^[a-z]"]
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterFile {
    /// The fewest octets of a name without its TLD.
    pub min_length: Option<usize>,
    /// The most octets of a name without its TLD.
    pub max_length: Option<usize>,
    /// Words no name may contain.
    pub exclude: Option<Vec<String>>,
    /// A file of such words, one per line (relative to the spec file).
    pub exclude_file: Option<PathBuf>,
    /// A file of whole names to leave out, one per line.
    pub exclude_names_file: Option<PathBuf>,
    /// Names matching any of these are left out.
    pub exclude_regex: Option<Vec<String>>,
    /// Names must match all of these.
    pub include_regex: Option<Vec<String>>,
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
                    "{source}:{line}:{column}: {}\n  help: see the spec format in README.md (keywords, tlds, patterns, [lists], [charsets], order, seed, shuffle_version, typo_algorithms, typo_keyboards, [filter])",
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
        self.resolve_with(base, |path, source| {
            Ok(WordList::parse(&read(path)?, source))
        })
    }

    /// Turns the file form into a [`Spec`] as [`SpecFile::resolve`] does,
    /// but `load_list` makes each word file's list itself (given the path joined
    /// to `base` and the name to show in messages; it returns the list or
    /// a message), so that it can stream the file with [`WordList::read`]
    /// instead of holding its text.
    pub fn resolve_with<L>(self, base: &Path, mut load_list: L) -> Result<Spec, Error>
    where
        L: FnMut(&Path, &str) -> Result<WordList, String>,
    {
        let mut load = |what: &str, path: &Path| -> Result<WordList, Error> {
            let full = base.join(path);
            let shown = full.display().to_string();
            load_list(&full, &shown).map_err(|why| {
                Error::new(
                    ErrorKind::Read,
                    format!("cannot read {what} file {shown}: {why}"),
                )
            })
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
        let filter = match self.filter {
            None => Filter::default(),
            Some(file) => {
                let mut exclude = Vec::new();
                if let Some(words) = file.exclude {
                    exclude.push(WordList::inline(words));
                }
                if let Some(path) = file.exclude_file {
                    exclude.push(load("filter exclude", &path)?);
                }
                let mut exclude_names = Vec::new();
                if let Some(path) = file.exclude_names_file {
                    exclude_names.push(load("filter exclude_names", &path)?);
                }
                Filter {
                    min_length: file.min_length,
                    max_length: file.max_length,
                    exclude,
                    exclude_names,
                    exclude_regex: file.exclude_regex.unwrap_or_default(),
                    include_regex: file.include_regex.unwrap_or_default(),
                }
            }
        };
        Ok(Spec {
            keywords,
            tlds,
            patterns: self.patterns.unwrap_or_default(),
            lists,
            charsets: self.charsets,
            order: self.order.unwrap_or_default(),
            seed: self.seed.unwrap_or(0),
            shuffle_version: self.shuffle_version.unwrap_or(LATEST_SHUFFLE),
            offset: self.offset.unwrap_or(0),
            limit: self.limit,
            allow_unknown_tlds: self.allow_unknown_tlds.unwrap_or(false),
            domainflow: None,
            filter,
            typo_algorithms: self.typo_algorithms.unwrap_or_default(),
            typo_keyboards: self.typo_keyboards.unwrap_or_default(),
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
