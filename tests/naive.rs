//! A naive enumerator, written without the library: the oracle that the
//! binary's output is checked against.
//!
//! A pattern is described by hand as a list of pieces, each expanded to all
//! of its values in order; the names are the nested loops over the pieces,
//! the leftmost outermost (so the rightmost varies fastest).

/// Keywords, list words and TLDs as the spec format promises to treat ASCII
/// words: trimmed, lowercased, repeats dropped with the first one kept.
pub fn normalise(words: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in words {
        let word = word.trim().to_ascii_lowercase();
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// Every string of length `min`, then `min + 1`, … `max` over `chars`, the
/// rightmost character varying fastest, characters in the order written.
pub fn strings(chars: &str, min: usize, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for len in min..=max {
        let mut level = vec![String::new()];
        for _ in 0..len {
            let mut next = Vec::new();
            for prefix in &level {
                for c in chars.chars() {
                    next.push(format!("{prefix}{c}"));
                }
            }
            level = next;
        }
        out.extend(level);
    }
    out
}

/// `lo..=hi` in decimal, zero-padded to `width` (0 for no padding).
pub fn numbers(lo: u64, hi: u64, width: usize) -> Vec<String> {
    (lo..=hi).map(|n| format!("{n:0width$}")).collect()
}

/// A literal piece: one value.
pub fn lit(text: &str) -> Vec<String> {
    vec![text.to_owned()]
}

/// The names of one pattern: nested loops over the pieces' values.
pub fn names(pieces: &[Vec<String>]) -> Vec<String> {
    let mut out = vec![String::new()];
    for values in pieces {
        let mut next = Vec::with_capacity(out.len() * values.len());
        for prefix in &out {
            for value in values {
                next.push(format!("{prefix}{value}"));
            }
        }
        out = next;
    }
    out
}

pub const ALPHA: &str = "abcdefghijklmnopqrstuvwxyz";
pub const DIGIT: &str = "0123456789";
pub const ALNUM: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
pub const HEX: &str = "0123456789abcdef";
pub const VOWEL: &str = "aeiou";
pub const CONSONANT: &str = "bcdfghjklmnpqrstvwxyz";

#[test]
fn oracle_rightmost_varies_fastest() {
    assert_eq!(strings("ab", 1, 2), ["a", "b", "aa", "ab", "ba", "bb"]);
    assert_eq!(numbers(8, 11, 0), ["8", "9", "10", "11"]);
    assert_eq!(numbers(1, 3, 2), ["01", "02", "03"]);
    assert_eq!(
        names(&[
            lit("x"),
            strings("ab", 1, 1),
            lit("."),
            normalise(&["Com", "net", "com"])
        ]),
        ["xa.com", "xa.net", "xb.com", "xb.net"]
    );
    assert_eq!(CONSONANT.len() + VOWEL.len(), ALPHA.len());
}
