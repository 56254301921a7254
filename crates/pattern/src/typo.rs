//! Look-alike names: the permutation algorithms of dnstwist (typo-squatting
//! and homograph detection), made into a word table so that `{typo}` is an
//! exact piece like any other.
//!
//! A keyword's variants are made once, when a spec compiles, in a fixed
//! order: by algorithm in [`TypoAlgorithm::ALL`]'s order, then in the
//! algorithm's own order (the order of its loops, as written below). A
//! variant made before (by an earlier algorithm, an earlier step of the
//! same one, or an earlier keyword) and the keyword itself are left out;
//! a variant that is not a valid hostname is dropped and counted. The
//! table keeps each variant as it is written in names: ASCII, with each
//! Unicode label as an A-label.
//!
//! The algorithms and their tables (homoglyphs, Cyrillic look-alikes,
//! keyboard layouts) follow dnstwist 20250130 (Apache-2.0); where the
//! output differs on purpose, README's "Look-alike names" says so.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Condvar, Mutex, mpsc};

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::parse::MAX_LABEL;
use crate::punycode;
use crate::space::to_u64;
use crate::words::{Table, hash};

/// One of dnstwist's permutation algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum TypoAlgorithm {
    /// A character appended (`paypal` → `paypala`), or added before a hyphen.
    Addition,
    /// One bit of one character flipped, where that gives a hostname character.
    Bitsquatting,
    /// Every letter swapped for its Cyrillic look-alike (only when each has one).
    Cyrillic,
    /// One or two characters (or pairs such as `rn`) swapped for look-alikes.
    Homoglyph,
    /// A hyphen inserted between two characters.
    Hyphenation,
    /// A key next to a character (on the keyboards) typed before or after it.
    Insertion,
    /// A character left out.
    Omission,
    /// An `s` (or `es` after s, x, z) added inside the word.
    Plural,
    /// A character typed twice.
    Repetition,
    /// A character swapped for a key next to it.
    Replacement,
    /// A dot inserted, making a subdomain.
    Subdomain,
    /// Two neighbouring characters swapped.
    Transposition,
    /// A vowel swapped for another.
    VowelSwap,
    /// A word of the `dictionary` list joined before or after the keyword.
    Dictionary,
}

impl TypoAlgorithm {
    /// Every algorithm, in the order a keyword's variants are made.
    pub const ALL: [TypoAlgorithm; 14] = [
        TypoAlgorithm::Addition,
        TypoAlgorithm::Bitsquatting,
        TypoAlgorithm::Cyrillic,
        TypoAlgorithm::Homoglyph,
        TypoAlgorithm::Hyphenation,
        TypoAlgorithm::Insertion,
        TypoAlgorithm::Omission,
        TypoAlgorithm::Plural,
        TypoAlgorithm::Repetition,
        TypoAlgorithm::Replacement,
        TypoAlgorithm::Subdomain,
        TypoAlgorithm::Transposition,
        TypoAlgorithm::VowelSwap,
        TypoAlgorithm::Dictionary,
    ];

    /// Its name, as dnstwist and specs write it (`vowel-swap`).
    pub fn name(self) -> &'static str {
        match self {
            TypoAlgorithm::Addition => "addition",
            TypoAlgorithm::Bitsquatting => "bitsquatting",
            TypoAlgorithm::Cyrillic => "cyrillic",
            TypoAlgorithm::Homoglyph => "homoglyph",
            TypoAlgorithm::Hyphenation => "hyphenation",
            TypoAlgorithm::Insertion => "insertion",
            TypoAlgorithm::Omission => "omission",
            TypoAlgorithm::Plural => "plural",
            TypoAlgorithm::Repetition => "repetition",
            TypoAlgorithm::Replacement => "replacement",
            TypoAlgorithm::Subdomain => "subdomain",
            TypoAlgorithm::Transposition => "transposition",
            TypoAlgorithm::VowelSwap => "vowel-swap",
            TypoAlgorithm::Dictionary => "dictionary",
        }
    }

    /// The algorithm named `name` (case and `_`/`-` aside), or a message
    /// that lists the names.
    pub fn parse(name: &str) -> Result<TypoAlgorithm, String> {
        let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
        TypoAlgorithm::ALL
            .into_iter()
            .find(|a| a.name() == wanted)
            .ok_or_else(|| {
                format!(
                    "`{name}` is not a typo algorithm; the algorithms are {}",
                    TypoAlgorithm::ALL.map(TypoAlgorithm::name).join(", ")
                )
            })
    }
}

/// Shows an enum by its `name()`, and reads it from text (a flag, a spec
/// file) through its `parse`, whose message lists the names.
macro_rules! named {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl TryFrom<String> for $t {
            type Error = String;

            fn try_from(name: String) -> Result<Self, Self::Error> {
                <$t>::parse(&name)
            }
        }

        impl std::str::FromStr for $t {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::parse(s)
            }
        }
    )*};
}

named!(TypoAlgorithm, Keyboard);

/// A keyboard layout whose neighbouring keys `insertion` and `replacement`
/// type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Keyboard {
    /// The US and UK layout.
    Qwerty,
    /// The German and Central European layout (`z` and `y` swapped).
    Qwertz,
    /// The French layout.
    Azerty,
}

impl Keyboard {
    /// Every layout, in the order their keys are typed.
    pub const ALL: [Keyboard; 3] = [Keyboard::Qwerty, Keyboard::Qwertz, Keyboard::Azerty];

