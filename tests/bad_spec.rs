//! Bad specs: each is refused with exit code 2, nothing on stdout, and a
//! message that names the offending value and where it is.

use crate::util::{Dir, Domgen, assert_contains, domgen};

/// `count` with `args`, in an empty directory; returns the error message.
fn refused(args: &[&str]) -> String {
    let mut full = vec!["count"];
    full.extend_from_slice(args);
    domgen(&[], &full).spec_error().to_owned()
}

/// `count spec.toml` with `spec` as the file; returns the error message.
fn refused_file(spec: &str) -> String {
    domgen(&[("spec.toml", spec)], &["count", "spec.toml"])
        .spec_error()
        .to_owned()
}

// TOML

#[test]
fn toml_syntax_error_names_file_line_and_column() {
    let e = refused_file(
        "tlds = [\"com\"]\nkeywords = [\"a\" \"b\"]\npatterns = [\"{keyword}.{tld}\"]\n",
    );
    assert_contains(&e, &["spec.toml:2:17:", "comma"]);
}

#[test]
fn toml_wrong_type_names_file_line_and_column() {
    let e = refused_file("keywords = [\"a\"]\npatterns = [\"{keyword}.com\"]\n\nseed = \"x\"\n");
    assert_contains(&e, &["spec.toml:4:8:", "\"x\"", "u64"]);
}

#[test]
fn toml_unknown_field_is_named() {
    let e = refused_file("keywords = [\"a\"]\npatterns = [\"{keyword}.com\"]\ncolour = \"red\"\n");
    assert_contains(&e, &["spec.toml:3:1:", "unknown field `colour`"]);
}

#[test]
fn toml_keywords_and_keywords_file_together() {
    let dir = Dir::new();
    dir.create("kw.txt", "shop\n").create(
        "spec.toml",
        "keywords = [\"a\"]\nkeywords_file = \"kw.txt\"\npatterns = [\"{keyword}.com\"]\n",
    );
    let e = dir.run(["count", "spec.toml"]).spec_error().to_owned();
    assert_contains(&e, &["`keywords`", "`keywords_file`"]);
}

// Pattern syntax

#[test]
fn unknown_piece() {
    let e = refused(&["--pattern", "{foo}.com"]);
    assert_contains(
        &e,
        &[
            "pattern 1 `{foo}.com`",
            "position 1",
            "unknown piece `{foo}`",
        ],
    );
    assert_contains(&e, &["\n    {foo}.com\n    ^^^^^\n"]);
}

#[test]
fn unknown_piece_in_second_pattern_names_pattern_2() {
    let e = refused(&["--pattern", "a{digit:1}.com", "--pattern", "b{foo}.com"]);
    assert_contains(&e, &["pattern 2 `b{foo}.com`", "position 2", "`{foo}`"]);
    assert_contains(&e, &["\n    b{foo}.com\n     ^^^^^\n"]);
}

#[test]
fn unknown_piece_in_spec_file_names_the_file() {
    let e = refused_file("patterns = [\"a{digit:1}.com\", \"{foo}.com\"]\n");
    assert_contains(&e, &["spec.toml", "pattern 2 `{foo}.com`", "`{foo}`"]);
}

#[test]
fn unclosed_brace() {
    let e = refused(&["--pattern", "shop{alpha:3.com"]);
    assert_contains(&e, &["pattern 1", "position 5", "never closed"]);
    assert_contains(&e, &["\n    shop{alpha:3.com\n        ^^^^^^^^^^^^\n"]);
}

#[test]
fn stray_closing_brace() {
    let e = refused(&["--pattern", "shop}.com"]);
    assert_contains(&e, &["pattern 1", "position 5", "`}`"]);
    assert_contains(&e, &["\n    shop}.com\n        ^\n"]);
}

#[test]
fn underscore_in_literal_with_caret() {
    let e = refused(&["--pattern", "sh_op.com"]);
    assert_contains(&e, &["pattern 1", "position 3", "`_`"]);
    assert_contains(&e, &["\n    sh_op.com\n      ^\n"]);
}

