//! Filters that keep the space exact.
//!
//! A filtered space is the unfiltered sequence with some names removed,
//! its order kept. Nothing is enumerated to count it or to find its
//! `i`-th name:
//!
//! - Length bounds, excluded words and regexes are one deterministic
//!   automaton ([`Automaton`]) run over a name's bytes, with the name's
//!   length (without its TLD) beside its state.
//! - A pattern is a row of *levels*: fixed bytes, or a choice (a word, a
//!   number, a charset string's length, one of its characters). For every
//!   level, a table gives, per automaton state and length so far, how many
//!   ways the levels after it have to end in a kept name. These tables are
//!   filled from the last level back (dynamic programming over level,
//!   state and length), each for the states the levels before can reach.
//! - The kept names' count is the first table's entry at the start; the
//!   `i`-th kept name is found by walking the levels and, at each, skipping
//!   whole choices by their counts (unranking): a word, a number or a
//!   character is found by one row of prefix sums over the level's choices.
//! - A sequential walk steps from one kept name to the next in place, the
//!   last character patched where only it changes; a shuffled cursor walks
//!   32 names level by level together.
//! - Whole names left out (`exclude_names`) are found in the pattern they
//!   belong to, ranked among the kept names, and subtracted by rank: a
//!   sorted list of 8 bytes per excluded name.

mod automaton;

use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::space::{
    Fnv128, MAX_NAME_LEN, Pattern, Pieces, Slot, Space, TldSource, number_back, to_u64,
};
use crate::spec::{Filter, WordList};
use crate::words::{self, Table};

pub(crate) use automaton::Automaton;
use automaton::{DEAD, MARK};

/// The most table cells (8 bytes each) the filters of a spec may take.
const MAX_CELLS: usize = 8 << 20;

/// The most automaton steps compilation may take to fill the tables.
const MAX_WORK: u64 = 4_000_000_000;

/// The most prefix sums (8 bytes each) one level may keep; past it, a sum
/// is kept every so many choices, and the ones between are counted.
const MAX_SUMS: usize = 4 << 20;

/// A line this short is appended in one move of this width.
const LINE: usize = 32;

/// The most ways one excluded name is looked for in a pattern.
const MAX_PARSES: usize = 64;

/// A compiled filter: what [`Space`] consults to count, unrank and walk
/// kept names.
#[derive(Clone, Debug)]
pub(crate) struct Filters {
    automaton: Automaton,
    bounds: Bounds,
    programs: Vec<Program>,
    /// The names each pattern keeps by its program, before whole names
    /// are left out, and where each pattern starts among them.
    kept: Vec<u64>,
    kept_starts: Vec<u64>,
    /// The whole names left out, as ranks among the kept names (sorted,
    /// no repeats).
    excluded: Vec<u64>,
    /// The names each pattern keeps in the end, and where each starts.
    pub counts: Vec<u64>,
    pub starts: Vec<u64>,
    pub total: u64,
    /// What the filter is, for the space's fingerprint.
    pub canonical: Vec<u8>,
    /// Its rules in words ([`Filter::summary`]).
    pub summary: String,
}

/// Length bounds of a name without its TLD, and how lengths are kept:
/// `0..=cap`, saturating at `cap` when there is no maximum.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    min: usize,
    max: Option<usize>,
    /// Lengths tracked: `cap + 1`.
    lens: usize,
}

impl Bounds {
    fn new(min: Option<usize>, max: Option<usize>) -> Bounds {
        let cap = max.or(min).unwrap_or(0);
        Bounds {
            min: min.unwrap_or(0),
            max,
            lens: cap + 1,
        }
    }

    /// The length after `n` more octets, if still within bounds.
    #[inline(always)]
    fn add(&self, len: usize, n: usize, counted: bool) -> Option<usize> {
        if !counted {
            return Some(len);
        }
        let to = len + n;
        match self.max {
            Some(max) if to > max => None,
            Some(_) => Some(to),
            None => Some(to.min(self.lens - 1)),
        }
    }
}

/// One level of a pattern's program.
#[derive(Clone, Debug)]
enum Level {
    /// Bytes every name of the pattern has here.
    Fixed {
        bytes: Box<[u8]>,
        counted: bool,
        exit: usize,
        /// The state after the bytes, per state the level is entered in.
        to: Box<[u32]>,
    },
    /// Where the TLD begins: the automaton is fed [`MARK`], nothing is
    /// written.
    Mark {
        exit: usize,
        /// The state after the mark, per state.
        to: Box<[u32]>,
    },
    /// A word of `tables[table]`, the value of slot `slot`.
    Words {
        slot: usize,
        table: usize,
        /// The table's words as written out, when some are Unicode.
        a_labels: Option<Arc<Table>>,
        counted: bool,
        exit: usize,
        sums: Option<Arc<Sums>>,
    },
    /// A number `lo..=hi`, zero-padded to `width`.
    Number {
        slot: usize,
        lo: u64,
        hi: u64,
        width: usize,
        counted: bool,
        exit: usize,
        sums: Option<Arc<Sums>>,
    },
    /// The length of charset slot `slot`'s string: choice `v` is length
    /// `min + v`, whose strings' counts are in table `exits[v]`.
    Length {
        slot: usize,
        min: usize,
        exits: Box<[usize]>,
    },
    /// Character `j` of charset slot `slot`'s string, when its length
    /// (chosen at level `length`) is more than `j`; `exits[v]` is the
    /// table after it for length choice `v`.
    Char {
        slot: usize,
        j: usize,
        length: usize,
        counted: bool,
        exits: Box<[usize]>,
        sums: Box<[Option<Arc<Sums>>]>,
    },
}

/// Prefix sums of a word level's counts, per entry state and length:
/// `cum[row + k]` counts the kept names whose word comes before word
/// `k * block`.
#[derive(Clone, Debug)]
struct Sums {
    block: usize,
    /// A row's length: one sum per block and the total.
    width: usize,
    /// Per `state * lens + len`, the row's start in `cum` (`u32::MAX`
    /// where no kept name passes).
    rows: Box<[u32]>,
    cum: Box<[u64]>,
}

/// A pattern as levels, with the tables of counts.
#[derive(Clone, Debug)]
struct Program {
    levels: Vec<Level>,
    /// Each a `states × lens` table of counts.
    tables: Vec<Box<[u64]>>,
    /// The table at the first level.
    entry: usize,
    /// Whether the levels after level `i` are all fixed.
    fixed_after: Vec<bool>,
    /// The levels as a run of names walks them, when every level is
    /// fixed or finds its choice by one sum per choice.
    ops: Option<Vec<Op>>,
    /// The last choice level, its table after it and whether it counts
    /// towards the length, when it is a character of a charset of one
    /// length and only fixed levels follow: a sequential walk steps it
    /// by patching one byte ([`Filters::emit_run`]).
    inner: Option<(usize, usize, bool)>,
    /// The levels that may have more than one choice, in order.
    choice_levels: Vec<usize>,
    /// The level of each word slot (`usize::MAX` for other slots).
    word_levels: Vec<usize>,
}

/// A level as [`Filters::write_run`] walks it: what it needs at hand,
/// with no choice left to look up.
#[derive(Clone, Debug)]
enum Op {
    /// Fixed bytes, or the mark (no bytes): the state after, per state.
    Fixed {
        bytes: Box<[u8]>,
        to: Box<[u32]>,
        counted: bool,
    },
    /// A character of a charset string of one length.
    Char {
        chars: Box<[u8]>,
        sums: Arc<Sums>,
        counted: bool,
    },
    /// A word of `tables[table]` (as written out: `a_labels`), the
    /// program's level `level`.
    Words {
        level: usize,
        table: usize,
        a_labels: Option<Arc<Table>>,
        sums: Arc<Sums>,
        counted: bool,
    },
}

/// What walking a pattern's levels reads.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    pattern: &'a Pattern,
    tables: &'a [Table],
    automaton: &'a Automaton,
    bounds: Bounds,
}

/// Where a walk is at one level: the automaton state and length on the
/// way in, where the level's bytes start in the name, and its choice.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct At {
    state: u32,
    len: usize,
    start: usize,
    value: u64,
}

/// A set of automaton states, cleared in O(1).
struct StateSet {
    stamps: Vec<u32>,
    stamp: u32,
    list: Vec<u32>,
}

