//! The naive enumerator the oracle tests compare domgen with.

use std::collections::{BTreeMap, HashSet};

use domgen_pattern::{Spec, WordList};

/// Every name of `spec`, in order, by brute force: each pattern's pieces
/// expand to their value lists and the cartesian product is walked with
/// the rightmost piece fastest. Knows only ASCII words.
pub fn naive(spec: &Spec) -> Vec<String> {
    let mut names = Vec::new();
    for pattern in &spec.patterns {
        let pieces: Vec<Vec<String>> = pieces(pattern)
            .into_iter()
            .map(|p| expand(&p, spec))
            .collect();
        let mut current = vec![String::new()];
        for values in &pieces {
            let mut next = Vec::with_capacity(current.len() * values.len());
            for prefix in &current {
                for v in values {
                    next.push(format!("{prefix}{v}"));
                }
            }
            current = next;
        }
        names.extend(current);
    }
    names
}

/// Splits a pattern into literal text and `{...}` bodies.
pub fn pieces(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(body) = rest.strip_prefix('{') {
            let end = body.find('}').unwrap();
            out.push(format!("{{{}}}", &body[..end]));
            rest = &body[end + 1..];
        } else {
            let end = rest.find('{').unwrap_or(rest.len());
            out.push(rest[..end].to_lowercase());
            rest = &rest[end..];
        }
    }
    out
}

fn dedup_lower(words: &WordList) -> Vec<String> {
    let mut seen = HashSet::new();
    words
        .iter()
        .map(|w| w.trim().to_lowercase())
        .filter(|w| seen.insert(w.clone()))
        .collect()
}

pub fn expand(piece: &str, spec: &Spec) -> Vec<String> {
    let Some(body) = piece.strip_prefix('{').and_then(|p| p.strip_suffix('}')) else {
        return vec![piece.to_owned()];
    };
    let builtin: BTreeMap<&str, &str> = [
        ("alpha", "abcdefghijklmnopqrstuvwxyz"),
        ("digit", "0123456789"),
        ("alnum", "abcdefghijklmnopqrstuvwxyz0123456789"),
        ("hex", "0123456789abcdef"),
        ("vowel", "aeiou"),
        ("consonant", "bcdfghjklmnpqrstvwxyz"),
    ]
    .into_iter()
    .collect();
    match body.split_once(':') {
        None if body == "keyword" => dedup_lower(&spec.keywords),
        None if body == "tld" => dedup_lower(&spec.tlds),
        None if body == "random" => strings("abcdefghijklmnopqrstuvwxyz0123456789", 4),
        Some(("list", name)) => dedup_lower(&spec.lists[name]),
        Some(("number", range)) => {
            let (a, b) = range.split_once('-').unwrap();
            let (lo, hi): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
            let pad = a.len() > 1 && a.starts_with('0');
            (lo..=hi)
                .map(|n| {
                    if pad {
                        format!("{n:0w$}", w = b.len())
                    } else {
                        n.to_string()
                    }
                })
                .collect()
        }
        Some((cs, lengths)) => {
            let chars = builtin.get(cs).map(|c| c.to_string()).unwrap_or_else(|| {
                spec.charsets[if cs == "random" { "alnum" } else { cs }].clone()
            });
            let chars = if cs == "random" {
                builtin["alnum"].to_owned()
            } else {
                chars
            };
            let (m, n) = match lengths.split_once('-') {
                Some((m, n)) => (m.parse().unwrap(), n.parse().unwrap()),
                None => (lengths.parse().unwrap(), lengths.parse().unwrap()),
            };
            (m..=n).flat_map(|len| strings(&chars, len)).collect()
        }
        _ => panic!("oracle does not know {piece}"),
    }
}

/// All strings of length `len` over `chars`, rightmost character fastest.
fn strings(chars: &str, len: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    for _ in 0..len {
        out = out
            .iter()
            .flat_map(|p| chars.chars().map(move |c| format!("{p}{c}")))
            .collect();
    }
    out
}
