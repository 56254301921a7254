/*!
The exact space of domain names behind a domgen spec.

A [`Spec`] says what to combine: keywords, TLDs, named lists, charsets and
patterns such as `{keyword}-{random:3}.{tld}`. [`Space::compile`] turns it
into a [`Space`], which knows its exact [`total`](Space::total) before a
single name is made, maps every index in `[0, total)` to one name without
allocating ([`Space::write_name`]), and walks any range of positions in
sequential or shuffled [`Order`] with a [`Cursor`]. [`Space::pieces`] says
which pattern, keyword and TLD a name was built from, from the space's own
strings.

Compilation decides validity once: a spec that could produce an invalid
hostname (a label over 63 octets, a name over 253, a hyphen at a label's
edge, `--` at positions 3–4 outside an A-label, a TLD missing from the Public
Suffix List) is refused with an [`Error`] that names the pattern, the
position and the value. So every index of a compiled space is a valid name,
and the count is exact.

A spec's [`Filter`] leaves names out (length bounds, excluded words,
regular expressions, whole names) and the space stays exact: `total` counts
the names kept, and indexes and positions are theirs, found by dynamic
programming over an automaton of the rules, never by enumerating.
[`Space::index_of`] finds a name's index again.

This crate does no I/O and starts no threads. Spec files are parsed from
text ([`SpecFile::from_toml`]); word files are read through a closure the
caller passes to [`SpecFile::resolve`].

# Example

```
use domgen_pattern::{Order, Space, Spec, WordList};

let spec = Spec {
    keywords: WordList::inline(["shop", "Café", "SHOP"]),
    tlds: WordList::inline(["com", "co.uk"]),
    patterns: vec!["{keyword}.{tld}".into(), "{keyword}{digit:1}.com".into()],
    ..Spec::default()
};
let space = Space::compile(&spec)?;
// "SHOP" repeats "shop" once lowercased: 2 keywords × 2 TLDs + 2 × 10.
assert_eq!(space.total(), 24);
assert_eq!(space.name(0), "shop.com");
assert_eq!(space.name(2), "xn--caf-dma.com");
assert_eq!(space.name(23), "xn--caf9-dpa.com");

let mut out = Vec::new();
let mut cursor = space.cursor(4..7);
while cursor.write_next(&mut out).is_some() {
    out.push(b'\n');
}
assert_eq!(out, b"shop0.com\nshop1.com\nshop2.com\n");

let shuffled = Space::compile(&Spec { order: Order::Shuffled, seed: 7, ..spec })?;
let mut names: Vec<String> = (0..24).map(|p| shuffled.name(shuffled.index_at(p))).collect();
names.sort();
let mut all: Vec<String> = (0..24).map(|i| space.name(i)).collect();
all.sort();
assert_eq!(names, all);
# Ok::<(), Box<dyn std::error::Error>>(())
```

# Errors

An [`Error`] has an [`ErrorKind`] and a message that names the bad value,
where it was and what to do. Advice names spec settings as they are
written in a spec file, each in one fixed phrase: ``add patterns =
["{keyword}.{tld}"] to the spec``, `add keywords = [...] or keywords_file
to the spec`, `add tlds = [...] or tlds_file to the spec`, ``define `NAME`
in the spec's [lists]``, `define the list in the spec's [lists]`, `define
others in the spec's [charsets]` and `set allow_unknown_tlds = true in the
spec`. A front end that fills the spec from elsewhere (the `domgen`
binary's flags) can replace these phrases with its own.

# Crate features

This crate has no optional features.
*/

#![deny(missing_docs)]

mod compile;
mod domainflow;
mod error;
mod filter;
mod parse;
mod punycode;
mod shuffle;
mod space;
mod spec;
mod typo;
mod words;

pub use crate::domainflow::{DOMAINFLOW_CHARSET, DomainflowConfig, ServiceKey};
pub use crate::error::{Error, ErrorKind};
pub use crate::filter::FilterRule;
pub use crate::shuffle::{LATEST_SHUFFLE, SHUFFLE_VERSIONS};
pub use crate::space::{Cursor, MAX_NAME_LEN, PatternInfo, Pieces, Space};
pub use crate::spec::{Filter, FilterFile, ListDef, Order, Spec, SpecFile, WordList};
pub use crate::typo::{Keyboard, TypoAlgorithm, TypoCount, TypoReport};

impl Space {
    /// Validates `spec` and builds its space. See the crate docs for what
    /// is checked.
    pub fn compile(spec: &Spec) -> Result<Space, Error> {
        compile::compile(spec)
    }
}
