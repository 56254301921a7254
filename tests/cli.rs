//! Happy paths of `domgen check`, `count` and `generate`, checked against
//! the naive enumerator in `naive.rs`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::naive::{
    ALNUM, ALPHA, CONSONANT, DIGIT, HEX, VOWEL, lit, names, normalise, numbers, strings,
};
use crate::util::{Dir, Domgen, assert_contains, domgen};

/// A spec that mixes every kind of piece: several patterns, keywords with
/// case repeats, lists inline and from a file, number ranges, variable-length
/// and custom charsets, and a multi-label TLD.
const MIXED_SPEC: &str = r#"
keywords = ["Shop", "cloud", " shop ", "CLOUD", "data"]
tlds = ["com", "co.uk", "net", "COM"]
patterns = [
    "{keyword}.{tld}",
    "{list:prefix}{keyword}.{tld}",
    "{keyword}{list:suffix}.{tld}",
    "{keyword}{number:01-12}.com",
    "{keyword}-{number:8-11}.io",
    "{alpha:1-2}{digit:1}.co.uk",
    "{keyword}{vowel2:1-2}.{tld}",
    "Go-{random:1}.net",
    "{hex:1}{consonant:1}{vowel:1}.org",
    "{number:0-3}x{number:098-101}.de",
    "{list:prefix}.{keyword}.{tld}",
]

[lists]
prefix = ["get", "Try", "my", "get"]
suffix = { file = "words/suffix.txt" }

[charsets]
vowel2 = "yaeiou"
"#;

const SUFFIX_FILE: &str = "hub\n# a comment\n\nLY   \nhq # trailing comment\nhub\n";

/// A directory holding the mixed spec as `spec.toml`.
fn mixed_dir() -> Dir {
    let dir = Dir::new();
    dir.create("spec.toml", MIXED_SPEC)
        .create("words/suffix.txt", SUFFIX_FILE);
    dir
}