#[test]
fn space_in_literal_with_caret() {
    let e = refused(&["--pattern", "sh op.com"]);
    assert_contains(&e, &["pattern 1", "position 3", "' '"]);
    assert_contains(&e, &["\n    sh op.com\n      ^\n"]);
}

#[test]
fn unicode_in_literal_with_caret() {
    let e = refused(&["--pattern", "café.com"]);
    assert_contains(&e, &["pattern 1", "position 4", "`é`"]);
    assert_contains(&e, &["\n    café.com\n       ^\n"]);
}

#[test]
fn empty_pattern() {
    let e = refused(&["--pattern", ""]);
    assert_contains(&e, &["pattern 1", "empty"]);
}

#[test]
fn no_patterns_at_all() {
    let e = refused(&["--keyword", "shop"]);
    assert_contains(&e, &["no patterns", "--pattern"]);
}

#[test]
fn keyword_piece_with_an_argument() {
    let e = refused(&["--keyword", "a", "--pattern", "{keyword:3}.com"]);
    assert_contains(&e, &["pattern 1", "`{keyword}` takes no argument"]);
}

#[test]
fn number_without_a_range() {
    let e = refused(&["--pattern", "a{number}.com"]);
    assert_contains(&e, &["pattern 1", "position 2", "`{number}` needs a range"]);
}

#[test]
fn number_range_backwards() {
    let e = refused(&["--pattern", "a{number:9-1}.com"]);
    assert_contains(&e, &["pattern 1", "position 2", "9-1", "backwards"]);
    assert_contains(&e, &["\n    a{number:9-1}.com\n     ^^^^^^^^^^^^\n"]);
}

#[test]
fn charset_range_backwards() {
    let e = refused(&["--pattern", "a{alpha:3-2}.com"]);
    assert_contains(&e, &["pattern 1", "position 2", "3-2", "backwards"]);
}

#[test]
fn charset_length_zero() {
    let e = refused(&["--pattern", "a{alpha:0}.com"]);
    assert_contains(&e, &["pattern 1", "position 2", "at least 1"]);
    assert_contains(&e, &["\n    a{alpha:0}.com\n     ^^^^^^^^^\n"]);
}

#[test]
fn random_length_zero() {
    let e = refused(&["--pattern", "a{random:0}.com"]);
    assert_contains(&e, &["pattern 1", "position 2", "at least 1"]);
}

#[test]
fn charset_length_over_a_label() {
    let e = refused(&["--pattern", "{digit:64}.com"]);
    assert_contains(&e, &["pattern 1", "position 1", "64", "63"]);
}

// Undefined names

#[test]
fn unknown_list() {
    let e =
        refused_file("patterns = [\"{list:prefx}{digit:1}.com\"]\n[lists]\nprefix = [\"get\"]\n");
    assert_contains(
        &e,
        &["spec.toml", "pattern 1", "position 1", "`prefx`", "prefix"],
    );
}

#[test]
fn unknown_charset() {
    let e = refused(&["--pattern", "x{greek:3}.com"]);
    assert_contains(
        &e,
        &["pattern 1", "position 2", "no charset is named `greek`"],
    );
    assert_contains(&e, &["\n    x{greek:3}.com\n     ^^^^^^^^^\n"]);
}

#[test]
fn empty_inline_list() {
    let e = refused_file("patterns = [\"{list:p}{digit:1}.com\"]\n[lists]\np = []\n");
    assert_contains(&e, &["pattern 1", "position 1", "list `p`", "empty"]);
}

#[test]
fn empty_list_file_names_the_file() {
    let dir = Dir::new();
    dir.create("empty.txt", "# only a comment\n\n").create(
        "spec.toml",
        "patterns = [\"{list:p}{digit:1}.com\"]\n[lists]\np = { file = \"empty.txt\" }\n",
    );
    let e = dir.run(["count", "spec.toml"]).spec_error().to_owned();
    assert_contains(&e, &["pattern 1", "list `p`", "empty.txt", "empty"]);
}

