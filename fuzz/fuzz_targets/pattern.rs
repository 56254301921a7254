//! One fuzzed pattern over fixed keywords, TLDs, a list and a charset.
//! Whatever compiles must render only valid hostnames.

#![no_main]

use std::collections::BTreeMap;

use domgen_fuzz::{check_space, salt};
use domgen_pattern::{Order, Space, Spec, WordList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    let salt = salt(data);
    let spec = Spec {
        keywords: WordList::inline(["shop", "cloud", "café", "x1", "Ab-c"]),
        tlds: WordList::inline(["com", "co.uk"]),
        patterns: vec![pattern.to_owned()],
        lists: BTreeMap::from([(
            "prefix".to_owned(),
            WordList::inline(["get", "try", "my", "bücher"]),
        )]),
        charsets: BTreeMap::from([("vowel2".to_owned(), "aeiouy".to_owned())]),
        ..Spec::default()
    };
    let Ok(space) = Space::compile(&spec) else {
        return;
    };
    check_space(&space, salt);

    // The same space shuffled: cursors then render from index_at.
    let shuffled = Spec {
        order: Order::Shuffled,
        seed: salt,
        ..spec
    };
    let shuffled =
        Space::compile(&shuffled).expect("a spec that compiles sequential compiles shuffled");
    assert_eq!(
        shuffled.total(),
        space.total(),
        "shuffling changed the total"
    );
    check_space(&shuffled, salt);
});
