//! Normalisation of words (keywords, list words, TLDs) and charsets.

use std::ops::Range;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use unicode_bidi::{BidiClass, bidi_class};

use crate::error::{Error, ErrorKind};
use crate::spec::WordList;

/// The widest move [`Table::put`] copies a value in: most words are
/// shorter.
pub(crate) const WIDE_VALUE: usize = 16;

/// A normalised word list, repeats dropped (first one kept).
///
/// The values sit back to back in one buffer with a `u32` end offset each:
/// a million keywords cost their bytes and four more each, not a `String`
/// (and its origin) per word. Where a value came from is not stored: it is
/// found again in the [`WordList`] when a message needs it
/// ([`Table::origin`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    /// Keywords and list words in Unicode form (NFC, lowercased; A-labels
    /// decoded), TLDs in A-label form, back to back.
    bytes: Vec<u8>,
    /// Where each value ends in `bytes`; it starts where the one before ends.
    ends: Vec<u32>,
    /// The list indices of the words dropped as repeats, ascending: with
    /// them value `i`'s word is found in the list.
    dropped: Vec<usize>,
    /// What a value is, for messages: "keyword", "TLD", "word of list `x`".
    what: String,
}

impl Table {
    fn new(list: &WordList, what: &str) -> Table {
        // The values take the words' bytes (less their separators) when
        // they need no mapping, as most do.
        let bytes = list.text_len().saturating_sub(list.len());
        Table {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(list.len()),
            dropped: Vec::new(),
            what: what.to_owned(),
        }
    }

