//! The compiled space: exact count, index → name, and cursors over positions.

use std::ops::Range;

use strength_reduce::StrengthReducedU64;

use crate::filter::{FilterRule, Filters, Run, Walk};
use crate::punycode;
use crate::shuffle::{Permutation, RUN};
use crate::spec::Order;
use crate::typo::{TypoAlgorithm, TypoReport, TypoTable};
use crate::words::{Table, offset};

/// The keywords' table among a space's tables.
pub(crate) const KEYWORDS: usize = 0;

/// The longest name a space can produce, in octets.
pub const MAX_NAME_LEN: usize = 253;

/// Room for the Unicode form of a name before its labels are encoded.
const MAX_UNICODE_LEN: usize = 4 * MAX_NAME_LEN;

/// A word table at least this big is not expected to stay in a core's
/// cache while names are drawn from it at random: a shuffled cursor
/// fetches its words ahead.
pub(crate) const FAR_TABLE_BYTES: usize = 512 << 10;

/// Bytes past a name in a [`Scratch`]: a name this short is appended in
/// one move of this width.
const SCRATCH_SLACK: usize = 32;

/// Where a cursor renders a name at random: room for the longest, and the
/// slack.
type Scratch = [u8; MAX_NAME_LEN + SCRATCH_SLACK];

/// The most divisions of an index a shuffled cursor makes ahead, a run of
/// names at a time ([`Pattern::steps`]).
const MAX_STEPS: usize = 16;

/// Where unranking takes an index's digits from, last first.
trait Digits {
    /// The next digit, in base `radix`.
    fn next(&mut self, radix: StrengthReducedU64) -> u64;
}

/// Digits divided off a number one at a time; what is left stays in it.
struct Dividing(u64);

impl Digits for Dividing {
    #[inline(always)]
    fn next(&mut self, radix: StrengthReducedU64) -> u64 {
        let (rest, digit) = StrengthReducedU64::div_rem(self.0, radix);
        self.0 = rest;
        digit
    }
}

/// Digits divided off ahead, in the order rendering takes them
/// ([`Space::divide_run`]).
struct Divided<'a>(std::slice::Iter<'a, u64>);

impl Digits for Divided<'_> {
    #[inline(always)]
    fn next(&mut self, _radix: StrengthReducedU64) -> u64 {
        let digit = self.0.next();
        debug_assert!(
            digit.is_some(),
            "a pattern takes as many digits as its steps"
        );
        digit.copied().unwrap_or(0)
    }
}

/// The most word slots of a pattern a shuffled cursor fetches ahead.
pub(crate) const MAX_FAR_WORDS: usize = 2;

/// One piece of a compiled pattern.
#[derive(Clone, Debug)]
pub(crate) enum Slot {
    Literal(Box<[u8]>),
    /// A word from `Space::tables[table]`.
    Words {
        table: usize,
    },
    Chars(Box<Chars>),
    Number {
        lo: u64,
        hi: u64,
        width: usize,
    },
}

/// A charset piece of lengths `min..=max`.
#[derive(Clone, Debug)]
pub(crate) struct Chars {
    pub chars: Box<[u8]>,
    /// `next[c]` is the character after `c` in the charset, or 0 after the last.
    pub next: [u8; 256],
    pub min: usize,
    pub max: usize,
    /// `blocks[l - min]` = number of strings of length `l`.
    pub blocks: Box<[u64]>,
    /// The charset's size, to take a string's characters off its number.
    radix: StrengthReducedU64,
    /// Every two-character string in order, so that one division by
    /// `radix²` gives two characters; empty for charsets too large for it.
    pairs: Box<[[u8; 2]]>,
    /// `radix²`, when `pairs` is not empty.
    radix2: StrengthReducedU64,
}

/// Charsets up to this size keep [`Chars::pairs`] (64² pairs: 8 KiB).
const MAX_PAIRED_CHARSET: usize = 64;

impl Chars {
    pub fn new(chars: &[u8], min: usize, max: usize, blocks: Box<[u64]>) -> Chars {
        let mut next = [0u8; 256];
        for pair in chars.windows(2) {
            next[usize::from(pair[0])] = pair[1];
        }
        let k = chars.len().max(1);
        let pairs: Box<[[u8; 2]]> = if k <= MAX_PAIRED_CHARSET {
            chars
                .iter()
                .flat_map(|&a| chars.iter().map(move |&b| [a, b]))
                .collect()
        } else {
            Box::default()
        };
        Chars {
            chars: chars.into(),
            next,
            min,
            max,
            blocks,
            radix: StrengthReducedU64::new(to_u64(k)),
            radix2: StrengthReducedU64::new(to_u64(k * k.min(MAX_PAIRED_CHARSET))),
            pairs,
        }
    }

    fn first(&self) -> u8 {
        self.chars[0]
    }

    /// Writes string `digit` of the charset (all of length `min` first,
    /// then `min + 1`, …) so that it ends at `buf[end]`, and returns where
    /// it starts: two characters per division where the charset is paired.
    fn render_back(&self, digit: u64, buf: &mut [u8], end: usize) -> usize {
        let (len, rest) = self.length_of(digit);
        self.write_digits_back(&mut Dividing(rest), len, buf, end)
    }

    /// How many characters each digit [`Chars::write_digits_back`] takes
    /// for `len` characters writes, in order: pairs from the right where
    /// the charset is paired, then single characters.
    fn digit_widths(&self, len: usize) -> impl Iterator<Item = usize> + use<> {
        let pairs = if self.pairs.is_empty() { 0 } else { len / 2 };
        std::iter::repeat_n(2, pairs).chain(std::iter::repeat_n(1, len - 2 * pairs))
    }

    /// The divisions [`Chars::write_digits_back`] makes for `len`
    /// characters, in order.
    fn steps(&self, len: usize) -> impl Iterator<Item = StrengthReducedU64> + '_ {
        self.digit_widths(len)
            .map(|width| if width == 2 { self.radix2 } else { self.radix })
    }

    /// The length of string `digit` and its number among the strings of
    /// that length.
    pub(crate) fn length_of(&self, digit: u64) -> (usize, u64) {
        let mut rest = digit;
        let mut len = self.min;
        for &block in self.blocks.iter() {
            if rest < block {
                break;
            }
            rest -= block;
            len += 1;
        }
        (len, rest)
    }

    /// Writes the next `len` digits of `digits` in the charset's base as
    /// characters ending at `buf[end]`; returns where they start.
    #[inline(always)]
    fn write_digits_back(
        &self,
        digits: &mut impl Digits,
        len: usize,
        buf: &mut [u8],
        end: usize,
    ) -> usize {
        let start = end - len;
        let mut at = end;
        if !self.pairs.is_empty() {
            while at - start >= 2 {
                let pair = digits.next(self.radix2);
                at -= 2;
                buf[at..at + 2].copy_from_slice(&self.pairs[usize::try_from(pair).unwrap_or(0)]);
            }
        }
        while at > start {
            let c = digits.next(self.radix);
            at -= 1;
            buf[at] = self.chars[usize::try_from(c).unwrap_or(0)];
        }
        start
    }
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    pub text: String,
    pub slots: Vec<Slot>,
    /// Number of values of each slot.
    pub cards: Vec<u64>,
    /// `places[i]` = product of `cards[i + 1..]`: the index stride of slot `i`.
    pub places: Vec<u64>,
    /// `cards` as divisors: an index is unranked from its last slot to its
    /// first, one division each, by multiply-and-shift.
    pub radices: Vec<StrengthReducedU64>,
    pub count: u64,
    /// Some label composes a Unicode word and must be written as an A-label.
    pub unicode: bool,
    /// The first `{keyword}` slot, if the pattern has one.
    pub keyword: Option<usize>,
    /// The first `{typo}` slot and its table's place in
    /// [`Space::typos`], if the pattern has one.
    pub typo: Option<(usize, usize)>,
    /// Where the TLD comes from.
    pub tld: TldSource,
    /// The word slots whose tables a shuffled cursor fetches ahead
    /// (`compile::far_words`).
    pub far_words: Vec<FarWord>,
    /// The divisions of an index rendering makes, in order
    /// ([`Space::steps`]); `None` for a Unicode pattern, which renders
    /// through its A-labels, or one of more than [`MAX_STEPS`].
    pub steps: Option<Vec<StrengthReducedU64>>,
    /// The pattern's [`Template`], when it is a mask.
    pub template: Option<Template>,
}