/// The mixed spec's names in sequential order, by the naive enumerator.
fn mixed_expected() -> Vec<String> {
    let keywords = normalise(&["Shop", "cloud", " shop ", "CLOUD", "data"]);
    let tlds = normalise(&["com", "co.uk", "net", "COM"]);
    let prefix = normalise(&["get", "Try", "my", "get"]);
    let suffix = normalise(&["hub", "LY", "hq", "hub"]);
    let vowel2 = "yaeiou";
    let patterns: Vec<Vec<Vec<String>>> = vec![
        vec![keywords.clone(), lit("."), tlds.clone()],
        vec![prefix.clone(), keywords.clone(), lit("."), tlds.clone()],
        vec![keywords.clone(), suffix, lit("."), tlds.clone()],
        vec![keywords.clone(), numbers(1, 12, 2), lit(".com")],
        vec![keywords.clone(), lit("-"), numbers(8, 11, 0), lit(".io")],
        vec![strings(ALPHA, 1, 2), strings(DIGIT, 1, 1), lit(".co.uk")],
        vec![
            keywords.clone(),
            strings(vowel2, 1, 2),
            lit("."),
            tlds.clone(),
        ],
        vec![lit("go-"), strings(ALNUM, 1, 1), lit(".net")],
        vec![
            strings(HEX, 1, 1),
            strings(CONSONANT, 1, 1),
            strings(VOWEL, 1, 1),
            lit(".org"),
        ],
        vec![numbers(0, 3, 0), lit("x"), numbers(98, 101, 3), lit(".de")],
        vec![prefix, lit("."), keywords, lit("."), tlds],
    ];
    patterns.iter().flat_map(|p| names(p)).collect()
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// count

#[test]
fn count_prints_a_bare_integer() {
    let out = domgen(&[], &["count", "--pattern", "shop{alpha:5}{digit:1}.com"]);
    assert_eq!(out.success(), "118813760\n");
}

#[test]
fn count_of_mixed_spec_equals_oracle() {
    let dir = mixed_dir();
    let out = dir.run(["count", "spec.toml"]);
    assert_eq!(out.success(), format!("{}\n", mixed_expected().len()));
}

#[test]
fn count_respects_offset_and_limit() {
    let p = "shop{alpha:5}{digit:1}.com";
    let out = domgen(
        &[],
        &["count", "--pattern", p, "--offset", "100", "--limit", "50"],
    );
    assert_eq!(out.success(), "50\n");
    let out = domgen(
        &[],
        &[
            "count",
            "--pattern",
            p,
            "--offset",
            "118813700",
            "--limit",
            "1000",
        ],
    );
    assert_eq!(out.success(), "60\n");
    let out = domgen(&[], &["count", "--pattern", p, "--offset", "118813760"]);
    assert_eq!(out.success(), "0\n");
}

#[test]
fn count_near_2_64() {
    // 10^19 + 10^18 names: large, but indexable.
    let out = domgen(
        &[],
        &[
            "count",
            "--pattern",
            "{digit:19}.com",
            "--pattern",
            "{digit:18}.net",
        ],
    );
    assert_eq!(out.success(), "11000000000000000000\n");
}

// check

#[test]
fn check_prints_total_patterns_and_first_names() {
    let out = domgen(
        &[],
        &[
            "check",
            "--keyword",
            "Shop",
            "--keyword",
            "shop",
            "--keyword",
            "cloud",
            "--tld",
            "com",
            "--tld",
            "co.uk",
            "--pattern",
            "{keyword}.{tld}",
            "--pattern",
            "{keyword}{digit:1}.com",
            "--show",
            "3",
        ],
    );
    let text = out.success();
    let l: Vec<&str> = text.lines().collect();
    assert_eq!(l[0], "total: 24 names from 2 patterns", "{text}");
    let p1 = l
        .iter()
        .find(|l| l.contains("{keyword}.{tld}"))
        .expect(text);
    assert_contains(p1, &["1.", " 4 names", "0..4"]);
    let p2 = l
        .iter()
        .find(|l| l.contains("{keyword}{digit:1}.com"))
        .expect(text);
    assert_contains(p2, &["2.", " 20 names", "4..24"]);
    let first = l.iter().position(|l| *l == "first names:").expect(text);
    assert_eq!(
        l[first + 1..],
        ["  shop.com", "  shop.co.uk", "  cloud.com"],
        "{text}"
    );
}

#[test]
fn check_shows_five_names_by_default() {
    let out = domgen(&[], &["check", "--pattern", "shop{alpha:5}{digit:1}.com"]);
    let text = out.success();
    assert!(
        text.starts_with("total: 118813760 names from 1 pattern\n"),
        "{text}"
    );
    let first = text.find("first names:\n").expect(text);
    assert_eq!(
        &text[first..],
        "first names:\n  shopaaaaa0.com\n  shopaaaaa1.com\n  shopaaaaa2.com\n  shopaaaaa3.com\n  shopaaaaa4.com\n"
    );
}

#[test]
fn check_shuffled_shows_seed_and_the_first_selected_names() {
    let dir = mixed_dir();
    let sel = [
        "--order", "shuffled", "--seed", "11", "--offset", "40", "--limit", "100",
    ];
    let check = dir.run(
        ["check", "spec.toml"]
            .iter()
            .chain(&sel)
            .chain(&["--show", "4"]),
    );
    let text = check.success();
    assert_contains(text, &["seed: 11", "shuffled", "40..140", "(100 names)"]);
    let generated = dir.run(["generate", "spec.toml", "--out", "-"].iter().chain(&sel));
    let shown: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "first names:")
        .skip(1)
        .map(str::trim)
        .collect();
    assert_eq!(shown, generated.lines()[..4]);
}

#[test]
fn check_the_example_campaign() {
    let dir = Dir::new();
    dir.create(
        "examples/campaign.toml",
        include_str!("../examples/campaign.toml"),
    )
    .create(
        "examples/keywords.txt",
        include_str!("../examples/keywords.txt"),
    );
    let out = dir.run(["check", "examples/campaign.toml"]);
    let text = out.success();
    assert_contains(
        text,
        &[
            "from 6 patterns",
            "{vowel2:1-2}{keyword}.net",
            "first names:",
        ],
    );
}

