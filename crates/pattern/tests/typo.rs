//! The laws of `{typo}`: its names are valid hostnames without repeats, one
//! algorithm's are a subset of all of them, a keyword's are the same alone
//! or among others (less those made before), and the space around them
//! (orders, filters, `index_of`, pieces) works on them as on any piece.

use std::collections::{BTreeSet, HashSet};

use domgen_pattern::{Filter, Order, Space, Spec, TypoAlgorithm, WordList};
use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use proptest::prelude::*;

fn spec(keywords: &[String], pattern: &str) -> Spec {
    Spec {
        keywords: WordList::inline(keywords),
        tlds: WordList::inline(["com", "net"]),
        patterns: vec![pattern.to_owned()],
        lists: [("dictionary".to_owned(), WordList::inline(["login", "pay"]))].into(),
        ..Spec::default()
    }
}

fn names(space: &Space) -> Vec<String> {
    (0..space.total()).map(|i| space.name(i)).collect()
}

/// Keywords as people write them: letters, digits, inner hyphens, and now
/// and then a Unicode letter.
fn keyword() -> impl Strategy<Value = String> {
    "[a-z0-9éüñ]{1,3}(-?[a-z0-9]{1,4}){0,2}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn names_are_valid_hostnames_without_repeats(keywords in prop::collection::vec(keyword(), 1..4)) {
        let space = Space::compile(&spec(&keywords, "{typo}.{tld}")).unwrap();
        let names = names(&space);
        let uts46 = Uts46::new();
        for name in &names {
            let ascii = uts46
                .to_ascii(name.as_bytes(), AsciiDenyList::STD3, Hyphens::Check, DnsLength::Verify)
                .unwrap_or_else(|_| panic!("{name} is not a valid hostname"));
            prop_assert_eq!(&*ascii, name.as_str(), "{} is not in its ASCII form", name);
        }
        let unique: HashSet<&String> = names.iter().collect();
        prop_assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn one_algorithms_names_are_among_all_of_them(keywords in prop::collection::vec(keyword(), 1..3)) {
        let all: BTreeSet<String> = names(&Space::compile(&spec(&keywords, "{typo}.{tld}")).unwrap())
            .into_iter()
            .collect();
        for algorithm in TypoAlgorithm::ALL {
            let pattern = format!("{{typo:{algorithm}}}.{{tld}}");
            // An algorithm may make nothing valid of these keywords.
            let space = match Space::compile(&spec(&keywords, &pattern)) {
                Ok(space) => space,
                Err(e) if e.to_string().contains("make no valid look-alike") => continue,
                Err(e) => panic!("{pattern}: {e}"),
            };
            for name in names(&space) {
                prop_assert!(all.contains(&name), "{} of {:?} made {} which {{typo}} did not", algorithm, keywords, name);
            }
        }
    }

    #[test]
    fn keywords_take_their_turns(keywords in prop::collection::vec(keyword(), 1..4)) {
        // The names of several keywords are each keyword's alone, in turn,
        // less the ones an earlier keyword made.
        let space = Space::compile(&spec(&keywords, "{typo}.com")).unwrap();
        let mut expected = Vec::new();
        let mut seen = HashSet::new();
        let mut keyword_of = Vec::new();
        let normalised = Space::compile(&Spec {
            keywords: WordList::inline(&keywords),
            patterns: vec!["{keyword}.com".into()],
            ..Spec::default()
        })
        .unwrap();
        for k in 0..normalised.total() {
            let keyword = normalised.pieces(k).keyword.unwrap().to_owned();
            let alone = match Space::compile(&spec(std::slice::from_ref(&keyword), "{typo}.com")) {
                Ok(alone) => names(&alone),
                Err(_) => Vec::new(),
            };
            for name in alone {
                if seen.insert(name.clone()) {
                    expected.push(name);
                    keyword_of.push(keyword.clone());
                }
            }
        }
        prop_assert_eq!(names(&space), expected);
        for i in 0..space.total() {
            prop_assert_eq!(space.pieces(i).keyword, Some(keyword_of[usize::try_from(i).unwrap()].as_str()));
        }
    }

    #[test]
    fn the_space_works_on_look_alikes(keywords in prop::collection::vec(keyword(), 1..3), seed in any::<u64>()) {
        let sequential = Space::compile(&spec(&keywords, "{typo}.{tld}")).unwrap();
        let names = names(&sequential);
        // Every name is found again by its text.
        for (i, name) in names.iter().enumerate() {
            prop_assert_eq!(sequential.index_of(name), Some(u64::try_from(i).unwrap()));
        }
        // The shuffled order is a permutation of them.
        let shuffled = Space::compile(&Spec {
            order: Order::Shuffled,
            seed,
            ..spec(&keywords, "{typo}.{tld}")
        })
        .unwrap();
        let mut out = Vec::new();
        let mut cursor = shuffled.cursor(0..shuffled.total());
        let mut drawn = Vec::new();
        while cursor.write_next(&mut out).is_some() {
            drawn.push(String::from_utf8(std::mem::take(&mut out)).unwrap());
        }
        let mut sorted_drawn = drawn.clone();
        sorted_drawn.sort();
        let mut sorted = names.clone();
        sorted.sort();
        prop_assert_eq!(sorted_drawn, sorted);
        // A filter leaves out what it names and keeps the order of the rest.
        let filtered = Space::compile(&Spec {
            filter: Filter {
                exclude: vec![WordList::inline(["1"])],
                exclude_regex: vec!["xn--".into()],
                max_length: Some(9),
                ..Filter::default()
            },
            ..spec(&keywords, "{typo}.{tld}")
        });
        let kept: Vec<&String> = names
            .iter()
            .filter(|n| {
                let stem = n.rsplit_once('.').unwrap().0;
                !stem.contains("xn--") && !stem.contains('1') && stem.len() <= 9
            })
            .collect();
        match filtered {
            Ok(filtered) => {
                let got = self::names(&filtered);
                prop_assert_eq!(got.iter().collect::<Vec<_>>(), kept);
            }
            Err(e) => prop_assert!(kept.is_empty(), "{e}"),
        }
    }
}

