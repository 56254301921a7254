//! Spec → Space: normalise the words, parse the patterns, prove every name
//! valid, count exactly.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use strength_reduce::StrengthReducedU64;

use crate::error::{Error, ErrorKind, pattern_error};
use crate::filter::Filters;
use crate::parse::{self, MAX_LABEL, Piece, PieceKind};
use crate::punycode;
use crate::shuffle::{LATEST_SHUFFLE, Permutation, SHUFFLE_VERSIONS};
use crate::space::{
    Chars, FAR_TABLE_BYTES, FarWord, KEYWORDS, MAX_FAR_WORDS, MAX_NAME_LEN, Pattern, Slot, Space,
    Template, TldSource, to_u64,
};
use crate::spec::{Order, Spec, WordList};
use crate::typo::{TypoAlgorithm, TypoTable, Typos};
use crate::words::{self, BUILTIN_CHARSETS, Table};

const TLDS: usize = 1;

/// Unicode labels are checked shape by shape; past this many shapes a spec
/// is refused rather than left unchecked.
const MAX_SHAPES: u64 = 1_000_000;

/// The word slots of a pattern whose tables are too big to stay in a
/// cache between one random name and the next: a shuffled cursor fetches
/// their words ahead (at most [`MAX_FAR_WORDS`], the biggest first).
/// `steps` are the pattern's [`Pattern::steps`], slot `i`'s first at
/// `first[i]`.
fn far_words(
    slots: &[Slot],
    places: &[u64],
    tables: &[Table],
    steps: Option<&[StrengthReducedU64]>,
    first: &[usize],
) -> Vec<FarWord> {
    let mut far: Vec<FarWord> = slots
        .iter()
        .enumerate()
        .filter_map(|(slot, piece)| match piece {
            Slot::Words { table } if tables[*table].heap_bytes() >= FAR_TABLE_BYTES => {
                Some(FarWord {
                    slot,
                    table: *table,
                    place: StrengthReducedU64::new(places[slot]),
                    step: steps.map(|_| first[slot]),
                })
            }
            _ => None,
        })
        .collect();
    far.sort_by_key(|word| std::cmp::Reverse(tables[word.table].heap_bytes()));
    far.truncate(MAX_FAR_WORDS);
    far
}

pub(crate) fn compile(spec: &Spec) -> Result<Space, Error> {
    // A sequential spec does not use its order version.
    if spec.order == Order::Shuffled {
        check_shuffle_version(spec.shuffle_version)?;
    }
    if spec.patterns.is_empty() {
        return Err(Error::new(
            ErrorKind::Undefined,
            "the spec has no patterns: add patterns = [\"{keyword}.{tld}\"] to the spec",
        ));
    }
    let mut charsets: BTreeMap<&str, Cow<'_, str>> = BUILTIN_CHARSETS
        .iter()
        .map(|&(name, chars)| (name, Cow::Borrowed(chars)))
        .collect();
    for (name, chars) in &spec.charsets {
        charsets.insert(name, Cow::Owned(words::custom_charset(name, chars)?));
    }
    let mut tables = vec![
        words::words(&spec.keywords, "keyword")?,
        words::tlds(&spec.tlds, spec.allow_unknown_tlds)?,
    ];
    // The list each table was made from, to name a value's word and line.
    let mut sources = vec![&spec.keywords, &spec.tlds];
    let mut list_tables = BTreeMap::new();
    for (name, list) in &spec.lists {
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
            return Err(Error::new(
                ErrorKind::BadValue,
                format!("list name `{name}`: a list name may hold letters, digits and `_`"),
            ));
        }
        list_tables.insert(name.as_str(), tables.len());
        tables.push(words::words(list, &format!("word of list `{name}`"))?);
        sources.push(list);
    }

    let parsed = spec
        .patterns
        .iter()
        .enumerate()
        .map(|(i, text)| parse::parse(i + 1, text))
        .collect::<Result<Vec<_>, _>>()?;
    let typos = typo_tables(spec, &parsed, &list_tables, &mut tables)?;
    let typo_index: BTreeMap<Vec<TypoAlgorithm>, usize> = typos
        .iter()
        .enumerate()
        .map(|(i, t)| (t.algorithms.clone(), i))
        .collect();
    let mut patterns = Vec::with_capacity(spec.patterns.len());
    let mut max_name_len = 0;
    for (i, (text, pieces)) in spec.patterns.iter().zip(&parsed).enumerate() {
        let number = i + 1;
        let ctx = Ctx {
            number,
            text,
            spec,
            sources: &sources,
            tables: &tables,
            typos: &typos,
            typo_index: &typo_index,
            dictionary: list_tables.contains_key(DICTIONARY),
        };
        let slots = pieces
            .iter()
            .map(|piece| ctx.slot(piece, &charsets, &list_tables, &tables))
            .collect::<Result<Vec<_>, _>>()?;
        let (cards, count) = ctx.count(&slots, &tables)?;
        let (longest, unicode) = ctx.check_names(pieces, &slots, &tables)?;
        max_name_len = max_name_len.max(longest);
        let mut places = vec![1u64; slots.len()];
        for j in (0..slots.len().saturating_sub(1)).rev() {
            places[j] = places[j + 1] * cards[j + 1];
        }
        // A pattern with an empty piece has no names to unrank.
        let radices: Vec<_> = cards
            .iter()
            .map(|&card| StrengthReducedU64::new(card.max(1)))
            .collect();
        let keyword = slots
            .iter()
            .position(|s| matches!(s, Slot::Words { table: KEYWORDS }));
        let typo = slots.iter().enumerate().find_map(|(slot, s)| match s {
            Slot::Words { table } => typos
                .iter()
                .position(|t| t.table == *table)
                .map(|t| (slot, t)),
            _ => None,
        });
        let tld = tld_source(&slots);
        let mut first_steps = vec![0; slots.len()];
        let steps = if unicode {
            None
        } else {
            Space::steps(&slots, &radices, &mut first_steps)
        };
        let template = steps.as_ref().and_then(|_| Template::of(&slots));
        let far_words = far_words(&slots, &places, &tables, steps.as_deref(), &first_steps);
        patterns.push(Pattern {
            text: text.clone(),
            slots,
            cards,
            places,
            radices,
            count,
            unicode,
            keyword,
            typo,
            tld,
            far_words,
            template,
            steps,
        });
    }

    let mut starts = Vec::with_capacity(patterns.len());
    let mut total: u128 = 0;
    for p in &patterns {
        starts.push(u64::try_from(total).unwrap_or(u64::MAX));
        total += u128::from(p.count);
    }
    let Ok(unfiltered) = u64::try_from(total) else {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "the spec holds {total} names, more than the 18446744073709551615 (2^64 - 1) a space can index; split it into several specs or lower the lengths"
            ),
        ));
    };
    let filters = Filters::compile(&spec.filter, &patterns, &tables)?;
    let total = filters.as_ref().map_or(unfiltered, |f| f.total);
    if spec.offset > total {
        return Err(Error::new(
            ErrorKind::Selection,
            format!(
                "offset {} is past the end of the space, which holds {total} names; use an offset of at most {total}",
                spec.offset
            ),
        ));
    }
    let available = total - spec.offset;
    let len = spec.limit.map_or(available, |limit| limit.min(available));
    let permutation = (spec.order == Order::Shuffled && total > 0)
        .then(|| Permutation::new(total, spec.seed, spec.shuffle_version));
    let fetch_ahead = filters.is_none() && patterns.iter().any(|p| !p.far_words.is_empty());
    if fetch_ahead && permutation.is_some() {
        // Read at random: each far table once into huge pages.
        let mut far: Vec<usize> = patterns
            .iter()
            .flat_map(|p| &p.far_words)
            .map(|far| far.table)
            .collect();
        far.sort_unstable();
        far.dedup();
        for table in far {
            tables[table].prefer_huge_pages();
        }
    }
    Ok(Space {
        fetch_ahead,
        patterns,
        starts,
        tables,
        total,
        order: spec.order,
        seed: spec.seed,
        shuffle_version: spec.shuffle_version,
        permutation,
        selection: spec.offset..spec.offset + len,
        max_name_len,
        typos,
        filters: filters.map(Box::new),
    })
}

