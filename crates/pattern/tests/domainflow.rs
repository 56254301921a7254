//! Campaign-service configs: for every offset our name equals theirs.

use domgen_pattern::{DomainflowConfig, ErrorKind, Space, Spec};
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