#[test]
fn keyword_piece_without_keywords() {
    let e = refused(&["--tld", "com", "--pattern", "get{keyword}.{tld}"]);
    assert_contains(&e, &["pattern 1", "position 4", "{keyword}", "no keywords"]);
    assert_contains(&e, &["\n    get{keyword}.{tld}\n       ^^^^^^^^^\n"]);
}

#[test]
fn tld_piece_without_tlds() {
    let e = refused(&["--keyword", "shop", "--pattern", "{keyword}.{tld}"]);
    assert_contains(&e, &["pattern 1", "position 11", "{tld}", "no TLDs"]);
    assert_contains(&e, &["\n    {keyword}.{tld}\n              ^^^^^\n"]);
}

// Hostname rules

#[test]
fn label_over_63_octets() {
    // 60 literal letters and up to 5 more from the charset: 65 octets.
    let pattern = format!("{}{{alpha:1-5}}.com", "a".repeat(60));
    let e = refused(&["--pattern", &pattern]);
    assert_contains(&e, &["pattern 1", "label 1", "65 octets", "63"]);
}

#[test]
fn label_over_63_octets_from_a_keyword() {
    let keyword = "k".repeat(50);
    let e = refused(&[
        "--keyword",
        &keyword,
        "--pattern",
        "{keyword}{digit:14}.com",
    ]);
    assert_contains(&e, &["pattern 1", "label 1", "64 octets", "63", &keyword]);
}

#[test]
fn label_over_63_octets_from_oversized_charset_pieces() {
    // `{alpha:40}` alone holds more names than a space can index, so this
    // may be refused for its size before the label length is looked at;
    // either refusal names pattern 1 and the limit it breaks.
    let e = refused(&["--pattern", "{alpha:40}{alpha:30}.com"]);
    assert_contains(&e, &["pattern 1", "{alpha:40}{alpha:30}.com"]);
    assert!(e.contains("63") || e.contains("2^64"), "{e}");
}

#[test]
fn name_over_253_octets() {
    let long = "a".repeat(63);
    let pattern = format!("{long}.{long}.{long}.{}{{digit:1}}.com", "b".repeat(60));
    let e = refused(&["--pattern", &pattern]);
    assert_contains(&e, &["pattern 1", "257 octets", "253"]);
}

#[test]
fn keyword_with_leading_hyphen_at_label_start() {
    let e = refused_file("keywords = [\"shop\", \"-bad\"]\npatterns = [\"{keyword}.com\"]\n");
    assert_contains(
        &e,
        &[
            "pattern 1",
            "label 1",
            "start with a hyphen",
            "`-bad`",
            "item 2",
        ],
    );
}

#[test]
fn keyword_with_leading_hyphen_inside_a_label_is_fine() {
    let out = domgen(
        &[],
        &["count", "--keyword=-bad", "--pattern", "x{keyword}.com"],
    );
    assert_eq!(out.success(), "1\n");
}

#[test]
fn keyword_with_trailing_hyphen_at_label_end() {
    let e = refused(&["--keyword", "shop-", "--pattern", "{keyword}.com"]);
    assert_contains(
        &e,
        &["pattern 1", "label 1", "end with a hyphen", "`shop-`"],
    );
}

#[test]
fn keywords_file_bad_word_names_its_line() {
    let dir = Dir::new();
    dir.create("kw.txt", "shop\n# a comment\ncafe_bar\ndata\n");
    let e = dir
        .run([
            "count",
            "--keywords-file",
            "kw.txt",
            "--pattern",
            "{keyword}.com",
        ])
        .spec_error()
        .to_owned();
    assert_contains(&e, &["`cafe_bar`", "kw.txt:3"]);
}

