//! One deterministic automaton for all of a spec's content filters.
//!
//! Excluded words, excluded regexes and included regexes are each compiled
//! to a DFA by `regex-automata`; their product, built here over the few
//! bytes a name can hold, is the automaton the counting runs over. A state
//! of the product says, for each filter, how far a name's bytes so far have
//! gone towards a match; a name is kept when its last state *accepts*.
//!
//! Excluded words apply to the name without its TLD. The name is fed with
//! [`MARK`] where its TLD begins (before the dot): from there on the words'
//! DFA is no longer stepped, and the regexes, which see the whole name,
//! skip the mark.

use std::collections::HashMap;

use regex_automata::dfa::{Automaton as _, StartKind, dense};
use regex_automata::nfa::thompson;
use regex_automata::util::primitives::StateID;
use regex_automata::util::{start, syntax};
use regex_automata::{Anchored, MatchKind};

use crate::error::{Error, ErrorKind};

/// Fed where a name's TLD begins. No name holds it.
pub(crate) const MARK: u8 = 0;

/// The state no kept name passes through.
pub(crate) const DEAD: u32 = 0;

/// The most states the product may have.
pub(crate) const MAX_STATES: usize = 1 << 16;

/// The most bytes the DFA of one filter may take: about as many states
/// as the product may have ([`MAX_STATES`]), so that a regex whose DFA
/// explodes is refused soon, not after minutes of determinizing.
const MAX_DFA_BYTES: usize = 16 << 20;

/// The bytes a name is written with (A-labels, so ASCII): letters,
/// digits, hyphen and dot.
fn name_bytes() -> impl Iterator<Item = u8> {
    (b'a'..=b'z').chain(b'0'..=b'9').chain([b'-', b'.'])
}

/// A filter's DFA as a component of the product.
struct Component {
    dfa: dense::DFA<Vec<u32>>,
    role: Role,
    start: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Excluded words: before the mark only.
    Words,
    /// Excluded regexes: a match anywhere kills the name.
    Exclude,
    /// An included regex: the name must match it.
    Include,
}

/// A component that has matched (an included regex) or never can (an
/// excluded one whose DFA died), and need not be stepped again.
const SETTLED: u32 = u32::MAX;

/// The product automaton: a transition table over byte classes.
#[derive(Clone, Debug)]
pub(crate) struct Automaton {
    /// A byte's column; 0 for bytes no name holds (which go to `DEAD`).
    columns: [u8; 256],
    width: usize,
    next: Box<[u32]>,
    /// Whether a name whose bytes end in the state is kept.
    accepts: Box<[bool]>,
    start: u32,
}

impl Automaton {
    pub(crate) fn start(&self) -> u32 {
        self.start
    }

    pub(crate) fn states(&self) -> usize {
        self.accepts.len()
    }

    pub(crate) fn accepts(&self, state: u32) -> bool {
        self.accepts[state as usize]
    }

    #[inline(always)]
    pub(crate) fn step(&self, state: u32, byte: u8) -> u32 {
        self.next[state as usize * self.width + usize::from(self.columns[usize::from(byte)])]
    }

    /// The state after `bytes` from `state`.
    #[inline]
    pub(crate) fn walk(&self, mut state: u32, bytes: &[u8]) -> u32 {
        for &b in bytes {
            if state == DEAD {
                break;
            }
            state = self.step(state, b);
        }
        state
    }

    /// The product of the filters' DFAs. `words` are the excluded words
    /// (A-label form), `exclude` and `include` the regexes, each with
    /// where it was given for messages.
    pub(crate) fn build(
        words: &[Vec<u8>],
        exclude: &[(String, String)],
        include: &[(String, String)],
    ) -> Result<Automaton, Error> {
        let mut components = Vec::new();
        if !words.is_empty() {
            let pattern = words
                .iter()
                .map(|w| regex_syntax_escape(w))
                .collect::<Vec<_>>()
                .join("|");
            components.push(component(&pattern, Role::Words, "the excluded words")?);
        }
        for (re, at) in exclude.iter().chain(include) {
            check_regex(re, at)?;
        }
        if !exclude.is_empty() {
            let pattern = exclude
                .iter()
                .map(|(re, _)| format!("(?:{re})"))
                .collect::<Vec<_>>()
                .join("|");
            components.push(component(&pattern, Role::Exclude, "the excluded regexes")?);
        }
        for (re, at) in include {
            components.push(component(
                re,
                Role::Include,
                &format!("include_regex `{re}` ({at})"),
            )?);
        }
        Product::new(components).build()
    }
}

