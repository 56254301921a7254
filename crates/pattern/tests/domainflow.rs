//! Campaign-service configs: for every offset our name equals theirs.

use domgen_pattern::{DomainflowConfig, ErrorKind, Order, Space, Spec};
use proptest::prelude::*;

/// The service's rule, re-implemented from its description: distinct
/// characters in order of first appearance; offset written as an L-digit
/// base-N number, most significant digit first; prefix, suffix or split
/// around the constant.
fn theirs(config: &DomainflowConfig, offset: u64) -> String {
    let mut charset: Vec<char> = Vec::new();
    for c in config.character_set.chars() {
        if !charset.contains(&c) {
            charset.push(c);
        }
    }
    let fallback = config.variable_length.unwrap_or(0);
    let p = usize::try_from(config.prefix_variable_length.unwrap_or(fallback)).unwrap();
    let s = usize::try_from(config.suffix_variable_length.unwrap_or(fallback)).unwrap();
    let len = match config.pattern_type.as_str() {
        "prefix_variable" | "prefix" => p,
        "suffix_variable" | "suffix" => s,
        _ => p + s,
    };
    let n = charset.len() as u64;
    let mut digits = vec![' '; len];
    let mut rest = offset;
    for d in digits.iter_mut().rev() {
        *d = charset[usize::try_from(rest % n).unwrap()];
        rest /= n;
    }
    let var: String = digits.into_iter().collect();
    let constant = &config.constant_string;
    let name = match config.pattern_type.as_str() {
        "prefix_variable" | "prefix" => format!("{var}{constant}{}", config.tld),
        "suffix_variable" | "suffix" => format!("{constant}{var}{}", config.tld),
        _ => format!("{}{constant}{}{}", &var[..p], &var[p..], config.tld),
    };
    name.to_ascii_lowercase()
}

fn config(
    kind: &str,
    p: Option<i64>,
    s: Option<i64>,
    legacy: Option<i64>,
    chars: &str,
    constant: &str,
) -> DomainflowConfig {
    DomainflowConfig {
        pattern_type: kind.into(),
        prefix_variable_length: p,
        suffix_variable_length: s,
        variable_length: legacy,
        character_set: chars.into(),
        constant_string: constant.into(),
        tld: ".com".into(),
    }
}

fn assert_same_names(config: &DomainflowConfig) {
    let spec = Spec::from_domainflow(config).unwrap_or_else(|e| panic!("{e}"));
    let space = Space::compile(&spec).unwrap_or_else(|e| panic!("{e}"));
    let total = space.total();
    let offsets: Vec<u64> = if total <= 3000 {
        (0..total).collect()
    } else {
        (0..1000)
            .chain(total - 1000..total)
            .chain((0..1000).map(|i| i * (total / 1000)))
            .collect()
    };
    for o in offsets {
        assert_eq!(space.name(o), theirs(config, o), "offset {o} of {config:?}");
    }
}

#[test]
fn each_pattern_type_and_legacy_name() {
    for kind in [
        "prefix_variable",
        "prefix",
        "suffix_variable",
        "suffix",
        "both_variable",
        "both",
    ] {
        assert_same_names(&config(kind, Some(2), Some(1), None, "abca1", "shop"));
        assert_same_names(&config(kind, None, None, Some(2), "xyz", "go"));
    }
    let spec =
        Spec::from_domainflow(&config("both_variable", Some(2), Some(3), None, "ab", "x")).unwrap();
    assert_eq!(spec.patterns, ["{domainflow:2}x{domainflow:3}.com"]);
}

#[test]
fn upper_case_is_folded_and_case_twins_are_refused() {
    assert_same_names(&config("prefix", Some(2), None, None, "ABc", "Shop"));
    let e =
        Spec::from_domainflow(&config("prefix", Some(2), None, None, "aA", "shop")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Domainflow);
    assert!(e.to_string().contains("both `a` and `A`"), "{e}");
}

#[test]
fn a_hyphen_in_the_charset_is_refused() {
    for kind in ["prefix", "suffix", "both"] {
        let e = Spec::from_domainflow(&config(kind, Some(2), Some(2), None, "ab-", "shop"))
            .unwrap_err();
        assert!(
            e.to_string().contains("character_set") && e.to_string().contains("'-'"),
            "{e}"
        );
    }
}

#[test]
fn labels_over_63_are_refused() {
    let spec = Spec::from_domainflow(&config("prefix", Some(60), None, None, "a", "shop")).unwrap();
    let e = Space::compile(&spec).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidName);
    assert!(e.to_string().contains("64 octets"), "{e}");
}