/// The list `{typo:dictionary}` takes its words from.
const DICTIONARY: &str = "dictionary";

/// The algorithms of a `{typo}` piece: its own, else the spec's, else
/// every one (`dictionary` only when the spec has its list, which it needs
/// when named). The error is what is wrong and what to do.
fn typo_selection(
    spec: &Spec,
    named: Option<&[TypoAlgorithm]>,
    dictionary: bool,
) -> Result<Vec<TypoAlgorithm>, (String, &'static str)> {
    let (mut algorithms, chosen) = match named {
        Some(named) => (named.to_vec(), true),
        None if !spec.typo_algorithms.is_empty() => (spec.typo_algorithms.clone(), true),
        None => (TypoAlgorithm::ALL.to_vec(), false),
    };
    algorithms.sort_unstable();
    algorithms.dedup();
    if !dictionary && algorithms.contains(&TypoAlgorithm::Dictionary) {
        if chosen {
            return Err((
                "the typo algorithm `dictionary` needs words to join to the keywords, and the spec has no list named `dictionary`".to_owned(),
                "add [lists] dictionary = [\"login\", \"secure\"] (or { file = \"words.txt\" }) to the spec",
            ));
        }
        algorithms.retain(|&a| a != TypoAlgorithm::Dictionary);
    }
    Ok(algorithms)
}