/// `word` with the characters a regex gives meaning to escaped.
fn regex_syntax_escape(word: &[u8]) -> String {
    let mut out = String::with_capacity(word.len());
    for &b in word {
        let c = char::from(b);
        if !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The syntax every filter regex is read with: names are ASCII (A-labels),
/// so classes like `\w` and `\b` are ASCII ones.
fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

/// Refuses a regex that does not parse or cannot be a finite automaton,
/// naming it, where it was given, and what to do.
fn check_regex(re: &str, at: &str) -> Result<(), Error> {
    syntax::parse_with(re, &syntax_config()).map(drop).map_err(|e| {
        let why = e.to_string();
        let help = if why.contains("backreferences") || why.contains("look-around") {
            "filters run as a finite automaton, which cannot hold look-around or backreferences; spell the cases out instead (for a letter three times in a row: `aaa|bbb|ccc|…`), or leave such names out with exclude words"
        } else {
            "fix the expression (the syntax is that of the Rust regex crate)"
        };
        Error::new(
            ErrorKind::BadValue,
            format!("filter regex `{re}` ({at}) is refused:\n{why}\n  help: {help}"),
        )
    })
}

fn component(pattern: &str, role: Role, what: &str) -> Result<Component, Error> {
    let dfa = dense::Builder::new()
        .syntax(syntax_config())
        // The NFA first: `\d{188888888}` would fill memory before the
        // DFA's limits are reached.
        .thompson(thompson::Config::new().nfa_size_limit(Some(MAX_DFA_BYTES)))
        .configure(
            dense::Config::new()
                .start_kind(StartKind::Unanchored)
                .match_kind(MatchKind::All)
                .dfa_size_limit(Some(MAX_DFA_BYTES))
                .determinize_size_limit(Some(MAX_DFA_BYTES)),
        )
        .build(pattern)
        .map_err(|e| {
            if e.to_string().contains("Unicode word boundaries") {
                return Error::new(
                    ErrorKind::BadValue,
                    format!(
                        "{what}: a Unicode word boundary (`(?u)\\b`) cannot be a finite automaton; names are ASCII, so use `\\b` (an ASCII boundary)"
                    ),
                );
            }
            Error::new(
                ErrorKind::TooLarge,
                format!(
                    "{what} cannot be made into an automaton of at most {} MiB: {e}; use fewer or simpler filters",
                    MAX_DFA_BYTES >> 20
                ),
            )
        })?;
    let start = dfa
        .start_state(&start::Config::new().anchored(Anchored::No))
        .map_err(|e| Error::new(ErrorKind::BadValue, format!("{what}: {e}")))?;
    Ok(Component {
        start: start.as_u32(),
        dfa,
        role,
    })
}

/// The product's states as the tuples of their components' states (and,
/// last, 1 once the mark is passed), found breadth first.
struct Product {
    components: Vec<Component>,
    ids: HashMap<Box<[u32]>, u32>,
    tuples: Vec<Box<[u32]>>,
}

impl Product {
    fn new(components: Vec<Component>) -> Product {
        Product {
            components,
            ids: HashMap::new(),
            tuples: Vec::new(),
        }
    }

    fn id(&mut self, tuple: Option<Box<[u32]>>) -> Result<u32, Error> {
        let Some(tuple) = tuple else { return Ok(DEAD) };
        if let Some(&id) = self.ids.get(&tuple) {
            return Ok(id);
        }
        if self.tuples.len() >= MAX_STATES {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!(
                    "the filters together make an automaton of more than {MAX_STATES} states; use fewer excluded words or simpler regexes"
                ),
            ));
        }
        let id = u32::try_from(self.tuples.len()).expect("states are fewer than MAX_STATES");
        self.ids.insert(tuple.clone(), id);
        self.tuples.push(tuple);
        Ok(id)
    }

    fn build(mut self) -> Result<Automaton, Error> {
        let mut columns = [0u8; 256];
        let mut bytes = vec![MARK];
        bytes.extend(name_bytes());
        for (i, &b) in bytes.iter().enumerate() {
            columns[usize::from(b)] = u8::try_from(i + 1).expect("fewer than 255 name bytes");
        }
        let width = bytes.len() + 1;
        // State 0 is DEAD: a tuple no component makes.
        self.tuples.push(Box::new([]));
        let mut first: Vec<u32> = self.components.iter().map(|c| c.start).collect();
        first.push(0);
        let start = self.id(Some(first.into()))?;
        let mut next = vec![DEAD; width];
        let mut accepts = vec![false];
        let mut at = 1;
        while at < self.tuples.len() {
            let tuple = self.tuples[at].clone();
            accepts.push(self.accepts(&tuple));
            next.push(DEAD);
            for &b in &bytes {
                let to = self.step(&tuple, b);
                next.push(self.id(to)?);
            }
            at += 1;
        }
        Ok(Automaton {
            columns,
            width,
            next: next.into(),
            accepts: accepts.into(),
            start,
        })
    }

    /// The tuple after `byte`, or `None` for a name no longer kept.
    fn step(&self, tuple: &[u32], byte: u8) -> Option<Box<[u32]>> {
        let n = self.components.len();
        let mut out: Box<[u32]> = tuple.into();
        let marked = tuple[n] == 1;
        if byte == MARK {
            if marked {
                return None;
            }
            out[n] = 1;
            for (c, state) in self.components.iter().zip(out.iter_mut()) {
                if c.role == Role::Words && *state != SETTLED {
                    // A word that ends where the TLD begins.
                    let eoi = c.dfa.next_eoi_state(sid(*state));
                    if c.dfa.is_match_state(eoi) {
                        return None;
                    }
                    *state = SETTLED;
                }
            }
            return Some(out);
        }
        for (c, state) in self.components.iter().zip(out.iter_mut()) {
            if *state == SETTLED {
                continue;
            }
            let to = c.dfa.next_state(sid(*state), byte);
            if c.dfa.is_match_state(to) {
                match c.role {
                    Role::Words | Role::Exclude => return None,
                    Role::Include => *state = SETTLED,
                }
            } else if c.dfa.is_dead_state(to) {
                match c.role {
                    Role::Include => return None,
                    Role::Words | Role::Exclude => *state = SETTLED,
                }
            } else {
                *state = to.as_u32();
            }
        }
        Some(out)
    }

    /// Whether a name ending in `tuple` is kept.
    fn accepts(&self, tuple: &[u32]) -> bool {
        self.components.iter().zip(tuple).all(|(c, &state)| {
            if state == SETTLED {
                return true;
            }
            let matched = c.dfa.is_match_state(c.dfa.next_eoi_state(sid(state)));
            match c.role {
                Role::Words | Role::Exclude => !matched,
                Role::Include => matched,
            }
        })
    }
}

