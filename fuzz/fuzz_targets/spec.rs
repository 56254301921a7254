//! A fuzzed TOML spec, with every word file read as a small fixed list.
//! Whatever compiles must render only valid hostnames.

#![no_main]

use std::path::Path;

use domgen_fuzz::{check_space, salt};
use domgen_pattern::{Space, SpecFile};
use libfuzzer_sys::fuzz_target;

/// What every `*_file` / `{ file = "…" }` in the spec reads.
const WORDS: &str = "alpha\nbeta # a comment\n\n  Café  \nbeta\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = SpecFile::from_toml(text, "fuzz.toml") else {
        return;
    };
    let Ok(spec) = file.resolve(Path::new("/fuzz"), |_| Ok(WORDS.to_owned())) else {
        return;
    };
    let Ok(space) = Space::compile(&spec) else {
        return;
    };
    check_space(&space, salt(data));
});