impl StateSet {
    fn new(states: usize) -> StateSet {
        StateSet {
            stamps: vec![0; states],
            stamp: 1,
            list: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.stamp += 1;
        self.list.clear();
    }

    fn insert(&mut self, state: u32) {
        if state != DEAD && self.stamps[state as usize] != self.stamp {
            self.stamps[state as usize] = self.stamp;
            self.list.push(state);
        }
    }
}

/// A walk to a kept name between levels: the automaton state, the
/// length so far, and the rank left to find among the names that share
/// the levels before.
#[derive(Clone, Copy, Debug, Default)]
struct Lane {
    state: u32,
    len: usize,
    rank: u64,
}

/// The names of a run of positions, found together ([`Filters::write_run`]).
#[derive(Debug, Default)]
pub(crate) struct Run {
    lanes: Vec<(usize, Lane)>,
    ats: Vec<At>,
    /// The names.
    outs: Vec<Vec<u8>>,
    /// Each name's words: (level, value).
    words: Vec<Vec<(usize, u64)>>,
}

impl Run {
    /// Name `k` of the run.
    pub(crate) fn name(&self, k: usize) -> &[u8] {
        &self.outs[k]
    }
}

/// A unit of a pattern before its levels are laid out.
enum Unit {
    Fixed(Box<[u8]>),
    Mark,
    Slot(usize),
}

/// What counting a pattern costs, checked against [`MAX_CELLS`] and
/// [`MAX_WORK`].
struct Budget {
    cells: usize,
    work: u64,
}

impl Budget {
    fn cells(&mut self, n: usize, states: usize, lens: usize) -> Result<(), Error> {
        self.cells += n;
        if self.cells > MAX_CELLS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "the filters need more than {} MiB of tables ({states} automaton states × {lens} lengths per place in a pattern); use fewer excluded words, simpler regexes or a smaller max_length",
                    (MAX_CELLS * 8) >> 20
                ),
            ));
        }
        Ok(())
    }

    fn work(&mut self, n: u64) -> Result<(), Error> {
        self.work += n;
        if self.work > MAX_WORK {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "counting the filtered names would take more than {MAX_WORK} automaton steps (a long word list after a piece that leaves many automaton states); put the long list first in the pattern, or use fewer excluded words"
                ),
            ));
        }
        Ok(())
    }
}