    /// Its name as specs write it.
    pub fn name(self) -> &'static str {
        match self {
            Keyboard::Qwerty => "qwerty",
            Keyboard::Qwertz => "qwertz",
            Keyboard::Azerty => "azerty",
        }
    }

    /// The layout named `name`, or a message that lists the names.
    pub fn parse(name: &str) -> Result<Keyboard, String> {
        let wanted = name.trim().to_ascii_lowercase();
        Keyboard::ALL
            .into_iter()
            .find(|k| k.name() == wanted)
            .ok_or_else(|| {
                format!(
                    "`{name}` is not a keyboard layout; the layouts are qwerty, qwertz and azerty"
                )
            })
    }

    /// For each key, the keys around it.
    fn neighbours(self) -> &'static [(char, &'static str)] {
        match self {
            Keyboard::Qwerty => QWERTY,
            Keyboard::Qwertz => QWERTZ,
            Keyboard::Azerty => AZERTY,
        }
    }
}

/// How many variants one algorithm made for one keyword.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TypoCount {
    /// Variants kept: new, and valid hostnames.
    pub kept: u64,
    /// Variants dropped for not being valid hostnames (a label too long,
    /// a hyphen at an edge or in places 3 and 4, a character IDNA refuses).
    pub dropped: u64,
}

/// A keyword's variants under one selection of algorithms, for `check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypoReport {
    /// The keyword (Unicode form, as the space holds it).
    pub keyword: String,
    /// Per algorithm of the selection, in order: what it made.
    pub counts: Vec<(TypoAlgorithm, TypoCount)>,
}

/// The variants of every keyword under one selection, as a word table.
#[derive(Clone, Debug)]
pub(crate) struct TypoTable {
    /// The selection, in [`TypoAlgorithm::ALL`] order.
    pub algorithms: Vec<TypoAlgorithm>,
    /// The index of the table in [`crate::Space`]'s tables.
    pub table: usize,
    /// `starts[k]` = the index of keyword `k`'s first variant; one more
    /// entry at the end holds the number of variants.
    pub starts: Vec<u64>,
    /// Per keyword, per algorithm of the selection: what it made.
    pub counts: Vec<TypoCount>,
}

impl TypoTable {
    /// The keyword whose variant is value `value` of the table.
    pub fn keyword_of(&self, value: u64) -> usize {
        self.starts.partition_point(|&s| s <= value) - 1
    }

    /// Per keyword, what each algorithm made.
    pub fn reports(&self, keywords: &Table) -> Vec<TypoReport> {
        let n = self.algorithms.len();
        (0..keywords.len())
            .map(|k| TypoReport {
                keyword: keywords.get(k).to_owned(),
                counts: self
                    .algorithms
                    .iter()
                    .copied()
                    .zip(self.counts[k * n..(k + 1) * n].iter().copied())
                    .collect(),
            })
            .collect()
    }
}

/// A hasher for the short strings the algorithms make: the word tables' own
/// hash, folded over the pieces `Hash` feeds it.
#[derive(Default)]
struct ShortHasher(u64);

impl Hasher for ShortHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = (self.0.rotate_left(5) ^ hash(bytes)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Set = HashSet<String, BuildHasherDefault<ShortHasher>>;

/// The algorithms of one selection, ready to make variants.
pub(crate) struct Typos<'a> {
    algorithms: Vec<TypoAlgorithm>,
    keyboards: Vec<Keyboard>,
    dictionary: Vec<&'a str>,
    uts46: Uts46,
}

/// What [`Typos::make`] reuses from one keyword to the next.
#[derive(Default)]
struct Scratch {
    /// Every variant made for the keyword so far (Unicode form).
    seen: Set,
    /// The first round of homoglyphs, and what was made of them.
    round: Set,
    first: Vec<String>,
    /// The candidate being built.
    candidate: String,
    /// Per character met in a Unicode label: whether IDNA takes it as it
    /// is anywhere in a label ([`Typos::free`]).
    free: HashMap<char, bool>,
}

/// One keyword's variants, as a thread made them: A-label forms back to
/// back, and per variant the place of the algorithm that made it.
#[derive(Default)]
struct Made {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    by: Vec<u8>,
    /// Per algorithm of the selection, the variants dropped.
    dropped: Vec<u64>,
}

/// Which block of keywords is next to make, and which the merge waits for.
struct Handout {
    next: usize,
    due: usize,
    /// The merge is over (done or failed): make no more.
    stopped: bool,
}

/// Stops the handout when the thread holding it unwinds.
struct StopOnPanic<'h>(&'h Mutex<Handout>, &'h Condvar);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(mut handout) = self.0.lock() {
                handout.stopped = true;
            }
            self.1.notify_all();
        }
    }
}

/// Keywords a thread makes the variants of at a time.
const KEYWORDS_PER_BLOCK: usize = 8;

/// After this many keywords, room for the rest is made at once.
const KEYWORDS_TO_ESTIMATE: usize = 64;

/// The table being made: keyword after keyword, each variant kept once.
struct Merge<'t> {
    keywords: &'t Table,
    algorithms: Vec<TypoAlgorithm>,
    table: Table,
    kept: Kept,
    starts: Vec<u64>,
    counts: Vec<TypoCount>,
}

