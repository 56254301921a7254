//! A fuzzed filter over fixed specs. The input is lines: `min N`, `max N`,
//! `w WORD` (an excluded word), `x RE` / `i RE` (an excluded / included
//! regex), `n NAME` (an excluded name), `p PATTERN` (replaces the
//! patterns), `s` (shuffled). Whatever compiles must keep only names the
//! filter keeps, count no more than the unfiltered space, and agree with
//! itself every way a name is reached.

#![no_main]

use domgen_fuzz::{check_space, salt};
use domgen_pattern::{Filter, Order, Space, Spec, WordList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut spec = Spec {
        keywords: WordList::inline(["shop", "cloud", "ab-c", "x9"]),
        tlds: WordList::inline(["com", "co.uk"]),
        patterns: vec![
            "{keyword}{digit:1-2}.{tld}".into(),
            "go-{alpha:1-3}.io".into(),
            "{list:prefix}{keyword}.{tld}".into(),
        ],
        lists: [("prefix".to_owned(), WordList::inline(["get", "my"]))]
            .into_iter()
            .collect(),
        seed: salt(data),
        ..Spec::default()
    };
    let mut filter = Filter::default();
    let (mut words, mut names, mut patterns) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "min" => filter.min_length = value.parse().ok(),
            "max" => filter.max_length = value.parse().ok(),
            "w" => words.push(value),
            "x" => filter.exclude_regex.push(value.to_owned()),
            "i" => filter.include_regex.push(value.to_owned()),
            "n" => names.push(value),
            "p" => patterns.push(value.to_owned()),
            "s" => spec.order = Order::Shuffled,
            _ => {}
        }
    }
    filter.exclude = vec![WordList::inline(words)];
    filter.exclude_names = vec![WordList::inline(names)];
    if !patterns.is_empty() {
        spec.patterns = patterns;
    }
    let Ok(unfiltered) = Space::compile(&spec) else {
        return;
    };
    spec.filter = filter;
    let Ok(space) = Space::compile(&spec) else {
        return;
    };
    assert!(space.total() <= unfiltered.total());
    let sum: u64 = space.patterns().map(|p| p.count).sum();
    assert_eq!(sum, space.total());
    for p in space.patterns().zip(unfiltered.patterns()) {
        assert!(p.0.count <= p.1.count && p.0.unfiltered == p.1.count);
    }
    check_space(&space, salt(data));
    // Every kept name is one of the space's, and found again where it is.
    for index in domgen_fuzz::sample_positions(space.total(), salt(data)) {
        let name = space.name(index);
        let found = space.index_of(&name).expect("a kept name is found");
        assert!(found <= index && space.name(found) == name);
        // A name can be all TLD (a wildcard rule of the list: `*.mm`).
        let stem = name.len().saturating_sub(space.pieces(index).tld.len() + 1);
        if let Some(min) = spec.filter.min_length {
            assert!(stem >= min, "{name} is shorter than {min}");
        }
        if let Some(max) = spec.filter.max_length {
            assert!(stem <= max, "{name} is longer than {max}");
        }
    }
    let _ = space.filter_rules(&spec.filter).expect("rules compile as the filter did");
});