/// What `keywords_take_their_turns` checks, for enough keywords that the
/// variants are made on several threads, in several rounds, with room
/// reserved after the first.
#[test]
fn many_keywords_take_their_turns_across_threads_and_rounds() {
    let keywords: Vec<String> = (0..300u32)
        .map(|i| {
            let letters = b"abcdefghijklmnoprstuvwxyz";
            let pick = |k: u32| {
                char::from(letters[usize::try_from(i * 7 + k * 13).unwrap() % letters.len()])
            };
            // Neighbours share letters, so that some variants repeat.
            format!(
                "{}{}{}{}",
                pick(0),
                pick(1),
                pick(i % 3),
                if i % 4 == 0 { "x" } else { "" }
            )
        })
        .collect();
    let pattern = "{typo:omission,homoglyph,transposition}.com";
    let space = Space::compile(&spec(&keywords, pattern)).unwrap();
    let mut expected = Vec::new();
    let mut seen = HashSet::new();
    for keyword in &keywords {
        if let Ok(alone) = Space::compile(&spec(std::slice::from_ref(keyword), pattern)) {
            expected.extend(names(&alone).into_iter().filter(|n| seen.insert(n.clone())));
        }
    }
    assert_eq!(names(&space), expected);
}

#[test]
fn variants_come_in_the_documented_order() {
    let space = Space::compile(&Spec {
        keywords: WordList::inline(["abc"]),
        patterns: vec!["{typo:omission,transposition,addition}.com".into()],
        ..Spec::default()
    })
    .unwrap();
    let names = names(&space);
    // Addition first (a digit or letter appended, 0-9 then a-z), then
    // omission (each character left out, first to last), then
    // transposition (each neighbouring pair swapped).
    let mut expected: Vec<String> = ('0'..='9')
        .chain('a'..='z')
        .map(|c| format!("abc{c}.com"))
        .collect();
    expected.extend(["bc.com", "ac.com", "ab.com", "bac.com", "acb.com"].map(String::from));
    assert_eq!(names, expected);
}