#[test]
fn a_spec_files_filter_and_the_filter_flags_leave_names_out() {
    let dir = Dir::new();
    dir.create(
        "spec.toml",
        r#"
keywords = ["shop", "sexy", "cloud", "ab"]
tlds = ["com", "co.uk"]
patterns = ["{keyword}{digit:1}.{tld}"]
[filter]
min_length = 3
max_length = 5
exclude = ["sex"]
exclude_file = "lists/block.txt"
exclude_names_file = "lists/taken.txt"
"#,
    )
    .create("lists/block.txt", "# words\nclou\n")
    .create("lists/taken.txt", "shop1.com\nSHOP2.co.uk.\n");
    let expected: Vec<String> = ["shop", "ab"]
        .iter()
        .flat_map(|k| (0..10).map(move |d| format!("{k}{d}")))
        .flat_map(|n| [format!("{n}.com"), format!("{n}.co.uk")])
        .filter(|n| n != "shop1.com" && n != "shop2.co.uk")
        .collect();
    let out = dir.run(["generate", "spec.toml", "--out", "-"]);
    assert_eq!(out.lines(), expected);
    let check = dir.run(["check", "spec.toml"]);
    assert_contains(
        check.success(),
        &[
            "total: 38 names",
            "38 names  (indexes 0..38)  of 80 before the filter",
            "min_length 3: leaves out no name",
            "max_length 5: leaves out 20 names, e.g. cloud0.com",
            "exclude `sex`: leaves out 20 names, e.g. sexy0.com",
            "exclude_file lists/block.txt (1 words): leaves out 20 names, e.g. cloud0.com",
            "exclude_names_file lists/taken.txt (2 names): leaves out 2 names, e.g. shop1.com",
        ],
    );
    // Flags add rules to the file's.
    let out = dir.run([
        "generate",
        "spec.toml",
        "--out",
        "-",
        "--exclude-regex",
        "^ab",
        "--include-regex",
        "[05]\\.",
        "--max-length",
        "4",
    ]);
    let narrowed: Vec<String> = expected
        .iter()
        .filter(|n| !n.starts_with("ab") && (n.contains("0.") || n.contains("5.")))
        .filter(|n| n.split('.').next().unwrap().len() <= 4)
        .cloned()
        .collect();
    assert_eq!(out.lines(), narrowed);
    assert_eq!(
        dir.run([
            "count",
            "spec.toml",
            "--exclude",
            "shop",
            "--min-length",
            "2"
        ])
        .lines(),
        ["20"]
    );
}

#[test]
fn typo_makes_look_alikes_from_the_spec_and_the_flags() {
    let dir = Dir::new();
    dir.create(
        "spec.toml",
        r#"
keywords = ["abc", "x-y"]
tlds = ["com", "net"]
patterns = ["{typo}.{tld}"]
typo_algorithms = ["omission", "dictionary", "transposition"]
[lists]
dictionary = ["go"]
"#,
    );
    // Keyword by keyword; per keyword algorithm by algorithm in their
    // order (omission, transposition, dictionary), each in its own; then
    // the TLDs. `xy` is made by omission and transposition alike, and
    // kept once.
    let stems = [
        "bc", "ac", "ab", "bac", "acb", "abc-go", "abcgo", "go-abc", "goabc", // abc
        "-y", "xy", "x-", "-xy", "xy-", "x-y-go", "x-ygo", "go-x-y", "gox-y", "x-go", "go-y",
    ];
    let expected: Vec<String> = stems
        .iter()
        .filter(|s| !s.starts_with('-') && !s.ends_with('-'))
        .flat_map(|s| [format!("{s}.com"), format!("{s}.net")])
        .collect();
    let out = dir.run(["generate", "spec.toml", "--out", "-"]);
    assert_eq!(out.lines(), expected);
    let check = dir.run(["check", "spec.toml"]);
    assert_contains(
        check.success(),
        &[
            "total: 32 names",
            "look-alikes by {typo:omission,transposition,dictionary}:",
            "  all 2 keywords: 16 (omission 4, transposition 2, dictionary 10); dropped as not valid hostnames: 4 (omission 2, transposition 2)",
            "  abc: 9 (omission 3, transposition 2, dictionary 4)",
            "  x-y: 7 (omission 1, transposition 0, dictionary 6); dropped as not valid hostnames: 4 (omission 2, transposition 2)",
        ],
    );
    // The flag replaces the spec's algorithms; a bad name is refused with
    // the names there are.
    let out = dir.run(["count", "spec.toml", "--typo", "omission,repetition"]);
    assert_eq!(out.lines(), ["20"]);
    let refused = dir.run(["count", "spec.toml", "--typo", "omision"]);
    assert_contains(
        refused.spec_error(),
        &["`omision` is not a typo algorithm; the algorithms are addition"],
    );
}