impl Filters {
    /// Compiles `filter` for the compiled `patterns` (their word tables in
    /// `tables`); `None` when the filter leaves every name in.
    fn compile_any(
        filter: &Filter,
        patterns: &[Pattern],
        tables: &[Table],
    ) -> Result<Option<Filters>, Error> {
        if filter.is_empty() {
            return Ok(None);
        }
        if let (Some(min), Some(max)) = (filter.min_length, filter.max_length)
            && min > max
        {
            return Err(Error::new(
                ErrorKind::BadValue,
                format!(
                    "filter min_length {min} is more than max_length {max}, which leaves no name; lower min_length or raise max_length"
                ),
            ));
        }
        for p in patterns.iter().filter(|p| p.unicode) {
            if let Some(slot) = composed_unicode(p, tables) {
                return Err(Error::new(
                    ErrorKind::BadValue,
                    format!(
                        "pattern `{}` composes a Unicode word (piece {}) with other pieces into one label, whose A-label a filter cannot follow piece by piece; give the Unicode words a label of their own (`{{keyword}}.{{tld}}`, `{{list:x}}.{{keyword}}.{{tld}}`), or leave the filter out of this spec",
                        p.text,
                        slot + 1
                    ),
                ));
            }
        }
        // A Unicode word alone in its label is written as its A-label:
        // the automaton reads those.
        let mut a_labels: Vec<Option<Arc<Table>>> = vec![None; tables.len()];
        for p in patterns.iter().filter(|p| p.unicode) {
            for slot in &p.slots {
                if let Slot::Words { table } = slot
                    && tables[*table].has_unicode()
                    && a_labels[*table].is_none()
                {
                    a_labels[*table] = Some(Arc::new(tables[*table].a_labels()));
                }
            }
        }
        let mut canonical = Vec::new();
        let mut note = |bytes: &[u8]| {
            canonical.extend_from_slice(&to_u64(bytes.len()).to_le_bytes());
            canonical.extend_from_slice(bytes);
        };
        note(format!("{:?} {:?}", filter.min_length, filter.max_length).as_bytes());
        let mut words = Vec::new();
        for list in &filter.exclude {
            let table = words::words(list, "excluded word")?;
            for word in table.iter() {
                let mut ascii = Vec::new();
                crate::space::encode_labels(word.as_bytes(), &mut ascii);
                words.push(ascii);
            }
        }
        words.sort();
        words.dedup();
        // Each section says how many it holds, so that no two filters
        // encode alike.
        note(format!("{} excluded words", words.len()).as_bytes());
        for word in &words {
            note(word);
        }
        let regexes = |list: &[String], what: &str| -> Vec<(String, String)> {
            list.iter()
                .enumerate()
                .map(|(i, re)| (re.clone(), format!("{what} item {}", i + 1)))
                .collect()
        };
        let exclude = regexes(&filter.exclude_regex, "exclude_regex");
        let include = regexes(&filter.include_regex, "include_regex");
        note(format!("{} excluded regexes", exclude.len()).as_bytes());
        for (re, _) in &exclude {
            note(re.as_bytes());
        }
        note(format!("{} included regexes", include.len()).as_bytes());
        for (re, _) in &include {
            note(re.as_bytes());
        }
        let automaton = Automaton::build(&words, &exclude, &include)?;
        if let Some(min) = filter.min_length
            && min > MAX_NAME_LEN
        {
            return Err(Error::new(
                ErrorKind::Selection,
                format!(
                    "filter min_length {min} is longer than any name can be ({MAX_NAME_LEN} octets), which leaves no name; lower min_length"
                ),
            ));
        }
        // No name is longer than MAX_NAME_LEN: a larger bound is no bound.
        let max = filter.max_length.filter(|&max| max < MAX_NAME_LEN);
        let bounds = Bounds::new(filter.min_length, max);
        let mut budget = Budget { cells: 0, work: 0 };
        let mut programs = Vec::with_capacity(patterns.len());
        let mut kept = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            let program =
                Program::build(pattern, tables, &a_labels, &automaton, bounds, &mut budget)?;
            kept.push(program.count(&automaton, bounds));
            programs.push(program);
        }
        let mut kept_starts = Vec::with_capacity(kept.len());
        let mut sum = 0u64;
        for &k in &kept {
            kept_starts.push(sum);
            sum += k;
        }
        let mut filters = Filters {
            automaton,
            bounds,
            programs,
            counts: kept.clone(),
            starts: kept_starts.clone(),
            kept,
            kept_starts,
            excluded: Vec::new(),
            total: sum,
            canonical,
            summary: filter.summary(),
        };
        filters.exclude_names(&filter.exclude_names, patterns, tables)?;
        Ok(Some(filters))
    }

    /// Compiles `filter` for the compiled `patterns` (their word tables in
    /// `tables`); `None` when the filter leaves every name in. A filter
    /// that leaves no name at all is refused.
    pub(crate) fn compile(
        filter: &Filter,
        patterns: &[Pattern],
        tables: &[Table],
    ) -> Result<Option<Filters>, Error> {
        let filters = Filters::compile_any(filter, patterns, tables)?;
        if filters.as_ref().is_some_and(|f| f.total == 0) {
            return Err(Error::new(
                ErrorKind::Selection,
                format!(
                    "the filter leaves no names ({}); loosen it",
                    filter.summary()
                ),
            ));
        }
        Ok(filters)
    }

    /// What each rule of `filter` (the filter `space` was compiled with)
    /// leaves out by itself.
    pub(crate) fn rules(space: &Space, filter: &Filter) -> Result<Vec<FilterRule>, Error> {
        let mut rules = Vec::new();
        let only = Filter::default;
        if let Some(min) = filter.min_length {
            rules.push((
                format!("min_length {min}"),
                Filter {
                    min_length: Some(min),
                    ..only()
                },
            ));
        }
        if let Some(max) = filter.max_length {
            rules.push((
                format!("max_length {max}"),
                Filter {
                    max_length: Some(max),
                    ..only()
                },
            ));
        }
        for list in &filter.exclude {
            let what = match list.source() {
                Some(file) => format!("exclude_file {file} ({} words)", list.len()),
                None => format!("exclude {}", quoted(list)),
            };
            rules.push((
                what,
                Filter {
                    exclude: vec![list.clone()],
                    ..only()
                },
            ));
        }
        for re in &filter.exclude_regex {
            rules.push((
                format!("exclude_regex `{re}`"),
                Filter {
                    exclude_regex: vec![re.clone()],
                    ..only()
                },
            ));
        }
        for re in &filter.include_regex {
            rules.push((
                format!("include_regex `{re}`"),
                Filter {
                    include_regex: vec![re.clone()],
                    ..only()
                },
            ));
        }
        for list in &filter.exclude_names {
            let what = match list.source() {
                Some(file) => format!("exclude_names_file {file} ({} names)", list.len()),
                None => format!("exclude_names {}", quoted(list)),
            };
            rules.push((
                what,
                Filter {
                    exclude_names: vec![list.clone()],
                    ..only()
                },
            ));
        }
        rules
            .into_iter()
            .map(|(rule, filter)| {
                let Some(alone) = Filters::compile_any(&filter, &space.patterns, &space.tables)?
                else {
                    return Ok(FilterRule {
                        rule,
                        excluded: vec![0; space.patterns.len()],
                        example: None,
                    });
                };
                let excluded: Vec<u64> = space
                    .patterns
                    .iter()
                    .zip(&alone.counts)
                    .map(|(p, &kept)| p.count - kept)
                    .collect();
                let example = alone
                    .first_excluded(space)
                    .map(|(p, raw)| space.raw_name(p, raw));
                Ok(FilterRule {
                    rule,
                    excluded,
                    example,
                })
            })
            .collect()
    }

    /// The pattern and unfiltered index of the first name left out.
    fn first_excluded(&self, space: &Space) -> Option<(usize, u64)> {
        if let Some(&rank) = self.excluded.first() {
            // Only whole names are left out: kept ranks are raw indexes.
            let (p, local) = self.locate(rank);
            return Some((p, local));
        }
        let p = (0..space.patterns.len()).find(|&p| self.kept[p] < space.patterns[p].count)?;
        // `x - before(x)`, the names left out before raw index `x`, never
        // decreases: the first name left out is one before the first `x`
        // where it is 1.
        let count = space.patterns[p].count;
        let left_out = |x: u64| {
            if x == count {
                count - self.kept[p]
            } else {
                x - self.rank_raw(space, p, x).0
            }
        };
        let (mut lo, mut hi) = (1, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if left_out(mid) >= 1 {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some((p, lo - 1))
    }

    /// Leaves out the whole names of `lists`, wherever patterns make them.
    fn exclude_names(
        &mut self,
        lists: &[WordList],
        patterns: &[Pattern],
        tables: &[Table],
    ) -> Result<(), Error> {
        if lists.iter().all(WordList::is_empty) {
            return Ok(());
        }
        let mut lookup = Lookup::new(patterns, tables);
        let mut ranks = Vec::new();
        let mut values = Vec::new();
        for list in lists {
            for (i, raw) in list.iter().enumerate() {
                let name = normalise_name(raw).map_err(|why| {
                    Error::new(
                        ErrorKind::BadValue,
                        format!("excluded name `{raw}` ({}): {why}", list.locate(i)),
                    )
                })?;
                let unicode = unicode_forms(&name);
                for (p, pattern) in patterns.iter().enumerate() {
                    let mut parses = Vec::new();
                    let forms = if pattern.unicode {
                        &unicode[..]
                    } else {
                        std::slice::from_ref(&name)
                    };
                    for form in forms {
                        lookup.parse(pattern, form.as_bytes(), &mut values, &mut parses);
                    }
                    for parse in parses {
                        let cx = Ctx {
                            pattern,
                            tables,
                            automaton: &self.automaton,
                            bounds: self.bounds,
                        };
                        let (before, kept) = self.programs[p].rank(cx, &parse);
                        if kept {
                            ranks.push(self.kept_starts[p] + before);
                        }
                    }
                }
            }
        }
        ranks.sort_unstable();
        ranks.dedup();
        // The names left out, whatever the list's order or repeats.
        let mut hash = Fnv128::new();
        for &rank in &ranks {
            hash.u64(rank);
        }
        self.canonical.extend_from_slice(b"names");
        self.canonical.extend_from_slice(&hash.0.to_le_bytes());
        for (p, count) in self.counts.iter_mut().enumerate() {
            let range = self.kept_starts[p]..self.kept_starts[p] + self.kept[p];
            *count -= to_u64(
                ranks.partition_point(|&r| r < range.end)
                    - ranks.partition_point(|&r| r < range.start),
            );
        }
        let mut sum = 0;
        for (start, &count) in self.starts.iter_mut().zip(&self.counts) {
            *start = sum;
            sum += count;
        }
        self.total = sum;
        self.excluded = ranks;
        Ok(())
    }

    /// The rank among the kept names of the name at filtered `position`
    /// (past the excluded whole names).
    fn kept_rank(&self, position: u64) -> u64 {
        // `excluded[i] - i` kept names remain before excluded name `i`,
        // which never decreases: the excluded names before `position`'s
        // name are those where it is at most `position`.
        let (mut lo, mut hi) = (0, self.excluded.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.excluded[mid] - to_u64(mid) <= position {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        position + to_u64(lo)
    }

    /// The pattern of kept rank `rank`, and the rank within it.
    fn locate(&self, rank: u64) -> (usize, u64) {
        let p = self.kept_starts.partition_point(|&s| s <= rank) - 1;
        // Patterns that keep nothing share a start with the next.
        let p = (p..self.kept.len())
            .find(|&p| rank - self.kept_starts[p] < self.kept[p])
            .unwrap_or(p);
        (p, rank - self.kept_starts[p])
    }

    /// Appends the name at filtered `position` to `out`, and fills `ats`.
    pub(crate) fn write(
        &self,
        space: &Space,
        position: u64,
        out: &mut Vec<u8>,
        ats: &mut Vec<At>,
    ) -> usize {
        let (p, rank) = self.locate(self.kept_rank(position));
        ats.clear();
        ats.resize(self.programs[p].levels.len(), At::default());
        let start = (self.automaton.start(), 0);
        self.programs[p].unrank_from(self.cx(space, p), 0, start, rank, ats, out);
        p
    }

    /// Finds the names at `positions` together, level by level for all
    /// of them where they share a pattern: each name's walk is a chain of
    /// lookups that wait for each other, and the names' chains do not.
    pub(crate) fn write_run(&self, space: &Space, positions: &[u64], run: &mut Run) {
        let n = positions.len();
        let width = self
            .programs
            .iter()
            .map(|p| p.levels.len())
            .max()
            .unwrap_or(0);
        run.ats.resize(n * width, At::default());
        run.outs
            .resize_with(n, || Vec::with_capacity(space.max_name_len));
        run.words.resize_with(n, Vec::new);
        for words in &mut run.words {
            words.clear();
        }
        run.lanes.clear();
        let start = self.automaton.start();
        for (k, &position) in positions.iter().enumerate() {
            let (p, rank) = self.locate(self.kept_rank(position));
            run.lanes.push((
                p,
                Lane {
                    state: start,
                    len: 0,
                    rank,
                },
            ));
            run.outs[k].clear();
        }
        let first = run.lanes.first().map_or(0, |lane| lane.0);
        let shared = run.lanes.iter().all(|lane| lane.0 == first);
        if let (true, Some(ops)) = (shared, &self.programs[first].ops) {
            let cx = self.cx(space, first);
            for op in ops {
                self.walk_op(cx, op, &mut run.lanes, &mut run.outs, &mut run.words);
            }
            return;
        }
        if shared {
            let program = &self.programs[first];
            let cx = self.cx(space, first);
            for i in 0..program.levels.len() {
                for ((lane, ats), out) in run
                    .lanes
                    .iter_mut()
                    .zip(run.ats.chunks_mut(width))
                    .zip(run.outs.iter_mut())
                {
                    program.unrank_level(cx, i, &mut lane.1, ats, out);
                }
            }
        } else {
            for ((&(p, lane), ats), out) in run
                .lanes
                .iter()
                .zip(run.ats.chunks_mut(width))
                .zip(run.outs.iter_mut())
            {
                let state = (lane.state, lane.len);
                self.programs[p].unrank_from(self.cx(space, p), 0, state, lane.rank, ats, out);
            }
        }
        // The words' values, for the names' pieces.
        for ((&(p, _), ats), words) in run
            .lanes
            .iter()
            .zip(run.ats.chunks(width))
            .zip(run.words.iter_mut())
        {
            for &level in &self.programs[p].word_levels {
                if level != usize::MAX {
                    words.push((level, ats[level].value));
                }
            }
        }
    }

    /// One [`Op`] of the walks of a run's names to them.
    fn walk_op(
        &self,
        cx: Ctx<'_>,
        op: &Op,
        lanes: &mut [(usize, Lane)],
        outs: &mut [Vec<u8>],
        words: &mut [Vec<(usize, u64)>],
    ) {
        let (lens, bounds, automaton) = (cx.bounds.lens, cx.bounds, &self.automaton);
        let lanes = lanes.iter_mut().map(|(_, lane)| lane).zip(outs);
        match op {
            Op::Fixed { bytes, to, counted } => {
                for (lane, out) in lanes {
                    out.extend_from_slice(bytes);
                    lane.state = to[lane.state as usize];
                    lane.len = bounds
                        .add(lane.len, bytes.len(), *counted)
                        .unwrap_or(lane.len);
                }
            }
            Op::Char {
                chars,
                sums,
                counted,
            } => {
                for (lane, out) in lanes {
                    let (k, rank) = sums.find(lane.state, lane.len, lens, lane.rank);
                    lane.rank = rank;
                    let c = chars[k];
                    out.push(c);
                    lane.state = automaton.step(lane.state, c);
                    lane.len = bounds.add(lane.len, 1, *counted).unwrap_or(lane.len);
                }
            }
            Op::Words {
                level,
                table,
                a_labels,
                sums,
                counted,
            } => {
                let table = a_labels.as_deref().unwrap_or(&cx.tables[*table]);
                for ((lane, out), words) in lanes.zip(words) {
                    let (k, rank) = sums.find(lane.state, lane.len, lens, lane.rank);
                    words.push((*level, to_u64(k)));
                    lane.rank = rank;
                    let word = table.bytes(k);
                    out.extend_from_slice(word);
                    lane.state = automaton.walk(lane.state, word);
                    lane.len = bounds
                        .add(lane.len, word.len(), *counted)
                        .unwrap_or(lane.len);
                }
            }
        }
    }

    /// The pattern and unfiltered index within it of the name at filtered
    /// `position`.
    pub(crate) fn raw(&self, space: &Space, position: u64) -> (usize, u64) {
        let mut out = Vec::with_capacity(space.max_name_len);
        let mut ats = Vec::new();
        let p = self.write(space, position, &mut out, &mut ats);
        (p, self.programs[p].raw_index(&space.patterns[p], &ats))
    }

    /// A sequential walk from filtered `position`.
    pub(crate) fn walk(&self, space: &Space, position: u64) -> Walk {
        let mut walk = Walk {
            pattern: 0,
            rank: self.kept_rank(position),
            name: Vec::with_capacity(space.max_name_len),
            ats: Vec::new(),
            excluded: 0,
        };
        walk.excluded = self.excluded.partition_point(|&e| e < walk.rank);
        let (p, _) = self.locate(walk.rank);
        walk.pattern = p;
        self.write(space, position, &mut walk.name, &mut walk.ats);
        walk
    }

    /// Appends the current name of `walk` and the next ones that differ
    /// from it only in the last character of the pattern's last charset
    /// (each followed by `terminator`), at most `max` names (`max > 0`);
    /// returns how many. `walk` is left at the last one appended.
    pub(crate) fn emit_run(
        &self,
        space: &Space,
        walk: &mut Walk,
        out: &mut Vec<u8>,
        max: u64,
        terminator: u8,
    ) -> u64 {
        out.extend_from_slice(&walk.name);
        out.push(terminator);
        let program = &self.programs[walk.pattern];
        let Some((i, exit, counted)) = program.inner else {
            return 1;
        };
        let Slot::Chars(chars) = &space.patterns[walk.pattern].slots[program.slot_of(i)] else {
            return 1;
        };
        // Names past the next excluded whole name are left to `step`.
        let stop = self
            .excluded
            .get(walk.excluded)
            .map_or(u64::MAX, |&e| e - walk.rank);
        let max = max.min(stop);
        let at = walk.ats[i];
        let Some(len) = self.bounds.add(at.len, 1, counted) else {
            return 1;
        };
        let table = &program.tables[exit];
        let lens = self.bounds.lens;
        // The line in a fixed-width buffer, appended in one move of its
        // width and cut back.
        let n = walk.name.len() + 1;
        let mut line = [0u8; LINE];
        // `line` is written once, here, and only read in the loop.
        let short = n <= LINE;
        if short {
            line[..n - 1].copy_from_slice(&walk.name);
            line[n - 1] = terminator;
        }
        let byte = at.start;
        let mut emitted = 1;
        let mut value = at.value + 1;
        while emitted < max && value < to_u64(chars.chars.len()) {
            let c = chars.chars[index(value)];
            let to = self.automaton.step(at.state, c);
            if to != DEAD && table[to as usize * lens + len] > 0 {
                let start = out.len();
                walk.name[byte] = c;
                if short && out.capacity() - start >= LINE {
                    // The line as it was, patched where it lands: a byte
                    // written into `line` and read back at once in the
                    // move would wait for the store.
                    out.extend_from_slice(&line);
                    out.truncate(start + n);
                    out[start + byte] = c;
                } else {
                    out.extend_from_slice(&walk.name);
                    out.push(terminator);
                }
                walk.ats[i].value = value;
                walk.rank += 1;
                emitted += 1;
            }
            value += 1;
        }
        if value == to_u64(chars.chars.len()) {
            // No character after the current one is kept: the next step
            // need not try them again.
            walk.ats[i].value = value - 1;
        }
        emitted
    }

    /// Moves `walk` to the next kept name that is not left out.
    pub(crate) fn step(&self, space: &Space, walk: &mut Walk) {
        loop {
            self.step_kept(space, walk);
            walk.rank += 1;
            while self
                .excluded
                .get(walk.excluded)
                .is_some_and(|&e| e < walk.rank)
            {
                walk.excluded += 1;
            }
            if self.excluded.get(walk.excluded) != Some(&walk.rank) {
                return;
            }
        }
    }

    fn step_kept(&self, space: &Space, walk: &mut Walk) {
        let program = &self.programs[walk.pattern];
        if program.advance(self.cx(space, walk.pattern), walk) {
            return;
        }
        let Some(p) = (walk.pattern + 1..self.kept.len()).find(|&p| self.kept[p] > 0) else {
            return;
        };
        walk.pattern = p;
        walk.name.clear();
        walk.ats.clear();
        walk.ats
            .resize(self.programs[p].levels.len(), At::default());
        let start = (self.automaton.start(), 0);
        self.programs[p].unrank_from(
            self.cx(space, p),
            0,
            start,
            0,
            &mut walk.ats,
            &mut walk.name,
        );
    }

    /// What walking pattern `p` of `space` reads.
    fn cx<'a>(&'a self, space: &'a Space, p: usize) -> Ctx<'a> {
        Ctx {
            pattern: &space.patterns[p],
            tables: &space.tables,
            automaton: &self.automaton,
            bounds: self.bounds,
        }
    }

    /// The raw index range of pattern `p`'s names kept by the filter
    /// ranks `before` — how many kept names come before raw index `raw`
    /// of pattern `p`, and whether it is kept.
    pub(crate) fn rank_raw(&self, space: &Space, p: usize, raw: u64) -> (u64, bool) {
        let values = slot_values(&space.patterns[p], raw);
        self.programs[p].rank(self.cx(space, p), &values)
    }
}

/// What one rule of a spec's filter leaves out by itself
/// ([`Space::filter_rules`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterRule {
    /// The rule as a spec writes it: `max_length 12`, ``exclude_regex `x$` ``.
    pub rule: String,
    /// How many names of each pattern it leaves out.
    pub excluded: Vec<u64>,
    /// The first name it leaves out, if any.
    pub example: Option<String>,
}

/// A few of a list's words, quoted, for a rule's name.
fn quoted(list: &WordList) -> String {
    let mut shown: Vec<String> = list.iter().take(3).map(|w| format!("`{w}`")).collect();
    if list.len() > 3 {
        shown.push(format!("… ({} words)", list.len()));
    }
    shown.join(" ")
}

impl Filters {
    /// The pieces of the name `walk` is at.
    pub(crate) fn walk_pieces<'s>(&self, space: &'s Space, walk: &Walk) -> Pieces<'s> {
        let program = &self.programs[walk.pattern];
        space.pieces_from(walk.pattern, |slot| {
            walk.ats[program.word_levels[slot]].value
        })
    }

    /// The pieces of name `k` of `run`.
    pub(crate) fn run_pieces<'s>(&self, space: &'s Space, run: &Run, k: usize) -> Pieces<'s> {
        let (p, _) = run.lanes[k];
        let program = &self.programs[p];
        let words = &run.words[k];
        space.pieces_from(p, |slot| {
            let level = program.word_levels[slot];
            words
                .iter()
                .find(|&&(l, _)| l == level)
                .map_or(0, |&(_, value)| value)
        })
    }
}