fn sid(state: u32) -> StateID {
    StateID::new_unchecked(state as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(a: &Automaton, name: &str) -> bool {
        let (label, tld) = name.split_once('.').unwrap();
        let mut s = a.walk(a.start(), label.as_bytes());
        s = a.walk(s, &[MARK]);
        s = a.walk(s, b".");
        s = a.walk(s, tld.as_bytes());
        s != DEAD && a.accepts(s)
    }

    #[test]
    fn words_apply_before_the_tld_and_regexes_to_all() {
        let a = Automaton::build(
            &[b"xxx".to_vec(), b"co".to_vec()],
            &[("m$".into(), "test".into())],
            &[("^[a-z]".into(), "test".into())],
        )
        .unwrap();
        assert!(kept(&a, "shop.net"));
        assert!(!kept(&a, "shopxxx.net"));
        assert!(!kept(&a, "coshop.net"));
        assert!(
            !kept(&a, "shopco.net"),
            "a word ending where the TLD begins"
        );
        assert!(kept(&a, "shop.co"), "the TLD is not searched for words");
        assert!(!kept(&a, "shop.com"), "regexes see the TLD");
        assert!(!kept(&a, "1shop.net"), "an included regex must match");
    }

    #[test]
    fn a_huge_repetition_is_refused_before_it_fills_memory() {
        // Found by the `filter` fuzz target (fuzz/seeds/filter/huge-repetition.txt).
        let e = Automaton::build(&[], &[(r"\d{188888888}".into(), "item 1".into())], &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot be made into an automaton of at most 16 MiB"),
            "{e}"
        );
    }

    #[test]
    fn an_exploding_dfa_is_refused_soon() {
        // Found by the `filter` fuzz target (fuzz/seeds/filter/many-dots.txt).
        let re = "8\0/\0\0..|....\0\0\0\0/\0\0..|.&..................,.\0.+|\0\0\0\0myx9xgo-mv";
        let result = Automaton::build(&[], &[(re.into(), "item 1".into())], &[]);
        if let Err(e) = result {
            assert!(
                e.to_string().contains("MiB") || e.to_string().contains("states"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_unicode_word_boundary_is_refused_with_the_ascii_one_offered() {
        let e = Automaton::build(&[], &[], &[(r"(?u)\bshop".into(), "item 1".into())]).unwrap_err();
        assert!(e.to_string().contains("use `\\b`"), "{e}");
        assert_eq!(e.kind(), ErrorKind::BadValue);
    }

    #[test]
    fn backreferences_are_refused_with_a_way_out() {
        let e = Automaton::build(&[], &[(r"(.)\1\1".into(), "item 1".into())], &[]).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(r"`(.)\1\1` (item 1)"), "{text}");
        assert!(text.contains("backreferences"), "{text}");
        assert!(text.contains("aaa|bbb"), "{text}");
    }
}