// generate

#[test]
fn generate_mixed_spec_equals_oracle() {
    let dir = mixed_dir();
    let out = dir.run(["generate", "spec.toml", "--out", "-"]);
    let got = lines(out.success());
    let expected = mixed_expected();
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "first difference at line {}", i + 1);
    }
    assert!(out.stdout.ends_with('\n'));
}

#[test]
fn generate_offset_and_limit_slice_the_full_output() {
    let dir = mixed_dir();
    let full = lines(dir.run(["generate", "spec.toml", "--out", "-"]).success());
    for (offset, limit) in [
        (0, 1),
        (7, 30),
        (100, 7000),
        (9000, 5000),
        (full.len() - 1, 10),
    ] {
        let (o, l) = (offset.to_string(), limit.to_string());
        let out = dir.run([
            "generate",
            "spec.toml",
            "--out",
            "-",
            "--offset",
            &o,
            "--limit",
            &l,
        ]);
        let end = (offset + limit).min(full.len());
        assert_eq!(
            lines(out.success()),
            full[offset..end],
            "offset {offset} limit {limit}"
        );
    }
    let at_end = full.len().to_string();
    let out = dir.run(["generate", "spec.toml", "--out", "-", "--offset", &at_end]);
    assert_eq!(out.success(), "");
}

#[test]
fn generate_without_keyword_piece_needs_no_keywords() {
    let out = domgen(
        &[],
        &[
            "generate",
            "--pattern",
            "shop{alpha:5}{digit:1}.com",
            "--limit",
            "12",
            "--out",
            "-",
        ],
    );
    let mut expected: Vec<String> = (0..10).map(|d| format!("shopaaaaa{d}.com")).collect();
    expected.extend(["shopaaaab0.com".to_owned(), "shopaaaab1.com".to_owned()]);
    assert_eq!(lines(out.success()), expected);
}

#[test]
fn generate_end_of_a_large_space() {
    let out = domgen(
        &[],
        &[
            "generate",
            "--pattern",
            "shop{alpha:5}{digit:1}.com",
            "--offset",
            "118813758",
            "--out",
            "-",
        ],
    );
    assert_eq!(out.success(), "shopzzzzz8.com\nshopzzzzz9.com\n");
}

#[test]
fn generate_random_defaults_to_four_alnum() {
    let out = domgen(
        &[],
        &["generate", "--pattern", "{random}.app", "--out", "-"],
    );
    assert_eq!(
        lines(out.success()),
        names(&[strings(ALNUM, 4, 4), lit(".app")])
    );
}

#[test]
fn generate_unicode_keywords_as_a_labels() {
    let out = domgen(
        &[],
        &[
            "generate",
            "--keyword",
            "café",
            "--keyword",
            "Bücher",
            "--pattern",
            "{keyword}.com",
            "--out",
            "-",
        ],
    );
    assert_eq!(out.success(), "xn--caf-dma.com\nxn--bcher-kva.com\n");
}