/// A sequential walk over kept names ([`Filters::walk`]).
pub(crate) struct Walk {
    pattern: usize,
    /// The rank of the current name among the kept names.
    rank: u64,
    /// The current name.
    pub name: Vec<u8>,
    ats: Vec<At>,
    /// The first excluded whole name at or after `rank`.
    excluded: usize,
}

/// The first slot of `pattern` that may put a Unicode word in a label
/// with other pieces, if any.
fn composed_unicode(pattern: &Pattern, tables: &[Table]) -> Option<usize> {
    let slots = &pattern.slots;
    slots.iter().enumerate().position(|(i, slot)| {
        let Slot::Words { table } = slot else {
            return false;
        };
        if !tables[*table].has_unicode() {
            return false;
        }
        let starts = i == 0 || matches!(&slots[i - 1], Slot::Literal(b) if b.ends_with(b"."));
        let ends = slots.get(i + 1).is_none()
            || matches!(&slots[i + 1], Slot::Literal(b) if b.starts_with(b"."));
        !(starts && ends)
    })
}

/// The forms a pattern of Unicode words may have made `name` in before
/// its labels were encoded: each A-label decoded or kept, since a TLD's
/// labels and look-alikes (`{typo}`) are held as A-labels and words as
/// Unicode. Past [`MAX_A_LABELS`] A-labels, only the forms that decode
/// all but the last one to three labels.
fn unicode_forms(name: &str) -> Vec<String> {
    let labels: Vec<&str> = name.split('.').collect();
    let encoded: Vec<usize> = (0..labels.len())
        .filter(|&i| labels[i].starts_with("xn--"))
        .collect();
    let form = |decode: &dyn Fn(usize) -> bool| {
        labels
            .iter()
            .enumerate()
            .map(|(i, &label)| {
                if decode(i) {
                    idna::domain_to_unicode(label).0
                } else {
                    label.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    };
    let mut forms: Vec<String> = if encoded.len() <= MAX_A_LABELS {
        (0..1u32 << encoded.len())
            .map(|set| {
                form(&|i| {
                    encoded
                        .iter()
                        .position(|&e| e == i)
                        .is_some_and(|bit| set >> bit & 1 == 1)
                })
            })
            .collect()
    } else {
        (0..=labels.len().min(3))
            .map(|kept| form(&|i| i < labels.len() - kept))
            .collect()
    };
    forms.sort();
    forms.dedup();
    forms
}

/// The most A-labels of a name whose forms [`unicode_forms`] makes every
/// one of (2^6 forms).
const MAX_A_LABELS: usize = 6;

/// [`Space::index_of`].
pub(crate) fn index_of(space: &Space, name: &str) -> Option<u64> {
    let name = normalise_name(name).ok()?;
    // A pattern of Unicode words makes its names in Unicode form first.
    let unicode = unicode_forms(&name);
    let mut lookup = Lookup::new(&space.patterns, &space.tables);
    let mut values = Vec::new();
    for (p, pattern) in space.patterns.iter().enumerate() {
        let mut parses = Vec::new();
        let forms = if pattern.unicode {
            &unicode[..]
        } else {
            std::slice::from_ref(&name)
        };
        for form in forms {
            lookup.parse(pattern, form.as_bytes(), &mut values, &mut parses);
        }
        for parse in parses {
            let Some(filters) = &space.filters else {
                let local: u64 = parse
                    .iter()
                    .zip(&pattern.places)
                    .map(|(v, place)| v * place)
                    .sum();
                return Some(space.starts[p] + local);
            };
            let (before, kept) = filters.programs[p].rank(filters.cx(space, p), &parse);
            let rank = filters.kept_starts[p] + before;
            if kept && filters.excluded.binary_search(&rank).is_err() {
                return Some(rank - to_u64(filters.excluded.partition_point(|&e| e < rank)));
            }
        }
    }
    None
}

/// An excluded name as names are written: lowercase A-labels, no
/// trailing dot.
fn normalise_name(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err("is empty; remove it".to_owned());
    }
    idna::domain_to_ascii(trimmed)
        .map_err(|_| "is not a valid domain name; fix or remove it".to_owned())
}

/// The value of each slot of `pattern` in its unfiltered index `raw`.
fn slot_values(pattern: &Pattern, raw: u64) -> Vec<u64> {
    pattern
        .cards
        .iter()
        .zip(&pattern.places)
        .map(|(&card, &place)| (raw / place) % card.max(1))
        .collect()
}

impl Program {
    fn build(
        pattern: &Pattern,
        tables: &[Table],
        a_labels: &[Option<Arc<Table>>],
        automaton: &Automaton,
        bounds: Bounds,
        budget: &mut Budget,
    ) -> Result<Program, Error> {
        // A word level reads its words as they are written out.
        let words_of = |table: usize| a_labels[table].as_deref().unwrap_or(&tables[table]);
        let units = units(pattern);
        let states = automaton.states();
        let lens = bounds.lens;
        let size = states * lens;
        // The states each unit (and each character of a charset) can be
        // entered in.
        let mut to = StateSet::new(states);
        let mut after = StateSet::new(states);
        let mut reach: Vec<Vec<u32>> = vec![vec![automaton.start()]];
        let mut inner: Vec<Vec<Vec<u32>>> = Vec::with_capacity(units.len());
        let mut counted = Vec::with_capacity(units.len());
        let mut marked = false;
        for unit in &units {
            counted.push(!marked);
            let from = reach.last().expect("the start is reached");
            let mut inside = Vec::new();
            to.clear();
            match unit {
                Unit::Fixed(bytes) => {
                    budget.work(to_u64(from.len() * bytes.len()))?;
                    for &s in from {
                        to.insert(automaton.walk(s, bytes));
                    }
                }
                Unit::Mark => {
                    marked = true;
                    for &s in from {
                        to.insert(automaton.step(s, MARK));
                    }
                }
                Unit::Slot(slot) => match &pattern.slots[*slot] {
                    Slot::Words { table } => {
                        let table = words_of(*table);
                        budget.work(to_u64(from.len() * table.heap_bytes()))?;
                        for &s in from {
                            for w in 0..table.len() {
                                to.insert(automaton.walk(s, table.bytes(w)));
                            }
                        }
                    }
                    Slot::Number { lo, hi, width } => {
                        budget.work(to_u64(from.len()).saturating_mul(hi - lo + 1))?;
                        let mut buf: NumberBuf = [0; 20];
                        for &s in from {
                            for v in *lo..=*hi {
                                to.insert(automaton.walk(s, number(v, *width, &mut buf)));
                            }
                        }
                    }
                    Slot::Chars(chars) => {
                        inside.push(from.clone());
                        if chars.min == 0 {
                            for &s in from {
                                to.insert(s);
                            }
                        }
                        for j in 0..chars.max {
                            let before = &inside[j];
                            budget.work(to_u64(before.len() * chars.chars.len()))?;
                            after.clear();
                            for &s in before {
                                for &c in chars.chars.iter() {
                                    after.insert(automaton.step(s, c));
                                }
                            }
                            if j + 1 >= chars.min {
                                for &s in &after.list {
                                    to.insert(s);
                                }
                            }
                            inside.push(after.list.clone());
                        }
                    }
                    Slot::Literal(_) => unreachable!("literals are fixed units"),
                },
            }
            inner.push(inside);
            reach.push(to.list.clone());
        }

        // The tables, last first.
        let mut program = Program {
            levels: Vec::new(),
            tables: Vec::new(),
            entry: 0,
            fixed_after: Vec::new(),
            ops: None,
            inner: None,
            choice_levels: Vec::new(),
            word_levels: Vec::new(),
        };
        budget.cells(size, states, lens)?;
        let mut accept = vec![0u64; size].into_boxed_slice();
        for &s in reach.last().expect("reach has an end") {
            for len in 0..lens {
                if automaton.accepts(s) && len >= bounds.min {
                    accept[s as usize * lens + len] = 1;
                }
            }
        }
        program.tables.push(accept);
        let mut exit = 0;
        let mut levels_rev: Vec<Vec<Level>> = Vec::new();
        for (u, unit) in units.iter().enumerate().rev() {
            let from = &reach[u];
            let counted = counted[u];
            budget.cells(size, states, lens)?;
            let mut table = vec![0u64; size].into_boxed_slice();
            let mut levels = Vec::new();
            match unit {
                Unit::Fixed(_) | Unit::Mark => {
                    let (bytes, n): (&[u8], usize) = match unit {
                        Unit::Fixed(bytes) => (bytes, bytes.len()),
                        _ => (&[MARK], 0),
                    };
                    let next = &program.tables[exit];
                    let mut jumps = vec![DEAD; states];
                    budget.cells(states / 2, states, lens)?;
                    for &s in from {
                        let t = automaton.walk(s, bytes);
                        jumps[s as usize] = t;
                        if t == DEAD {
                            continue;
                        }
                        for len in 0..lens {
                            if let Some(l2) = bounds.add(len, n, counted) {
                                table[s as usize * lens + len] = next[t as usize * lens + l2];
                            }
                        }
                    }
                    levels.push(match unit {
                        Unit::Fixed(bytes) => Level::Fixed {
                            bytes: bytes.clone(),
                            counted,
                            exit,
                            to: jumps.into(),
                        },
                        _ => Level::Mark {
                            exit,
                            to: jumps.into(),
                        },
                    });
                }
                Unit::Slot(slot) => match &pattern.slots[*slot] {
                    Slot::Words { table: t } => {
                        let words = words_of(*t);
                        let next = &program.tables[exit];
                        budget.work(to_u64(
                            from.len() * (words.heap_bytes() + words.len() * lens),
                        ))?;
                        for &s in from {
                            for w in 0..words.len() {
                                let word = words.bytes(w);
                                let to = automaton.walk(s, word);
                                if to == DEAD {
                                    continue;
                                }
                                for len in 0..lens {
                                    if let Some(l2) = bounds.add(len, word.len(), counted) {
                                        table[s as usize * lens + len] +=
                                            next[to as usize * lens + l2];
                                    }
                                }
                            }
                        }
                        // Words are found by their sums, as characters are.
                        let sums = Some(Arc::new(Sums::build(
                            words.len(),
                            |w, out| out.extend_from_slice(words.bytes(w)),
                            (from, &table, next),
                            automaton,
                            (bounds, counted),
                            budget,
                        )?));
                        levels.push(Level::Words {
                            slot: *slot,
                            table: *t,
                            a_labels: a_labels[*t].clone(),
                            counted,
                            exit,
                            sums,
                        });
                    }
                    &Slot::Number { lo, hi, width } => {
                        let next = &program.tables[exit];
                        let mut buf: NumberBuf = [0; 20];
                        let values = hi - lo + 1;
                        budget.work(
                            to_u64(from.len())
                                .saturating_mul(values)
                                .saturating_mul(to_u64(20 + lens)),
                        )?;
                        for &s in from {
                            for v in lo..=hi {
                                let n = number(v, width, &mut buf);
                                let to = automaton.walk(s, n);
                                if to == DEAD {
                                    continue;
                                }
                                for len in 0..lens {
                                    if let Some(l2) = bounds.add(len, n.len(), counted) {
                                        table[s as usize * lens + len] +=
                                            next[to as usize * lens + l2];
                                    }
                                }
                            }
                        }
                        // Numbers are found by their sums too.
                        let count = usize::try_from(values).unwrap_or(usize::MAX);
                        let sums = Some(Arc::new(Sums::build(
                            count,
                            |v, out| {
                                let mut buf: NumberBuf = [0; 20];
                                out.extend_from_slice(number(lo + to_u64(v), width, &mut buf));
                            },
                            (from, &table, next),
                            automaton,
                            (bounds, counted),
                            budget,
                        )?));
                        levels.push(Level::Number {
                            slot: *slot,
                            lo,
                            hi,
                            width,
                            counted,
                            exit,
                            sums,
                        });
                    }
                    Slot::Chars(chars) => {
                        let inside = &inner[u];
                        let choices = chars.max - chars.min + 1;
                        // exits[len - min][j]: the table after character j
                        // of a string of length len.
                        let mut firsts = Vec::with_capacity(choices);
                        let mut after: Vec<Vec<usize>> = vec![vec![usize::MAX; choices]; chars.max];
                        let mut sums: Vec<Vec<Option<Arc<Sums>>>> = (0..chars.max)
                            .map(|_| (0..choices).map(|_| None).collect())
                            .collect();
                        for len in chars.min..=chars.max {
                            let mut cur = exit;
                            for j in (0..len).rev() {
                                after[j][len - chars.min] = cur;
                                budget.cells(size, states, lens)?;
                                let mut t = vec![0u64; size].into_boxed_slice();
                                let next = &program.tables[cur];
                                for &s in &inside[j] {
                                    for &c in chars.chars.iter() {
                                        let to = automaton.step(s, c);
                                        if to == DEAD {
                                            continue;
                                        }
                                        for len in 0..lens {
                                            if let Some(l2) = bounds.add(len, 1, counted) {
                                                t[s as usize * lens + len] +=
                                                    next[to as usize * lens + l2];
                                            }
                                        }
                                    }
                                }
                                // Characters are found by their sums: one
                                // row of a few numbers, not a step and a
                                // count per character tried.
                                sums[j][len - chars.min] = Some(Arc::new(Sums::build(
                                    chars.chars.len(),
                                    |c, out| out.push(chars.chars[c]),
                                    (&inside[j], &t, next),
                                    automaton,
                                    (bounds, counted),
                                    budget,
                                )?));
                                program.tables.push(t);
                                cur = program.tables.len() - 1;
                            }
                            firsts.push(cur);
                        }
                        for &first in &firsts {
                            for (cell, &n) in table.iter_mut().zip(program.tables[first].iter()) {
                                *cell += n;
                            }
                        }
                        // The levels are reversed at the end: characters
                        // last first, then the length.
                        let length_from_end = chars.max;
                        for (j, sums) in sums.into_iter().enumerate().rev() {
                            levels.push(Level::Char {
                                slot: *slot,
                                j,
                                length: length_from_end,
                                counted,
                                exits: after[j].clone().into(),
                                sums: sums.into(),
                            });
                        }
                        levels.push(Level::Length {
                            slot: *slot,
                            min: chars.min,
                            exits: firsts.into(),
                        });
                    }
                    Slot::Literal(_) => unreachable!("literals are fixed units"),
                },
            }
            program.tables.push(table);
            exit = program.tables.len() - 1;
            levels_rev.push(levels);
        }
        program.entry = exit;
        // Lay the levels out first to last; a character's `length` was
        // its distance back to its length level, now its index.
        for levels in levels_rev.into_iter().rev() {
            let base = program.levels.len();
            for level in levels.into_iter().rev() {
                program.levels.push(match level {
                    Level::Char {
                        slot,
                        j,
                        counted,
                        exits,
                        sums,
                        ..
                    } => Level::Char {
                        slot,
                        j,
                        length: base,
                        counted,
                        exits,
                        sums,
                    },
                    other => other,
                });
            }
        }
        let n = program.levels.len();
        program.word_levels = vec![usize::MAX; pattern.slots.len()];
        for (i, level) in program.levels.iter().enumerate() {
            if let Level::Words { slot, .. } = level {
                program.word_levels[*slot] = i;
            }
        }
        program.ops = program.ops(pattern);
        program.choice_levels = (0..n)
            .filter(|&i| match &program.levels[i] {
                Level::Fixed { .. } | Level::Mark { .. } => false,
                Level::Length { exits, .. } => exits.len() > 1,
                _ => true,
            })
            .collect();
        program.inner = program
            .levels
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, level)| match level {
                Level::Fixed { .. } | Level::Mark { .. } => None,
                Level::Char { exits, counted, .. } if exits.len() == 1 => {
                    Some(Some((i, exits[0], *counted)))
                }
                _ => Some(None),
            })
            .flatten();
        program.fixed_after = (0..n)
            .map(|i| {
                program.levels[i + 1..]
                    .iter()
                    .all(|l| matches!(l, Level::Fixed { .. } | Level::Mark { .. }))
            })
            .collect();
        Ok(program)
    }

    /// The levels as [`Op`]s, when each is one.
    fn ops(&self, pattern: &Pattern) -> Option<Vec<Op>> {
        let mut ops = Vec::with_capacity(self.levels.len());
        for (i, level) in self.levels.iter().enumerate() {
            ops.push(match level {
                Level::Fixed {
                    bytes, counted, to, ..
                } => Op::Fixed {
                    bytes: bytes.clone(),
                    to: to.clone(),
                    counted: *counted,
                },
                Level::Mark { to, .. } => Op::Fixed {
                    bytes: Box::default(),
                    to: to.clone(),
                    counted: false,
                },
                Level::Length { exits, .. } if exits.len() == 1 => continue,
                Level::Char {
                    slot,
                    counted,
                    sums,
                    ..
                } => match (&pattern.slots[*slot], &sums[..]) {
                    (Slot::Chars(chars), [Some(sums)]) if sums.block == 1 => Op::Char {
                        chars: chars.chars.clone(),
                        sums: sums.clone(),
                        counted: *counted,
                    },
                    _ => return None,
                },
                Level::Words {
                    table,
                    a_labels,
                    counted,
                    sums: Some(sums),
                    ..
                } if sums.block == 1 => Op::Words {
                    level: i,
                    table: *table,
                    a_labels: a_labels.clone(),
                    sums: sums.clone(),
                    counted: *counted,
                },
                _ => return None,
            });
        }
        Some(ops)
    }

    /// The slot of level `i`, which is a character's.
    fn slot_of(&self, i: usize) -> usize {
        match &self.levels[i] {
            Level::Char { slot, .. } => *slot,
            _ => unreachable!("only a character level is stepped in place"),
        }
    }

    /// How many names of the pattern the filter keeps.
    fn count(&self, automaton: &Automaton, bounds: Bounds) -> u64 {
        self.tables[self.entry][automaton.start() as usize * bounds.lens]
    }

    #[inline(always)]
    fn cell(&self, table: usize, state: u32, len: Option<usize>, lens: usize) -> u64 {
        match len {
            Some(len) if state != DEAD => self.tables[table][state as usize * lens + len],
            _ => 0,
        }
    }

    /// Walks level `i` with choice `value` from `state`/`len`: the bytes it
    /// writes (`buf` holds a number's digits), the state and length after
    /// it, and the table of the levels after it.
    #[inline(always)]
    fn choose<'a>(
        &'a self,
        cx: Ctx<'a>,
        i: usize,
        value: u64,
        ats: &[At],
        (state, len): (u32, usize),
        buf: &'a mut NumberBuf,
    ) -> (&'a [u8], u32, Option<usize>, usize) {
        let Ctx {
            pattern,
            tables,
            automaton,
            bounds,
        } = cx;
        let lens = bounds.lens;
        let (bytes, to, l2, table): (&[u8], u32, Option<usize>, usize) = match &self.levels[i] {
            Level::Fixed {
                bytes,
                counted,
                exit,
                to,
            } => (
                bytes,
                to[state as usize],
                bounds.add(len, bytes.len(), *counted),
                *exit,
            ),
            Level::Mark { exit, to } => (&[], to[state as usize], Some(len), *exit),
            Level::Words {
                table,
                a_labels,
                counted,
                exit,
                ..
            } => {
                let words = a_labels.as_deref().unwrap_or(&tables[*table]);
                let word = words.bytes(index(value));
                (
                    word,
                    automaton.walk(state, word),
                    bounds.add(len, word.len(), *counted),
                    *exit,
                )
            }
            Level::Number {
                lo,
                width,
                counted,
                exit,
                ..
            } => {
                let n = number(lo + value, *width, buf);
                (
                    n,
                    automaton.walk(state, n),
                    bounds.add(len, n.len(), *counted),
                    *exit,
                )
            }
            Level::Length { exits, .. } => (&[], state, Some(len), exits[index(value)]),
            Level::Char {
                slot,
                length,
                counted,
                exits,
                ..
            } => {
                let Slot::Chars(chars) = &pattern.slots[*slot] else {
                    unreachable!("a character level is a charset's")
                };
                let c = &chars.chars[index(value)..=index(value)];
                (
                    c,
                    automaton.step(state, c[0]),
                    bounds.add(len, 1, *counted),
                    exits[index(ats[*length].value)],
                )
            }
        };
        let _ = lens;
        (bytes, to, l2, table)
    }

    /// The prefix sums of level `i`'s choices, if it keeps them.
    fn sums(&self, i: usize, ats: &[At]) -> Option<&Sums> {
        match &self.levels[i] {
            Level::Words { sums, .. } | Level::Number { sums, .. } => sums.as_deref(),
            Level::Char { sums, length, .. } => sums.get(index(ats[*length].value))?.as_deref(),
            _ => None,
        }
    }

    /// How many choices level `i` has, or 0 for a level that takes none
    /// here (fixed, or a character past its string's length).
    fn choices(&self, cx: Ctx<'_>, i: usize, ats: &[At]) -> u64 {
        let Ctx {
            pattern, tables, ..
        } = cx;
        match &self.levels[i] {
            Level::Fixed { .. } | Level::Mark { .. } => 0,
            Level::Words { table, .. } => to_u64(tables[*table].len()),
            Level::Number { lo, hi, .. } => hi - lo + 1,
            Level::Length { exits, .. } => to_u64(exits.len()),
            Level::Char {
                slot, j, length, ..
            } => {
                let Slot::Chars(chars) = &pattern.slots[*slot] else {
                    unreachable!("a character level is a charset's")
                };
                let len = chars.min + index(ats[*length].value);
                if *j < len {
                    to_u64(chars.chars.len())
                } else {
                    0
                }
            }
        }
    }

    /// Walks levels `from..` from `state`/`len` to the kept name of rank
    /// `rank` among those that share the levels before, appending its
    /// bytes to `out` and noting where each level is in `ats`.
    fn unrank_from(
        &self,
        cx: Ctx<'_>,
        from: usize,
        (state, len): (u32, usize),
        rank: u64,
        ats: &mut [At],
        out: &mut Vec<u8>,
    ) {
        let mut lane = Lane { state, len, rank };
        for i in from..self.levels.len() {
            self.unrank_level(cx, i, &mut lane, ats, out);
        }
    }

    /// Level `i` of a walk to a kept name: its choice, the bytes it
    /// appends to `out`, and where `lane` is after it.
    #[inline(always)]
    fn unrank_level(
        &self,
        cx: Ctx<'_>,
        i: usize,
        lane: &mut Lane,
        ats: &mut [At],
        out: &mut Vec<u8>,
    ) {
        let mut buf: NumberBuf = [0; 20];
        let Lane {
            state,
            len,
            mut rank,
        } = *lane;
        ats[i].state = state;
        ats[i].len = len;
        ats[i].start = out.len();
        // The common levels first, without looking their choices up.
        match &self.levels[i] {
            Level::Fixed {
                bytes, to, counted, ..
            } => {
                out.extend_from_slice(bytes);
                lane.state = to[state as usize];
                lane.len = cx.bounds.add(len, bytes.len(), *counted).unwrap_or(len);
                return;
            }
            Level::Mark { to, .. } => {
                lane.state = to[state as usize];
                return;
            }
            Level::Length { exits, .. } if exits.len() == 1 => {
                ats[i].value = 0;
                return;
            }
            Level::Char {
                slot,
                counted,
                sums,
                ..
            } if matches!(&sums[..], [Some(sums)] if sums.block == 1) => {
                let (Slot::Chars(chars), Some(sums)) = (&cx.pattern.slots[*slot], &sums[0]) else {
                    unreachable!("a character level of one length keeps its sums")
                };
                let (k, rank) = sums.find(state, len, cx.bounds.lens, rank);
                ats[i].value = to_u64(k);
                let c = chars.chars[k];
                out.push(c);
                *lane = Lane {
                    state: cx.automaton.step(state, c),
                    len: cx.bounds.add(len, 1, *counted).unwrap_or(len),
                    rank,
                };
                return;
            }
            _ => {}
        }
        let choices = self.choices(cx, i, ats);
        if choices == 0 {
            if let Level::Fixed { .. } | Level::Mark { .. } = self.levels[i] {
                let (bytes, to, l2, _) = self.choose(cx, i, 0, ats, (state, len), &mut buf);
                out.extend_from_slice(bytes);
                lane.state = to;
                lane.len = l2.unwrap_or(len);
            }
            return;
        }
        let mut value = 0;
        let mut found = false;
        if let Some(sums) = self.sums(i, ats) {
            let (first, before) = sums.skip(state, len, cx.bounds.lens, rank);
            value = first;
            rank -= before;
            // A sum per choice finds the choice itself.
            found = sums.block == 1;
        }
        while !found {
            debug_assert!(value < choices, "rank past the level's names");
            let (_, to, l2, table) = self.choose(cx, i, value, ats, (state, len), &mut buf);
            let count = self.cell(table, to, l2, cx.bounds.lens);
            if rank < count {
                found = true;
            } else {
                rank -= count;
                value += 1;
            }
        }
        ats[i].value = value;
        let (bytes, to, l2, _) = self.choose(cx, i, value, ats, (state, len), &mut buf);
        out.extend_from_slice(bytes);
        *lane = Lane {
            state: to,
            len: l2.unwrap_or(len),
            rank,
        };
    }

    /// Moves `walk` to the next kept name of the pattern; `false` when it
    /// was the last.
    fn advance(&self, cx: Ctx<'_>, walk: &mut Walk) -> bool {
        let mut buf: NumberBuf = [0; 20];
        let ats = &mut walk.ats;
        for &i in self.choice_levels.iter().rev() {
            let choices = self.choices(cx, i, ats);
            let (state, len) = (ats[i].state, ats[i].len);
            let mut value = ats[i].value + 1;
            while value < choices {
                let (bytes, to, l2, table) = self.choose(cx, i, value, ats, (state, len), &mut buf);
                if self.cell(table, to, l2, cx.bounds.lens) > 0 {
                    let start = ats[i].start;
                    ats[i].value = value;
                    if self.fixed_after[i] && matches!(self.levels[i], Level::Char { .. }) {
                        // Only this character changes.
                        walk.name[start] = bytes[0];
                        return true;
                    }
                    walk.name.truncate(start);
                    walk.name.extend_from_slice(bytes);
                    let l2 = l2.unwrap_or(len);
                    self.unrank_from(cx, i + 1, (to, l2), 0, ats, &mut walk.name);
                    return true;
                }
                value += 1;
            }
        }
        false
    }

    /// How many kept names of the pattern come before the one whose slots
    /// have `values`, and whether it is kept itself.
    fn rank(&self, cx: Ctx<'_>, values: &[u64]) -> (u64, bool) {
        let Ctx {
            pattern,
            automaton,
            bounds,
            ..
        } = cx;
        let mut ats = vec![At::default(); self.levels.len()];
        let mut buf: NumberBuf = [0; 20];
        let (mut state, mut len) = (automaton.start(), 0);
        let mut before = 0;
        // A charset slot's string, as (length, number among that length).
        let mut string = (0usize, 0u64);
        for i in 0..self.levels.len() {
            ats[i].state = state;
            ats[i].len = len;
            let value = match &self.levels[i] {
                Level::Fixed { .. } | Level::Mark { .. } => 0,
                Level::Words { slot, .. } | Level::Number { slot, .. } => values[*slot],
                Level::Length { slot, min, .. } => {
                    let Slot::Chars(chars) = &pattern.slots[*slot] else {
                        unreachable!("a length level is a charset's")
                    };
                    string = chars.length_of(values[*slot]);
                    to_u64(string.0 - min)
                }
                Level::Char { slot, j, .. } => {
                    let Slot::Chars(chars) = &pattern.slots[*slot] else {
                        unreachable!("a character level is a charset's")
                    };
                    if *j >= string.0 {
                        continue;
                    }
                    let k = to_u64(chars.chars.len());
                    let place = u32::try_from(string.0 - 1 - j)
                        .ok()
                        .and_then(|e| k.checked_pow(e))
                        .unwrap_or(u64::MAX);
                    (string.1 / place) % k
                }
            };
            ats[i].value = value;
            let choices = self.choices(cx, i, &ats);
            if choices > 0 {
                let mut v = 0;
                if let Some(sums) = self.sums(i, &ats) {
                    let (first, skipped) = sums.before(state, len, bounds.lens, value);
                    v = first;
                    before += skipped;
                }
                while v < value {
                    let (_, to, l2, table) = self.choose(cx, i, v, &ats, (state, len), &mut buf);
                    before += self.cell(table, to, l2, bounds.lens);
                    v += 1;
                }
            }
            let (_, to, l2, table) = self.choose(cx, i, value, &ats, (state, len), &mut buf);
            let count = self.cell(table, to, l2, bounds.lens);
            match l2 {
                Some(l2) if count > 0 => {
                    state = to;
                    len = l2;
                }
                _ => return (before, false),
            }
        }
        (before, true)
    }

    /// The unfiltered index within the pattern of the name `ats` holds.
    fn raw_index(&self, pattern: &Pattern, ats: &[At]) -> u64 {
        let mut raw = 0;
        for (i, level) in self.levels.iter().enumerate() {
            match level {
                Level::Words { slot, .. } | Level::Number { slot, .. } => {
                    raw += ats[i].value * pattern.places[*slot];
                }
                Level::Length { slot, .. } => {
                    let Slot::Chars(chars) = &pattern.slots[*slot] else {
                        unreachable!("a length level is a charset's")
                    };
                    // All strings of the shorter lengths come first.
                    let v = index(ats[i].value);
                    let k = to_u64(chars.chars.len());
                    let characters = &ats[i + 1..i + 1 + chars.min + v];
                    let number = characters.iter().fold(0, |n, at| n * k + at.value);
                    let shorter: u64 = chars.blocks[..v].iter().sum();
                    raw += (shorter + number) * pattern.places[*slot];
                }
                _ => {}
            }
        }
        raw
    }
}

