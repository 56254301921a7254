//! Filtered spaces against the naive enumerator with a naive filter: the
//! same names in the same order, counted exactly, at every position, in
//! both orders.

mod support;

use domgen_pattern::{ErrorKind, Filter, Order, Space, Spec, WordList};
use proptest::prelude::*;
use regex::Regex;
use support::naive;

/// The TLDs names of the test specs can end in, longest first.
const SUFFIXES: [&str; 3] = ["co.uk", "com", "io"];

/// `name` without its TLD and the dot before it.
fn stem(name: &str) -> &str {
    for tld in SUFFIXES {
        if let Some(stem) = name.strip_suffix(tld).and_then(|s| s.strip_suffix('.')) {
            return stem;
        }
    }
    panic!("{name} ends in no known TLD")
}

/// Whether the naive filter keeps `name`.
fn keeps(filter: &Filter, name: &str) -> bool {
    let stem = stem(name);
    filter.min_length.is_none_or(|min| stem.len() >= min)
        && filter.max_length.is_none_or(|max| stem.len() <= max)
        && filter
            .exclude
            .iter()
            .flat_map(WordList::iter)
            .all(|w| !stem.contains(&w.to_lowercase()))
        && filter
            .exclude_regex
            .iter()
            .all(|re| !Regex::new(re).unwrap().is_match(name))
        && filter
            .include_regex
            .iter()
            .all(|re| Regex::new(re).unwrap().is_match(name))
        && filter
            .exclude_names
            .iter()
            .flat_map(WordList::iter)
            .all(|n| idna::domain_to_ascii(n.trim_end_matches('.')).unwrap() != name)
}

fn base() -> Spec {
    Spec {
        keywords: WordList::inline(["shop", "Cloud", "ab-c", "x", "aab"]),
        tlds: WordList::inline(["com", "co.uk", "io"]),
        lists: [("pre".to_owned(), WordList::inline(["get", "try", "my"]))]
            .into_iter()
            .collect(),
        charsets: [("vv".to_owned(), "yae".to_owned())].into_iter().collect(),
        ..Spec::default()
    }
}