#[test]
fn generate_word_files_relative_to_the_spec() {
    let dir = Dir::new();
    dir.create(
        "conf/spec.toml",
        "keywords_file = \"kw.txt\"\ntlds_file = \"lists/tlds.txt\"\npatterns = [\"{keyword}.{tld}\"]\n",
    )
    .create("conf/kw.txt", "# keywords\nShop\n\ncloud # good\nshop\n")
    .create("conf/lists/tlds.txt", "com\n.net\nco.uk\n");
    let out = dir.run(["generate", "conf/spec.toml", "--out", "-"]);
    assert_eq!(
        lines(out.success()),
        names(&[
            normalise(&["Shop", "cloud", "shop"]),
            lit("."),
            normalise(&["com", "net", "co.uk"])
        ])
    );
}

#[test]
fn generate_allow_unknown_tlds() {
    let out = domgen(
        &[],
        &[
            "generate",
            "--tld",
            "zzzz",
            "--pattern",
            "a{digit:1}.{tld}",
            "--allow-unknown-tlds",
            "--limit",
            "2",
            "--out",
            "-",
        ],
    );
    assert_eq!(out.success(), "a0.zzzz\na1.zzzz\n");
}

#[test]
fn generate_list_from_flag() {
    let dir = Dir::new();
    dir.create("pre.txt", "get\nTry\n");
    let out = dir.run([
        "generate",
        "--list",
        "pre=pre.txt",
        "--pattern",
        "{list:pre}{digit:1}.io",
        "--limit",
        "3",
        "--offset",
        "9",
        "--out",
        "-",
    ]);
    assert_eq!(out.success(), "get9.io\ntry0.io\ntry1.io\n");
}

#[test]
fn generate_out_file_writes_the_file() {
    let dir = mixed_dir();
    let out = dir.run(["generate", "spec.toml", "--out", "names.txt"]);
    assert_eq!(out.success(), "");
    assert_eq!(lines(&dir.read("names.txt")), mixed_expected());
}

#[test]
fn generate_out_file_replaces_an_existing_file() {
    let dir = Dir::new();
    dir.create("names.txt", &"old line\n".repeat(1000));
    let out = dir.run([
        "generate",
        "--pattern",
        "{digit:1}x.com",
        "--limit",
        "2",
        "--out",
        "names.txt",
    ]);
    out.success();
    assert_eq!(dir.read("names.txt"), "0x.com\n1x.com\n");
}

#[test]
fn generate_out_file_in_a_missing_directory_fails() {
    let dir = Dir::new();
    let out = dir.run([
        "generate",
        "--pattern",
        "{digit:1}x.com",
        "--out",
        "no/such/dir/names.txt",
    ]);
    assert_eq!(out.code, Some(1), "{out}");
    assert_contains(&out.stderr, &["error:", "no/such/dir/names.txt"]);
}