impl Sums {
    /// The sums of a level of `n` choices (choice `w` appends its bytes
    /// to the buffer `choice` is given) whose table is `table`, entered in
    /// the states `from`, with table `next` after it.
    fn build(
        n: usize,
        choice: impl Fn(usize, &mut Vec<u8>),
        (from, table, next): (&[u32], &[u64], &[u64]),
        automaton: &Automaton,
        (bounds, counted): (Bounds, bool),
        budget: &mut Budget,
    ) -> Result<Sums, Error> {
        let lens = bounds.lens;
        let live: Vec<usize> = from
            .iter()
            .flat_map(|&s| (0..lens).map(move |len| s as usize * lens + len))
            .filter(|&cell| table[cell] > 0)
            .collect();
        let wanted = live.len() * n;
        let mut block = 1;
        while wanted / block > MAX_SUMS {
            block *= 2;
        }
        let blocks = n.div_ceil(block);
        let width = blocks + 1;
        budget.work(to_u64(live.len() * n * 8))?;
        budget.cells(
            live.len() * width + table.len() / 2,
            automaton.states(),
            lens,
        )?;
        let mut rows = vec![u32::MAX; table.len()];
        let mut cum = Vec::with_capacity(live.len() * (blocks + 1));
        let mut word = Vec::new();
        for &cell in &live {
            let (state, len) = (u32::try_from(cell / lens).unwrap_or(DEAD), cell % lens);
            rows[cell] = u32::try_from(cum.len()).unwrap_or(u32::MAX);
            let mut sum = 0u64;
            for w in 0..n {
                if w % block == 0 {
                    cum.push(sum);
                }
                word.clear();
                choice(w, &mut word);
                let to = automaton.walk(state, &word);
                if to != DEAD
                    && let Some(l2) = bounds.add(len, word.len(), counted)
                {
                    sum += next[to as usize * lens + l2];
                }
            }
            cum.push(sum);
        }
        Ok(Sums {
            block,
            width,
            rows: rows.into(),
            cum: cum.into(),
        })
    }

