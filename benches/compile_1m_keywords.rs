//! Compiling a spec of a million keywords read from a file, with the
//! counting allocator installed.
//!
//! - `compile_1m_keywords/load`: reading the 1M-keyword file into a
//!   [`WordList`](domgen::WordList) (streamed, line by line).
//! - `compile_1m_keywords/compile`: `Space::compile` of `{keyword}.{tld}`
//!   over it (normalising, dropping repeats, checking the labels).
//!
//! Before timing, it loads and compiles once and fails if the peak live
//! heap of the two exceeds 3x the file's size + 1 MiB: the words are held
//! once as written and once normalised, with compact offsets beside them.

mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domgen::{Space, Spec, WordList};

#[global_allocator]
static ALLOC: domgen::alloc::CountingAlloc = domgen::alloc::CountingAlloc;

const KEYWORDS: usize = 1_000_000;

/// A file of `KEYWORDS` pseudorandom lowercase keywords of 5-14 letters
/// (a fixed xorshift stream, so every run reads the same file), removed
/// on drop.
struct KeywordFile(PathBuf);

impl KeywordFile {
    fn new() -> KeywordFile {
        let path = std::env::temp_dir().join(format!(
            "domgen-bench-1m-keywords-{}.txt",
            std::process::id()
        ));
        let mut text = String::with_capacity(KEYWORDS * 11);
        let mut next = common::xorshift();
        for _ in 0..KEYWORDS {
            for _ in 0..5 + next(10) {
                text.push(char::from(b'a' + u8::try_from(next(26)).unwrap()));
            }
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        KeywordFile(path)
    }
}

impl Drop for KeywordFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn spec(keywords: WordList) -> Spec {
    Spec {
        keywords,
        tlds: WordList::inline(["com"]),
        patterns: vec!["{keyword}.{tld}".to_owned()],
        ..Spec::default()
    }
}

fn compile_1m_keywords(c: &mut Criterion) {
    let file = KeywordFile::new();
    let bytes = std::fs::metadata(&file.0).unwrap().len();

    let before = domgen::alloc::stats().expect("the counting allocator is installed");
    domgen::alloc::reset_peak();
    let space = Space::compile(&spec(domgen::load::word_file(&file.0).unwrap())).unwrap();
    let peak = domgen::alloc::stats().unwrap().peak_live_bytes - before.live_bytes;
    let limit = 3 * bytes + (1 << 20);
    println!(
        "compile_1m_keywords: {} names from a {bytes}-byte file; peak live heap {peak} bytes (limit {limit})",
        space.total()
    );
    assert!(
        peak <= limit,
        "loading and compiling peaked at {peak} live bytes, over {limit}"
    );
    drop(space);

    let mut group = c.benchmark_group("compile_1m_keywords");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Bytes(bytes));
    group.bench_function("load", |b| {
        b.iter(|| black_box(domgen::load::word_file(&file.0).unwrap().len()));
    });
    let spec = spec(domgen::load::word_file(&file.0).unwrap());
    group.bench_function("compile", |b| {
        b.iter(|| black_box(Space::compile(&spec).unwrap().total()));
    });
    group.finish();
}

criterion_group!(benches, compile_1m_keywords);
criterion_main!(benches);