/// A pattern of literals and charsets of one length (a mask): all its
/// names have one length, and a name is its literals with its characters
/// written in, one or two per digit, at places known in advance.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    /// The literals in place, zeros between; at least [`SCRATCH_SLACK`]
    /// long, so that a short name is copied in one move.
    bytes: Box<[u8]>,
    /// The names' length.
    len: usize,
    /// For each of the pattern's digits, in [`Pattern::steps`] order:
    /// where its characters go, from which charset slot, and whether the
    /// digit is a pair of characters.
    writes: Box<[(usize, usize, bool)]>,
}

impl Template {
    /// The template of `slots`, when they are literals and charsets of one
    /// length, and the name is at most [`MAX_NAME_LEN`] long.
    pub(crate) fn of(slots: &[Slot]) -> Option<Template> {
        let mut len = 0;
        for slot in slots {
            len += match slot {
                Slot::Literal(bytes) => bytes.len(),
                Slot::Chars(chars) if chars.min == chars.max => chars.min,
                _ => return None,
            };
        }
        if len > MAX_NAME_LEN {
            return None;
        }
        let mut bytes = vec![0; len.max(SCRATCH_SLACK)];
        let mut writes = Vec::new();
        let mut at = len;
        for (i, slot) in slots.iter().enumerate().rev() {
            match slot {
                Slot::Literal(literal) => {
                    at -= literal.len();
                    bytes[at..at + literal.len()].copy_from_slice(literal);
                }
                Slot::Chars(chars) => {
                    for width in chars.digit_widths(chars.min) {
                        at -= width;
                        writes.push((at, i, width == 2));
                    }
                }
                _ => return None,
            }
        }
        Some(Template {
            bytes: bytes.into(),
            len,
            writes: writes.into(),
        })
    }
}

/// The lines of a space that is one mask, unfiltered: its template with
/// the terminator after it, and each digit's place and characters looked
/// up once for all the names of a call.
struct MaskLines<'s> {
    /// The template and the terminator, padded to [`SCRATCH_SLACK`].
    line: [u8; SCRATCH_SLACK],
    /// The line's length, terminator included.
    len: usize,
    /// Per digit: where it goes, and its characters (one or two each).
    writes: Vec<(usize, LineChars<'s>)>,
}

/// A charset digit's characters, in a [`MaskLines`] or [`Lines`] line.
enum LineChars<'s> {
    One(&'s [u8]),
    Two(&'s [[u8; 2]]),
}

impl<'s> MaskLines<'s> {
    /// The lines of `space`, when it is one unfiltered mask whose line
    /// fits [`SCRATCH_SLACK`].
    fn of(space: &'s Space, terminator: u8) -> Option<MaskLines<'s>> {
        let [pattern] = &space.patterns[..] else {
            return None;
        };
        let template = pattern
            .template
            .as_ref()
            .filter(|_| space.filters.is_none())?;
        if template.len >= SCRATCH_SLACK {
            return None;
        }
        let mut line = [0; SCRATCH_SLACK];
        line.copy_from_slice(&template.bytes[..SCRATCH_SLACK]);
        line[template.len] = terminator;
        let writes = template
            .writes
            .iter()
            .map(|&(at, slot, pair)| {
                let Slot::Chars(chars) = &pattern.slots[slot] else {
                    unreachable!("a template writes charsets");
                };
                let chars = if pair {
                    LineChars::Two(&chars.pairs)
                } else {
                    LineChars::One(&chars.chars)
                };
                (at, chars)
            })
            .collect();
        Some(MaskLines {
            line,
            len: template.len + 1,
            writes,
        })
    }

    /// Appends the line whose digits [`Space::divide_run`] gave.
    fn write(&self, digits: &[u64; MAX_STEPS], out: &mut Vec<u8>) {
        let start = out.len();
        if out.capacity() - start >= SCRATCH_SLACK {
            out.extend_from_slice(&self.line);
            out.truncate(start + self.len);
        } else {
            out.extend_from_slice(&self.line[..self.len]);
        }
        let line = &mut out[start..];
        for ((at, chars), &digit) in self.writes.iter().zip(digits) {
            let digit = usize::try_from(digit).unwrap_or(0);
            match chars {
                LineChars::One(one) => line[*at] = one[digit],
                LineChars::Two(two) => line[*at..*at + 2].copy_from_slice(&two[digit]),
            }
        }
    }
}

/// Room a line is written with past its end: its constant bytes are
/// copied in moves of this width.
const LINE_SLACK: usize = SCRATCH_SLACK;

// A word is moved into a line in one move of its table's width.
const _: () = assert!(crate::words::WIDE_VALUE <= LINE_SLACK);

/// The lines of an unfiltered space whose patterns all render by
/// division ([`Pattern::steps`]), with what each pattern's pieces need
/// looked up once for all the names of a call. A line is written forward,
/// straight into the output: its constant bytes a move at a time with the
/// characters of its charsets put in, and its words a move each where
/// they are short.
struct Lines<'s> {
    space: &'s Space,
    /// Pattern `p`'s at `p`.
    patterns: Vec<Line<'s>>,
    /// The longest line, terminator included.
    max: usize,
}

/// A pattern's line, terminator included: stretches of bytes at places
/// known from where the stretch starts, each followed by a piece of
/// varying length.
struct Line<'s> {
    stretches: Vec<Stretch<'s>>,
}