impl<'t> Merge<'t> {
    fn new(typos: &Typos<'_>, keywords: &'t Table, what: &str) -> Merge<'t> {
        Merge {
            keywords,
            algorithms: typos.algorithms.clone(),
            table: Table::with_what(what),
            kept: Kept::default(),
            starts: Vec::with_capacity(keywords.len() + 1),
            counts: Vec::with_capacity(keywords.len() * typos.algorithms.len()),
        }
    }

    /// Keeps the new variants of the next keywords.
    fn add(&mut self, made: Vec<Made>) -> Result<(), Error> {
        let n = self.algorithms.len();
        for made in made {
            let k = self.starts.len();
            self.starts.push(to_u64(self.table.len()));
            let mut counts: Vec<TypoCount> = made
                .dropped
                .iter()
                .map(|&dropped| TypoCount { kept: 0, dropped })
                .collect();
            let mut start = 0;
            for (&end, &by) in made.ends.iter().zip(&made.by) {
                let variant = &made.bytes[start..end];
                start = end;
                if !self.kept.insert(&self.table, variant) {
                    continue;
                }
                if !self.table.push(variant) {
                    return Err(Error::new(
                        ErrorKind::TooLarge,
                        format!(
                            "the look-alike names of keyword `{}` and the keywords before it pass 4 GiB, more than a table can hold; split the keywords into several specs, or choose fewer algorithms with {{typo:ALGO,...}}",
                            self.keywords.get(k)
                        ),
                    ));
                }
                counts[usize::from(by)].kept += 1;
            }
            debug_assert_eq!(counts.len(), n);
            self.counts.extend(counts);
            if k + 1 == KEYWORDS_TO_ESTIMATE && k + 1 < self.keywords.len() {
                // The first keywords tell what one costs: room for the rest
                // of the table is made at once, a quarter more than they
                // suggest, rather than by doubling (whose copies would
                // double the peak). Room not written to is not resident.
                // At most what a table can hold, past which `push` fails.
                let room = usize::try_from(u32::MAX).unwrap_or(usize::MAX);
                let rest = |x: usize| x / (k + 1) * (self.keywords.len() - k - 1) / 4 * 5;
                let (bytes, values) = (self.table.bytes_len(), self.table.len());
                self.table.reserve(
                    rest(bytes).min(room - bytes),
                    rest(values).min(room - values),
                );
            }
        }
        Ok(())
    }

    fn finish(mut self, index: usize) -> (Table, TypoTable) {
        self.starts.push(to_u64(self.table.len()));
        let typos = TypoTable {
            algorithms: self.algorithms,
            table: index,
            starts: self.starts,
            counts: self.counts,
        };
        (self.table, typos)
    }
}

/// The variants kept so far, to keep each once across keywords: open
/// addressing over (hash tag, value index) pairs, probed linearly, so
/// that a probe compares 32 bits of hash before it fetches a value from
/// the (big, cold) table. The tag also places a pair when the set grows.
#[derive(Default)]
struct Kept {
    /// `tag << 32 | (index + 1)`; 0 is empty.
    slots: Vec<u64>,
    len: usize,
}

impl Kept {
    /// Whether `value` (not yet in `table`) is new; if so it is recorded as
    /// the value `table.len()` will be.
    fn insert(&mut self, table: &Table, value: &[u8]) -> bool {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let tag = hash(value) >> 32;
        let mut slot = Kept::home(tag, self.slots.len());
        loop {
            match self.slots[slot] {
                0 => {
                    let index = to_u64(table.len()) + 1;
                    self.slots[slot] = tag << 32 | index;
                    self.len += 1;
                    return true;
                }
                pair if pair >> 32 == tag => {
                    let index =
                        usize::try_from((pair & u64::from(u32::MAX)) - 1).expect("an index fits");
                    if table.bytes(index) == value {
                        return false;
                    }
                }
                _ => {}
            }
            slot = if slot + 1 == self.slots.len() {
                0
            } else {
                slot + 1
            };
        }
    }

    /// Where a tag's probe starts in `size` slots.
    fn home(tag: u64, size: usize) -> usize {
        usize::try_from((u128::from(tag) * u128::from(to_u64(size))) >> 32).expect("a slot fits")
    }

    /// Doubles the slots, placing each pair again by its tag.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(1024);
        let mut slots = vec![0u64; size];
        for &pair in self.slots.iter().filter(|&&p| p != 0) {
            let mut slot = Kept::home(pair >> 32, size);
            while slots[slot] != 0 {
                slot = if slot + 1 == size { 0 } else { slot + 1 };
            }
            slots[slot] = pair;
        }
        self.slots = slots;
    }
}