/// Makes the look-alike tables the patterns' `{typo}` pieces use, one per
/// selection of algorithms, and adds them to `tables`.
fn typo_tables(
    spec: &Spec,
    parsed: &[Vec<Piece>],
    lists: &BTreeMap<&str, usize>,
    tables: &mut Vec<Table>,
) -> Result<Vec<TypoTable>, Error> {
    let dictionary = lists.get(DICTIONARY).copied();
    let mut typos: Vec<TypoTable> = Vec::new();
    for (i, pieces) in parsed.iter().enumerate() {
        for piece in pieces {
            let PieceKind::Typo(named) = &piece.kind else {
                continue;
            };
            let fail = |kind, what: &str, help: &str| {
                pattern_error(kind, i + 1, &spec.patterns[i], piece.span, what, help)
            };
            if tables[KEYWORDS].len() == 0 {
                return Err(fail(
                    ErrorKind::Undefined,
                    "the pattern uses {typo}, which makes look-alikes of the keywords, but the spec has no keywords",
                    "add keywords = [...] or keywords_file to the spec",
                ));
            }
            let algorithms = typo_selection(spec, named.as_deref(), dictionary.is_some())
                .map_err(|(what, help)| fail(ErrorKind::Undefined, &what, help))?;
            if typos.iter().any(|t| t.algorithms == algorithms) {
                continue;
            }
            // A keyword that is no label has no look-alikes (dnstwist
            // refuses it as a domain), and its homoglyphs' cost grows with
            // the cube of its length.
            let keywords = &tables[KEYWORDS];
            let mut encoded = Vec::new();
            for k in 0..keywords.len() {
                let keyword = keywords.get(k);
                let len = if keyword.is_ascii() {
                    keyword.len()
                } else {
                    encoded.clear();
                    punycode::encode(keyword, &mut encoded);
                    "xn--".len() + encoded.len()
                };
                if len > MAX_LABEL {
                    return Err(Error::new(
                        ErrorKind::InvalidName,
                        format!(
                            "{} is {len} octets as an A-label, longer than a label can be ({MAX_LABEL}), so {{typo}} cannot make look-alikes of it; shorten it or remove it",
                            keywords.origin(k, &spec.keywords),
                        ),
                    ));
                }
            }
            let words: Vec<&str> = dictionary.map_or_else(Vec::new, |d| tables[d].iter().collect());
            let typo = Typos::new(&algorithms, &spec.typo_keyboards, words);
            let (table, typos_of) = typo.table(&tables[KEYWORDS], "look-alike", tables.len())?;
            if table.len() == 0 {
                return Err(fail(
                    ErrorKind::BadValue,
                    &format!(
                        "the typo algorithms {} make no valid look-alike of any keyword",
                        algorithms
                            .iter()
                            .map(|a| a.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "choose other algorithms, e.g. {typo} for all of them, or add keywords",
                ));
            }
            tables.push(table);
            typos.push(typos_of);
        }
    }
    Ok(typos)
}

/// Refuses an order version this release does not know.
pub(crate) fn check_shuffle_version(version: u8) -> Result<(), Error> {
    if SHUFFLE_VERSIONS.contains(&version) {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::BadValue,
        format!(
            "shuffle_version {version}: this domgen knows the shuffled orders {}; use {LATEST_SHUFFLE} (the default) for a new campaign, or the version an order was made with to make it again",
            SHUFFLE_VERSIONS.map(|v| v.to_string()).join(" and ")
        ),
    ))
}

/// The pattern being compiled, for messages.
/// Where a pattern's TLD comes from: its `{tld}` slot (always the last
/// one), or the public suffix of the literal labels it ends with (the
/// last label when no rule of the list matches, as with
/// `allow_unknown_tlds`). Compilation has proved the pattern ends in one
/// or the other.
fn tld_source(slots: &[Slot]) -> TldSource {
    if let Some(Slot::Words { table: TLDS }) = slots.last() {
        return TldSource::Slot(slots.len() - 1);
    }
    let literals = slots
        .iter()
        .rev()
        .take_while(|s| matches!(s, Slot::Literal(_)))
        .count();
    let mut tail = Vec::new();
    for slot in &slots[slots.len() - literals..] {
        if let Slot::Literal(bytes) = slot {
            tail.extend_from_slice(bytes);
        }
    }
    let tail = String::from_utf8(tail).expect("literals are ASCII");
    // The first label is whole only when no other piece shares it.
    let whole = match tail.split_once('.') {
        Some((_, rest)) if literals < slots.len() => rest,
        _ => tail.as_str(),
    };
    let suffix =
        psl::suffix_str(whole).unwrap_or_else(|| whole.rsplit('.').next().unwrap_or(whole));
    TldSource::Literal(suffix.into())
}

struct Ctx<'a> {
    number: usize,
    text: &'a str,
    spec: &'a Spec,
    /// The word list of each table.
    sources: &'a [&'a WordList],
    tables: &'a [Table],
    /// The look-alike tables, and which selection of algorithms each is.
    typos: &'a [TypoTable],
    typo_index: &'a BTreeMap<Vec<TypoAlgorithm>, usize>,
    /// Whether the spec has a `dictionary` list.
    dictionary: bool,
}