#[test]
fn totals_past_i64_max_are_refused_not_saturated() {
    // 36^13 > i64::MAX: the service capped it silently.
    let e = Spec::from_domainflow(&config(
        "prefix",
        Some(13),
        None,
        None,
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "",
    ))
    .unwrap_err();
    assert!(e.to_string().contains(&i64::MAX.to_string()), "{e}");
    // 36^12 fits.
    let spec = Spec::from_domainflow(&config(
        "prefix",
        Some(12),
        None,
        None,
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "",
    ))
    .unwrap();
    assert_eq!(Space::compile(&spec).unwrap().total(), 36u64.pow(12));
}

#[test]
fn zero_length_makes_the_constant_alone() {
    let spec =
        Spec::from_domainflow(&config("prefix", Some(0), None, None, "abc", "shop")).unwrap();
    let space = Space::compile(&spec).unwrap();
    assert_eq!(space.total(), 1);
    assert_eq!(space.name(0), "shop.com");
}

#[test]
fn bad_fields_are_named() {
    let e = Spec::from_domainflow(&config("middle", Some(1), None, None, "ab", "x")).unwrap_err();
    assert!(e.to_string().contains("pattern_type"), "{e}");
    let e = Spec::from_domainflow(&config("prefix", Some(-1), None, None, "ab", "x")).unwrap_err();
    assert!(e.to_string().contains("negative"), "{e}");
    let e = Spec::from_domainflow(&config("prefix", Some(1), None, None, "a_b", "x")).unwrap_err();
    assert!(e.to_string().contains("'_'"), "{e}");
    let e = Spec::from_domainflow(&config("prefix", Some(1), None, None, "ab", "x y")).unwrap_err();
    assert!(e.to_string().contains("constant_string"), "{e}");
}

/// Documents written by hand as Go's `json.Marshal` writes them, hashed
/// independently with Python:
///
/// ```text
/// python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' \
///   '{"patternType":"prefix_variable","prefixVariableLength":3,"suffixVariableLength":0,"characterSet":"abc","constantString":"shop","tld":".com"}'
/// ```
#[test]
fn service_hash_matches_vectors_hashed_elsewhere() {
    let cases = [
        (
            DomainflowConfig {
                pattern_type: "prefix_variable".into(),
                prefix_variable_length: Some(3),
                character_set: "abc".into(),
                constant_string: "shop".into(),
                tld: ".com".into(),
                ..DomainflowConfig::default()
            },
            r#"{"patternType":"prefix_variable","prefixVariableLength":3,"suffixVariableLength":0,"characterSet":"abc","constantString":"shop","tld":".com"}"#,
            "c7c812468d55b301d947feef5b050b9864c00d731cb4d3972f31b5701fb57e2b",
        ),
        // Repeats kept in the hashed charset; the constant as given; the
        // legacy length left out.
        (
            DomainflowConfig {
                pattern_type: "suffix".into(),
                suffix_variable_length: Some(4),
                variable_length: Some(9),
                character_set: "aabc".into(),
                constant_string: "Go".into(),
                tld: "NET".into(),
                ..DomainflowConfig::default()
            },
            r#"{"patternType":"suffix","prefixVariableLength":0,"suffixVariableLength":4,"characterSet":"aabc","constantString":"Go","tld":".net"}"#,
            "d27ef529fa6f436c8357b2734215b434a6bc7ed1450695bb554b35cdab9f7942",
        ),
        // Go's escaping: <, >, & and U+2028/9 as \u…, \b and \f short (Go
        // 1.22+), other controls as \u00xx, DEL and é as they are; the
        // pattern type and TLD lower-cased, the TLD's dots trimmed, the
        // charset lower-cased and sorted.
        (
            DomainflowConfig {
                pattern_type: "BOTH_variable".into(),
                prefix_variable_length: Some(2),
                suffix_variable_length: Some(1),
                character_set: "Zy0".into(),
                constant_string: " <a>&\"\\\u{2028}\u{2029}\t\n\r\u{8}\u{c}\u{1}\u{7f}é ".into(),
                tld: "..CO.UK..".into(),
                ..DomainflowConfig::default()
            },
            "{\"patternType\":\"both_variable\",\"prefixVariableLength\":2,\"suffixVariableLength\":1,\"characterSet\":\"0yz\",\"constantString\":\" \\u003ca\\u003e\\u0026\\\"\\\\\\u2028\\u2029\\t\\n\\r\\b\\f\\u0001\u{7f}é \",\"tld\":\".co.uk\"}",
            "bec32e886e44a84b35312f5e230c11beee2b5a534dbdb42355d2d98f8981b7d9",
        ),
    ];
    for (config, document, hash) in cases {
        assert_eq!(config.service_document(), document, "{config:?}");
        assert_eq!(config.service_hash(), hash, "{config:?}");
    }
}