/// Literals, charsets of one length, or the terminator, then the piece
/// after them.
struct Stretch<'s> {
    /// The literals in place, zeros where characters go, padded to at
    /// least [`LINE_SLACK`].
    bytes: Box<[u8]>,
    len: usize,
    /// Per charset digit: where its characters go, which of the name's
    /// digits it is, and the characters (one or two a digit).
    writes: Vec<(usize, usize, LineChars<'s>)>,
    /// The piece after the stretch, and which digit it takes.
    then: Option<(Varying<'s>, usize)>,
}

/// A piece whose length varies from name to name.
enum Varying<'s> {
    Words(&'s Table),
    /// A number, or a charset of several lengths.
    Other(&'s Slot),
}

impl<'s> Lines<'s> {
    /// The lines of `space`, when it is unfiltered and each of its
    /// patterns renders by division.
    fn of(space: &'s Space, terminator: u8) -> Option<Lines<'s>> {
        if space.filters.is_some() {
            return None;
        }
        let patterns = space
            .patterns
            .iter()
            .map(|pattern| Line::of(space, pattern, terminator))
            .collect::<Option<_>>()?;
        Some(Lines {
            space,
            patterns,
            max: space.max_name_len + 1,
        })
    }

    /// Room [`Lines::write_run`] needs for `names` names.
    fn room(&self, names: usize) -> usize {
        names * self.max + LINE_SLACK
    }

    /// Appends the lines of names whose patterns and digits
    /// [`Space::divide_run`] gave; `out` has [`Lines::room`] for them
    /// beyond its length. With each name it asks the processor for a
    /// name's share of `ends` (where far words start and end) and of
    /// `bytes` (far words whose ends were asked for before), so that the
    /// fetches overlap the writing rather than come in bursts.
    fn write_run(
        &self,
        patterns: &[usize],
        digits: &[[u64; MAX_STEPS]],
        out: &mut Vec<u8>,
        ends: &[(u32, u32)],
        bytes: &[(u32, u32)],
    ) {
        let base = out.len();
        out.resize(base + self.room(patterns.len()), 0);
        let mut at = base;
        let share = ends
            .len()
            .max(bytes.len())
            .div_ceil(patterns.len().max(1))
            .max(1);
        let (mut ends, mut bytes) = (ends.chunks(share), bytes.chunks(share));
        for (&p, digits) in patterns.iter().zip(digits) {
            if let Some(ends) = ends.next() {
                self.space.fetch_ends(ends);
            }
            if let Some(bytes) = bytes.next() {
                self.space.fetch_words(bytes);
            }
            at += self.patterns[p].write(self.space, digits, &mut out[at..]);
        }
        out.truncate(at);
    }
}

impl<'s> Line<'s> {
    /// The line of `pattern`, when it renders by division.
    fn of(space: &'s Space, pattern: &'s Pattern, terminator: u8) -> Option<Line<'s>> {
        pattern.steps.as_ref()?;
        // Each slot's first digit: the digits are taken last slot first.
        let mut first = vec![0; pattern.slots.len()];
        let mut digits = 0;
        for (slot, first) in pattern.slots.iter().zip(&mut first).rev() {
            *first = digits;
            digits += match slot {
                Slot::Literal(_) => 0,
                Slot::Chars(chars) if chars.min == chars.max => {
                    chars.digit_widths(chars.min).count()
                }
                _ => 1,
            };
        }
        let mut stretches = Vec::new();
        let mut bytes = Vec::new();
        let mut writes = Vec::new();
        for (slot, &first) in pattern.slots.iter().zip(&first) {
            let varying = match slot {
                Slot::Literal(literal) => {
                    bytes.extend_from_slice(literal);
                    continue;
                }
                Slot::Chars(chars) if chars.min == chars.max => {
                    // Digits in the order they are divided off: from the
                    // charset's last character to its first.
                    bytes.resize(bytes.len() + chars.min, 0);
                    let mut at = bytes.len();
                    for (j, width) in chars.digit_widths(chars.min).enumerate() {
                        at -= width;
                        let chars = if width == 2 {
                            LineChars::Two(&chars.pairs)
                        } else {
                            LineChars::One(&chars.chars)
                        };
                        writes.push((at, first + j, chars));
                    }
                    continue;
                }
                Slot::Words { table } => Varying::Words(&space.tables[*table]),
                Slot::Chars(_) | Slot::Number { .. } => Varying::Other(slot),
            };
            stretches.push(Stretch::new(
                std::mem::take(&mut bytes),
                std::mem::take(&mut writes),
                Some((varying, first)),
            ));
        }
        bytes.push(terminator);
        stretches.push(Stretch::new(bytes, writes, None));
        Some(Line { stretches })
    }

    /// Writes the line whose digits [`Space::divide_run`] gave at the
    /// start of `line`, which has room for the longest line and
    /// [`LINE_SLACK`] more, and returns its length.
    #[inline(always)]
    fn write(&self, space: &Space, digits: &[u64; MAX_STEPS], line: &mut [u8]) -> usize {
        let mut at = 0;
        for stretch in &self.stretches {
            let to = &mut line[at..];
            let len = stretch.len;
            if len <= LINE_SLACK {
                to[..LINE_SLACK].copy_from_slice(&stretch.bytes[..LINE_SLACK]);
            } else {
                to[..len].copy_from_slice(&stretch.bytes[..len]);
            }
            for (place, digit, chars) in &stretch.writes {
                let digit = usize::try_from(digits[*digit]).unwrap_or(0);
                match chars {
                    LineChars::One(one) => to[*place] = one[digit],
                    LineChars::Two(two) => to[*place..*place + 2].copy_from_slice(&two[digit]),
                }
            }
            at += len;
            let Some((varying, digit)) = &stretch.then else {
                continue;
            };
            let digit = digits[*digit];
            at += match varying {
                Varying::Words(table) => {
                    let value = usize::try_from(digit).expect("word index fits in memory");
                    table.put(value, &mut line[at..])
                }
                Varying::Other(slot) => {
                    let mut w = ArrayWriter::new(&mut line[at..]);
                    space.render_slot(slot, digit, &mut w);
                    w.len
                }
            };
        }
        at
    }
}

impl<'s> Stretch<'s> {
    fn new(
        mut bytes: Vec<u8>,
        writes: Vec<(usize, usize, LineChars<'s>)>,
        then: Option<(Varying<'s>, usize)>,
    ) -> Stretch<'s> {
        let len = bytes.len();
        bytes.resize(len.max(LINE_SLACK), 0);
        Stretch {
            bytes: bytes.into(),
            len,
            writes,
            then,
        }
    }
}

/// A word slot whose table a shuffled cursor fetches ahead.
#[derive(Clone, Debug)]
pub(crate) struct FarWord {
    pub slot: usize,
    pub table: usize,
    /// Its place, as a divisor: its value is `index / place % card`.
    pub place: StrengthReducedU64,
    /// Its value's place among the pattern's [`Pattern::steps`], if any.
    pub step: Option<usize>,
}

/// Where a pattern's TLD comes from.
#[derive(Clone, Debug)]
pub(crate) enum TldSource {
    /// The `{tld}` slot with this index.
    Slot(usize),
    /// The public suffix of the literal labels the pattern ends with.
    Literal(Box<str>),
}

/// The pieces a name was built from: [`Space::pieces`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pieces<'a> {
    /// The index of the pattern among the spec's patterns.
    pub pattern: usize,
    /// The pattern's text as written in the spec, e.g. `{keyword}-{alpha:3}.{tld}`.
    pub pattern_text: &'a str,
    /// The keyword of the pattern's first `{keyword}` piece, normalised as
    /// the space holds it (Unicode form: NFC, lowercased); without one, the
    /// keyword the first `{typo}` piece's look-alike was made from; `None`
    /// for a pattern with neither.
    pub keyword: Option<&'a str>,
    /// The TLD without its leading dot, as the name ends in it (A-label
    /// form): the value of `{tld}`, or the public suffix of the literal
    /// labels the pattern ends with (`co.uk` for `shop{digit:2}.co.uk`).
    pub tld: &'a str,
}

/// An exact, compiled space of domain names.
///
/// Every name has an index in `[0, total)`: pattern 1's names first, each
/// pattern in lexicographic order over its pieces with the rightmost piece
/// varying fastest. The [`Order`] maps *positions* to indexes (identity when
/// sequential, a keyed permutation when shuffled), and the spec's
/// `offset`/`limit` select a range of positions, [`Space::selection`].
///
/// A `Space` is immutable and `Sync`: share it between threads and give
/// each its own [`Cursor`].
#[derive(Clone, Debug)]
pub struct Space {
    pub(crate) patterns: Vec<Pattern>,
    /// `starts[p]` = index of pattern `p`'s first name.
    pub(crate) starts: Vec<u64>,
    pub(crate) tables: Vec<Table>,
    pub(crate) total: u64,
    pub(crate) order: Order,
    pub(crate) seed: u64,
    pub(crate) shuffle_version: u8,
    pub(crate) permutation: Option<Permutation>,
    pub(crate) selection: Range<u64>,
    pub(crate) max_name_len: usize,
    /// Some pattern has [`Pattern::far_words`].
    pub(crate) fetch_ahead: bool,
    /// The spec's filter, when it leaves names out: then `total` counts
    /// the names it keeps, and indexes and positions are theirs.
    pub(crate) filters: Option<Box<Filters>>,
    /// The look-alike tables of the patterns' `{typo}` pieces.
    pub(crate) typos: Vec<TypoTable>,
}

/// A pattern of a compiled [`Space`], for summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternInfo<'a> {
    /// The pattern as written.
    pub text: &'a str,
    /// How many names it makes.
    pub count: u64,
    /// The index of its first name.
    pub start: u64,
    /// How many names it makes before the spec's filter leaves some out
    /// (`count` when the spec has none).
    pub unfiltered: u64,
}

impl Space {
    /// Number of names in the whole space (before `offset`/`limit`).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The positions selected by the spec's `offset` and `limit`.
    pub fn selection(&self) -> Range<u64> {
        self.selection.clone()
    }

    /// Selects other positions of the order (as `offset`/`limit` would).
    ///
    /// # Panics
    ///
    /// If `positions` reaches past [`Space::total`].
    pub fn select(&mut self, positions: Range<u64>) {
        assert!(
            positions.start <= positions.end && positions.end <= self.total,
            "positions {positions:?} outside the space"
        );
        self.selection = positions;
    }

    /// Number of selected positions: what a full generation writes.
    pub fn len(&self) -> u64 {
        self.selection.end - self.selection.start
    }

    /// Whether no position is selected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The order of positions.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The shuffle key (meaningful for [`Order::Shuffled`]).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The version of the shuffled order ([`Spec::shuffle_version`]).
    ///
    /// [`Spec::shuffle_version`]: crate::Spec::shuffle_version
    pub fn shuffle_version(&self) -> u8 {
        self.shuffle_version
    }

    /// Puts the names in shuffled order of version `version` (a campaign
    /// resumed or continued in the order it was started with). Nothing
    /// changes for a sequential space but the version it reports.
    ///
    /// # Errors
    ///
    /// If this release does not know `version`.
    pub fn set_shuffle_version(&mut self, version: u8) -> Result<(), crate::Error> {
        crate::compile::check_shuffle_version(version)?;
        self.shuffle_version = version;
        if self.permutation.is_some() {
            self.permutation = Some(Permutation::new(self.total, self.seed, version));
        }
        Ok(())
    }

    /// The spec's filter in words ([`Filter::summary`]): `no filter`
    /// when it leaves every name in.
    ///
    /// [`Filter::summary`]: crate::Filter::summary
    pub fn filter_summary(&self) -> &str {
        self.filters.as_ref().map_or("no filter", |f| &f.summary)
    }

    /// The longest name this space can produce, in octets.
    pub fn max_name_len(&self) -> usize {
        self.max_name_len
    }

    /// A fingerprint of the compiled space: 32 hex digits that change when
    /// any name at any index would change (patterns, normalised words,
    /// charsets, ranges) and only then. Order, seed and selection are not
    /// part of it. Stable across runs and machines (128-bit FNV-1a over a
    /// canonical encoding).
    pub fn fingerprint(&self) -> String {
        let mut h = Fnv128::new();
        h.bytes(b"domgen-space-v1");
        h.u64(self.total);
        for p in &self.patterns {
            h.u64(p.count);
            for slot in &p.slots {
                match slot {
                    Slot::Literal(bytes) => {
                        h.u64(1);
                        h.bytes(bytes);
                    }
                    Slot::Words { table } => {
                        h.u64(2);
                        let values = &self.tables[*table];
                        h.u64(to_u64(values.len()));
                        for v in values.iter() {
                            h.bytes(v.as_bytes());
                        }
                    }
                    Slot::Chars(chars) => {
                        h.u64(3);
                        h.bytes(&chars.chars);
                        h.u64(to_u64(chars.min));
                        h.u64(to_u64(chars.max));
                    }
                    Slot::Number { lo, hi, width } => {
                        h.u64(4);
                        h.u64(*lo);
                        h.u64(*hi);
                        h.u64(to_u64(*width));
                    }
                }
            }
        }
        if let Some(filters) = &self.filters {
            h.bytes(b"filter");
            h.bytes(&filters.canonical);
        }
        format!("{:032x}", h.0)
    }

    /// For each selection of typo algorithms the patterns' `{typo}` pieces
    /// use: the selection, and per keyword what each algorithm made.
    pub fn typo_reports(&self) -> Vec<(Vec<TypoAlgorithm>, Vec<TypoReport>)> {
        self.typos
            .iter()
            .map(|t| (t.algorithms.clone(), t.reports(&self.tables[KEYWORDS])))
            .collect()
    }

    /// The compiled patterns with their counts.
    pub fn patterns(&self) -> impl ExactSizeIterator<Item = PatternInfo<'_>> {
        self.patterns
            .iter()
            .enumerate()
            .map(|(i, p)| match &self.filters {
                Some(f) => PatternInfo {
                    text: &p.text,
                    count: f.counts[i],
                    start: f.starts[i],
                    unfiltered: p.count,
                },
                None => PatternInfo {
                    text: &p.text,
                    count: p.count,
                    start: self.starts[i],
                    unfiltered: p.count,
                },
            })
    }

    /// The index of the name at `position` of the order.
    ///
    /// # Panics
    ///
    /// If `position >= total()`.
    pub fn index_at(&self, position: u64) -> u64 {
        assert!(position < self.total, "position {position} out of range");
        match &self.permutation {
            Some(p) => p.apply(position),
            None => position,
        }
    }

    /// Appends the name with index `index` to `out`. It allocates nothing
    /// when `out` has room for [`Space::max_name_len`] more bytes, but in
    /// a filtered space, which allocates the state of its walk to the
    /// name (a cursor keeps its own).
    ///
    /// # Panics
    ///
    /// If `index >= total()`.
    pub fn write_name(&self, index: u64, out: &mut Vec<u8>) {
        assert!(index < self.total, "index {index} out of range");
        if let Some(filters) = &self.filters {
            filters.write(self, index, out, &mut Vec::new());
            return;
        }
        let p = self.starts.partition_point(|&s| s <= index) - 1;
        let pattern = &self.patterns[p];
        let local = index - self.starts[p];
        if pattern.unicode {
            let mut scratch = [0u8; MAX_UNICODE_LEN];
            let from = self.render_back(pattern, local, &mut scratch);
            encode_labels(&scratch[from..], out);
        } else {
            let start = out.len();
            let end = start + self.max_name_len;
            out.resize(end, 0);
            let from = self.render_back(pattern, local, &mut out[start..end]);
            out.copy_within(start + from..end, start);
            out.truncate(end - from);
        }
    }

    /// [`Space::write_name`] by way of `scratch`, which a cursor keeps
    /// from one name to the next: the name is rendered at its end, then
    /// appended in one fixed-width move when short enough, without
    /// clearing room in `out` first.
    fn write_name_via(&self, index: u64, out: &mut Vec<u8>, scratch: &mut Scratch) {
        let p = self.starts.partition_point(|&s| s <= index) - 1;
        let pattern = &self.patterns[p];
        if pattern.unicode {
            return self.write_name(index, out);
        }
        let local = index - self.starts[p];
        let from = self.render_back(pattern, local, &mut scratch[..MAX_NAME_LEN]);
        append_rendered(scratch, from, out);
    }

    /// The name of pattern `p` with unfiltered index `local` in it.
    pub(crate) fn raw_name(&self, p: usize, local: u64) -> String {
        let pattern = &self.patterns[p];
        let mut out = Vec::new();
        if pattern.unicode {
            let mut scratch = [0u8; MAX_UNICODE_LEN];
            let from = self.render_back(pattern, local, &mut scratch);
            encode_labels(&scratch[from..], &mut out);
        } else {
            let mut scratch = [0u8; MAX_NAME_LEN];
            let from = self.render_back(pattern, local, &mut scratch);
            out.extend_from_slice(&scratch[from..]);
        }
        String::from_utf8(out).expect("names are ASCII")
    }

    /// What each rule of `filter`, the filter of the spec this space was
    /// compiled from, leaves out by itself: for `domgen check`. It
    /// compiles each rule on its own, so it takes about as long as
    /// compiling the filter did.
    ///
    /// # Errors
    ///
    /// As [`Space::compile`] would for the filter.
    pub fn filter_rules(&self, filter: &crate::Filter) -> Result<Vec<FilterRule>, crate::Error> {
        Filters::rules(self, filter)
    }

    /// The index of `name` (with or without a trailing dot, in any case,
    /// Unicode or A-labels), or `None` when the space does not make it.
    /// When several patterns make it, the first index. It sorts the
    /// space's word tables to find words, so it is for a few names, not
    /// millions.
    pub fn index_of(&self, name: &str) -> Option<u64> {
        crate::filter::index_of(self, name)
    }

    /// The name with index `index`, as a new `String` (convenient, not fast).
    ///
    /// # Panics
    ///
    /// If `index >= total()`.
    pub fn name(&self, index: u64) -> String {
        let mut out = Vec::with_capacity(self.max_name_len);
        self.write_name(index, &mut out);
        String::from_utf8(out).expect("names are ASCII")
    }

    /// The keyword, pattern and TLD the name with index `index` was built
    /// from. It allocates nothing: the strings are the space's own.
    ///
    /// # Panics
    ///
    /// If `index >= total()`.
    pub fn pieces(&self, index: u64) -> Pieces<'_> {
        assert!(index < self.total, "index {index} out of range");
        let (number, local) = match &self.filters {
            Some(filters) => filters.raw(self, index),
            None => {
                let number = self.starts.partition_point(|&s| s <= index) - 1;
                (number, index - self.starts[number])
            }
        };
        let pattern = &self.patterns[number];
        self.pieces_from(number, |slot| {
            (local / pattern.places[slot]) % pattern.cards[slot]
        })
    }

    /// The pieces of a name of pattern `number` whose word slots have the
    /// values `value` gives.
    pub(crate) fn pieces_from(&self, number: usize, value: impl Fn(usize) -> u64) -> Pieces<'_> {
        let pattern = &self.patterns[number];
        let word = |slot: usize| match &pattern.slots[slot] {
            Slot::Words { table } => {
                std::str::from_utf8(self.word(*table, value(slot))).expect("words are UTF-8")
            }
            _ => unreachable!("keyword and TLD slots hold words"),
        };
        // A look-alike's keyword is the one it was made from.
        let typo_keyword = |(slot, typo): (usize, usize)| {
            let keyword = self.typos[typo].keyword_of(value(slot));
            self.tables[KEYWORDS].get(keyword)
        };
        Pieces {
            pattern: number,
            pattern_text: &pattern.text,
            keyword: pattern
                .keyword
                .map(word)
                .or_else(|| pattern.typo.map(typo_keyword)),
            tld: match &pattern.tld {
                TldSource::Slot(slot) => word(*slot),
                TldSource::Literal(tld) => tld,
            },
        }
    }

    /// The longest [`Pieces::keyword`], [`Pieces::pattern_text`] and
    /// [`Pieces::tld`] of the space, in octets: what a writer of the
    /// pieces reserves for them.
    pub fn max_pieces_len(&self) -> (usize, usize, usize) {
        let mut longest = (0, 0, 0);
        for p in &self.patterns {
            let words = |slot: usize| match &p.slots[slot] {
                Slot::Words { table } => self.tables[*table].max_len(),
                _ => 0,
            };
            let keyword = match (p.keyword, p.typo) {
                (Some(slot), _) => words(slot),
                (None, Some(_)) => self.tables[KEYWORDS].max_len(),
                (None, None) => 0,
            };
            longest.0 = longest.0.max(keyword);
            longest.1 = longest.1.max(p.text.len());
            longest.2 = longest.2.max(match &p.tld {
                TldSource::Slot(slot) => words(*slot),
                TldSource::Literal(tld) => tld.len(),
            });
        }
        longest
    }

    /// A cursor over the names at `positions` of the order.
    ///
    /// # Panics
    ///
    /// If `positions` reaches past `total()`.
    pub fn cursor(&self, positions: Range<u64>) -> Cursor<'_> {
        assert!(
            positions.start <= positions.end && positions.end <= self.total,
            "positions {positions:?} out of range"
        );
        let mut cursor = Cursor {
            space: self,
            next: positions.start,
            end: positions.end,
            odometer: None,
            walk: None,
            ahead: None,
        };
        if self.permutation.is_none() && positions.start < positions.end {
            match &self.filters {
                Some(filters) => cursor.walk = Some(Box::new(filters.walk(self, positions.start))),
                None => cursor.odometer = Some(Odometer::seek(self, positions.start)),
            }
        }
        cursor
    }

    /// Renders name `local` of `pattern` at the end of `buf` and returns
    /// where it starts. It takes the digits off from the last slot to the
    /// first, one multiply-and-shift division per slot, and writes each
    /// slot right to left as its digit comes.
    fn render_back(&self, pattern: &Pattern, local: u64, buf: &mut [u8]) -> usize {
        self.render_digits_back(pattern, &mut Dividing(local), buf)
    }

    /// Renders the name whose digits (last first) `digits` gives, ending
    /// at the end of `buf`; returns where it starts.
    #[inline(always)]
    fn render_digits_back(
        &self,
        pattern: &Pattern,
        digits: &mut impl Digits,
        buf: &mut [u8],
    ) -> usize {
        let mut at = buf.len();
        for (slot, &radix) in pattern.slots.iter().zip(&pattern.radices).rev() {
            at = match slot {
                Slot::Literal(bytes) => put_back(bytes, buf, at),
                Slot::Words { table } => put_back(self.word(*table, digits.next(radix)), buf, at),
                Slot::Number { lo, width, .. } => {
                    number_back(lo + digits.next(radix), *width, buf, at)
                }
                // A string of one length is the next digits of the index
                // in the charset's base: no division by the slot's radix.
                Slot::Chars(chars) if chars.min == chars.max => {
                    chars.write_digits_back(digits, chars.min, buf, at)
                }
                Slot::Chars(chars) => chars.render_back(digits.next(radix), buf, at),
            };
        }
        at
    }

    /// The divisions [`Space::render_back`] makes of an index of
    /// `slots`, in order, when they are at most [`MAX_STEPS`]; slot `i`'s
    /// first is at `first[i]`.
    pub(crate) fn steps(
        slots: &[Slot],
        radices: &[StrengthReducedU64],
        first: &mut [usize],
    ) -> Option<Vec<StrengthReducedU64>> {
        let mut steps = Vec::new();
        for ((slot, &radix), first) in slots.iter().zip(radices).zip(first).rev() {
            *first = steps.len();
            match slot {
                Slot::Literal(_) => {}
                Slot::Chars(chars) if chars.min == chars.max => {
                    steps.extend(chars.steps(chars.min))
                }
                _ => steps.push(radix),
            }
            if steps.len() > MAX_STEPS {
                return None;
            }
        }
        Some(steps)
    }

    /// Divides the indexes of a run of names into their digits, a
    /// division at a time for all of them: the names' divisions do not
    /// wait for each other, where one name's do. `patterns[k]` takes name
    /// `k`'s pattern and `digits[k]` its digits, unless the pattern renders
    /// by itself ([`Pattern::steps`] is `None`).
    fn divide_run(
        &self,
        indexes: &[u64],
        patterns: &mut [usize; RUN],
        digits: &mut [[u64; MAX_STEPS]; RUN],
    ) {
        let mut local = [0u64; RUN];
        let mut first = None;
        let mut uniform = true;
        for (k, &index) in indexes.iter().enumerate() {
            let p = self.starts.partition_point(|&s| s <= index) - 1;
            local[k] = index - self.starts[p];
            patterns[k] = p;
            uniform &= *first.get_or_insert(p) == p;
        }
        let len = indexes.len();
        if uniform && let Some(steps) = first.and_then(|p| self.patterns[p].steps.as_deref()) {
            for (j, &radix) in steps.iter().enumerate() {
                for k in 0..len {
                    let (rest, digit) = StrengthReducedU64::div_rem(local[k], radix);
                    local[k] = rest;
                    digits[k][j] = digit;
                }
            }
            return;
        }
        for k in 0..len {
            if let Some(steps) = self.patterns[patterns[k]].steps.as_deref() {
                for (j, &radix) in steps.iter().enumerate() {
                    let (rest, digit) = StrengthReducedU64::div_rem(local[k], radix);
                    local[k] = rest;
                    digits[k][j] = digit;
                }
            }
        }
    }

    /// Appends the name of pattern `p` whose digits [`Space::divide_run`]
    /// gave, by way of `scratch` as [`Space::write_name_via`] does.
    fn write_divided(&self, p: usize, digits: &[u64], out: &mut Vec<u8>, scratch: &mut Scratch) {
        let pattern = &self.patterns[p];
        if let Some(template) = &pattern.template {
            return self.write_template(pattern, template, digits, out);
        }
        let from = self.render_digits_back(
            pattern,
            &mut Divided(digits.iter()),
            &mut scratch[..MAX_NAME_LEN],
        );
        append_rendered(scratch, from, out);
    }

    /// Appends the name of a mask whose digits [`Space::divide_run`] gave:
    /// its template, with its characters written in.
    fn write_template(
        &self,
        pattern: &Pattern,
        template: &Template,
        digits: &[u64],
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        if template.len <= SCRATCH_SLACK && out.capacity() - start >= SCRATCH_SLACK {
            out.extend_from_slice(&template.bytes[..SCRATCH_SLACK]);
            out.truncate(start + template.len);
        } else {
            out.extend_from_slice(&template.bytes[..template.len]);
        }
        let name = &mut out[start..];
        for (&(at, slot, pair), &digit) in template.writes.iter().zip(digits) {
            let Slot::Chars(chars) = &pattern.slots[slot] else {
                unreachable!("a template writes charsets");
            };
            let digit = usize::try_from(digit).unwrap_or(0);
            if pair {
                name[at..at + 2].copy_from_slice(&chars.pairs[digit]);
            } else {
                name[at] = chars.chars[digit];
            }
        }
    }

    /// Notes the far words ([`Pattern::far_words`]) of the names with
    /// `indexes` in `words`, for [`Space::fetch_ends`] and then
    /// [`Space::fetch_words`]; returns how many it noted. The names'
    /// patterns and digits are [`Space::divide_run`]'s.
    fn note_words(
        &self,
        indexes: &[u64],
        patterns: &[usize; RUN],
        digits: &[[u64; MAX_STEPS]; RUN],
        words: &mut [(u32, u32)],
    ) -> usize {
        let mut noted = 0;
        for (k, &index) in indexes.iter().enumerate() {
            let pattern = &self.patterns[patterns[k]];
            for far in &pattern.far_words {
                let value = match far.step {
                    Some(step) => digits[k][step],
                    None => {
                        let local = index - self.starts[patterns[k]];
                        (local / far.place) % pattern.radices[far.slot]
                    }
                };
                let value = u32::try_from(value).expect("a table holds fewer than 2^32 values");
                words[noted] = (u32::try_from(far.table).unwrap_or(u32::MAX), value);
                noted += 1;
            }
        }
        noted
    }

    /// Asks the processor for the bytes of `words` noted by
    /// [`Space::note_words`], once [`Space::fetch_ends`] has had time to
    /// bring in where they start and end.
    fn fetch_words(&self, words: &[(u32, u32)]) {
        for &(table, value) in words {
            self.tables[offset(table)].prefetch_bytes(offset(value));
        }
    }

    /// Asks the processor where `words` start and end.
    fn fetch_ends(&self, words: &[(u32, u32)]) {
        for &(table, value) in words {
            self.tables[offset(table)].prefetch_ends(offset(value));
        }
    }

    fn render_slot(&self, slot: &Slot, digit: u64, w: &mut ArrayWriter<'_>) {
        match slot {
            Slot::Literal(bytes) => w.push_slice(bytes),
            Slot::Words { table } => w.push_slice(self.word(*table, digit)),
            Slot::Number { lo, width, .. } => write_number(lo + digit, *width, w),
            Slot::Chars(chars) => {
                let (len, rest) = chars.length_of(digit);
                chars.write_digits_back(&mut Dividing(rest), len, w.reserve(len), len);
            }
        }
    }

    fn word(&self, table: usize, digit: u64) -> &[u8] {
        let i = usize::try_from(digit).expect("word index fits in memory");
        self.tables[table].bytes(i)
    }
}