impl Ctx<'_> {
    /// What a value is and where it came from, for a message.
    fn describe(&self, what: &What) -> String {
        match what {
            What::Text(text) => text.clone(),
            &What::Word { table, index } => match self.sources.get(table) {
                Some(source) => self.tables[table].origin(index, source),
                None => {
                    let typo = self.typos.iter().find(|t| t.table == table);
                    let keyword = typo.map_or(0, |t| t.keyword_of(to_u64(index)));
                    format!(
                        "look-alike `{}` of keyword `{}`",
                        self.tables[table].get(index),
                        self.tables[KEYWORDS].get(keyword)
                    )
                }
            },
        }
    }

    /// The look-alike table of `seg`, when it is a `{typo}` piece.
    fn typo_table(&self, seg: &Seg, slots: &[Slot]) -> Option<usize> {
        let SegSource::Slot(i) = seg.source else {
            return None;
        };
        match slots[i] {
            Slot::Words { table } if self.typos.iter().any(|t| t.table == table) => Some(table),
            _ => None,
        }
    }

    fn fail(&self, kind: ErrorKind, span: (usize, usize), what: &str, help: &str) -> Error {
        pattern_error(kind, self.number, self.text, span, what, help)
    }

    fn slot(
        &self,
        piece: &Piece,
        charsets: &BTreeMap<&str, Cow<'_, str>>,
        lists: &BTreeMap<&str, usize>,
        tables: &[Table],
    ) -> Result<Slot, Error> {
        let span = piece.span;
        Ok(match &piece.kind {
            PieceKind::Literal(text) => Slot::Literal(text.as_bytes().into()),
            PieceKind::Keyword => {
                if tables[KEYWORDS].len() == 0 {
                    return Err(self.fail(
                        ErrorKind::Undefined,
                        span,
                        "the pattern uses {keyword} but the spec has no keywords",
                        "add keywords = [...] or keywords_file to the spec",
                    ));
                }
                Slot::Words { table: KEYWORDS }
            }
            PieceKind::Tld => {
                if tables[TLDS].len() == 0 {
                    return Err(self.fail(
                        ErrorKind::Undefined,
                        span,
                        "the pattern uses {tld} but the spec has no TLDs",
                        "add tlds = [...] or tlds_file to the spec",
                    ));
                }
                Slot::Words { table: TLDS }
            }
            PieceKind::Typo(named) => {
                let algorithms = typo_selection(self.spec, named.as_deref(), self.dictionary)
                    .map_err(|(what, help)| self.fail(ErrorKind::Undefined, span, &what, help))?;
                let typo = &self.typos[self.typo_index[&algorithms]];
                Slot::Words { table: typo.table }
            }
            PieceKind::List(name) => {
                let Some(&table) = lists.get(name.as_str()) else {
                    let defined: Vec<&str> = lists.keys().copied().collect();
                    return Err(self.fail(
                        ErrorKind::Undefined,
                        span,
                        &format!("no list is named `{name}`"),
                        &format!(
                            "define `{name}` in the spec's [lists] (defined lists: {})",
                            if defined.is_empty() {
                                "none".to_owned()
                            } else {
                                defined.join(", ")
                            }
                        ),
                    ));
                };
                if tables[table].len() == 0 {
                    let source = self.spec.lists[name.as_str()].source().map(str::to_owned);
                    return Err(self.fail(
                        ErrorKind::BadValue,
                        span,
                        &format!(
                            "list `{name}`{} is empty",
                            source.map(|s| format!(" ({s})")).unwrap_or_default()
                        ),
                        "give the list at least one word",
                    ));
                }
                Slot::Words { table }
            }
            PieceKind::Chars { charset, min, max } => {
                let Some(chars) = charsets.get(charset.as_str()) else {
                    let known: Vec<&str> = charsets.keys().copied().collect();
                    return Err(self.fail(
                        ErrorKind::Undefined,
                        span,
                        &format!("no charset is named `{charset}`"),
                        &format!(
                            "charsets are {}; define others in the spec's [charsets]",
                            known.join(", ")
                        ),
                    ));
                };
                // Sizes past u64 saturate here; `count` refuses such patterns
                // with their exact size.
                let k = u64::try_from(chars.len()).unwrap_or(u64::MAX);
                let blocks: Vec<u64> = (*min..=*max)
                    .map(|len| {
                        u32::try_from(len)
                            .ok()
                            .and_then(|len| k.checked_pow(len))
                            .unwrap_or(u64::MAX)
                    })
                    .collect();
                Slot::Chars(Box::new(Chars::new(
                    chars.as_bytes(),
                    *min,
                    *max,
                    blocks.into(),
                )))
            }
            &PieceKind::Number { lo, hi, width } => Slot::Number { lo, hi, width },
        })
    }

    /// The number of values of each slot and of the whole pattern.
    fn count(&self, slots: &[Slot], tables: &[Table]) -> Result<(Vec<u64>, u64), Error> {
        let sizes: Vec<Size> = slots
            .iter()
            .map(|slot| match slot {
                Slot::Literal(_) => Size::Exact(1),
                Slot::Words { table } => {
                    Size::Exact(u128::try_from(tables[*table].len()).unwrap_or(u128::MAX))
                }
                Slot::Number { lo, hi, .. } => Size::Exact(u128::from(hi - lo) + 1),
                Slot::Chars(chars) => Size::strings(chars.chars.len(), chars.min, chars.max),
            })
            .collect();
        let count = sizes.iter().fold(Size::Exact(1), |a, &b| a.times(b));
        // A pattern that fits has pieces that fit.
        match (
            count.to_u64(),
            sizes
                .iter()
                .map(|s| s.to_u64())
                .collect::<Option<Vec<u64>>>(),
        ) {
            (Some(total), Some(cards)) => Ok((cards, total)),
            _ => Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "pattern {} `{}` holds {count} names, more than the 18446744073709551615 (2^64 - 1) a space can index; lower the lengths or split the pattern",
                    self.number, self.text
                ),
            )),
        }
    }

    /// Proves that every name of the pattern is a valid hostname; returns
    /// the longest name's length and whether some label must be encoded
    /// as an A-label.
    fn check_names(
        &self,
        pieces: &[Piece],
        slots: &[Slot],
        tables: &[Table],
    ) -> Result<(usize, bool), Error> {
        let labels = self.split_labels(pieces, slots)?;
        let mut longest = 0;
        let mut unicode = false;
        for (k, label) in labels.iter().enumerate() {
            longest += usize::from(k > 0);
            let label_span = (
                label.first().map_or(0, |s| s.span.0),
                label.last().map_or(0, |s| s.span.1),
            );
            if let [
                Seg {
                    source: SegSource::Tld,
                    ..
                },
            ] = label.as_slice()
            {
                longest += tables[TLDS].max_len();
                continue;
            }
            if let [seg] = label.as_slice()
                && let Some(table) = self.typo_table(seg, slots)
            {
                // Look-alikes were each checked as hostnames when made.
                longest += tables[table].max_len();
                continue;
            }
            for seg in label {
                let Some(table) = self.typo_table(seg, slots) else {
                    continue;
                };
                // An A-label is an A-label only whole, and a dotted
                // look-alike would put the other pieces in another label
                // than the one checked here.
                let made = |what: &str| tables[table].iter().find(|v| v.contains(what));
                if let Some(example) = made("xn--").or_else(|| made(".")) {
                    return Err(self.fail(
                        ErrorKind::InvalidName,
                        seg.span,
                        &format!(
                            "{{typo}} makes look-alikes such as `{example}` here, Unicode ones written as A-labels or dotted ones (subdomain), so it must be a label by itself"
                        ),
                        "write it as {typo}.{tld}, or choose algorithms that keep to one ASCII label ({typo:addition,omission,...}) to join it with other pieces",
                    ));
                }
            }
            let segs: Vec<Vec<Variant<'_>>> =
                label.iter().map(|s| s.variants(slots, tables)).collect();
            self.check_hyphens(k, label_span, &segs)?;
            let (len, encoded) = self.label_length(k, label_span, &segs)?;
            unicode |= encoded;
            longest += len;
        }
        if longest > MAX_NAME_LEN {
            return Err(Error::new(
                ErrorKind::InvalidName,
                format!(
                    "pattern {} `{}` can make names {longest} octets long, over the limit of {MAX_NAME_LEN}; shorten its pieces",
                    self.number, self.text
                ),
            ));
        }
        Ok((longest, unicode))
    }

    /// Splits the pattern into labels of segments.
    fn split_labels(&self, pieces: &[Piece], slots: &[Slot]) -> Result<Vec<Vec<Seg>>, Error> {
        let mut labels: Vec<Vec<Seg>> = vec![Vec::new()];
        for (i, (piece, slot)) in pieces.iter().zip(slots).enumerate() {
            match slot {
                Slot::Literal(bytes) => {
                    let text = std::str::from_utf8(bytes).expect("literals are ASCII");
                    let mut offset = piece.span.0;
                    for (j, part) in text.split('.').enumerate() {
                        if j > 0 {
                            labels.push(Vec::new());
                            offset += 1;
                        }
                        let span = (offset, offset + part.len());
                        if !part.is_empty() || labels.last().is_some_and(Vec::is_empty) {
                            labels.last_mut().expect("at least one label").push(Seg {
                                source: SegSource::Literal(part.to_owned()),
                                span,
                            });
                        }
                        offset += part.len();
                    }
                }
                Slot::Words { table: TLDS } => {
                    let current = labels.last().expect("at least one label");
                    let alone_before =
                        labels.len() > 1 && current.iter().all(|s| s.is_empty_literal());
                    if !alone_before || i + 1 != slots.len() {
                        return Err(self.fail(
                            ErrorKind::PatternSyntax,
                            piece.span,
                            "{tld} must end the pattern, after a dot",
                            "write the pattern as ….{tld}, e.g. {keyword}.{tld}",
                        ));
                    }
                    let last = labels.last_mut().expect("at least one label");
                    last.clear();
                    last.push(Seg {
                        source: SegSource::Tld,
                        span: piece.span,
                    });
                }
                _ => {
                    let last = labels.last_mut().expect("at least one label");
                    last.retain(|s| !s.is_empty_literal());
                    last.push(Seg {
                        source: SegSource::Slot(i),
                        span: piece.span,
                    });
                }
            }
        }
        for (k, label) in labels.iter().enumerate() {
            if label.iter().all(Seg::is_empty_literal) {
                let span = label.first().map_or((0, 0), |s| s.span);
                return Err(self.fail(
                    ErrorKind::InvalidName,
                    span,
                    &format!(
                        "label {} is empty: a dot at the start or end, or two dots in a row",
                        k + 1
                    ),
                    "remove the extra dot",
                ));
            }
        }
        // The name must end in a TLD: {tld}, or literal labels whose suffix
        // is public.
        let tail: Vec<&str> = labels
            .iter()
            .rev()
            .take_while(|l| l.iter().all(|s| matches!(s.source, SegSource::Literal(_))))
            .map(|l| match l.as_slice() {
                [
                    Seg {
                        source: SegSource::Literal(t),
                        ..
                    },
                ] => t.as_str(),
                _ => "",
            })
            .collect();
        let ends_in_tld = matches!(
            labels.last().map(Vec::as_slice),
            Some([Seg {
                source: SegSource::Tld,
                ..
            }])
        );
        if !ends_in_tld {
            let last_span = labels
                .last()
                .and_then(|l| l.last())
                .map_or((0, 0), |s| s.span);
            if tail.is_empty() || labels.len() < 2 {
                return Err(self.fail(
                    ErrorKind::InvalidName,
                    last_span,
                    "the pattern does not end with a TLD",
                    "end it with .{tld} or a literal TLD such as .com",
                ));
            }
            let suffix: Vec<&str> = tail.iter().rev().copied().collect();
            let suffix = suffix.join(".");
            if !self.spec.allow_unknown_tlds
                && !suffix.is_empty()
                && !words::has_known_suffix(&suffix)
            {
                return Err(self.fail(
                    ErrorKind::UnknownTld,
                    last_span,
                    &format!("`{suffix}` does not end in a TLD on the Public Suffix List"),
                    "check the spelling, or set allow_unknown_tlds = true in the spec to accept it",
                ));
            }
        }
        Ok(labels)
    }

    /// No label starts or ends with '-', and none has "--" at positions 3-4.
    fn check_hyphens(
        &self,
        k: usize,
        span: (usize, usize),
        segs: &[Vec<Variant<'_>>],
    ) -> Result<(), Error> {
        let edge = |variants: &[Variant<'_>], first: bool| {
            variants
                .iter()
                .find(|v| {
                    if first {
                        v.text.starts_with('-')
                    } else {
                        v.text.ends_with('-')
                    }
                })
                .map(|v| self.describe(&v.what))
        };
        let hyphen_help = "a label may not start or end with '-': remove the hyphen from that value or move it inside the label";
        if let Some(what) = segs.first().and_then(|s| edge(s, true)) {
            return Err(self.fail(
                ErrorKind::InvalidName,
                span,
                &format!("label {} can start with a hyphen, from {what}", k + 1),
                hyphen_help,
            ));
        }
        if let Some(what) = segs.last().and_then(|s| edge(s, false)) {
            return Err(self.fail(
                ErrorKind::InvalidName,
                span,
                &format!("label {} can end with a hyphen, from {what}", k + 1),
                hyphen_help,
            ));
        }
        let mut visited = HashSet::new();
        let mut path = Vec::new();
        if double_hyphen(segs, 0, 0, 0, &mut visited, &mut path) {
            let prefix: String = path
                .iter()
                .map(|v: &&Variant<'_>| v.text.as_ref())
                .collect();
            let from: Vec<String> = path.iter().map(|v| self.describe(&v.what)).collect();
            return Err(self.fail(
                ErrorKind::InvalidName,
                span,
                &format!(
                    "label {} can have \"--\" at positions 3-4 (`{}…`, from {}), which only A-labels (xn--) may have",
                    k + 1,
                    prefix.chars().take(4).collect::<String>(),
                    from.join(" + ")
                ),
                "change the hyphens; write Unicode words as they are and domgen will encode them",
            ));
        }
        Ok(())
    }

    /// The longest this label can be once encoded, and whether it may need
    /// encoding at all.
    fn label_length(
        &self,
        k: usize,
        span: (usize, usize),
        segs: &[Vec<Variant<'_>>],
    ) -> Result<(usize, bool), Error> {
        let wide: Vec<usize> = (0..segs.len())
            .filter(|&i| segs[i].iter().any(|v| !v.text.is_ascii()))
            .collect();
        let too_long = |len: usize, example: String| {
            self.fail(
                ErrorKind::InvalidName,
                span,
                &format!(
                    "label {} can be {len} octets long, over the limit of {MAX_LABEL} (e.g. `{example}`)",
                    k + 1
                ),
                "shorten the pieces of this label, or split it with a dot",
            )
        };
        match wide.as_slice() {
            [] => {
                let longest: Vec<&Variant<'_>> = segs
                    .iter()
                    .map(|s| s.iter().max_by_key(|v| v.text.len()).expect("segments have values"))
                    .collect();
                let len: usize = longest.iter().map(|v| v.text.len()).sum();
                if len > MAX_LABEL {
                    let example: String = longest.iter().map(|v| v.text.as_ref()).collect();
                    return Err(too_long(len, example));
                }
                Ok((len, false))
            }
            &[w] => {
                // Punycode's length depends on the Unicode word and on how
                // many ASCII characters stand where, not on which: try every
                // word with every combination of the other pieces' lengths.
                let choices: Vec<Vec<&Variant<'_>>> = segs
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        if i == w {
                            let mut seen = BTreeSet::new();
                            s.iter().filter(|v| !v.text.is_ascii() || seen.insert(v.text.len())).collect()
                        } else {
                            let mut seen = BTreeSet::new();
                            s.iter().filter(|v| seen.insert(v.text.len())).collect()
                        }
                    })
                    .collect();
                let shapes = choices.iter().try_fold(1u64, |a, c| a.checked_mul(to_u64(c.len())));
                if shapes.is_none_or(|n| n > MAX_SHAPES) {
                    return Err(self.fail(
                        ErrorKind::InvalidName,
                        span,
                        &format!("label {} composes a Unicode word with too many shapes to verify", k + 1),
                        "put the Unicode words in a label of their own, or use fewer length ranges beside them",
                    ));
                }
                let mut longest = 0;
                let mut label = String::new();
                let mut encoded = Vec::new();
                let mut pick = vec![0usize; choices.len()];
                loop {
                    label.clear();
                    for (c, &p) in choices.iter().zip(&pick) {
                        label.push_str(&c[p].text);
                    }
                    let len = if label.is_ascii() {
                        label.len()
                    } else {
                        encoded.clear();
                        punycode::encode(&label, &mut encoded);
                        encoded.len() + 4
                    };
                    if len > MAX_LABEL {
                        let example = if label.is_ascii() {
                            label.clone()
                        } else {
                            format!("xn--{}", String::from_utf8_lossy(&encoded))
                        };
                        return Err(too_long(len, example));
                    }
                    longest = longest.max(len);
                    // Next combination, rightmost fastest.
                    let mut i = pick.len();
                    loop {
                        if i == 0 {
                            return Ok((longest, true));
                        }
                        i -= 1;
                        pick[i] += 1;
                        if pick[i] < choices[i].len() {
                            break;
                        }
                        pick[i] = 0;
                    }
                }
            }
            &[a, b, ..] => Err(self.fail(
                ErrorKind::InvalidName,
                span,
                &format!(
                    "label {} joins two pieces with Unicode words ({} and {}); domgen composes at most one per label",
                    k + 1,
                    segs[a].iter().find(|v| !v.text.is_ascii()).map_or(String::new(), |v| self.describe(&v.what)),
                    segs[b].iter().find(|v| !v.text.is_ascii()).map_or(String::new(), |v| self.describe(&v.what)),
                ),
                "put them in separate labels, or keep one of the lists ASCII",
            )),
        }
    }
}