fn service_key(config: &DomainflowConfig) -> Result<Option<String>, domgen_pattern::Error> {
    let spec = Spec::from_domainflow(config).unwrap_or_else(|e| panic!("{e}"));
    Ok(spec.service_key()?.map(|key| key.hash))
}

#[test]
fn a_converted_spec_carries_its_service_key() {
    let shop = config("prefix_variable", Some(3), None, None, "abc", "shop");
    let spec = Spec::from_domainflow(&shop).unwrap();
    assert_eq!(spec.domainflow.as_ref(), Some(&shop));
    let key = spec.service_key().unwrap().unwrap();
    assert_eq!(
        key.hash,
        "c7c812468d55b301d947feef5b050b9864c00d731cb4d3972f31b5701fb57e2b"
    );
    assert_eq!(key.document, shop.service_document());
    // Upper case folds to a sorted charset; repeats in order are sorted.
    assert!(service_key(&config("prefix", Some(2), None, None, "ABc", "x")).is_ok());
    assert!(service_key(&config("prefix", Some(2), None, None, "aabbc", "x")).is_ok());
    // A spec written by hand has no service key.
    let own = Spec {
        patterns: vec!["{domainflow:3}shop.com".into()],
        charsets: spec.charsets.clone(),
        ..Spec::default()
    };
    assert_eq!(own.service_key().unwrap(), None);
}

#[test]
fn an_unsorted_charset_is_refused_for_the_service_key() {
    // `bac` and `abc` hash alike (sorted) but make different names.
    let e = service_key(&config("prefix_variable", Some(2), None, None, "bac", "x")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Domainflow);
    let m = e.to_string();
    assert!(m.contains("`character_set`: `bac` is not sorted"), "{m}");
    assert!(m.contains("give the charset sorted (`abc`"), "{m}");
    // Sorted once lower-cased, but a repeat out of order: `aba` hashes as
    // `baa` does.
    let e = service_key(&config("prefix", Some(2), None, None, "aba", "x")).unwrap_err();
    assert!(e.to_string().contains("sorted (`ab`"), "{e}");
    let e = service_key(&config("prefix", Some(2), None, None, "bA", "x")).unwrap_err();
    assert!(e.to_string().contains("sorted (`ab`"), "{e}");
}

#[test]
fn a_legacy_length_is_refused_for_the_service_key() {
    // The hash leaves variable_length out: 2 and 3 would share a row.
    let e = service_key(&config("prefix", None, None, Some(2), "ab", "x")).unwrap_err();
    assert!(
        e.to_string().contains("give `prefix_variable_length` = 2"),
        "{e}"
    );
    let e = service_key(&config("both", Some(1), None, Some(2), "ab", "x")).unwrap_err();
    assert!(
        e.to_string().contains("give `suffix_variable_length` = 2"),
        "{e}"
    );
    // Unused by the pattern, or given: no ambiguity.
    assert!(service_key(&config("prefix", Some(2), None, Some(5), "ab", "x")).is_ok());
    assert!(service_key(&config("suffix", None, Some(2), Some(2), "ab", "x")).is_ok());
}

#[test]
fn a_shuffled_or_edited_spec_is_refused_for_the_service_key() {
    let spec = Spec::from_domainflow(&config("prefix", Some(2), None, None, "ab", "shop")).unwrap();
    let shuffled = Spec {
        order: Order::Shuffled,
        seed: 7,
        ..spec.clone()
    };
    let e = shuffled.service_key().unwrap_err();
    assert!(e.to_string().contains("order is shuffled"), "{e}");
    let mut edited = spec.clone();
    edited.patterns.push("{domainflow:2}shop.net".into());
    let e = edited.service_key().unwrap_err();
    assert!(e.to_string().contains("its patterns changed since"), "{e}");
    // `limit` and `offset` do not change which name sits where.
    let limited = Spec {
        limit: Some(3),
        offset: 1,
        ..spec
    };
    assert!(limited.service_key().unwrap().is_some());
}

proptest! {
    #[test]
    fn every_offset_matches(
        kind in prop::sample::select(vec!["prefix_variable", "suffix_variable", "both_variable", "prefix", "suffix", "both"]),
        p in 0i64..4,
        s in 0i64..4,
        chars in "[a-z0-9]{1,8}",
        constant in "[a-z0-9]{1,6}",
    ) {
        assert_same_names(&config(kind, Some(p), Some(s), None, &chars, &constant));
    }
}