#[test]
fn refusals_name_the_piece_and_say_what_to_do() {
    let refused = |spec: Spec, needle: &str| {
        let e = Space::compile(&spec).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}\n  does not say {needle:?}");
    };
    let base = |pattern: &str| Spec {
        keywords: WordList::inline(["paypal"]),
        tlds: WordList::inline(["com"]),
        patterns: vec![pattern.to_owned()],
        ..Spec::default()
    };
    refused(
        base("{typo:omision}.{tld}"),
        "`omision` is not a typo algorithm",
    );
    refused(
        base("{typo:dictionary}.{tld}"),
        "no list named `dictionary`",
    );
    refused(base("shop{typo}.{tld}"), "must be a label by itself");
    // A dotted look-alike would put `--x` in a label of its own.
    refused(base("{typo:subdomain}--x.{tld}"), "such as `p.aypal` here");
    refused(
        Spec {
            keywords: WordList::default(),
            ..base("{typo}.{tld}")
        },
        "the spec has no keywords",
    );
    refused(
        Spec {
            keywords: WordList::inline(["zone"]),
            ..base("{typo:cyrillic}.{tld}")
        },
        "make no valid look-alike",
    );
    // A keyword that is no label is named with its place; one of 63
    // octets, or of more as UTF-8 but fewer as an A-label, is taken.
    let long = |keyword: String| Spec {
        keywords: WordList::inline(["paypal".to_owned(), keyword]),
        ..base("{typo}.{tld}")
    };
    let munchen = format!("münche{}n", "y".repeat(56));
    refused(
        long(munchen.clone()),
        &format!("keyword `{munchen}` (item 2) is 70 octets as an A-label"),
    );
    refused(
        long("o".repeat(64)),
        "is 64 octets as an A-label, longer than a label can be (63)",
    );
    for keyword in ["o".repeat(63), format!("m{}", "ü".repeat(40))] {
        let space = Space::compile(&long(keyword.clone())).unwrap();
        let keyword_of_last = space.pieces(space.total() - 1).keyword;
        assert_eq!(keyword_of_last, Some(keyword.as_str()));
    }
    // ASCII algorithms join other pieces.
    let space = Space::compile(&base("{typo:omission}-login.{tld}")).unwrap();
    assert_eq!(space.name(0), "aypal-login.com");
}

#[test]
fn look_alikes_are_found_again_beside_unicode_words() {
    // The typo label is an A-label as the table holds it, the keyword's a
    // Unicode word: the name is found whichever way each label came.
    let space = Space::compile(&Spec {
        keywords: WordList::inline(["münchen", "paypal"]),
        tlds: WordList::inline(["com"]),
        patterns: vec!["{typo:homoglyph}.{keyword}.{tld}".into()],
        ..Spec::default()
    })
    .unwrap();
    for i in (0..space.total()).step_by(97) {
        let name = space.name(i);
        assert_eq!(space.index_of(&name), Some(i), "{name}");
    }
    let name = "xn--aypal-to1b.xn--mnchen-3ya.com";
    let i = space.index_of(name).expect("ṗaypal.münchen.com is made");
    assert_eq!(space.name(i), name);
    // An excluded name is left out too.
    let filtered = Space::compile(&Spec {
        filter: Filter {
            exclude_names: vec![WordList::inline([name])],
            ..Filter::default()
        },
        keywords: WordList::inline(["münchen", "paypal"]),
        tlds: WordList::inline(["com"]),
        patterns: vec!["{typo:homoglyph}.{keyword}.{tld}".into()],
        ..Spec::default()
    })
    .unwrap();
    assert_eq!(filtered.total(), space.total() - 1);
    assert_eq!(filtered.index_of(name), None);
}

#[test]
fn spec_files_spell_algorithms_as_patterns_do() {
    let file = domgen_pattern::SpecFile::from_toml(
        r#"typo_algorithms = ["Vowel_Swap", "omission"]
typo_keyboards = ["QWERTZ"]"#,
        "t.toml",
    )
    .unwrap();
    assert_eq!(
        file.typo_algorithms,
        Some(vec![TypoAlgorithm::VowelSwap, TypoAlgorithm::Omission])
    );
    let e = domgen_pattern::SpecFile::from_toml(r#"typo_algorithms = ["omision"]"#, "t.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`omision` is not a typo algorithm"), "{e}");
}

#[test]
fn a_spec_chooses_its_algorithms_and_keyboards() {
    let count = |algorithms: Vec<TypoAlgorithm>, keyboards: Vec<domgen_pattern::Keyboard>| {
        Space::compile(&Spec {
            keywords: WordList::inline(["zone"]),
            patterns: vec!["{typo}.com".into()],
            typo_algorithms: algorithms,
            typo_keyboards: keyboards,
            ..Spec::default()
        })
        .unwrap()
        .total()
    };
    use domgen_pattern::Keyboard;
    let replacement = vec![TypoAlgorithm::Replacement];
    let qwerty = count(replacement.clone(), vec![Keyboard::Qwerty]);
    let all = count(replacement.clone(), Vec::new());
    // QWERTZ and AZERTY have other neighbours for z, o, n and e.
    assert!(qwerty < all, "{qwerty} < {all}");
    assert_eq!(count(replacement.clone(), Keyboard::ALL.to_vec()), all);
    assert!(count(Vec::new(), Vec::new()) > all);
}