#[test]
fn flags_override_file_values() {
    let dir = Dir::new();
    dir.create(
        "spec.toml",
        "keywords = [\"a\", \"b\", \"c\"]\ntlds = [\"com\"]\npatterns = [\"{keyword}{digit:1}.{tld}\"]\norder = \"shuffled\"\nseed = 3\noffset = 2\nlimit = 5\n",
    )
    .create("kw.txt", "q\nr\n");
    let run = |extra: &[&str]| -> Vec<String> {
        let args: Vec<&str> = ["generate", "spec.toml", "--out", "-"]
            .iter()
            .chain(extra)
            .copied()
            .collect();
        lines(dir.run(&args).success())
    };
    let flags_only = |extra: &[&str]| -> Vec<String> {
        let base = [
            "generate",
            "--out",
            "-",
            "--keyword",
            "a",
            "--keyword",
            "b",
            "--keyword",
            "c",
            "--tld",
            "com",
            "--pattern",
            "{keyword}{digit:1}.{tld}",
        ];
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        lines(dir.run(&args).success())
    };
    // The file alone: shuffled with seed 3, positions 2..7.
    let from_file = run(&[]);
    assert_eq!(from_file.len(), 5);
    assert_eq!(
        from_file,
        flags_only(&[
            "--order", "shuffled", "--seed", "3", "--offset", "2", "--limit", "5"
        ])
    );
    // Each flag replaces its field and keeps the others.
    assert_eq!(
        run(&["--seed", "4"]),
        flags_only(&[
            "--order", "shuffled", "--seed", "4", "--offset", "2", "--limit", "5"
        ])
    );
    assert_eq!(
        run(&["--order", "sequential", "--offset", "0", "--limit", "3"]),
        ["a0.com", "a1.com", "a2.com"]
    );
    assert_eq!(
        run(&["--order", "sequential"]),
        ["a2.com", "a3.com", "a4.com", "a5.com", "a6.com"]
    );
    assert_eq!(
        run(&["--order", "sequential", "--limit", "1", "--keyword", "z"]),
        ["z2.com"]
    );
    assert_eq!(
        run(&[
            "--order",
            "sequential",
            "--limit",
            "1",
            "--keywords-file",
            "kw.txt"
        ]),
        ["q2.com"]
    );
    assert_eq!(
        run(&["--order", "sequential", "--limit", "1", "--tld", "co.uk"]),
        ["a2.co.uk"]
    );
    assert_eq!(
        run(&[
            "--order",
            "sequential",
            "--limit",
            "1",
            "--pattern",
            "x{keyword}.{tld}"
        ]),
        ["xc.com"]
    );
}

#[test]
fn shuffled_is_a_deterministic_permutation() {
    let dir = mixed_dir();
    let sequential = lines(dir.run(["generate", "spec.toml", "--out", "-"]).success());
    let shuffled = |seed: &str| {
        lines(
            dir.run([
                "generate",
                "spec.toml",
                "--out",
                "-",
                "--order",
                "shuffled",
                "--seed",
                seed,
            ])
            .success(),
        )
    };
    let a = shuffled("42");
    assert_ne!(a, sequential, "shuffled output is in sequential order");
    assert_eq!(
        sorted(a.clone()),
        sorted(sequential.clone()),
        "not a permutation"
    );
    assert_eq!(shuffled("42"), a, "same seed, different order");
    let b = shuffled("43");
    assert_ne!(b, a, "different seeds, same order");
    assert_eq!(sorted(b), sorted(sequential));
}

#[test]
fn shuffled_offset_and_limit_slice_the_full_shuffled_output() {
    let dir = mixed_dir();
    let base = [
        "generate",
        "spec.toml",
        "--out",
        "-",
        "--order",
        "shuffled",
        "--seed",
        "9",
    ];
    let full = lines(dir.run(base).success());
    for (offset, limit) in [(0, 10), (1, 1), (500, 3000), (9000, 9999)] {
        let (o, l) = (offset.to_string(), limit.to_string());
        let args: Vec<&str> = base
            .iter()
            .copied()
            .chain(["--offset", &o, "--limit", &l])
            .collect();
        let end = (offset + limit).min(full.len());
        assert_eq!(
            lines(dir.run(&args).success()),
            full[offset..end],
            "offset {offset} limit {limit}"
        );
    }
}

#[test]
fn shuffled_seed_in_spec_file_matches_flag() {
    let dir = mixed_dir();
    let with_flag = dir.run([
        "generate",
        "spec.toml",
        "--out",
        "-",
        "--order",
        "shuffled",
        "--seed",
        "5",
    ]);
    dir.create(
        "seeded.toml",
        &format!("order = \"shuffled\"\nseed = 5\n{MIXED_SPEC}"),
    );
    let from_file = dir.run(["generate", "seeded.toml", "--out", "-"]);
    assert_eq!(from_file.success(), with_flag.success());
}