impl<'a> Typos<'a> {
    /// The algorithms `algorithms` (in any order; repeats are ignored) on
    /// `keyboards` (every layout when empty), joining `dictionary`'s words.
    pub fn new(
        algorithms: &[TypoAlgorithm],
        keyboards: &[Keyboard],
        dictionary: Vec<&'a str>,
    ) -> Typos<'a> {
        let mut algorithms = algorithms.to_vec();
        algorithms.sort_unstable();
        algorithms.dedup();
        let mut keyboards = if keyboards.is_empty() {
            Keyboard::ALL.to_vec()
        } else {
            keyboards.to_vec()
        };
        keyboards.sort_unstable();
        keyboards.dedup();
        Typos {
            algorithms,
            keyboards,
            dictionary,
            uts46: Uts46::new(),
        }
    }

    /// Makes the variants of every keyword of `keywords` into a table of
    /// `what` (for messages); a variant an earlier keyword made is not
    /// made again. `index` is where the table will sit among the space's.
    ///
    /// The processor's threads make the variants of a few keywords at a
    /// time, while this one keeps them, in keyword order.
    pub fn table(
        &self,
        keywords: &Table,
        what: &str,
        index: usize,
    ) -> Result<(Table, TypoTable), Error> {
        let blocks = keywords.len().div_ceil(KEYWORDS_PER_BLOCK);
        let block =
            |b: usize| b * KEYWORDS_PER_BLOCK..((b + 1) * KEYWORDS_PER_BLOCK).min(keywords.len());
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(blocks);
        let mut merge = Merge::new(self, keywords, what);
        if threads <= 1 {
            let mut scratch = Scratch::default();
            for b in 0..blocks {
                merge.add(self.make_all(keywords, block(b), &mut scratch))?;
            }
        } else {
            // Blocks are handed out at most `window` past the one the merge
            // waits for, so that a slow keyword holds back the others'
            // output rather than letting it pile up.
            let window = 2 * threads;
            let handout = Mutex::new(Handout {
                next: 0,
                due: 0,
                stopped: false,
            });
            let moved = Condvar::new();
            let take = || {
                let mut h = handout.lock().expect("the handout is never poisoned");
                loop {
                    if h.stopped || h.next >= blocks {
                        return None;
                    }
                    if h.next < h.due + window {
                        h.next += 1;
                        return Some(h.next - 1);
                    }
                    h = moved.wait(h).expect("the handout is never poisoned");
                }
            };
            let (sender, receiver) = mpsc::sync_channel::<(usize, Vec<Made>)>(window);
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    let sender = sender.clone();
                    let take = &take;
                    let (handout, moved) = (&handout, &moved);
                    scope.spawn(move || {
                        // Were it to panic, the others would wait for its
                        // block for ever: they stop, and the scope passes the
                        // panic on.
                        let _stop = StopOnPanic(handout, moved);
                        let mut scratch = Scratch::default();
                        while let Some(b) = take() {
                            let made = self.make_all(keywords, block(b), &mut scratch);
                            // The merge has stopped when no one receives.
                            if sender.send((b, made)).is_err() {
                                break;
                            }
                        }
                    });
                }
                drop(sender);
                // Blocks come in the order they are done, and are kept in
                // keyword order.
                let mut merged = || {
                    let mut early = BTreeMap::new();
                    let mut due = 0;
                    for (b, made) in &receiver {
                        early.insert(b, made);
                        while let Some(made) = early.remove(&due) {
                            merge.add(made)?;
                            due += 1;
                            handout.lock().expect("the handout is never poisoned").due = due;
                            moved.notify_all();
                        }
                    }
                    Ok::<(), Error>(())
                };
                let result = merged();
                handout
                    .lock()
                    .expect("the handout is never poisoned")
                    .stopped = true;
                moved.notify_all();
                drop(receiver);
                result
            })?;
        }
        Ok(merge.finish(index))
    }

    /// The variants of keywords `which` of `keywords`, each keyword's in
    /// its order and valid.
    fn make_all(
        &self,
        keywords: &Table,
        which: std::ops::Range<usize>,
        scratch: &mut Scratch,
    ) -> Vec<Made> {
        let mut encoded = Vec::new();
        which
            .map(|k| {
                let mut made = Made {
                    dropped: vec![0; self.algorithms.len()],
                    ..Made::default()
                };
                let mut free = std::mem::take(&mut scratch.free);
                self.make(keywords.get(k), scratch, |at, variant| {
                    if self.encode(variant, &mut encoded, &mut free) {
                        made.bytes.extend_from_slice(&encoded);
                        made.ends.push(made.bytes.len());
                        made.by
                            .push(u8::try_from(at).expect("at most 14 algorithms"));
                    } else {
                        made.dropped[at] += 1;
                    }
                });
                scratch.free = free;
                made
            })
            .collect()
    }

    /// Calls `emit` with each new variant of `keyword` (Unicode form) and
    /// the place of the algorithm that made it in the selection.
    fn make(&self, keyword: &str, s: &mut Scratch, mut emit: impl FnMut(usize, &str)) {
        s.seen.clear();
        s.seen.insert(keyword.to_owned());
        let d: Vec<char> = keyword.chars().collect();
        let Scratch {
            seen,
            round,
            first,
            candidate,
            ..
        } = s;
        for (at, &algorithm) in self.algorithms.iter().enumerate() {
            let mut offer = |variant: &str| {
                if !seen.contains(variant) {
                    seen.insert(variant.to_owned());
                    emit(at, variant);
                }
            };
            match algorithm {
                TypoAlgorithm::Addition => addition(&d, candidate, &mut offer),
                TypoAlgorithm::Bitsquatting => bitsquatting(&d, candidate, &mut offer),
                TypoAlgorithm::Cyrillic => cyrillic(&d, candidate, &mut offer),
                TypoAlgorithm::Homoglyph => {
                    // Round one, then the same again on each of its variants.
                    round.clear();
                    first.clear();
                    homoglyphs(&d, candidate, false, &mut |v| {
                        if round.insert(v.to_owned()) {
                            first.push(v.to_owned());
                        }
                    });
                    for v in first.iter() {
                        offer(v);
                    }
                    let mut chars = Vec::new();
                    for v in first.iter() {
                        chars.clear();
                        chars.extend(v.chars());
                        // A look-alike of `v` is at most a character shorter,
                        // and Unicode when `v` is (the tables' keys are ASCII).
                        // Past UNICODE_LABEL characters a Unicode label cannot
                        // be valid, so such look-alikes are not made at all:
                        // they would be dropped, and making them is the bulk
                        // of a long keyword's cost.
                        let ascii_only = chars.len() > UNICODE_LABEL + 1 && !v.contains('.');
                        if !ascii_only || v.is_ascii() {
                            homoglyphs(&chars, candidate, ascii_only, &mut offer);
                        }
                    }
                }
                TypoAlgorithm::Hyphenation => {
                    for i in 1..d.len() {
                        offer(splice(&d, i, i, "-", candidate));
                    }
                }
                TypoAlgorithm::Insertion => {
                    for i in 0..d.len().saturating_sub(1) {
                        for &keyboard in &self.keyboards {
                            for c in neighbours(keyboard, d[i]).chars() {
                                let c = c.encode_utf8(&mut [0; 4]).to_owned();
                                offer(splice(&d, i, i, &c, candidate));
                                offer(splice(&d, i + 1, i + 1, &c, candidate));
                            }
                        }
                    }
                }
                TypoAlgorithm::Omission => {
                    for i in 0..d.len() {
                        offer(splice(&d, i, i + 1, "", candidate));
                    }
                }
                TypoAlgorithm::Plural => {
                    for i in 2..d.len().saturating_sub(2) {
                        let s = if matches!(d[i], 's' | 'x' | 'z') {
                            "es"
                        } else {
                            "s"
                        };
                        offer(splice(&d, i + 1, i + 1, s, candidate));
                    }
                }
                TypoAlgorithm::Repetition => {
                    for (i, &c) in d.iter().enumerate() {
                        offer(splice(&d, i, i, c.encode_utf8(&mut [0; 4]), candidate));
                    }
                }
                TypoAlgorithm::Replacement => {
                    for (i, &c) in d.iter().enumerate() {
                        for &keyboard in &self.keyboards {
                            for r in neighbours(keyboard, c).chars() {
                                offer(splice(&d, i, i + 1, r.encode_utf8(&mut [0; 4]), candidate));
                            }
                        }
                    }
                }
                TypoAlgorithm::Subdomain => {
                    for i in 1..d.len().saturating_sub(1) {
                        if !matches!(d[i], '-' | '.') && !matches!(d[i - 1], '-' | '.') {
                            offer(splice(&d, i, i, ".", candidate));
                        }
                    }
                }
                TypoAlgorithm::Transposition => {
                    for i in 0..d.len().saturating_sub(1) {
                        let swapped: String = [d[i + 1], d[i]].into_iter().collect();
                        offer(splice(&d, i, i + 2, &swapped, candidate));
                    }
                }
                TypoAlgorithm::VowelSwap => {
                    for (i, &c) in d.iter().enumerate() {
                        if VOWELS.contains(c) {
                            for v in VOWELS.chars() {
                                offer(splice(&d, i, i + 1, v.encode_utf8(&mut [0; 4]), candidate));
                            }
                        }
                    }
                }
                TypoAlgorithm::Dictionary => dictionary(keyword, &self.dictionary, &mut offer),
            }
        }
    }

    /// Writes `variant` as names hold it (each Unicode label as an
    /// A-label) into `out`; `false` when it is not a valid hostname as
    /// IDNA 2008 reads it: a label empty, longer than 63 octets, with a
    /// hyphen at an edge or in places 3 and 4 (but for an A-label), or
    /// with characters IDNA refuses or would map.
    fn encode(&self, variant: &str, out: &mut Vec<u8>, free: &mut HashMap<char, bool>) -> bool {
        out.clear();
        for (j, label) in variant.split('.').enumerate() {
            if j > 0 {
                out.push(b'.');
            }
            let start = out.len();
            if label.is_ascii() {
                if !label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    return false;
                }
                out.extend_from_slice(label.as_bytes());
                if label.get(2..4) == Some("--") {
                    return false;
                }
            } else if !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().skip(2).take(2).any(|c| c != '-')
                && label.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || c == '-'
                        || *free.entry(c).or_insert_with(|| self.free(c))
                })
            {
                out.extend_from_slice(b"xn--");
                punycode::encode(label, out);
            } else {
                // IDNA 2008 takes a label only as it already is: what UTS #46
                // would map (case, compatibility forms, NFC) is refused.
                let Ok(ascii) = self.uts46.to_ascii(
                    label.as_bytes(),
                    AsciiDenyList::STD3,
                    Hyphens::Check,
                    DnsLength::Ignore,
                ) else {
                    return false;
                };
                out.extend_from_slice(b"xn--");
                punycode::encode(label, out);
                if out[start..] != *ascii.as_bytes() {
                    return false;
                }
            }
            let written = &out[start..];
            if written.is_empty()
                || written.len() > MAX_LABEL
                || written[0] == b'-'
                || written[written.len() - 1] == b'-'
            {
                return false;
            }
        }
        true
    }
}