#[test]
fn keywords_file_hyphen_word_names_its_line() {
    let dir = Dir::new();
    dir.create("kw.txt", "shop\n\n-bad\n");
    let e = dir
        .run([
            "count",
            "--keywords-file",
            "kw.txt",
            "--pattern",
            "{keyword}.com",
        ])
        .spec_error()
        .to_owned();
    assert_contains(&e, &["start with a hyphen", "`-bad`", "kw.txt:3"]);
}

#[test]
fn double_hyphen_at_positions_3_and_4() {
    let e = refused(&["--keyword", "ab--cd", "--pattern", "{keyword}.com"]);
    assert_contains(&e, &["pattern 1", "label 1", "--", "3-4", "`ab--cd`"]);
}

#[test]
fn double_hyphen_at_positions_3_and_4_across_pieces() {
    let e = refused(&["--keyword=-x", "--pattern", "ab-{keyword}.com"]);
    assert_contains(
        &e,
        &["pattern 1", "label 1", "3-4", "`-x`", "literal `ab-`"],
    );
}

#[test]
fn empty_label_two_dots() {
    let e = refused(&["--pattern", "shop..com"]);
    assert_contains(&e, &["pattern 1", "position 6", "label 2 is empty"]);
    assert_contains(&e, &["\n    shop..com\n         ^\n"]);
}

#[test]
fn empty_label_leading_dot() {
    let e = refused(&["--pattern", ".shop.com"]);
    assert_contains(&e, &["pattern 1", "label 1 is empty"]);
}

#[test]
fn keyword_with_a_dot() {
    let e = refused(&[
        "--keyword",
        "shop",
        "--keyword",
        "a.b",
        "--pattern",
        "{keyword}.com",
    ]);
    assert_contains(&e, &["keyword `a.b`", "item 2", "dot"]);
}

#[test]
fn keyword_not_a_hostname_label() {
    let e = refused(&["--keyword", "sh op", "--pattern", "{keyword}.com"]);
    assert_contains(&e, &["keyword `sh op`", "item 1"]);
}

// TLDs

#[test]
fn unknown_tld() {
    let e = refused(&["--tld", "com", "--tld", "zzzz", "--pattern", "a.{tld}"]);
    assert_contains(&e, &["TLD `zzzz`", "item 2", "Public Suffix List"]);
}

#[test]
fn unknown_tld_in_tlds_file_names_its_line() {
    let dir = Dir::new();
    dir.create("tlds.txt", "com\nnet # fine\nzzzz\n");
    let e = dir
        .run(["count", "--tlds-file", "tlds.txt", "--pattern", "a.{tld}"])
        .spec_error()
        .to_owned();
    assert_contains(&e, &["TLD `zzzz`", "tlds.txt:3"]);
}

#[test]
fn tld_that_is_not_a_public_suffix() {
    let e = refused(&["--tld", "example.com", "--pattern", "a.{tld}"]);
    assert_contains(
        &e,
        &["TLD `example.com`", "not itself a public suffix", "`com`"],
    );
}

#[test]
fn literal_unknown_tld_in_pattern() {
    let e = refused(&["--pattern", "shop.notatld"]);
    assert_contains(
        &e,
        &["pattern 1", "position 6", "notatld", "Public Suffix List"],
    );
    assert_contains(&e, &["\n    shop.notatld\n         ^^^^^^^\n"]);
}

#[test]
fn pattern_not_ending_in_a_tld() {
    let e = refused(&["--pattern", "shop{digit:1}"]);
    assert_contains(
        &e,
        &["pattern 1 `shop{digit:1}`", "does not end with a TLD"],
    );
}

#[test]
fn tld_piece_not_at_the_end() {
    let e = refused(&["--tld", "com", "--pattern", "{tld}.shop.com"]);
    assert_contains(
        &e,
        &["pattern 1", "position 1", "{tld} must end the pattern"],
    );
    assert_contains(&e, &["\n    {tld}.shop.com\n    ^^^^^\n"]);
}

#[test]
fn tld_piece_without_a_dot_before_it() {
    let e = refused(&["--tld", "com", "--pattern", "shop{tld}"]);
    assert_contains(
        &e,
        &[
            "pattern 1",
            "position 5",
            "{tld} must end the pattern, after a dot",
        ],
    );
}