    /// An empty table of `what` ("look-alike"), for values added with
    /// [`Table::push`].
    pub fn with_what(what: &str) -> Table {
        Table {
            what: what.to_owned(),
            ..Table::default()
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Makes room for `values` more values of `bytes` bytes in all.
    pub fn reserve(&mut self, bytes: usize, values: usize) {
        self.bytes.reserve(bytes);
        self.ends.reserve(values);
    }

    /// Adds `value` as it is, repeat or not; `false` when the values would
    /// pass 4 GiB.
    pub fn push(&mut self, value: &[u8]) -> bool {
        let Ok(end) = u32::try_from(self.bytes.len() + value.len()) else {
            return false;
        };
        self.bytes.extend_from_slice(value);
        self.ends.push(end);
        true
    }

    /// The table's values as their labels are written out: A-labels for
    /// the Unicode ones (for a value that is a label by itself).
    pub fn a_labels(&self) -> Table {
        let mut table = Table {
            bytes: Vec::with_capacity(self.bytes.len()),
            ends: Vec::with_capacity(self.ends.len()),
            dropped: Vec::new(),
            what: self.what.clone(),
        };
        for i in 0..self.len() {
            crate::space::encode_labels(self.bytes(i), &mut table.bytes);
            table
                .ends
                .push(u32::try_from(table.bytes.len()).unwrap_or(u32::MAX));
        }
        table
    }

    /// Whether some value is not ASCII.
    pub fn has_unicode(&self) -> bool {
        !self.bytes.is_ascii()
    }

    /// Value `i`'s bytes.
    ///
    /// # Panics
    ///
    /// If `i >= len()`.
    pub fn bytes(&self, i: usize) -> &[u8] {
        &self.bytes[self.span(i)]
    }

    /// Where value `i` lies in `bytes`.
    #[inline(always)]
    fn span(&self, i: usize) -> Range<usize> {
        let start = match i.checked_sub(1) {
            Some(before) => offset(self.ends[before]),
            None => 0,
        };
        start..offset(self.ends[i])
    }

    /// Writes value `i` at the start of `to` and returns its length. `to`
    /// has room for the value and [`WIDE_VALUE`] bytes more: a value that
    /// short is copied in one move of that width, the bytes after it
    /// included, where the table has them.
    ///
    /// # Panics
    ///
    /// If `i >= len()`, or `to` is too short.
    #[inline(always)]
    pub fn put(&self, i: usize, to: &mut [u8]) -> usize {
        let span = self.span(i);
        let len = span.len();
        match self.bytes.get(span.start..span.start + WIDE_VALUE) {
            Some(wide) if len <= WIDE_VALUE => to[..WIDE_VALUE].copy_from_slice(wide),
            _ => crate::space::copy_short(&mut to[..len], &self.bytes[span]),
        }
        len
    }

    /// The bytes of the values, without their ends.
    pub fn bytes_len(&self) -> usize {
        self.bytes.len()
    }

    /// The bytes the values take, with their ends.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.len() + self.ends.len() * size_of::<u32>()
    }

    /// Asks the processor to fetch where value `i` starts and ends, so that
    /// [`Table::prefetch_bytes`] and [`Table::bytes`] find them in cache.
    pub fn prefetch_ends(&self, i: usize) {
        if let Some(before) = i.checked_sub(1) {
            prefetch(&self.ends[before]);
        }
        prefetch(&self.ends[i]);
    }

    /// Asks the processor to fetch value `i`'s bytes, and those
    /// [`Table::put`] moves with them; call it once
    /// [`Table::prefetch_ends`] has had time to land, as it reads them.
    pub fn prefetch_bytes(&self, i: usize) {
        let span = self.span(i);
        let last = span.end.max(span.start + WIDE_VALUE).min(self.bytes.len());
        if let Some(first) = self.bytes.get(span.start) {
            prefetch(first);
            prefetch(&self.bytes[last - 1]);
        }
    }

    /// Asks the kernel to move the table into huge pages, where it spans
    /// whole ones: a table read at random then costs a few TLB entries
    /// rather than one per 4 KiB page, and the processor's prefetches of
    /// it are not held up by page walks. Advice only: nothing changes where
    /// the kernel declines (before Linux 6.1, with transparent huge pages
    /// off, or without a free huge page). The advice is for the table's
    /// pages as they are: it leaves no mark on the memory for its later
    /// uses.
    pub fn prefer_huge_pages(&self) {
        huge_pages::advise(&self.bytes);
        huge_pages::advise(&self.ends);
    }

    /// Value `i`.
    pub fn get(&self, i: usize) -> &str {
        std::str::from_utf8(self.bytes(i)).expect("values are UTF-8")
    }

    /// The values, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The longest value's length in octets (0 for none).
    pub fn max_len(&self) -> usize {
        let mut start = 0;
        let mut longest = 0;
        for &end in &self.ends {
            longest = longest.max(end - start);
            start = end;
        }
        offset(longest)
    }

    /// What value `i` is and where its word was in `list` (the list the
    /// table was made from), for messages: "keyword `Shop` (kw.txt:3)".
    pub fn origin(&self, i: usize, list: &WordList) -> String {
        // The i-th list index not among the (ascending) dropped ones.
        let mut index = i;
        for &d in &self.dropped {
            if d <= index {
                index += 1;
            } else {
                break;
            }
        }
        let raw = list.get(index).unwrap_or_default();
        format!("{} `{raw}` ({})", self.what, list.locate(index))
    }

    /// Keeps the value written after the last one (at the end of `bytes`)
    /// unless an equal value is already kept; `index` is its word's place
    /// in the list.
    fn commit(&mut self, seen: &mut Seen, list: &WordList, index: usize) -> Result<(), Error> {
        let start = self.ends.last().map_or(0, |&end| offset(end));
        if seen.insert(self, start) {
            let end = u32::try_from(self.bytes.len()).map_err(|_| {
                Error::new(
                    ErrorKind::TooLarge,
                    format!(
                        "{} `{}` ({}): with it the list's words pass 4 GiB, more than a list can hold; split the list into several specs",
                        self.what,
                        list.get(index).unwrap_or_default(),
                        list.locate(index)
                    ),
                )
            })?;
            self.ends.push(end);
        } else {
            self.bytes.truncate(start);
            self.dropped.push(index);
        }
        Ok(())
    }
}

/// Asks the processor to bring the cache line holding `value` closer; it
/// neither waits for it nor faults. A no-op where the architecture has no
/// stable prefetch instruction.
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` is a hint: it reads nothing into the program,
    // cannot fault, and the pointer comes from a live reference. Its only
    // requirement is SSE, which every x86_64 processor has.
    #[allow(unsafe_code)]
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(target_os = "linux")]
mod huge_pages {
    /// The size of a huge page on x86-64 and most arm64 kernels; where it
    /// is larger, the kernel finds no whole one in the range and declines.
    const HUGE_PAGE: usize = 2 << 20;

    /// Linux's `MADV_COLLAPSE` (6.1), the same number on every
    /// architecture; the `libc` crate has it for glibc targets only.
    const MADV_COLLAPSE: libc::c_int = 25;

    /// Asks that the whole huge pages within `values` be huge pages now
    /// (`MADV_COLLAPSE`, which copies them into place; unlike
    /// `MADV_HUGEPAGE`, it leaves no mark on the range for whatever the
    /// allocator puts there later).
    pub(super) fn advise<T>(values: &[T]) {
        let start = values.as_ptr().addr();
        let end = start + size_of_val(values);
        let (from, to) = (start.next_multiple_of(HUGE_PAGE), end - end % HUGE_PAGE);
        if from >= to {
            return;
        }
        let at = values
            .as_ptr()
            .cast::<u8>()
            .wrapping_add(from - start)
            .cast_mut()
            .cast::<libc::c_void>();
        // SAFETY: `madvise` with this advice neither frees nor changes
        // memory: the kernel may move the pages' contents into huge pages,
        // which the process cannot tell apart. The range is page-aligned
        // and inside `values`, which is borrowed for the call and not
        // written to meanwhile. A refusal (an older kernel, huge pages
        // off) is an error code, which is ignored.
        #[allow(unsafe_code)]
        unsafe {
            libc::madvise(at, to - from, MADV_COLLAPSE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod huge_pages {
    pub(super) fn advise<T>(_values: &[T]) {}
}

/// A `u32` offset as an index; offsets come from buffer lengths, which fit.
pub(crate) fn offset(at: u32) -> usize {
    usize::try_from(at).expect("a u32 offset fits in usize")
}

/// The set of a [`Table`]'s values, for dropping repeats without a second
/// copy of them: an open-addressing table of value indices (plus one; 0 is
/// empty) into the table's own buffer, probed linearly.
///
/// Its size is fixed from the list's length at a load of at most 3/4, and
/// mapped to by multiply-and-shift rather than a power of two: for a
/// million words it takes 5.3 MB, where a general-purpose table (control
/// bytes, power-of-two buckets) takes twice that.
struct Seen {
    slots: Vec<u32>,
}

impl Seen {
    fn with_capacity(values: usize) -> Seen {
        Seen {
            slots: vec![0; values + values / 3 + 1],
        }
    }

    /// Inserts the value at `table.bytes[start..]`, which becomes value
    /// `table.len()`; `false` when an equal value is already there.
    fn insert(&mut self, table: &Table, start: usize) -> bool {
        let value = &table.bytes[start..];
        let size = u64::try_from(self.slots.len()).expect("a length fits in u64");
        let home = (u128::from(hash(value)) * u128::from(size)) >> 64;
        let mut slot = usize::try_from(home).expect("the slot is below the table's length");
        loop {
            match self.slots[slot] {
                0 => {
                    self.slots[slot] = u32::try_from(table.len() + 1).unwrap_or(u32::MAX);
                    return true;
                }
                kept => {
                    if table.bytes(offset(kept) - 1) == value {
                        return false;
                    }
                }
            }
            slot += 1;
            if slot == self.slots.len() {
                slot = 0;
            }
        }
    }
}

/// A fast, well-mixed 64-bit hash of a short byte string (not keyed: a
/// list crafted to collide only slows its own compilation).
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = u64::try_from(bytes.len()).unwrap_or(0).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        h = (h ^ word).wrapping_mul(K).rotate_left(31);
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

/// Appends `word` lowercased when UTS #46 would map it to just that: ASCII
/// letters, digits and '-' (which STD3 rules allow, and `Hyphens::Allow`
/// leaves wherever they are), and not an A-label (`xn--`, which is decoded).
/// Any other word appends nothing and returns `false`: it takes the IDNA
/// path.
fn push_ascii_label(word: &str, out: &mut Vec<u8>) -> bool {
    let bytes = word.as_bytes();
    if !bytes
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        || bytes
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
    {
        return false;
    }
    out.extend(bytes.iter().map(u8::to_ascii_lowercase));
    true
}

/// Normalises keywords or list words. `what` is "keyword" or "word of list `x`".
pub(crate) fn words(list: &WordList, what: &str) -> Result<Table, Error> {
    let uts46 = Uts46::new();
    let mut table = Table::new(list, what);
    let mut seen = Seen::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
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
        if !push_ascii_label(trimmed, &mut table.bytes) {
            let unicode = idna_word(&uts46, trimmed).map_err(|why| fail(&why))?;
            table.bytes.extend_from_slice(unicode.as_bytes());
        }
        table.commit(&mut seen, list, i)?;
    }
    Ok(table)
}

/// A word through UTS #46 (to Unicode, STD3 rules, hyphens anywhere) and
/// domgen's own checks; the error is why it is refused.
fn idna_word<'a>(uts46: &Uts46, word: &'a str) -> Result<std::borrow::Cow<'a, str>, String> {
    let (unicode, result) = uts46.to_unicode(word.as_bytes(), AsciiDenyList::STD3, Hyphens::Allow);
    if result.is_err() {
        return Err(
            "is not a valid hostname label under UTS #46 (only letters, digits and '-' are allowed, and Unicode must be valid IDNA); fix or remove it".to_owned(),
        );
    }
    if unicode.contains('.') {
        return Err(
            "holds a dot, but a word is part of one label; split it, or put the dot in the pattern"
                .to_owned(),
        );
    }
    if let Some(c) = unicode.chars().find(|&c| is_right_to_left(c)) {
        return Err(format!(
            "holds right-to-left text ({c:?}), which domgen does not compose into labels yet; remove it"
        ));
    }
    Ok(unicode)
}

/// Normalises TLDs to A-labels and, unless `allow_unknown`, checks each one
/// is a public suffix.
pub(crate) fn tlds(list: &WordList, allow_unknown: bool) -> Result<Table, Error> {
    let uts46 = Uts46::new();
    let mut table = Table::new(list, "TLD");
    let mut seen = Seen::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
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
        table.bytes.extend_from_slice(ascii.as_bytes());
        table.commit(&mut seen, list, i)?;
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
const RESERVED: [&str; 6] = ["keyword", "tld", "list", "random", "number", "typo"];

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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use idna::uts46::{AsciiDenyList, Hyphens, Uts46};
    use proptest::prelude::*;

    use super::{Table, push_ascii_label, words};
    use crate::spec::WordList;

    /// The table as it was built before the arena: every word through
    /// UTS #46, a `HashSet<String>` of the values, an origin string per
    /// value. Returns the values and their origins, or the error message.
    fn naive(list: &WordList, what: &str) -> Result<Vec<(String, String)>, String> {
        let uts46 = Uts46::new();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, raw) in list.iter().enumerate() {
            let fail = |why: &str| format!("{what} `{raw}` ({}): {why}", list.locate(i));
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                return Err(fail("is empty; remove it"));
            }
            let unicode = super::idna_word(&uts46, trimmed).map_err(|why| fail(&why))?;
            if seen.insert(unicode.to_string()) {
                out.push((
                    unicode.into_owned(),
                    format!("{what} `{raw}` ({})", list.locate(i)),
                ));
            }
        }
        Ok(out)
    }

    fn arena(list: &WordList, what: &str) -> Result<Vec<(String, String)>, String> {
        let table: Table = words(list, what).map_err(|e| e.to_string())?;
        Ok((0..table.len())
            .map(|i| (table.get(i).to_owned(), table.origin(i, list)))
            .collect())
    }

    fn same_as_naive(list: &WordList) {
        let naive = naive(list, "keyword");
        let arena = arena(list, "keyword");
        assert_eq!(naive, arena);
    }

    #[test]
    fn repeats_keep_the_first_and_name_its_line() {
        let list = WordList::parse(
            "Shop\n# comment\n\nshop\ncafé\nCAFÉ\n data \nxn--caf-dma\n",
            "kw.txt",
        );
        let table = words(&list, "keyword").unwrap();
        let values: Vec<&str> = table.iter().collect();
        assert_eq!(values, ["shop", "café", "data"]);
        assert_eq!(table.origin(0, &list), "keyword `Shop` (kw.txt:1)");
        assert_eq!(table.origin(1, &list), "keyword `café` (kw.txt:5)");
        assert_eq!(table.origin(2, &list), "keyword `data` (kw.txt:7)");
        assert_eq!(table.max_len(), 5);
        same_as_naive(&list);
    }

    #[test]
    fn mixed_ascii_and_unicode_lists_match_the_naive_table() {
        for words in [
            &["Shop", "shop", "ÉCOLE", "école", "b--c", "-x", "x-", "9to5"][..],
            &[
                "straße",
                "STRASSE",
                "strasse",
                "xn--strae-oqa",
                "ﬁsh",
                "fish",
            ],
            &["xn--", "XN--abc", "a_b"],
            &["a.b"],
            &["مرحبا"],
            &["  "],
        ] {
            same_as_naive(&WordList::inline(words.iter().copied()));
        }
    }

    /// Words of letters (either case), digits, '-' and a few that are not
    /// ASCII labels, with `xn--` prefixes now and then.
    fn word() -> impl Strategy<Value = String> {
        let body = proptest::string::string_regex("[a-cA-CxX0-9-]{1,8}").unwrap();
        (
            prop_oneof![Just(""), Just("xn--"), Just("XN--"), Just("Xn--")],
            body,
            prop_oneof![
                Just(""),
                Just(""),
                Just("é"),
                Just("_"),
                Just("."),
                Just(" ")
            ],
        )
            .prop_map(|(prefix, body, tail)| format!("{prefix}{body}{tail}"))
    }

    /// Specs stored before the arena (a campaign's spec is kept as data)
    /// read back the same, and a list is stored in that form.
    #[test]
    fn word_lists_keep_their_stored_form() {
        let stored = "words = [\"shop\", \"data\"]\nsource = \"kw.txt\"\nlines = [1, 3]\n";
        let list: WordList = toml::from_str(stored).unwrap();
        assert_eq!(list, WordList::parse("shop\n\ndata\n", "kw.txt"));
        assert_eq!(list.locate(1), "kw.txt:3");
        assert_eq!(toml::to_string(&list).unwrap(), stored);
        let inline = WordList::inline(["a\nb", ""]);
        let back: WordList = toml::from_str(&toml::to_string(&inline).unwrap()).unwrap();
        assert_eq!(back, inline);
        assert_eq!(back.iter().collect::<Vec<_>>(), ["a\nb", ""]);
        assert_eq!(back.locate(1), "item 2");
    }

    /// A file that is not UTF-8 is refused with the message reading it
    /// whole gave (`read_to_string`'s), now at the first bad line.
    #[test]
    fn a_file_that_is_not_utf8_is_refused_as_before() {
        let e = WordList::read(&b"shop\ncaf\xe9\n"[..], "kw.txt").unwrap_err();
        let whole = std::io::read_to_string(&b"shop\ncaf\xe9\n"[..]).unwrap_err();
        assert_eq!(e.kind(), whole.kind());
        assert_eq!(e.to_string(), whole.to_string());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The ASCII fast path maps a word exactly as UTS #46 does, and
        /// takes only words it maps to themselves lowercased.
        #[test]
        fn ascii_fast_path_matches_idna(w in word()) {
            let mut fast = Vec::new();
            if push_ascii_label(&w, &mut fast) {
                let idna = super::idna_word(&Uts46::new(), &w);
                prop_assert_eq!(idna.as_deref(), Ok(std::str::from_utf8(&fast).unwrap()));
                prop_assert_eq!(fast, w.to_ascii_lowercase().into_bytes());
            } else {
                prop_assert!(fast.is_empty());
            }
        }

        /// Any ASCII string the fast path takes is one UTS #46 accepts
        /// unchanged but for case (also for bytes outside the label set).
        #[test]
        fn fast_path_is_never_wider_than_idna(w in "[ -~]{1,10}") {
            let mut fast = Vec::new();
            if push_ascii_label(&w, &mut fast) {
                let (unicode, result) = Uts46::new().to_unicode(
                    w.as_bytes(),
                    AsciiDenyList::STD3,
                    Hyphens::Allow,
                );
                prop_assert!(result.is_ok());
                prop_assert_eq!(unicode.as_bytes(), fast.as_slice());
            }
        }

        #[test]
        fn tables_match_the_naive_table(words in proptest::collection::vec(word(), 0..40)) {
            same_as_naive(&WordList::inline(words));
        }

        /// A file's words, read line by line, are the parsed text's words
        /// with the same lines.
        #[test]
        fn reading_matches_parsing(lines in proptest::collection::vec("[a-c #\r]{0,6}", 0..30)) {
            let text = lines.join("\n");
            let parsed = WordList::parse(&text, "f");
            let read = WordList::read(text.as_bytes(), "f").unwrap();
            prop_assert_eq!(&parsed, &read);
            let mut expected = Vec::new();
            for (number, line) in text.lines().enumerate() {
                let line = line.split('#').next().unwrap_or("").trim();
                if !line.is_empty() {
                    expected.push((line.to_owned(), format!("f:{}", number + 1)));
                }
            }
            let got: Vec<(String, String)> = parsed
                .iter()
                .enumerate()
                .map(|(i, w)| (w.to_owned(), parsed.locate(i)))
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}