const VOWELS: &str = "aeiou";

impl Typos<'_> {
    /// Whether IDNA takes `c` as it is wherever it stands in a label: alone,
    /// and between letters, unmapped. A label of such characters (and
    /// ASCII letters, digits and hyphens) needs no check of its own: none
    /// is a combining mark (which could not stand alone) nor a Hangul jamo
    /// (which NFC joins to its neighbours), so together they stay in NFC.
    fn free(&self, c: char) -> bool {
        if matches!(u32::from(c), 0x1100..=0x11ff | 0xa960..=0xa97f | 0xd7b0..=0xd7ff) {
            return false;
        }
        [c.to_string(), format!("a{c}a")].iter().all(|label| {
            let mut ours = b"xn--".to_vec();
            punycode::encode(label, &mut ours);
            self.uts46
                .to_ascii(
                    label.as_bytes(),
                    AsciiDenyList::STD3,
                    Hyphens::Check,
                    DnsLength::Ignore,
                )
                .is_ok_and(|ascii| ascii.as_bytes() == ours)
        })
    }
}

/// `d[..from] + mid + d[to..]`, in `buf`.
fn splice<'b>(d: &[char], from: usize, to: usize, mid: &str, buf: &'b mut String) -> &'b str {
    buf.clear();
    buf.extend(&d[..from]);
    buf.push_str(mid);
    buf.extend(&d[to..]);
    buf
}

/// The keys around `key` on `keyboard` (none for a key it lacks).
fn neighbours(keyboard: Keyboard, key: char) -> &'static str {
    keyboard
        .neighbours()
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("", |(_, around)| around)
}