fn lines(space: &Space, positions: std::ops::Range<u64>) -> Vec<String> {
    let mut out = Vec::new();
    space
        .cursor(positions)
        .write_lines(&mut out, u64::MAX, b'\n');
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Checks the filtered space of `spec` against the oracle: count, every
/// index, the sequential cursor from several offsets, and the shuffled
/// order as a permutation whose slices agree with the whole.
fn check(spec: &Spec) {
    check_with(spec, naive(spec));
}

/// [`check`] against `all`, the names of `spec` without its filter.
fn check_with(spec: &Spec, all: Vec<String>) {
    let expected: Vec<String> = all
        .iter()
        .filter(|n| keeps(&spec.filter, n))
        .cloned()
        .collect();
    let space = match Space::compile(spec) {
        Ok(space) => space,
        Err(e)
            if expected.is_empty()
                && matches!(e.kind(), ErrorKind::Selection | ErrorKind::BadValue) =>
        {
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let total = space.total();
    assert_eq!(total, expected.len() as u64, "count");
    let unfiltered: u64 = space.patterns().map(|p| p.unfiltered).sum();
    assert!(total <= unfiltered);
    assert_eq!(space.patterns().map(|p| p.count).sum::<u64>(), total);
    for (i, name) in expected.iter().enumerate() {
        assert_eq!(&space.name(i as u64), name, "index {i}");
        // The first index of a name several patterns make.
        let found = space
            .index_of(name)
            .unwrap_or_else(|| panic!("{name} not found"));
        assert!(
            found <= i as u64 && space.name(found) == *name,
            "{name} at {found}"
        );
    }
    for name in &all {
        if !keeps(&spec.filter, name) {
            assert_eq!(space.index_of(name), None, "{name} is left out");
        }
    }
    assert_eq!(lines(&space, 0..total), expected);
    // Every offset of a small space (to its end), some of a larger one.
    let step = if total <= 200 { 1 } else { total / 7 };
    for start in (0..total).step_by(us(step)) {
        let end = if total <= 200 {
            total
        } else {
            (start + 2 * step + 1).min(total)
        };
        assert_eq!(
            lines(&space, start..end),
            &expected[us(start)..us(end)],
            "slice {start}..{end}"
        );
        let mut cursor = space.cursor(start..end);
        let mut out = Vec::new();
        let mut at = start;
        while let Some(index) = cursor.write_next(&mut out) {
            assert_eq!(index, at);
            assert_eq!(std::str::from_utf8(&out).unwrap(), expected[us(at)]);
            out.clear();
            at += 1;
        }
    }
    let shuffled = Space::compile(&Spec {
        order: Order::Shuffled,
        seed: 11,
        ..spec.clone()
    })
    .unwrap();
    let all = lines(&shuffled, 0..total);
    let mut sorted = all.clone();
    sorted.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(sorted, want, "the shuffled order is a permutation");
    let again = Space::compile(&Spec {
        order: Order::Shuffled,
        seed: 11,
        ..spec.clone()
    })
    .unwrap();
    assert_eq!(
        lines(&again, 0..total),
        all,
        "the same seed, the same order"
    );
    let (a, b) = (total / 3, total - total / 4);
    assert_eq!(lines(&shuffled, a..b), &all[us(a)..us(b)]);
    for p in 0..total {
        assert_eq!(shuffled.name(shuffled.index_at(p)), all[us(p)]);
    }
    // Pieces as the cursor gives them, and as the space does.
    for space in [&space, &shuffled] {
        let mut cursor = space.cursor(0..total);
        let mut out = Vec::new();
        while let Some((index, pieces)) = cursor.write_next_with_pieces(&mut out) {
            assert_eq!(pieces, space.pieces(index), "{}", space.name(index));
            assert!(space.name(index).ends_with(pieces.tld));
            out.clear();
        }
    }
}

fn us(x: u64) -> usize {
    usize::try_from(x).unwrap()
}

fn filtered(patterns: &[&str], filter: Filter) -> Spec {
    Spec {
        patterns: patterns.iter().map(|p| p.to_string()).collect(),
        filter,
        ..base()
    }
}

#[test]
fn length_bounds_count_the_name_without_its_tld() {
    check(&filtered(
        &["{keyword}{digit:1-2}.{tld}", "go-{vv:1-3}.co.uk"],
        Filter {
            min_length: Some(4),
            max_length: Some(6),
            ..Filter::default()
        },
    ));
    // `shop-abc.co.uk` is 8 octets long without its TLD.
    let spec = filtered(
        &["shop-{alpha:3}.co.uk"],
        Filter {
            max_length: Some(8),
            ..Filter::default()
        },
    );
    assert_eq!(Space::compile(&spec).unwrap().total(), 26u64.pow(3));
    let spec = filtered(
        &["shop-{alpha:3}.co.uk"],
        Filter {
            max_length: Some(7),
            ..Filter::default()
        },
    );
    let e = Space::compile(&spec).unwrap_err().to_string();
    assert!(e.contains("leaves no names (max_length 7)"), "{e}");
}

#[test]
fn excluded_words_apply_before_the_tld() {
    let spec = filtered(
        &["{keyword}{alpha:1}.{tld}", "{list:pre}.{keyword}.com"],
        Filter {
            exclude: vec![WordList::inline(["pa", "Ba", "co", "p-s"])],
            ..Filter::default()
        },
    );
    check(&spec);
    let space = Space::compile(&spec).unwrap();
    let names = lines(&space, 0..space.total());
    assert!(
        names.contains(&"shopz.co.uk".to_owned()),
        "the TLD is not searched"
    );
    assert!(!names.contains(&"shopa.com".to_owned()), "`pa` is excluded");
    assert!(
        !names.contains(&"aaba.com".to_owned()),
        "`Ba` is excluded lowercased"
    );
    assert!(names.contains(&"aabb.com".to_owned()));
}

#[test]
fn regexes_see_the_whole_name() {
    check(&filtered(
        &["{keyword}-{hex:1-2}.{tld}", "{number:07-12}{vv:2}.io"],
        Filter {
            exclude_regex: vec!["o$".into(), r"(\d)\1".replace(r"\1", "1")],
            include_regex: vec![r"^[a-z0-9]+-?[a-f0-9]".into(), "[^x]".into()],
            ..Filter::default()
        },
    ));
}

#[test]
fn whole_names_are_left_out_by_rank() {
    check(&filtered(
        &["{keyword}{digit:1}.{tld}", "{keyword}{digit:1}.com"],
        Filter {
            exclude_names: vec![WordList::inline([
                "shop0.com",
                "SHOP1.com.",
                "aab9.io",
                "never.com",
                "x5.co.uk",
            ])],
            min_length: Some(2),
            ..Filter::default()
        },
    ));
}

#[test]
fn each_rule_reports_what_it_leaves_out_and_the_first_such_name() {
    let filter = Filter {
        min_length: Some(5),
        max_length: Some(9),
        exclude: vec![WordList::inline(["sh", "zz"])],
        exclude_regex: vec!["a.?b".into()],
        include_regex: vec!["^[a-z]+[0-9]".into()],
        exclude_names: vec![WordList::inline(["cloud3.io", "x4.com"])],
    };
    let spec = filtered(
        &["{keyword}{digit:1-2}.{tld}", "{list:pre}-{keyword}.com"],
        filter.clone(),
    );
    check(&spec);
    let space = Space::compile(&spec).unwrap();
    let rules = space.filter_rules(&filter).unwrap();
    let names = naive(&spec);
    let patterns = [names.len() - 5 * 3, 5 * 3];
    let alone = |f: Filter| -> (Vec<u64>, Option<String>) {
        let mut excluded = vec![0u64; 2];
        let mut first = None;
        for (i, name) in names.iter().enumerate() {
            if !keeps(&f, name) {
                excluded[usize::from(i >= patterns[0])] += 1;
                first.get_or_insert_with(|| name.clone());
            }
        }
        (excluded, first)
    };
    let only = Filter::default;
    let expected = [
        (
            "min_length 5",
            alone(Filter {
                min_length: Some(5),
                ..only()
            }),
        ),
        (
            "max_length 9",
            alone(Filter {
                max_length: Some(9),
                ..only()
            }),
        ),
        (
            "exclude `sh` `zz`",
            alone(Filter {
                exclude: filter.exclude.clone(),
                ..only()
            }),
        ),
        (
            "exclude_regex `a.?b`",
            alone(Filter {
                exclude_regex: filter.exclude_regex.clone(),
                ..only()
            }),
        ),
        (
            "include_regex `^[a-z]+[0-9]`",
            alone(Filter {
                include_regex: filter.include_regex.clone(),
                ..only()
            }),
        ),
        (
            "exclude_names `cloud3.io` `x4.com`",
            alone(Filter {
                exclude_names: filter.exclude_names.clone(),
                ..only()
            }),
        ),
    ];
    assert_eq!(rules.len(), expected.len());
    for (rule, (text, (excluded, example))) in rules.iter().zip(expected) {
        assert_eq!(rule.rule, text);
        assert_eq!(rule.excluded, excluded, "{text}");
        assert_eq!(rule.example, example, "{text}");
    }
    assert_eq!(rules[1].excluded, [0, 0], "no name is that long");
    assert_eq!(rules[1].example, None);
}

#[test]
fn a_unicode_word_alone_in_its_label_is_filtered_as_its_a_label() {
    let mut spec = filtered(
        &["{keyword}.{tld}", "{list:pre}.{keyword}.com"],
        Filter {
            max_length: Some(14),
            exclude: vec![WordList::inline(["caf", "Münch"])],
            exclude_regex: vec!["^my\\.".into()],
            exclude_names: vec![WordList::inline(["Zürich.co.uk", "get.xn--zrich-kva.com"])],
            ..Filter::default()
        },
    );
    spec.keywords = WordList::inline(["café", "shop", "zürich", "münchen", "cafe"]);
    let unfiltered = Space::compile(&Spec {
        filter: Filter::default(),
        ..spec.clone()
    })
    .unwrap();
    let names = lines(&unfiltered, 0..unfiltered.total());
    assert!(names.contains(&"xn--zrich-kva.co.uk".to_owned()));
    check_with(&spec, names);
    let space = Space::compile(&spec).unwrap();
    // `caf` is in café's A-label, `xn--caf-dma`; `Münch` is matched as its
    // own A-label, which no name holds.
    assert_eq!(space.index_of("café.com"), None);
    assert!(space.index_of("münchen.com").is_some());
    let composed = Spec {
        keywords: spec.keywords.clone(),
        ..filtered(&["{keyword}-{digit:1}.{tld}"], spec.filter.clone())
    };
    let e = Space::compile(&composed).unwrap_err().to_string();
    assert!(e.contains("composes a Unicode word (piece 1)"), "{e}");
    // A TLD that is an A-label stays one where the keyword is decoded.
    let idn = Spec {
        keywords: WordList::inline(["café", "shop"]),
        tlds: WordList::inline(["рф", "com"]),
        ..filtered(
            &["{keyword}.{tld}"],
            Filter {
                exclude_names: vec![WordList::inline(["café.рф", "shop.com"])],
                ..Filter::default()
            },
        )
    };
    let space = Space::compile(&idn).unwrap();
    assert_eq!(
        lines(&space, 0..space.total()),
        ["xn--caf-dma.com", "shop.xn--p1ai"]
    );
    assert_eq!(space.index_of("shop.рф"), Some(1));
}

#[test]
fn an_excluded_name_no_pattern_makes_is_given_up_on_at_once() {
    // Every split of `a…a` into six strings of 1-9 fails only at the TLD.
    let label = "{c:1-9}".repeat(6);
    let spec = Spec {
        charsets: [("c".to_owned(), "a".to_owned())].into_iter().collect(),
        filter: Filter {
            exclude_names: vec![WordList::inline([format!(
                "{}.{}.net",
                "a".repeat(30),
                "a".repeat(30)
            )])],
            ..Filter::default()
        },
        ..filtered(&[&format!("{label}.{label}.com")], Filter::default())
    };
    let space = Space::compile(&spec).unwrap();
    assert_eq!(space.total(), 9u64.pow(12));
    assert_eq!(
        space.index_of(&format!("{}.{}.net", "a".repeat(30), "a".repeat(30))),
        None
    );
}

#[test]
fn bad_filters_are_refused_with_the_value_and_what_to_do() {
    let refused = |filter: Filter| {
        Space::compile(&filtered(&["{keyword}.{tld}"], filter))
            .unwrap_err()
            .to_string()
    };
    let e = refused(Filter {
        exclude_regex: vec![r"(.)\1\1".into()],
        ..Filter::default()
    });
    assert!(e.contains(r"`(.)\1\1` (exclude_regex item 1)"), "{e}");
    assert!(e.contains("backreferences"), "{e}");
    let e = refused(Filter {
        include_regex: vec!["(?=a)".into()],
        ..Filter::default()
    });
    assert!(e.contains("look-around"), "{e}");
    let e = refused(Filter {
        include_regex: vec!["(a".into()],
        ..Filter::default()
    });
    assert!(e.contains("`(a` (include_regex item 1)"), "{e}");
    let e = refused(Filter {
        exclude: vec![WordList::inline(["ok", " "])],
        ..Filter::default()
    });
    assert!(e.contains("excluded word ` ` (item 2): is empty"), "{e}");
    let e = refused(Filter {
        min_length: Some(9),
        max_length: Some(3),
        ..Filter::default()
    });
    assert!(e.contains("min_length 9 is more than max_length 3"), "{e}");
    let e = refused(Filter {
        min_length: Some(1_000_000),
        ..Filter::default()
    });
    assert!(
        e.contains("longer than any name can be (253 octets)"),
        "{e}"
    );
    // A bound past the longest name is no bound, not a table that size.
    let huge = Space::compile(&filtered(
        &["{keyword}.{tld}"],
        Filter {
            max_length: Some(1 << 40),
            ..Filter::default()
        },
    ))
    .unwrap();
    assert_eq!(huge.total(), 15);
}

#[test]
fn the_fingerprint_covers_the_filter() {
    let plain = Space::compile(&filtered(&["{keyword}.{tld}"], Filter::default())).unwrap();
    let one = Space::compile(&filtered(
        &["{keyword}.{tld}"],
        Filter {
            exclude: vec![WordList::inline(["zz"])],
            ..Filter::default()
        },
    ))
    .unwrap();
    let other = Space::compile(&filtered(
        &["{keyword}.{tld}"],
        Filter {
            exclude: vec![WordList::inline(["zy"])],
            ..Filter::default()
        },
    ))
    .unwrap();
    // "zz" leaves every name in, yet the campaign's filter differs.
    assert_eq!(plain.total(), one.total());
    assert_ne!(plain.fingerprint(), one.fingerprint());
    assert_ne!(one.fingerprint(), other.fingerprint());
    // Sections are counted: a word and an excluded regex are not an
    // included regex.
    let with = |filter: Filter| {
        Space::compile(&Spec {
            keywords: WordList::inline(["include", "shop"]),
            ..filtered(&["{keyword}.{tld}"], filter)
        })
        .unwrap()
        .fingerprint()
    };
    assert_ne!(
        with(Filter {
            exclude: vec![WordList::inline(["include"])],
            exclude_regex: vec!["include".into()],
            ..Filter::default()
        }),
        with(Filter {
            include_regex: vec!["include".into()],
            ..Filter::default()
        })
    );
}

#[test]
fn a_huge_filtered_space_counts_without_enumerating() {
    let words: Vec<String> = (0..1000u32)
        .map(|i| {
            let a = char::from(b'a' + u8::try_from(i % 26).unwrap());
            let b = char::from(b'a' + u8::try_from(i / 26 % 26).unwrap());
            let c = char::from(b'0' + u8::try_from(i / 676).unwrap());
            format!("{a}{b}{c}")
        })
        .collect();
    let spec = filtered(
        &["{keyword}{alnum:6}{digit:1}.{tld}"],
        Filter {
            exclude: vec![WordList::inline(words)],
            max_length: Some(10),
            ..Filter::default()
        },
    );
    let space = Space::compile(&spec).unwrap();
    let p = space.patterns().next().unwrap();
    assert!(p.unfiltered > 10u64.pow(10), "{}", p.unfiltered);
    assert!(space.total() < p.unfiltered);
    // Names at far positions are found without walking there.
    for i in [0, space.total() / 2, space.total() - 1] {
        let name = space.name(i);
        assert!(stem(&name).len() <= 10, "{name}");
    }
}

const WORDS: [&str; 6] = ["a", "sh", "b1", "op", "c-", "yy"];
const REGEXES: [&str; 8] = [
    "^p0",
    "a.*b",
    "[0-9]{2}",
    "o$",
    r"\.co\.",
    "(ab|cd)",
    r"^[a-z]+\.",
    "y[ae]",
];

fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{keyword}",
        "{list:pre}",
        "{alpha:1}",
        "{digit:1-2}",
        "{vv:1-3}",
        "{hex:1}",
        "{number:8-11}",
        "{number:01-03}",
        "q",
        "k9",
    ])
}