// Charsets

#[test]
fn custom_charset_with_a_repeat() {
    let e = refused(&["--charset", "v=aeia", "--pattern", "{v:2}.com"]);
    assert_contains(&e, &["charset `v`", "\"aeia\"", "`a` appears twice"]);
}

#[test]
fn custom_charset_with_a_hyphen() {
    let e = refused(&["--charset", "v=a-b", "--pattern", "{v:2}.com"]);
    assert_contains(&e, &["charset `v`", "\"a-b\"", "'-'"]);
}

#[test]
fn custom_charset_with_an_underscore_in_spec_file() {
    let e = refused_file("patterns = [\"{v:2}.com\"]\n[charsets]\nv = \"a_b\"\n");
    assert_contains(&e, &["charset `v`", "\"a_b\"", "'_'"]);
}

#[test]
fn custom_charset_shadowing_a_builtin() {
    let e = refused(&["--charset", "alpha=abc", "--pattern", "{alpha:1}.com"]);
    assert_contains(&e, &["charset `alpha`", "built-in"]);
}

// Size and selection

#[test]
fn space_over_2_64_from_pieces() {
    let e = refused(&["--pattern", "{alnum:13}{alnum:13}.com"]);
    assert_contains(&e, &["pattern 1", "2^64"]);
}

#[test]
fn space_over_2_64_names_its_size() {
    // 36^24 names: each piece fits in a u64, the product does not.
    let e = refused(&["--pattern", "{alnum:12}{alnum:12}.com"]);
    assert_contains(
        &e,
        &[
            "pattern 1",
            "22452257707354557240087211123792674816",
            "2^64",
        ],
    );
}

#[test]
fn space_over_2_64_across_patterns_names_its_size() {
    // 10^19 names each: every pattern fits, the two together do not.
    let e = refused(&["--pattern", "{digit:19}.com", "--pattern", "{digit:19}.net"]);
    assert_contains(&e, &["20000000000000000000", "2^64"]);
}

#[test]
fn space_over_2_64_from_one_piece_names_its_size() {
    // A space of more than 2^64 − 1 names is refused with its size (README,
    // "Order"). `{alnum:13}` alone holds 36^13 names.
    let e = refused(&["--pattern", "{alnum:13}.com"]);
    assert_contains(&e, &["pattern 1", "2^64", "170581728179578208256"]);
}

#[test]
fn offset_past_the_end() {
    let e = refused(&["--pattern", "a{digit:1}.com", "--offset", "11"]);
    assert_contains(&e, &["offset 11", "10 names"]);
}

#[test]
fn offset_past_the_end_in_spec_file() {
    let e = refused_file("patterns = [\"a{digit:1}.com\"]\noffset = 25\n");
    assert_contains(&e, &["spec.toml", "offset 25", "10 names"]);
}

// Files and flags

#[test]
fn missing_spec_file() {
    let e = refused(&["nope.toml"]);
    assert_contains(&e, &["cannot read nope.toml"]);
}

#[test]
fn missing_keywords_file_flag() {
    let e = refused(&["--keywords-file", "nope.txt", "--pattern", "{keyword}.com"]);
    assert_contains(&e, &["cannot read nope.txt"]);
}

#[test]
fn missing_keywords_file_named_in_spec() {
    let e = refused_file("keywords_file = \"missing.txt\"\npatterns = [\"{keyword}.com\"]\n");
    assert_contains(&e, &["keywords file", "missing.txt"]);
}

#[test]
fn missing_list_file_flag() {
    let e = refused(&["--list", "p=nolist.txt", "--pattern", "{list:p}.com"]);
    assert_contains(&e, &["cannot read nolist.txt"]);
}

#[test]
fn bad_order_flag() {
    let e = refused(&["--pattern", "a.com", "--order", "shuffle"]);
    assert_contains(&e, &["shuffle", "sequential"]);
}