/// 128-bit FNV-1a; byte strings are length-prefixed so that the encoding
/// is unambiguous.
pub(crate) struct Fnv128(pub(crate) u128);

impl Fnv128 {
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    pub(crate) fn new() -> Fnv128 {
        Fnv128(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d)
    }

    fn raw(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u128::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.raw(&v.to_le_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.u64(to_u64(bytes.len()));
        self.raw(bytes);
    }
}

/// A length or count as `u64`; lossless on every supported target.
pub(crate) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).expect("usize fits in u64")
}

/// Writes `value` in decimal, zero-padded to `width`.
fn write_number(value: u64, width: usize, w: &mut ArrayWriter<'_>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = value;
    loop {
        i -= 1;
        digits[i] = b'0' + u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    for _ in len..width {
        w.push(b'0');
    }
    w.push_slice(&digits[i..]);
}

/// Appends the name rendered in `scratch[from..MAX_NAME_LEN]` to `out`:
/// in one move of [`SCRATCH_SLACK`] bytes, cut back to the name, where
/// `out` has room for that (never growing it for bytes it will not keep).
#[inline(always)]
fn append_rendered(scratch: &Scratch, from: usize, out: &mut Vec<u8>) {
    let len = MAX_NAME_LEN - from;
    if len <= SCRATCH_SLACK && out.capacity() - out.len() >= SCRATCH_SLACK {
        let start = out.len();
        out.extend_from_slice(&scratch[from..from + SCRATCH_SLACK]);
        out.truncate(start + len);
    } else {
        out.extend_from_slice(&scratch[from..MAX_NAME_LEN]);
    }
}

/// Writes `bytes` so that they end at `buf[end]`; returns where they start.
fn put_back(bytes: &[u8], buf: &mut [u8], end: usize) -> usize {
    let start = end - bytes.len();
    copy_short(&mut buf[start..end], bytes);
    start
}

/// Copies `src` into `dst`, of the same length, in at most two
/// overlapping moves of a fixed width when it is 32 bytes or shorter, as
/// the pieces of a name mostly are: a call into `memcpy` would cost more
/// than the copy.
#[inline(always)]
pub(crate) fn copy_short(dst: &mut [u8], src: &[u8]) {
    fn two<const W: usize>(dst: &mut [u8], src: &[u8]) {
        let n = src.len();
        dst[..W].copy_from_slice(&src[..W]);
        dst[n - W..].copy_from_slice(&src[n - W..]);
    }
    match src.len() {
        0 => {}
        1..4 => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s;
            }
        }
        4..8 => two::<4>(dst, src),
        8..16 => two::<8>(dst, src),
        16..=32 => two::<16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Writes `value` in decimal, zero-padded to `width`, so that it ends at
/// `buf[end]`; returns where it starts.
pub(crate) fn number_back(mut value: u64, width: usize, buf: &mut [u8], end: usize) -> usize {
    let mut at = end;
    loop {
        at -= 1;
        buf[at] = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
        if value == 0 {
            break;
        }
    }
    while end - at < width {
        at -= 1;
        buf[at] = b'0';
    }
    at
}

/// Appends `unicode` to `out`, writing each non-ASCII label as an A-label.
pub(crate) fn encode_labels(unicode: &[u8], out: &mut Vec<u8>) {
    let text = std::str::from_utf8(unicode).expect("names are rendered from UTF-8 pieces");
    for (i, label) in text.split('.').enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        if label.is_ascii() {
            out.extend_from_slice(label.as_bytes());
        } else {
            out.extend_from_slice(b"xn--");
            punycode::encode(label, out);
        }
    }
}