/// Depth-first search for a way to put '-' at both character positions 2
/// and 3 (0-based) of a label; `path` receives the values that do it.
fn double_hyphen<'v, 'a>(
    segs: &'v [Vec<Variant<'a>>],
    seg: usize,
    pos: usize,
    bits: u8,
    visited: &mut HashSet<(usize, usize, u8)>,
    path: &mut Vec<&'v Variant<'a>>,
) -> bool {
    if seg == segs.len() || pos >= 4 {
        return bits == 0b11;
    }
    if !visited.insert((seg, pos, bits)) {
        return false;
    }
    for v in &segs[seg] {
        let mut b = bits;
        for (p, c) in (pos..4).zip(v.text.chars()) {
            if c == '-' && p >= 2 {
                b |= 1 << (p - 2);
            }
        }
        let p = pos + v.text.chars().count();
        path.push(v);
        if double_hyphen(segs, seg + 1, p, b, visited, path) {
            return true;
        }
        path.pop();
    }
    false
}

/// A part of one label: a literal's text between dots, or a whole slot.
#[derive(Debug)]
struct Seg {
    source: SegSource,
    span: (usize, usize),
}

#[derive(Debug)]
enum SegSource {
    Literal(String),
    Slot(usize),
    Tld,
}

impl Seg {
    fn is_empty_literal(&self) -> bool {
        matches!(&self.source, SegSource::Literal(t) if t.is_empty())
    }

