//! What must not change when the way words are stored does: a space's
//! fingerprint (it hashes the normalised values, and campaigns resume by
//! it) and the messages naming a value's word and line. The figures were
//! taken from the build before word lists moved into arenas.

use domgen_pattern::{Space, Spec, WordList};

fn mixed() -> Spec {
    let mut spec = Spec {
        keywords: WordList::parse(
            "Shop\n# comment\nCAFÉ\nshop\nxn--caf-dma\nstraße\nb-c\n  Data  \n9to5\n",
            "kw.txt",
        ),
        tlds: WordList::inline(["com", ".CO.UK", "xn--p1ai", "рф", "io"]),
        patterns: vec![
            "{keyword}.{tld}".to_owned(),
            "{list:pre}x.{keyword}.{tld}".to_owned(),
            "{keyword}-{digit:1}.com".to_owned(),
        ],
        ..Spec::default()
    };
    spec.lists.insert(
        "pre".to_owned(),
        WordList::inline(["Get", "get", "my", "ÜBER"]),
    );
    spec
}

#[test]
fn fingerprint_of_a_mixed_spec_is_pinned() {
    let space = Space::compile(&mixed()).unwrap();
    assert_eq!(space.total(), 156);
    assert_eq!(space.fingerprint(), PINNED);
}

const PINNED: &str = "3fb9aa483fd17590e4e3754d25878b8b";

/// A value is named by its word as written and its line, found again from
/// its place in the table.
#[test]
fn two_unicode_words_in_a_label_are_named_with_their_lines() {
    let mut spec = mixed();
    spec.patterns = vec!["{list:pre}{keyword}.{tld}".to_owned()];
    let e = Space::compile(&spec).map(|_| ()).unwrap_err().to_string();
    assert_eq!(e, MESSAGE);
}

const MESSAGE: &str = "pattern 1 `{list:pre}{keyword}.{tld}`, position 1: label 1 joins two pieces with Unicode words (word of list `pre` `ÜBER` (item 4) and keyword `CAFÉ` (kw.txt:3)); domgen composes at most one per label\n    {list:pre}{keyword}.{tld}\n    ^^^^^^^^^^^^^^^^^^^\n  help: put them in separate labels, or keep one of the lists ASCII";

/// After repeats are dropped, a value's place in the table is not its
/// word's place in the list: the message still names the right line.
#[test]
fn a_bad_value_after_repeats_names_its_line() {
    let spec = Spec {
        keywords: WordList::parse("a\nA\n\nb\n# c\nB\nok-\nx\n", "kw.txt"),
        patterns: vec!["{keyword}.com".to_owned()],
        ..Spec::default()
    };
    let e = Space::compile(&spec).map(|_| ()).unwrap_err().to_string();
    assert_eq!(e, MESSAGE_AFTER_REPEATS);
}

const MESSAGE_AFTER_REPEATS: &str = "pattern 1 `{keyword}.com`, position 1: label 1 can end with a hyphen, from keyword `ok-` (kw.txt:7)\n    {keyword}.com\n    ^^^^^^^^^\n  help: a label may not start or end with '-': remove the hyphen from that value or move it inside the label";