#[test]
fn broken_pipe_exits_quietly() {
    // As `domgen generate … --out - | head -1`: read one line, close the pipe.
    let dir = Dir::new();
    let mut child = dir
        .command([
            "generate",
            "--pattern",
            "shop{alpha:5}{digit:1}.com",
            "--out",
            "-",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start domgen");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("cannot read a line");
    assert_eq!(first, "shopaaaaa0.com\n");
    drop(reader);
    let out = child.wait_with_output().expect("cannot wait for domgen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "status {:?}, stderr:\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("error"), "stderr:\n{stderr}");
}

#[test]
fn broken_pipe_through_a_shell_pipeline() {
    let dir = Dir::new();
    let script = r#""$0" generate --pattern 'shop{alpha:5}{digit:1}.com' --out - 2>err.txt | head -1; echo "status=${PIPESTATUS[0]}""#;
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(crate::util::DOMGEN)
        .current_dir(dir.path())
        .output()
        .expect("cannot run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, "shopaaaaa0.com\nstatus=0\n");
    let err = dir.read("err.txt");
    assert!(!err.contains("error"), "stderr:\n{err}");
}

#[test]
fn count_and_generate_the_largest_space() {
    // 2^64 - 1 names, the most a space can index.
    let p = "a{number:0-18446744073709551614}.com";
    assert_eq!(
        domgen(&[], &["count", "--pattern", p]).success(),
        "18446744073709551615\n"
    );
    let tail = domgen(
        &[],
        &[
            "generate",
            "--pattern",
            p,
            "--offset",
            "18446744073709551613",
            "--out",
            "-",
        ],
    );
    assert_eq!(
        tail.success(),
        "a18446744073709551613.com\na18446744073709551614.com\n"
    );
    let shuffled = domgen(
        &[],
        &[
            "generate",
            "--pattern",
            p,
            "--order",
            "shuffled",
            "--seed",
            "3",
            "--offset",
            "18446744073709551612",
            "--out",
            "-",
        ],
    );
    let names = lines(shuffled.success());
    assert_eq!(names.len(), 3);
    assert_eq!(
        sorted(names.clone())
            .windows(2)
            .filter(|w| w[0] == w[1])
            .count(),
        0,
        "{names:?}"
    );
}

#[test]
fn shuffled_small_spaces_are_permutations() {
    for n in [1u64, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 64, 65, 1000] {
        let pattern = format!("a{{number:1-{n}}}.com");
        let expected: Vec<String> = (1..=n).map(|i| format!("a{i}.com")).collect();
        for seed in ["0", "1", "2", "18446744073709551615"] {
            let out = domgen(
                &[],
                &[
                    "generate",
                    "--pattern",
                    &pattern,
                    "--order",
                    "shuffled",
                    "--seed",
                    seed,
                    "--out",
                    "-",
                ],
            );
            let got = lines(out.success());
            assert_eq!(got.len(), expected.len(), "n {n} seed {seed}");
            let mut numeric = got.clone();
            numeric.sort_by_key(|name| name[1..name.len() - 4].parse::<u64>().expect("a number"));
            assert_eq!(
                numeric, expected,
                "n {n} seed {seed}: not a permutation: {got:?}"
            );
        }
    }
}

#[test]
fn generate_unicode_keywords_composed_with_other_pieces() {
    // Expected A-labels computed independently (IDNA, which agrees with
    // UTS #46 for these words).
    let out = domgen(
        &[],
        &[
            "generate",
            "--keyword",
            "café",
            "--keyword",
            "ÄÖÜ",
            "--tld",
            "com",
            "--tld",
            "рф",
            "--pattern",
            "{keyword}{digit:1}.com",
            "--pattern",
            "get{keyword}.{tld}",
            "--out",
            "-",
        ],
    );
    let got = lines(out.success());
    assert_eq!(got.len(), 24);
    assert_eq!(got[0], "xn--caf0-dpa.com");
    assert_eq!(got[9], "xn--caf9-dpa.com");
    assert_eq!(got[13], "xn--3-zfa8cya.com");
    assert_eq!(
        got[20..],
        [
            "xn--getcaf-gva.com",
            "xn--getcaf-gva.xn--p1ai",
            "xn--get-sla4gpb.com",
            "xn--get-sla4gpb.xn--p1ai"
        ]
    );
}