    /// Where to start looking for the word of rank `rank` from
    /// `state`/`len`: the first word of its block, and the kept names
    /// before that word.
    fn skip(&self, state: u32, len: usize, lens: usize, rank: u64) -> (u64, u64) {
        let Some(row) = self.row(state, len, lens) else {
            return (0, 0);
        };
        // The last sum at most `rank`.
        let k = row.partition_point(|&c| c <= rank) - 1;
        (to_u64(k * self.block), row[k])
    }

    /// The first word of `word`'s block and the kept names before it.
    fn before(&self, state: u32, len: usize, lens: usize, word: u64) -> (u64, u64) {
        let Some(row) = self.row(state, len, lens) else {
            return (0, 0);
        };
        let k = index(word) / self.block;
        (to_u64(k * self.block), row[k])
    }

    /// The choice of rank `rank` from `state`/`len` (a level with a sum
    /// per choice, entered where it keeps names), and the rank left.
    #[inline(always)]
    fn find(&self, state: u32, len: usize, lens: usize, rank: u64) -> (usize, u64) {
        let at = self.rows[state as usize * lens + len] as usize;
        let row = &self.cum[at..at + self.width];
        let k = row.partition_point(|&c| c <= rank) - 1;
        (k, rank - row[k])
    }

    fn row(&self, state: u32, len: usize, lens: usize) -> Option<&[u64]> {
        let at = self.rows[state as usize * lens + len];
        if at == u32::MAX {
            return None;
        }
        let start = at as usize;
        Some(&self.cum[start..start + self.width])
    }
}