/// A letter or digit appended, then (for a keyword with hyphens) one added
/// before each hyphen: letter by letter, hyphen by hyphen.
fn addition(d: &[char], buf: &mut String, offer: &mut dyn FnMut(&str)) {
    let alnum = || ('0'..='9').chain('a'..='z');
    let hyphens: Vec<usize> = (0..d.len()).filter(|&i| d[i] == '-').collect();
    for c in alnum() {
        for &h in &hyphens {
            offer(splice(d, h, h, c.encode_utf8(&mut [0; 4]), buf));
        }
    }
    for c in alnum() {
        offer(splice(d, d.len(), d.len(), c.encode_utf8(&mut [0; 4]), buf));
    }
}

/// Each bit of each character flipped, lowest first, where the result is a
/// letter, digit or hyphen.
fn bitsquatting(d: &[char], buf: &mut String, offer: &mut dyn FnMut(&str)) {
    for (i, &c) in d.iter().enumerate() {
        for bit in 0..8 {
            let Some(b) = char::from_u32(u32::from(c) ^ (1 << bit)) else {
                continue;
            };
            if b.is_ascii_lowercase() || b.is_ascii_digit() || b == '-' {
                offer(splice(d, i, i + 1, b.encode_utf8(&mut [0; 4]), buf));
            }
        }
    }
}

/// The keyword with every character Cyrillic, when each has a look-alike.
fn cyrillic(d: &[char], buf: &mut String, offer: &mut dyn FnMut(&str)) {
    buf.clear();
    for &c in d {
        match LATIN_TO_CYRILLIC.iter().find(|(l, _)| *l == c) {
            Some(&(_, cyr)) => buf.push(cyr),
            None => return,
        }
    }
    offer(buf);
}

/// The most characters a Unicode label can have: its A-label adds `xn--`
/// to at least an octet per character.
const UNICODE_LABEL: usize = MAX_LABEL - "xn--".len();

/// One round of homoglyphs: each character swapped for each look-alike,
/// then each pair of neighbours: its first character's look-alikes (in
/// both places where the pair repeats it), its second's, and the pair's own.
/// With `ascii_only`, only the ASCII look-alikes.
fn homoglyphs(d: &[char], buf: &mut String, ascii_only: bool, offer: &mut dyn FnMut(&str)) {
    let mut key = [0; 8];
    for (i, &c) in d.iter().enumerate() {
        for g in glyphs(c.encode_utf8(&mut key), ascii_only) {
            offer(splice(d, i, i + 1, g, buf));
        }
    }
    let mut window = String::new();
    for i in 0..d.len().saturating_sub(1) {
        let (a, b) = (d[i], d[i + 1]);
        for pick in 0..3 {
            let key: String = match pick {
                0 => a.to_string(),
                1 if b != a => b.to_string(),
                1 => continue,
                _ => [a, b].into_iter().collect(),
            };
            for g in glyphs(&key, ascii_only) {
                window.clear();
                if pick == 2 {
                    window.push_str(g);
                } else {
                    let c = key.chars().next().unwrap_or(a);
                    for x in [a, b] {
                        if x == c {
                            window.push_str(g);
                        } else {
                            window.push(x);
                        }
                    }
                }
                offer(splice(d, i, i + 2, &window, buf));
            }
        }
    }
}

/// The look-alikes of `key` (a character or a pair): the ASCII ones, then
/// the Unicode ones (only those in ASCII with `ascii_only`).
fn glyphs(key: &str, ascii_only: bool) -> impl Iterator<Item = &'static str> + '_ {
    let find = |table: &'static [(&'static str, &'static [&'static str])]| {
        table
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(&[][..], |(_, glyphs)| *glyphs)
    };
    let ascii = find(GLYPHS_ASCII);
    let unicode = find(GLYPHS_UNICODE);
    ascii.iter().copied().chain(
        unicode
            .iter()
            .copied()
            .filter(move |g| !ascii.contains(g) && (!ascii_only || g.is_ascii())),
    )
}

/// Each word joined after the keyword (with and without a hyphen) and
/// before it, for words the keyword does not both start and end with;
/// then, for a keyword with hyphens, each word in place of its last part
/// and of its first.
fn dictionary(keyword: &str, words: &[&str], offer: &mut dyn FnMut(&str)) {
    for word in words {
        if keyword.starts_with(word) && keyword.ends_with(word) {
            continue;
        }
        offer(&format!("{keyword}-{word}"));
        offer(&format!("{keyword}{word}"));
        offer(&format!("{word}-{keyword}"));
        offer(&format!("{word}{keyword}"));
    }
    if let (Some((head, _)), Some((_, tail))) = (keyword.rsplit_once('-'), keyword.split_once('-'))
    {
        for word in words {
            offer(&format!("{head}-{word}"));
            offer(&format!("{word}-{tail}"));
        }
    }
}

/// ASCII look-alikes of characters and pairs.
const GLYPHS_ASCII: &[(&str, &[&str])] = &[
    ("0", &["o"]),
    ("1", &["l", "i"]),
    ("3", &["8"]),
    ("6", &["9"]),
    ("8", &["3"]),
    ("9", &["6"]),
    ("b", &["d", "lb"]),
    ("c", &["e"]),
    ("d", &["b", "cl", "dl"]),
    ("e", &["c"]),
    ("g", &["q"]),
    ("h", &["lh"]),
    ("i", &["1", "l"]),
    ("k", &["lc"]),
    ("l", &["1", "i"]),
    ("m", &["n", "nn", "rn"]),
    ("n", &["m", "r"]),
    ("o", &["0"]),
    ("q", &["g"]),
    ("u", &["v"]),
    ("v", &["u"]),
    ("w", &["vv"]),
    ("rn", &["m"]),
    ("cl", &["d"]),
];

