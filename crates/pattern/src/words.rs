//! Normalisation of words (keywords, list words, TLDs) and charsets.

use std::collections::HashSet;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use unicode_bidi::{BidiClass, bidi_class};

use crate::error::{Error, ErrorKind};
use crate::spec::WordList;

/// A normalised word list, repeats dropped (first one kept).
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    /// Keywords and list words in Unicode form (NFC, lowercased; A-labels
    /// decoded), TLDs in A-label form.
    pub values: Vec<Box<str>>,
    /// Where each value came from, for messages.
    pub origins: Vec<String>,
}

impl Table {
    pub fn len(&self) -> usize {
        self.values.len()
    }
}

/// Normalises keywords or list words. `what` is "keyword" or "word of list `x`".
pub(crate) fn words(list: &WordList, what: &str) -> Result<Table, Error> {
    let uts46 = Uts46::new();
    let mut table = Table::default();
    let mut seen = HashSet::new();
    for (i, raw) in list.words.iter().enumerate() {
        let fail = |why: &str| {
            Error::new(
                ErrorKind::BadValue,
                format!("{what} `{raw}` ({}): {why}", list.locate(i)),
            )
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(fail("is empty; remove it"));
        }
        let (unicode, result) =
            uts46.to_unicode(trimmed.as_bytes(), AsciiDenyList::STD3, Hyphens::Allow);
        if result.is_err() {
            return Err(fail(
                "is not a valid hostname label under UTS #46 (only letters, digits and '-' are allowed, and Unicode must be valid IDNA); fix or remove it",
            ));
        }
        if unicode.contains('.') {
            return Err(fail(
                "holds a dot, but a word is part of one label; split it, or put the dot in the pattern",
            ));
        }
        if let Some(c) = unicode.chars().find(|&c| is_right_to_left(c)) {
            return Err(fail(&format!(
                "holds right-to-left text ({c:?}), which domgen does not compose into labels yet; remove it"
            )));
        }
        if seen.insert(unicode.to_string()) {
            table.values.push(unicode.into());
            table
                .origins
                .push(format!("{what} `{raw}` ({})", list.locate(i)));
        }
    }
    Ok(table)
}

/// Normalises TLDs to A-labels and, unless `allow_unknown`, checks each one
/// is a public suffix.
pub(crate) fn tlds(list: &WordList, allow_unknown: bool) -> Result<Table, Error> {
    let uts46 = Uts46::new();
    let mut table = Table::default();
    let mut seen = HashSet::new();
    for (i, raw) in list.words.iter().enumerate() {
        let fail =
            |kind, why: &str| Error::new(kind, format!("TLD `{raw}` ({}): {why}", list.locate(i)));
        let trimmed = raw.trim();
        let trimmed = trimmed.strip_prefix('.').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(fail(ErrorKind::BadValue, "is empty; remove it"));
        }
        let ascii = uts46
            .to_ascii(
                trimmed.as_bytes(),
                AsciiDenyList::STD3,
                Hyphens::Check,
                DnsLength::Verify,
            )
            .map_err(|_| {
                fail(
                    ErrorKind::BadValue,
                    "is not a valid domain suffix (labels of letters, digits and '-', 1-63 octets, no leading or trailing hyphen); fix or remove it",
                )
            })?;
        let ascii = ascii.into_owned();
        if let Some(c) = ascii.chars().find(|&c| is_right_to_left(c)) {
            return Err(fail(
                ErrorKind::BadValue,
                &format!("holds right-to-left text ({c:?})"),
            ));
        }
        if !allow_unknown && !is_public_suffix(&ascii) {
            let known = psl::suffix_str(&ascii).filter(|s| is_public_suffix(s));
            let why = match known {
                Some(suffix) => format!(
                    "is not itself a public suffix: it is a name under `{suffix}`; use `{suffix}` and put the rest in the pattern, or set allow_unknown_tlds = true in the spec"
                ),
                None => "is not on the Public Suffix List; check the spelling, or set allow_unknown_tlds = true in the spec to accept it".to_owned(),
            };
            return Err(fail(ErrorKind::UnknownTld, &why));
        }
        if seen.insert(ascii.clone()) {
            table.values.push(ascii.into());
            table
                .origins
                .push(format!("TLD `{raw}` ({})", list.locate(i)));
        }
    }
    Ok(table)
}

/// Whether `name` (ASCII, lowercase) is exactly a suffix on the Public Suffix List.
pub(crate) fn is_public_suffix(name: &str) -> bool {
    psl::suffix(name.as_bytes()).is_some_and(|s| s.is_known() && s.as_bytes() == name.as_bytes())
}

/// Whether the suffix of `name` (ASCII) is on the Public Suffix List.
pub(crate) fn has_known_suffix(name: &str) -> bool {
    psl::suffix(name.as_bytes()).is_some_and(|s| s.is_known())
}

fn is_right_to_left(c: char) -> bool {
    !c.is_ascii() && matches!(bidi_class(c), BidiClass::R | BidiClass::AL | BidiClass::AN)
}

/// The built-in charsets, in the order of their characters.
pub(crate) const BUILTIN_CHARSETS: [(&str, &str); 6] = [
    ("alpha", "abcdefghijklmnopqrstuvwxyz"),
    ("digit", "0123456789"),
    ("alnum", "abcdefghijklmnopqrstuvwxyz0123456789"),
    ("hex", "0123456789abcdef"),
    ("vowel", "aeiou"),
    ("consonant", "bcdfghjklmnpqrstvwxyz"),
];

/// Names a charset may not take: the built-ins and the piece keywords.
const RESERVED: [&str; 5] = ["keyword", "tld", "list", "random", "number"];

/// Checks a custom charset: `[a-z0-9]` only (letters are lowercased), no
/// repeats, not empty, and a name that shadows nothing.
pub(crate) fn custom_charset(name: &str, chars: &str) -> Result<String, Error> {
    let fail = |why: String| {
        Error::new(
            ErrorKind::BadValue,
            format!("charset `{name}` = {chars:?}: {why}"),
        )
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(fail(
            "a charset name may hold letters, digits and `_`".into(),
        ));
    }
    if RESERVED.contains(&name) || BUILTIN_CHARSETS.iter().any(|(n, _)| *n == name) {
        return Err(fail(format!("`{name}` is a built-in name; choose another")));
    }
    if chars.is_empty() {
        return Err(fail("is empty; give it at least one character".into()));
    }
    let mut out = String::with_capacity(chars.len());
    for c in chars.chars() {
        let lower = c.to_ascii_lowercase();
        if !(lower.is_ascii_lowercase() || lower.is_ascii_digit()) {
            return Err(fail(format!(
                "character {c:?} is not allowed; a charset may hold only a-z and 0-9"
            )));
        }
        if out.contains(lower) {
            return Err(fail(format!(
                "character `{lower}` appears twice; names would repeat, so remove the repeat"
            )));
        }
        out.push(lower);
    }
    Ok(out)
}