    /// Representative values: every word, and one string per length for
    /// charsets and numbers (whose characters are never '-' nor Unicode,
    /// so only their lengths matter to the hostname rules).
    fn variants<'a>(&'a self, slots: &'a [Slot], tables: &'a [Table]) -> Vec<Variant<'a>> {
        match &self.source {
            SegSource::Literal(text) => vec![Variant {
                text: Cow::Borrowed(text),
                what: What::Text(format!("literal `{text}`")),
            }],
            SegSource::Tld => Vec::new(),
            SegSource::Slot(i) => match &slots[*i] {
                Slot::Literal(_) => unreachable!("literals are split into segments"),
                Slot::Words { table } => representatives(&tables[*table])
                    .into_iter()
                    .map(|index| Variant {
                        text: Cow::Borrowed(tables[*table].get(index)),
                        what: What::Word {
                            table: *table,
                            index,
                        },
                    })
                    .collect(),
                Slot::Chars(chars) => (chars.min..=chars.max)
                    .map(|len| {
                        let text = String::from_utf8(vec![chars.chars[0]; len])
                            .expect("charsets are ASCII");
                        Variant {
                            what: What::Text(format!("a charset piece of length {len}")),
                            text: Cow::Owned(text),
                        }
                    })
                    .collect(),
                Slot::Number { lo, hi, width } => {
                    let digits = |v: u64| v.checked_ilog10().unwrap_or(0) + 1;
                    let mut out = Vec::new();
                    let mut value = *lo;
                    loop {
                        let text = format!("{value:0width$}");
                        out.push(Variant {
                            what: What::Text(format!("number {text}")),
                            text: Cow::Owned(text),
                        });
                        let d = digits(value);
                        match 10u64.checked_pow(d) {
                            Some(next) if next <= *hi => value = next,
                            _ => break,
                        }
                    }
                    out
                }
            },
        }
    }
}