/// Unicode look-alikes of characters and pairs (dnstwist's table for TLDs
/// without a registry-specific one, `.com` among them).
const GLYPHS_UNICODE: &[(&str, &[&str])] = &[
    ("2", &["ƻ"]),
    ("3", &["ʒ"]),
    ("5", &["ƽ"]),
    (
        "a",
        &[
            "ạ", "ă", "ȧ", "ɑ", "å", "ą", "â", "ǎ", "á", "ə", "ä", "ã", "ā", "à",
        ],
    ),
    ("b", &["ḃ", "ḅ", "ƅ", "ʙ", "ḇ", "ɓ"]),
    ("c", &["č", "ᴄ", "ċ", "ç", "ć", "ĉ", "ƈ"]),
    ("d", &["ď", "ḍ", "ḋ", "ɖ", "ḏ", "ɗ", "ḓ", "ḑ", "đ"]),
    (
        "e",
        &[
            "ê", "ẹ", "ę", "è", "ḛ", "ě", "ɇ", "ė", "ĕ", "é", "ë", "ē", "ȩ",
        ],
    ),
    ("f", &["ḟ", "ƒ"]),
    ("g", &["ǧ", "ġ", "ǵ", "ğ", "ɡ", "ǥ", "ĝ", "ģ", "ɢ"]),
    (
        "h",
        &["ȟ", "ḫ", "ḩ", "ḣ", "ɦ", "ḥ", "ḧ", "ħ", "ẖ", "ⱨ", "ĥ"],
    ),
    (
        "i",
        &[
            "ɩ", "ǐ", "í", "ɪ", "ỉ", "ȋ", "ɨ", "ï", "ī", "ĩ", "ị", "î", "ı", "ĭ", "į", "ì",
        ],
    ),
    ("j", &["ǰ", "ĵ", "ʝ", "ɉ"]),
    ("k", &["ĸ", "ǩ", "ⱪ", "ḵ", "ķ", "ᴋ", "ḳ"]),
    ("l", &["ĺ", "ł", "ɫ", "ļ", "ľ"]),
    ("m", &["ᴍ", "ṁ", "ḿ", "ṃ", "ɱ"]),
    ("n", &["ņ", "ǹ", "ń", "ň", "ṅ", "ṉ", "ṇ", "ꞑ", "ñ", "ŋ"]),
    (
        "o",
        &[
            "ö", "ó", "ȯ", "ỏ", "ô", "ᴏ", "ō", "ò", "ŏ", "ơ", "ő", "õ", "ọ", "ø",
        ],
    ),
    ("p", &["ṗ", "ƿ", "ƥ", "ṕ"]),
    ("q", &["ʠ"]),
    (
        "r",
        &[
            "ʀ", "ȓ", "ɍ", "ɾ", "ř", "ṛ", "ɽ", "ȑ", "ṙ", "ŗ", "ŕ", "ɼ", "ṟ",
        ],
    ),
    ("s", &["ṡ", "ș", "ŝ", "ꜱ", "ʂ", "š", "ś", "ṣ", "ş"]),
    ("t", &["ť", "ƫ", "ţ", "ṭ", "ṫ", "ț", "ŧ"]),
    (
        "u",
        &[
            "ᴜ", "ų", "ŭ", "ū", "ű", "ǔ", "ȕ", "ư", "ù", "ů", "ʉ", "ú", "ȗ", "ü", "û", "ũ", "ụ",
        ],
    ),
    ("v", &["ᶌ", "ṿ", "ᴠ", "ⱴ", "ⱱ", "ṽ"]),
    ("w", &["ᴡ", "ẇ", "ẅ", "ẃ", "ẘ", "ẉ", "ⱳ", "ŵ", "ẁ"]),
    ("x", &["ẋ", "ẍ"]),
    ("y", &["ŷ", "ÿ", "ʏ", "ẏ", "ɏ", "ƴ", "ȳ", "ý", "ỿ", "ỵ"]),
    ("z", &["ž", "ƶ", "ẓ", "ẕ", "ⱬ", "ᴢ", "ż", "ź", "ʐ"]),
    ("ae", &["æ"]),
    ("oe", &["œ"]),
];

/// Latin letters and their Cyrillic look-alikes.
const LATIN_TO_CYRILLIC: &[(char, char)] = &[
    ('a', 'а'),
    ('b', 'ь'),
    ('c', 'с'),
    ('d', 'ԁ'),
    ('e', 'е'),
    ('g', 'ԍ'),
    ('h', 'һ'),
    ('i', 'і'),
    ('j', 'ј'),
    ('k', 'к'),
    ('l', 'ӏ'),
    ('m', 'м'),
    ('o', 'о'),
    ('p', 'р'),
    ('q', 'ԛ'),
    ('s', 'ѕ'),
    ('t', 'т'),
    ('v', 'ѵ'),
    ('w', 'ԝ'),
    ('x', 'х'),
    ('y', 'у'),
];