/// A bounds-checked writer into a fixed slice: compilation guarantees that
/// names fit, so running out of room is a bug and panics.
struct ArrayWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> ArrayWriter<'a> {
    fn new(buf: &'a mut [u8]) -> ArrayWriter<'a> {
        ArrayWriter { buf, len: 0 }
    }

    fn push(&mut self, byte: u8) {
        self.buf[self.len] = byte;
        self.len += 1;
    }

    fn push_slice(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn reserve(&mut self, n: usize) -> &mut [u8] {
        let start = self.len;
        self.len += n;
        &mut self.buf[start..start + n]
    }

    fn filled(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Walks names in order, producing each in place from the one before.
///
/// Sequential cursors keep the current name and the state of every piece,
/// so the next name costs a character increment (a carry rewrites more);
/// shuffled cursors take the indexes of the next positions through the
/// permutation a run at a time and render each index directly.
pub struct Cursor<'s> {
    space: &'s Space,
    next: u64,
    end: u64,
    odometer: Option<Odometer>,
    /// A sequential cursor's walk over the names a filter keeps.
    walk: Option<Box<Walk>>,
    /// A shuffled cursor's lookahead, made at its first name (boxed: it
    /// holds three runs of indexes and digits, which a sequential cursor
    /// has no use for).
    ahead: Option<Box<Ahead>>,
}

impl<'s> Cursor<'s> {
    /// A shuffled cursor's [`Ahead`], made at its first name.
    fn ahead(&mut self) -> &mut Ahead {
        let first = self.next;
        self.ahead
            .get_or_insert_with(|| Box::new(Ahead::new(first)))
    }

    /// The position of the next name.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Names left.
    pub fn remaining(&self) -> u64 {
        self.end - self.next
    }

    /// Appends the next name to `out` and returns its index, or `None` at
    /// the end of the range.
    pub fn write_next(&mut self, out: &mut Vec<u8>) -> Option<u64> {
        if self.next == self.end {
            return None;
        }
        let space = self.space;
        if let (Some(walk), Some(filters)) = (&mut self.walk, &space.filters) {
            out.extend_from_slice(&walk.name);
            if self.next + 1 < self.end {
                filters.step(space, walk);
            }
            self.next += 1;
            return Some(self.next - 1);
        }
        let index = match &mut self.odometer {
            Some(odo) => {
                let index = self.next;
                odo.emit(space, out);
                if self.next + 1 < self.end {
                    odo.step(space);
                }
                index
            }
            None => {
                let (next, end) = (self.next, self.end);
                self.ahead().write_next(space, next, end, out)
            }
        };
        self.next += 1;
        Some(index)
    }

    /// [`Cursor::write_next`], with the [`Pieces`] of the name: as
    /// [`Space::pieces`] of its index, but for a filtered space without
    /// walking to the name again.
    pub fn write_next_with_pieces(&mut self, out: &mut Vec<u8>) -> Option<(u64, Pieces<'s>)> {
        if self.next == self.end {
            return None;
        }
        let space = self.space;
        let filters = space.filters.as_deref();
        let pieces = match (&self.walk, filters) {
            (Some(walk), Some(filters)) => Some(filters.walk_pieces(space, walk)),
            _ => None,
        };
        let index = self.write_next(out)?;
        let pieces = match (pieces, &self.ahead, filters) {
            (Some(pieces), _, _) => pieces,
            (None, Some(ahead), Some(filters)) => {
                filters.run_pieces(space, &ahead.filtered, ahead.at - 1)
            }
            _ => space.pieces(index),
        };
        Some((index, pieces))
    }

    /// Appends up to `max` names to `out`, each followed by `terminator`,
    /// and returns how many it wrote. This is the fast path for line output.
    pub fn write_lines(&mut self, out: &mut Vec<u8>, max: u64, terminator: u8) -> u64 {
        let count = max.min(self.remaining());
        let space = self.space;
        if let (Some(walk), Some(filters)) = (&mut self.walk, &space.filters) {
            let mut left = count;
            while left > 0 {
                let run = filters.emit_run(space, walk, out, left, terminator);
                left -= run;
                self.next += run;
                if self.next < self.end {
                    filters.step(space, walk);
                }
            }
            return count;
        }
        let Some(odo) = &mut self.odometer else {
            let end = self.end;
            self.ahead().write_lines(space, end, out, count, terminator);
            self.next += count;
            return count;
        };
        let mut left = count;
        while left > 0 {
            // Names that differ from the current one only in the last
            // character of the last piece: patch one byte per name.
            let run = odo.innermost_run(space).min(left);
            odo.emit_run(space, out, run, terminator);
            left -= run;
            self.next += run;
            if self.next < self.end {
                odo.step(space);
            }
        }
        count
    }
}

/// Runs a shuffled cursor keeps: the one being rendered, the one
/// whose words' bytes are being fetched, the one whose words' ends are.
const RUNS_AHEAD: usize = 3;

/// A shuffled cursor's indexes, computed [`RUN`] positions at a time
/// ahead of rendering. Where the space has far words, it also fetches
/// them ahead, in two steps a run apart: rendering run `j` goes with
/// asking for the bytes of run `j + 1`'s words (whose ends were asked for a
/// run before) and computing run `j + 2` and asking for its words' ends. A
/// random name's word then costs a cache miss overlapped with the rest,
/// not one waited for.
struct Ahead {
    /// The cursor's first position: run `j` starts `j * RUN` after it.
    first: u64,
    /// The run being rendered; `u64::MAX` before the first.
    run: u64,
    /// Where in it the next index is.
    at: usize,
    /// Its length.
    len: usize,
    /// Run `j`'s indexes at `j % RUNS_AHEAD`.
    indexes: [[u64; RUN]; RUNS_AHEAD],
    /// Run `j`'s far words (table, value) noted when their ends were asked
    /// for, and how many.
    words: [[(u32, u32); RUN * MAX_FAR_WORDS]; RUNS_AHEAD],
    noted: [usize; RUNS_AHEAD],
    /// Run `j`'s names' patterns and digits ([`Space::divide_run`]).
    patterns: [[usize; RUN]; RUNS_AHEAD],
    digits: [[[u64; MAX_STEPS]; RUN]; RUNS_AHEAD],
    /// Where names are rendered.
    scratch: Scratch,
    /// A filtered space's names of the run being rendered.
    filtered: Run,
}

impl Ahead {
    fn new(first: u64) -> Ahead {
        Ahead {
            first,
            run: u64::MAX,
            at: 0,
            len: 0,
            indexes: [[0; RUN]; RUNS_AHEAD],
            words: [[(0, 0); RUN * MAX_FAR_WORDS]; RUNS_AHEAD],
            noted: [0; RUNS_AHEAD],
            patterns: [[0; RUN]; RUNS_AHEAD],
            digits: [[[0; MAX_STEPS]; RUN]; RUNS_AHEAD],
            scratch: [0; MAX_NAME_LEN + SCRATCH_SLACK],
            filtered: Run::default(),
        }
    }

    /// Moves on to the next run, computing the ones ahead. Where the
    /// space has far words, where the words two runs ahead start and end,
    /// and the bytes of those one run ahead, are asked for here in two
    /// bursts, unless the caller `spread`s them over the names it writes
    /// ([`Lines::write_run`]).
    fn advance(&mut self, space: &Space, end: u64, spread: bool) {
        self.run = self.run.wrapping_add(1);
        if self.run == 0 {
            self.compute(space, 0, end);
            if space.fetch_ahead {
                self.fetch_ends(space, 0, end);
                self.compute(space, 1, end);
                self.fetch_ends(space, 1, end);
                self.fetch_words(space, 0, end);
            }
        }
        if space.fetch_ahead {
            self.compute(space, self.run + 2, end);
            if !spread {
                self.fetch_words(space, self.run + 1, end);
                self.fetch_ends(space, self.run + 2, end);
            }
        } else if self.run > 0 {
            self.compute(space, self.run, end);
        }
        self.at = 0;
        self.len = self.positions(self.run, end).count();
    }

    /// The index at `position`, the next position after the last one
    /// asked for (the first position, at first); `position < end`.
    fn next(&mut self, space: &Space, position: u64, end: u64) -> u64 {
        if self.at == self.len {
            self.advance(space, end, false);
        }
        debug_assert_eq!(
            position,
            self.first + self.run * to_u64(RUN) + to_u64(self.at)
        );
        self.at += 1;
        self.indexes[self.slot(self.run)][self.at - 1]
    }

    /// Appends the name at `position`, the next position after the last
    /// one asked for (the first position, at first; `position < end`), to
    /// `out`, and returns its index.
    fn write_next(&mut self, space: &Space, position: u64, end: u64, out: &mut Vec<u8>) -> u64 {
        let index = self.next(space, position, end);
        self.write_at(space, self.slot(self.run), self.at - 1, out);
        index
    }

    /// Appends name `k` of the run in `slot` to `out`.
    fn write_at(&mut self, space: &Space, slot: usize, k: usize, out: &mut Vec<u8>) {
        if space.filters.is_some() {
            out.extend_from_slice(self.filtered.name(k));
            return;
        }
        let p = self.patterns[slot][k];
        if space.patterns[p].steps.is_some() {
            space.write_divided(p, &self.digits[slot][k], out, &mut self.scratch);
        } else {
            space.write_name_via(self.indexes[slot][k], out, &mut self.scratch);
        }
    }

    /// Appends the next `count` names (there are as many before `end`),
    /// each followed by `terminator`, a run at a time: as [`MaskLines`] or
    /// [`Lines`] where the space has them, otherwise as
    /// [`Ahead::write_next`].
    fn write_lines(
        &mut self,
        space: &Space,
        end: u64,
        out: &mut Vec<u8>,
        count: u64,
        terminator: u8,
    ) {
        // A mask, which has no piece of varying length, is written from its
        // template in one move a line.
        let mask = MaskLines::of(space, terminator);
        let lines = mask
            .is_none()
            .then(|| Lines::of(space, terminator))
            .flatten();
        let spread = lines.is_some() && space.fetch_ahead;
        let mut left = count;
        while left > 0 {
            if self.at == self.len {
                self.advance(space, end, spread);
            }
            let take = (self.len - self.at).min(usize::try_from(left).unwrap_or(usize::MAX));
            let (slot, names) = (self.slot(self.run), self.at..self.at + take);
            self.at += take;
            left -= to_u64(take);
            if let Some(mask) = &mask {
                for digits in &self.digits[slot][names] {
                    mask.write(digits, out);
                }
                continue;
            }
            match &lines {
                // The last names of a buffer that is nearly full go one by
                // one, so that it never grows for room it would not keep.
                Some(lines) if out.capacity() - out.len() >= lines.room(take) => {
                    let (ends, bytes) = if spread {
                        (
                            self.noted_words(self.run + 2, end),
                            self.noted_words(self.run + 1, end),
                        )
                    } else {
                        (&[][..], &[][..])
                    };
                    lines.write_run(
                        &self.patterns[slot][names.clone()],
                        &self.digits[slot][names],
                        out,
                        ends,
                        bytes,
                    );
                }
                _ => {
                    if spread {
                        self.fetch_words(space, self.run + 1, end);
                        self.fetch_ends(space, self.run + 2, end);
                    }
                    for k in names {
                        self.write_at(space, slot, k, out);
                        out.push(terminator);
                    }
                }
            }
        }
    }

    /// The positions of run `run` (empty past `end`).
    fn positions(&self, run: u64, end: u64) -> Range<u64> {
        let start = run
            .checked_mul(to_u64(RUN))
            .and_then(|offset| self.first.checked_add(offset))
            .map_or(end, |start| start.min(end));
        start..end.min(start.saturating_add(to_u64(RUN)))
    }

    fn slot(&self, run: u64) -> usize {
        usize::try_from(run % to_u64(RUNS_AHEAD)).unwrap_or(0)
    }

    /// Computes run `run`'s indexes and their digits and, where the
    /// space has far words, notes them.
    fn compute(&mut self, space: &Space, run: u64, end: u64) {
        let positions = self.positions(run, end);
        let len = usize::try_from(positions.end - positions.start).unwrap_or(RUN);
        let slot = self.slot(run);
        let indexes = &mut self.indexes[slot][..len];
        let permutation = space
            .permutation
            .as_ref()
            .expect("a cursor without an odometer is shuffled");
        permutation.apply_run(positions.start, indexes);
        if let Some(filters) = &space.filters {
            // Names are walked to by rank, not unranked by division.
            filters.write_run(space, indexes, &mut self.filtered);
            return;
        }
        let (patterns, digits) = (&mut self.patterns[slot], &mut self.digits[slot]);
        space.divide_run(indexes, patterns, digits);
        self.noted[slot] = if space.fetch_ahead {
            space.note_words(indexes, patterns, digits, &mut self.words[slot])
        } else {
            0
        };
    }

    /// Asks for the bytes of run `run`'s far words.
    fn fetch_words(&self, space: &Space, run: u64, end: u64) {
        space.fetch_words(self.noted_words(run, end));
    }

    /// Asks where run `run`'s far words start and end.
    fn fetch_ends(&self, space: &Space, run: u64, end: u64) {
        space.fetch_ends(self.noted_words(run, end));
    }

    /// Run `run`'s far words.
    fn noted_words(&self, run: u64, end: u64) -> &[(u32, u32)] {
        if self.positions(run, end).is_empty() {
            return &[];
        }
        let slot = self.slot(run);
        &self.words[slot][..self.noted[slot]]
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct SlotState {
    start: usize,
    len: usize,
    /// Word index or number value; unused for charsets.
    value: u64,
}

/// The state of a sequential cursor: the current name (in Unicode form if
/// the pattern composes Unicode words) and where each slot sits in it.
struct Odometer {
    pattern: usize,
    name: Vec<u8>,
    slots: Vec<SlotState>,
    /// The slot whose last character varies fastest, if it is a charset.
    inner: Option<usize>,
}

impl Odometer {
    fn seek(space: &Space, index: u64) -> Odometer {
        let pattern = space.starts.partition_point(|&s| s <= index) - 1;
        let mut odo = Odometer {
            pattern,
            name: Vec::with_capacity(MAX_UNICODE_LEN),
            slots: Vec::new(),
            inner: None,
        };
        odo.enter(space, pattern, index - space.starts[pattern]);
        odo
    }

    /// Renders `local` of `pattern` from scratch.
    fn enter(&mut self, space: &Space, pattern: usize, local: u64) {
        let p = &space.patterns[pattern];
        self.pattern = pattern;
        self.name.clear();
        self.slots.clear();
        let mut buf = [0u8; MAX_UNICODE_LEN];
        let mut w = ArrayWriter::new(&mut buf);
        for ((slot, &card), &place) in p.slots.iter().zip(&p.cards).zip(&p.places) {
            let digit = (local / place) % card;
            let start = w.len;
            space.render_slot(slot, digit, &mut w);
            let value = match slot {
                Slot::Number { lo, .. } => lo + digit,
                _ => digit,
            };
            self.slots.push(SlotState {
                start,
                len: w.len - start,
                value,
            });
        }
        self.name.extend_from_slice(w.filled());
        self.inner = p
            .slots
            .iter()
            .rposition(|s| !matches!(s, Slot::Literal(_)))
            .filter(|&i| matches!(p.slots[i], Slot::Chars(_)) && !p.unicode);
    }

    fn emit(&self, space: &Space, out: &mut Vec<u8>) {
        if space.patterns[self.pattern].unicode {
            encode_labels(&self.name, out);
        } else {
            out.extend_from_slice(&self.name);
        }
    }

    /// How many names, starting with the current one, differ only in the
    /// innermost character (1 when there is no such fast path).
    fn innermost_run(&self, space: &Space) -> u64 {
        let Some(i) = self.inner else { return 1 };
        let Slot::Chars(chars) = &space.patterns[self.pattern].slots[i] else {
            return 1;
        };
        let state = self.slots[i];
        let last = self.name[state.start + state.len - 1];
        let at = chars.chars.iter().position(|&c| c == last).unwrap_or(0);
        to_u64(chars.chars.len() - at)
    }

    /// Emits `run` names (see [`Odometer::innermost_run`]), leaving the
    /// last one emitted as the current name.
    fn emit_run(&mut self, space: &Space, out: &mut Vec<u8>, run: u64, terminator: u8) {
        if run == 1 {
            self.emit(space, out);
            out.push(terminator);
            return;
        }
        let Some(i) = self.inner else {
            unreachable!("runs longer than 1 need a charset")
        };
        let Slot::Chars(chars) = &space.patterns[self.pattern].slots[i] else {
            unreachable!("inner slot is a charset")
        };
        let state = self.slots[i];
        let at = state.start + state.len - 1;
        let line = self.name.len() + 1;
        let run = usize::try_from(run).expect("a run is at most a charset long");
        out.reserve(line * run);
        for n in 0..run {
            if n > 0 {
                self.name[at] = chars.next[usize::from(self.name[at])];
            }
            out.extend_from_slice(&self.name);
            out.push(terminator);
        }
    }

    /// Moves to the next name of the sequence, entering the next pattern
    /// when this one is done. The caller guarantees there is a next name.
    fn step(&mut self, space: &Space) {
        let p = &space.patterns[self.pattern];
        let mut dirty = usize::MAX;
        let mut i = p.slots.len();
        loop {
            if i == 0 {
                self.enter(space, self.pattern + 1, 0);
                return;
            }
            i -= 1;
            let state = &mut self.slots[i];
            match &p.slots[i] {
                Slot::Literal(_) => continue,
                Slot::Chars(chars) => {
                    let region = &mut self.name[state.start..state.start + state.len];
                    if increment(region, chars) {
                        break;
                    }
                    if state.len < chars.max {
                        state.len += 1;
                        dirty = i;
                        break;
                    }
                    if chars.min < chars.max {
                        state.len = chars.min;
                        dirty = i;
                    }
                }
                Slot::Words { table } => {
                    dirty = i;
                    state.value += 1;
                    if state.value < to_u64(space.tables[*table].len()) {
                        break;
                    }
                    state.value = 0;
                }
                Slot::Number { lo, hi, .. } => {
                    dirty = i;
                    if state.value < *hi {
                        state.value += 1;
                        break;
                    }
                    state.value = *lo;
                }
            }
        }
        if dirty != usize::MAX {
            self.rerender_from(space, dirty);
        }
    }

    /// Re-renders slots `from..` after a value or length change. Charset
    /// slots there are always at the first string of their length: the
    /// slot that advanced to a longer length, or slots that wrapped.
    fn rerender_from(&mut self, space: &Space, from: usize) {
        let p = &space.patterns[self.pattern];
        let mut pos = self.slots[from].start;
        self.name.truncate(pos);
        for (slot, state) in p.slots[from..].iter().zip(&mut self.slots[from..]) {
            state.start = pos;
            match slot {
                Slot::Literal(bytes) => self.name.extend_from_slice(bytes),
                Slot::Words { table } => {
                    self.name.extend_from_slice(space.word(*table, state.value))
                }
                Slot::Number { width, .. } => {
                    let mut digits = [0u8; 64];
                    let mut w = ArrayWriter::new(&mut digits);
                    write_number(state.value, *width, &mut w);
                    self.name.extend_from_slice(w.filled());
                }
                Slot::Chars(chars) => {
                    let len = state.len;
                    self.name.resize(pos + len, chars.first());
                }
            }
            state.len = self.name.len() - pos;
            pos = self.name.len();
        }
    }
}

/// Increments a charset string in place, rightmost character fastest.
/// Returns false when it wrapped around to the first string.
fn increment(region: &mut [u8], chars: &Chars) -> bool {
    for byte in region.iter_mut().rev() {
        let next = chars.next[usize::from(*byte)];
        if next != 0 {
            *byte = next;
            return true;
        }
        *byte = chars.first();
    }
    false
}