fn pattern() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(piece(), 1..=3),
        prop::sample::select(vec![".{tld}", ".com", ".co.uk", ".x.io"]),
    )
        .prop_map(|(pieces, tld)| format!("{}{tld}", pieces.join("-")))
}

prop_compose! {
    fn small_filter()(
        min in prop::option::of(0usize..8),
        max in prop::option::of(2usize..14),
        words in prop::collection::vec(prop::sample::select(WORDS.to_vec()), 0..3),
        exclude in prop::collection::vec(prop::sample::select(REGEXES.to_vec()), 0..2),
        include in prop::collection::vec(prop::sample::select(REGEXES.to_vec()), 0..2),
    ) -> Filter {
        Filter {
            min_length: min,
            max_length: max,
            exclude: vec![WordList::inline(words)],
            exclude_regex: exclude.into_iter().map(str::to_owned).collect(),
            include_regex: include.into_iter().map(str::to_owned).collect(),
            ..Filter::default()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_filters_match_the_oracle(
        patterns in prop::collection::vec(pattern(), 1..=2),
        filter in small_filter(),
        left_out in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut spec = filtered(&[], filter);
        spec.patterns = patterns.iter().enumerate().map(|(i, p)| format!("p{i}{p}")).collect();
        let unfiltered = Space::compile(&Spec { filter: Filter::default(), ..spec.clone() }).unwrap();
        prop_assume!(unfiltered.total() <= 5_000);
        let names: Vec<String> = left_out
            .iter()
            .map(|i| unfiltered.name(i.index(us(unfiltered.total())) as u64))
            .collect();
        spec.filter.exclude_names = vec![WordList::inline(names)];
        check(&spec);
    }
}