/// The keys around each key of a QWERTY keyboard.
const QWERTY: &[(char, &str)] = &[
    ('1', "2q"),
    ('2', "3wq1"),
    ('3', "4ew2"),
    ('4', "5re3"),
    ('5', "6tr4"),
    ('6', "7yt5"),
    ('7', "8uy6"),
    ('8', "9iu7"),
    ('9', "0oi8"),
    ('0', "po9"),
    ('q', "12wa"),
    ('w', "3esaq2"),
    ('e', "4rdsw3"),
    ('r', "5tfde4"),
    ('t', "6ygfr5"),
    ('y', "7uhgt6"),
    ('u', "8ijhy7"),
    ('i', "9okju8"),
    ('o', "0plki9"),
    ('p', "lo0"),
    ('a', "qwsz"),
    ('s', "edxzaw"),
    ('d', "rfcxse"),
    ('f', "tgvcdr"),
    ('g', "yhbvft"),
    ('h', "ujnbgy"),
    ('j', "ikmnhu"),
    ('k', "olmji"),
    ('l', "kop"),
    ('z', "asx"),
    ('x', "zsdc"),
    ('c', "xdfv"),
    ('v', "cfgb"),
    ('b', "vghn"),
    ('n', "bhjm"),
    ('m', "njk"),
];

/// The keys around each key of a QWERTZ keyboard.
const QWERTZ: &[(char, &str)] = &[
    ('1', "2q"),
    ('2', "3wq1"),
    ('3', "4ew2"),
    ('4', "5re3"),
    ('5', "6tr4"),
    ('6', "7zt5"),
    ('7', "8uz6"),
    ('8', "9iu7"),
    ('9', "0oi8"),
    ('0', "po9"),
    ('q', "12wa"),
    ('w', "3esaq2"),
    ('e', "4rdsw3"),
    ('r', "5tfde4"),
    ('t', "6zgfr5"),
    ('z', "7uhgt6"),
    ('u', "8ijhz7"),
    ('i', "9okju8"),
    ('o', "0plki9"),
    ('p', "lo0"),
    ('a', "qwsy"),
    ('s', "edxyaw"),
    ('d', "rfcxse"),
    ('f', "tgvcdr"),
    ('g', "zhbvft"),
    ('h', "ujnbgz"),
    ('j', "ikmnhu"),
    ('k', "olmji"),
    ('l', "kop"),
    ('y', "asx"),
    ('x', "ysdc"),
    ('c', "xdfv"),
    ('v', "cfgb"),
    ('b', "vghn"),
    ('n', "bhjm"),
    ('m', "njk"),
];

/// The keys around each key of a AZERTY keyboard.
const AZERTY: &[(char, &str)] = &[
    ('1', "2a"),
    ('2', "3za1"),
    ('3', "4ez2"),
    ('4', "5re3"),
    ('5', "6tr4"),
    ('6', "7yt5"),
    ('7', "8uy6"),
    ('8', "9iu7"),
    ('9', "0oi8"),
    ('0', "po9"),
    ('a', "2zq1"),
    ('z', "3esqa2"),
    ('e', "4rdsz3"),
    ('r', "5tfde4"),
    ('t', "6ygfr5"),
    ('y', "7uhgt6"),
    ('u', "8ijhy7"),
    ('i', "9okju8"),
    ('o', "0plki9"),
    ('p', "lo0m"),
    ('q', "zswa"),
    ('s', "edxwqz"),
    ('d', "rfcxse"),
    ('f', "tgvcdr"),
    ('g', "yhbvft"),
    ('h', "ujnbgy"),
    ('j', "iknhu"),
    ('k', "olji"),
    ('l', "kopm"),
    ('m', "lp"),
    ('w', "sxq"),
    ('x', "wsdc"),
    ('c', "xdfv"),
    ('v', "cfgb"),
    ('b', "vghn"),
    ('n', "bhj"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Homoglyph's second round, made in full: every look-alike of every
    /// first-round variant, valid ones kept in order, repeats left out.
    fn homoglyphs_in_full(typos: &Typos, keyword: &str) -> Vec<String> {
        let d: Vec<char> = keyword.chars().collect();
        let mut buf = String::new();
        let mut first = Vec::new();
        homoglyphs(&d, &mut buf, false, &mut |v| {
            if !first.iter().any(|f| f == v) {
                first.push(v.to_owned());
            }
        });
        let mut all = first.clone();
        for v in &first {
            let chars: Vec<char> = v.chars().collect();
            homoglyphs(&chars, &mut buf, false, &mut |w| all.push(w.to_owned()));
        }
        let (mut seen, mut kept) = (HashSet::new(), Vec::new());
        let (mut out, mut free) = (Vec::new(), HashMap::new());
        seen.insert(keyword.to_owned());
        for v in all {
            if seen.insert(v.clone()) && typos.encode(&v, &mut out, &mut free) {
                kept.push(String::from_utf8(out.clone()).expect("A-labels are ASCII"));
            }
        }
        kept
    }

    /// Leaving out the Unicode look-alikes too long to be labels changes
    /// nothing that is kept, at and around the length where it starts, and
    /// below it, where some Unicode ones are kept.
    #[test]
    fn long_keywords_keep_every_valid_homoglyph() {
        let typos = Typos::new(&[TypoAlgorithm::Homoglyph], &[], Vec::new());
        for len in [53, 59, 60, 61, 62, 63] {
            for letters in ["rn", "clodwm1"] {
                let keyword: String = letters.chars().cycle().take(len).collect();
                let mut made = Vec::new();
                let mut out = Vec::new();
                let mut free = HashMap::new();
                typos.make(&keyword, &mut Scratch::default(), |_, v| {
                    if typos.encode(v, &mut out, &mut free) {
                        made.push(String::from_utf8(out.clone()).expect("A-labels are ASCII"));
                    }
                });
                assert!(!made.is_empty(), "{keyword}");
                if len == 53 {
                    assert!(made.iter().any(|v| v.starts_with("xn--")), "{keyword}");
                }
                assert_eq!(made, homoglyphs_in_full(&typos, &keyword), "{keyword}");
            }
        }
    }
}