/// A value (or a representative of equally shaped values) of a segment.
#[derive(Debug)]
struct Variant<'a> {
    text: Cow<'a, str>,
    /// What it is and where it came from, for messages.
    what: What,
}

/// What a [`Variant`] is, put into words only for a message
/// ([`Ctx::describe`]).
#[derive(Debug)]
enum What {
    /// Already said: a literal, a charset piece, a number.
    Text(String),
    /// Value `index` of table `table`.
    Word { table: usize, index: usize },
}

/// The values of a table the label checks need to see, in order: the
/// checks give the same verdict, and name the same value, on these as on
/// every value, and an ASCII list of a million words has a few dozen.
///
/// A value is kept when it is
/// - not ASCII (its Punycode length depends on the whole word);
/// - the first ASCII value of its length (`label_length` tries one word
///   per length and the longest);
/// - the last of the longest (`max_by_key` names the last maximum);
/// - the first to start, or to end, with '-' (`check_hyphens` names the
///   first);
/// - the first ASCII value of its shape for `double_hyphen`: its length up
///   to 4 and where its first 4 characters hold '-'. A later value of the
///   same shape leads the search to the states the first one led it to.
fn representatives(table: &Table) -> Vec<usize> {
    #[cfg(test)]
    if tests::EVERY_VALUE.get() {
        return (0..table.len()).collect();
    }
    let mut keep = Vec::new();
    // Seen lengths of ASCII values, and seen shapes: length up to 4 times
    // 16 masks of hyphens. A non-ASCII value is kept whatever its shape,
    // and keeping more values never changes a verdict.
    let mut lengths = Vec::new();
    let mut shapes = [false; 5 * 16];
    let (mut starts, mut ends) = (false, false);
    let mut longest = None::<(usize, usize)>;
    for i in 0..table.len() {
        let value = table.bytes(i);
        let mut kept = !value.is_ascii();
        if !kept {
            if lengths.len() <= value.len() {
                lengths.resize(value.len() + 1, false);
            }
            kept |= !std::mem::replace(&mut lengths[value.len()], true);
            let head = &value[..value.len().min(4)];
            let mask = head
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'-')
                .fold(0, |mask, (p, _)| mask | 1 << p);
            kept |= !std::mem::replace(&mut shapes[head.len() * 16 + mask], true);
        }
        if !starts && value.first() == Some(&b'-') {
            starts = true;
            kept = true;
        }
        if !ends && value.last() == Some(&b'-') {
            ends = true;
            kept = true;
        }
        if longest.is_none_or(|(_, len)| value.len() >= len) {
            longest = Some((i, value.len()));
        }
        if kept {
            keep.push(i);
        }
    }
    if let Some((i, _)) = longest {
        if let Err(at) = keep.binary_search(&i) {
            keep.insert(at, i);
        }
    }
    keep
}

/// The size of a set: exact up to `u128`, else its decimal logarithm.
#[derive(Clone, Copy, Debug)]
enum Size {
    Exact(u128),
    Log10(f64),
}

impl Size {
    /// The number of strings of lengths `min..=max` over `k` characters.
    fn strings(k: usize, min: usize, max: usize) -> Size {
        let exact = (min..=max).try_fold(0u128, |sum, len| {
            let k = u128::try_from(k).ok()?;
            sum.checked_add(k.checked_pow(u32::try_from(len).ok()?)?)
        });
        match exact {
            Some(n) => Size::Exact(n),
            // k^max dominates: the sum is below k^max * k / (k - 1).
            None => {
                let (k, max) = (
                    f64::from(u32::try_from(k).unwrap_or(u32::MAX)),
                    f64::from(u32::try_from(max).unwrap_or(u32::MAX)),
                );
                Size::Log10(k.log10() * max + (k / (k - 1.0)).log10())
            }
        }
    }

    fn times(self, other: Size) -> Size {
        match (self, other) {
            (Size::Exact(a), Size::Exact(b)) => match a.checked_mul(b) {
                Some(n) => Size::Exact(n),
                None => Size::Log10(self.log10() + other.log10()),
            },
            _ => Size::Log10(self.log10() + other.log10()),
        }
    }

    /// An approximate size, for a message: precision past 2^53 is lost.
    fn log10(self) -> f64 {
        match self {
            Size::Exact(n) => (n as f64).log10(),
            Size::Log10(l) => l,
        }
    }