/// The units of `pattern`: its slots, with the [`MARK`] where its TLD
/// begins (before the dot), a literal split there if need be.
fn units(pattern: &Pattern) -> Vec<Unit> {
    let mut units: Vec<Unit> = pattern
        .slots
        .iter()
        .enumerate()
        .map(|(i, slot)| match slot {
            Slot::Literal(bytes) => Unit::Fixed(bytes.clone()),
            _ => Unit::Slot(i),
        })
        .collect();
    // How many bytes from the end the mark goes, when they are literal.
    let tail = match &pattern.tld {
        TldSource::Slot(t) => {
            let dot = matches!(&pattern.slots.get(t.wrapping_sub(1)), Some(Slot::Literal(b)) if b.ends_with(b"."));
            if !dot {
                units.insert(*t, Unit::Mark);
                return units;
            }
            units.truncate(*t);
            let after = units.len();
            let Some(Unit::Fixed(bytes)) = units.pop() else {
                unreachable!("checked above")
            };
            units.push(Unit::Fixed(bytes[..bytes.len() - 1].into()));
            units.push(Unit::Mark);
            units.push(Unit::Fixed(b".".as_slice().into()));
            units.push(Unit::Slot(*t));
            debug_assert_eq!(after + 3, units.len());
            return units;
        }
        TldSource::Literal(tld) => tld.len() + 1,
    };
    let mut left = tail;
    let mut at = units.len();
    while at > 0 {
        let Unit::Fixed(bytes) = &units[at - 1] else {
            break;
        };
        if bytes.len() >= left {
            let cut = bytes.len() - left;
            let (head, rest) = bytes.split_at(cut);
            let (head, rest): (Box<[u8]>, Box<[u8]>) = (head.into(), rest.into());
            units.splice(
                at - 1..at,
                [Unit::Fixed(head), Unit::Mark, Unit::Fixed(rest)],
            );
            return units;
        }
        left -= bytes.len();
        at -= 1;
    }
    units.insert(at, Unit::Mark);
    units
}

/// Room for a number's digits: a `u64` has at most 20, and padding goes
/// to the width of the range's end, itself a `u64`.
type NumberBuf = [u8; 20];

/// `value` zero-padded to `width`, in `buf`.
fn number(value: u64, width: usize, buf: &mut NumberBuf) -> &[u8] {
    let start = number_back(value, width, buf, 20);
    &buf[start..]
}

fn index(value: u64) -> usize {
    usize::try_from(value).expect("a choice fits in usize")
}

/// Finds where patterns make a whole name: word tables sorted for lookup,
/// made once per table.
struct Lookup<'t> {
    tables: &'t [Table],
    sorted: Vec<Option<Vec<u32>>>,
    /// (slot, bytes left) from which the name being parsed has no parse.
    dead: std::collections::HashSet<(usize, usize)>,
}

impl<'t> Lookup<'t> {
    fn new(patterns: &[Pattern], tables: &'t [Table]) -> Lookup<'t> {
        let mut sorted = vec![None; tables.len()];
        for p in patterns {
            for slot in &p.slots {
                if let Slot::Words { table } = slot
                    && sorted[*table].is_none()
                {
                    let t = &tables[*table];
                    let mut order: Vec<u32> =
                        (0..u32::try_from(t.len()).unwrap_or(u32::MAX)).collect();
                    order.sort_unstable_by(|&a, &b| t.bytes(a as usize).cmp(t.bytes(b as usize)));
                    sorted[*table] = Some(order);
                }
            }
        }
        Lookup {
            tables,
            sorted,
            dead: std::collections::HashSet::new(),
        }
    }

    fn word(&self, table: usize, bytes: &[u8]) -> Option<u64> {
        let order = self.sorted[table].as_ref()?;
        let t = &self.tables[table];
        order
            .binary_search_by(|&w| t.bytes(w as usize).cmp(bytes))
            .ok()
            .map(|i| u64::from(order[i]))
    }

    /// Every way `pattern` (number `p`) makes `name`, as slot values.
    fn parse(
        &mut self,
        pattern: &Pattern,
        name: &[u8],
        values: &mut Vec<u64>,
        out: &mut Vec<Vec<u64>>,
    ) {
        values.clear();
        values.resize(pattern.slots.len(), 0);
        self.dead.clear();
        self.parse_from(pattern, 0, name, values, out);
    }

    fn parse_from(
        &mut self,
        pattern: &Pattern,
        slot: usize,
        rest: &[u8],
        values: &mut Vec<u64>,
        out: &mut Vec<Vec<u64>>,
    ) {
        if out.len() >= MAX_PARSES || self.dead.contains(&(slot, rest.len())) {
            return;
        }
        let found = out.len();
        self.parse_slot(pattern, slot, rest, values, out);
        if out.len() == found {
            // No way on from here: a name that fails late is not tried
            // again split every other way.
            self.dead.insert((slot, rest.len()));
        }
    }

    fn parse_slot(
        &mut self,
        pattern: &Pattern,
        slot: usize,
        rest: &[u8],
        values: &mut Vec<u64>,
        out: &mut Vec<Vec<u64>>,
    ) {
        let Some(piece) = pattern.slots.get(slot) else {
            if rest.is_empty() {
                out.push(values.clone());
            }
            return;
        };
        match piece {
            Slot::Literal(bytes) => {
                if let Some(rest) = rest.strip_prefix(&bytes[..]) {
                    self.parse_from(pattern, slot + 1, rest, values, out);
                }
            }
            Slot::Words { table } => {
                let longest = self.tables[*table].max_len().min(rest.len());
                for n in 1..=longest {
                    if let Some(w) = self.word(*table, &rest[..n]) {
                        values[slot] = w;
                        self.parse_from(pattern, slot + 1, &rest[n..], values, out);
                    }
                }
            }
            Slot::Number { lo, hi, width } => {
                let mut buf: NumberBuf = [0; 20];
                for n in 1..=rest.len().min(20) {
                    let digits = &rest[..n];
                    if !digits.iter().all(u8::is_ascii_digit) {
                        break;
                    }
                    let Some(v) = std::str::from_utf8(digits)
                        .ok()
                        .and_then(|d| d.parse::<u64>().ok())
                    else {
                        continue;
                    };
                    if (*lo..=*hi).contains(&v) && number(v, *width, &mut buf) == digits {
                        values[slot] = v - lo;
                        self.parse_from(pattern, slot + 1, &rest[n..], values, out);
                    }
                }
            }
            Slot::Chars(chars) => {
                let k = to_u64(chars.chars.len());
                for len in chars.min..=chars.max.min(rest.len()) {
                    let mut number = 0u64;
                    let mut ok = true;
                    for &c in &rest[..len] {
                        match chars.chars.iter().position(|&x| x == c) {
                            Some(d) => number = number * k + to_u64(d),
                            None => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    if !ok {
                        continue;
                    }
                    values[slot] = chars.blocks[..len - chars.min].iter().sum::<u64>() + number;
                    self.parse_from(pattern, slot + 1, &rest[len..], values, out);
                }
            }
        }
    }
}