    fn to_u64(self) -> Option<u64> {
        match self {
            Size::Exact(n) => u64::try_from(n).ok(),
            Size::Log10(_) => None,
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Size::Exact(n) => write!(f, "{n}"),
            Size::Log10(l) => {
                let exponent = l.floor();
                write!(f, "about {:.2}e{exponent}", 10f64.powf(l - exponent))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use proptest::prelude::*;

    use crate::{ErrorKind, Space, Spec, WordList};

    thread_local! {
        /// Makes the label checks see every value of a table, as they did
        /// before [`super::representatives`]: the oracle of the few.
        pub(super) static EVERY_VALUE: Cell<bool> = const { Cell::new(false) };
    }

    /// What compiling gives: the space's fingerprint and longest name, or
    /// the error's message.
    fn outcome(spec: &Spec) -> Result<(String, usize), String> {
        Space::compile(spec)
            .map(|s| (s.fingerprint(), s.max_name_len()))
            .map_err(|e| e.to_string())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The label checks on a table's representatives give the verdict,
        /// and name the value, they give on all its values.
        #[test]
        fn representatives_judge_as_every_value_does(
            keywords in proptest::collection::vec("[ab-]{1,6}|[ab]{0,3}é[-a]{0,3}|a{50,62}", 1..30),
            pattern in prop_oneof![
                Just("{keyword}.com"),
                Just("x{keyword}.com"),
                Just("xy{keyword}.com"),
                Just("{keyword}-{alpha:1}.com"),
                Just("{alpha:1-2}{keyword}.com"),
                Just("{keyword}{digit:1-3}.com"),
                Just("{keyword}{list:l}.com"),
                Just("{list:l}{keyword}.com"),
            ],
            list in proptest::collection::vec("[ab-]{1,4}|é", 1..5),
        ) {
            let mut spec = Spec {
                keywords: WordList::inline(keywords),
                patterns: vec![pattern.to_owned()],
                ..Spec::default()
            };
            spec.lists.insert("l".to_owned(), WordList::inline(list));
            let few = outcome(&spec);
            EVERY_VALUE.set(true);
            let all = outcome(&spec);
            EVERY_VALUE.set(false);
            prop_assert_eq!(few, all);
        }
    }

    fn compile(pattern: &str, keywords: &[&str]) -> Result<Space, crate::Error> {
        Space::compile(&Spec {
            keywords: WordList::inline(keywords.iter().copied()),
            patterns: vec![pattern.to_owned()],
            charsets: [("one".to_owned(), "a".to_owned())].into_iter().collect(),
            ..Spec::default()
        })
    }

    fn refused(pattern: &str, keywords: &[&str], needle: &str) {
        let e = compile(pattern, keywords).map(|_| ()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidName, "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    }

    /// A library user has no flags: advice names the spec setting, in the
    /// phrases the crate docs list (the binary maps them to its flags).
    #[test]
    fn advice_names_spec_settings_not_cli_flags() {
        let advice = |spec: Spec, phrase: &str| {
            let e = Space::compile(&spec).map(|_| ()).unwrap_err().to_string();
            assert!(e.contains(phrase), "{e}");
            assert!(!e.contains(" --") && !e.contains("pass "), "{e}");
        };
        let with = |pattern: &str| Spec {
            patterns: vec![pattern.to_owned()],
            ..Spec::default()
        };
        advice(
            Spec::default(),
            "add patterns = [\"{keyword}.{tld}\"] to the spec",
        );
        advice(
            with("{keyword}.com"),
            "add keywords = [...] or keywords_file to the spec",
        );
        advice(
            Spec {
                keywords: WordList::inline(["a"]),
                ..with("{keyword}.{tld}")
            },
            "add tlds = [...] or tlds_file to the spec",
        );
        advice(
            with("{list:prefx}.com"),
            "define `prefx` in the spec's [lists] (defined lists: none)",
        );
        advice(with("{list}.com"), "define the list in the spec's [lists]");
        advice(
            with("{greek:1}.com"),
            "define others in the spec's [charsets]",
        );
        advice(
            with("shop.notatld"),
            "check the spelling, or set allow_unknown_tlds = true in the spec to accept it",
        );
        advice(
            Spec {
                tlds: WordList::inline(["zzzz"]),
                ..with("a.{tld}")
            },
            "check the spelling, or set allow_unknown_tlds = true in the spec to accept it",
        );
        advice(
            Spec {
                tlds: WordList::inline(["example.com"]),
                ..with("a.{tld}")
            },
            "use `com` and put the rest in the pattern, or set allow_unknown_tlds = true in the spec",
        );
    }

    #[test]
    fn double_hyphen_only_where_some_name_has_it() {
        // "a--x" has '-' at 2-3 (1-based): fine; "ab--x" at 3-4: refused.
        assert!(compile("{alpha:1}--x.com", &[]).is_ok());
        refused("{alpha:1-2}--x.com", &[], "\"--\" at positions 3-4");
        assert!(compile("{alpha:3}--x.com", &[]).is_ok());
        refused("{keyword}-x.com", &["ab-"], "`ab-`");
        refused("x{keyword}.com", &["b--c"], "`b--c`");
        assert!(compile("x{keyword}.com", &["bc--d"]).is_ok());
    }

    #[test]
    fn hyphens_at_label_edges_name_their_value() {
        refused("{keyword}x.com", &["ok", "-bad"], "`-bad`");
        refused("x{keyword}.com", &["ok", "bad-"], "`bad-`");
        refused("-{alpha:1}.com", &[], "literal `-`");
        refused("shop.{alpha:1}-.com", &[], "label 2 can end with a hyphen");
        assert!(compile("{keyword}x.com", &["mid-dle"]).is_ok());
    }

    #[test]
    fn lengths_are_exact_at_the_limits() {
        assert!(compile("{one:1-60}abc.com", &[]).is_ok());
        refused("{one:1-61}abc.com", &[], "64 octets");
        // 4 labels of 63 + 3 dots = 255 > 253; 3 of 63 + "co" = 193 fits.
        let l63 = "{one:63}";
        assert!(compile(&format!("{l63}.{l63}.{l63}.co"), &[]).is_ok());
        refused(
            &format!("{l63}.{l63}.{l63}.{l63}.co"),
            &[],
            "over the limit of 253",
        );
    }
}
