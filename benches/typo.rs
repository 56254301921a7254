//! Look-alike names (`{typo}`): making a keyword's variants, and writing
//! them.
//!
//! - `typo/compile_100_keywords`: `Space::compile` of `{typo}.{tld}` (every
//!   algorithm, a 10-word dictionary) over 100 brand-like keywords of 5-13
//!   letters, on the machine's cores. Throughput is in variants made.
//! - `typo/generate`: the compiled space's names (5 TLDs) to a null sink,
//!   sequential and shuffled, on 2 threads.
//!
//! Before timing, it compiles once and prints the variants per keyword and
//! the bytes the space holds for them per keyword.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domgen::{Order, Space, Spec, WordList};

#[global_allocator]
static ALLOC: domgen::alloc::CountingAlloc = domgen::alloc::CountingAlloc;

const KEYWORDS: usize = 100;

/// `KEYWORDS` pronounceable keywords from a fixed xorshift stream.
fn keywords() -> Vec<String> {
    const ONSETS: [&str; 20] = [
        "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "cl",
        "st", "tr",
    ];
    const VOWELS: [&str; 7] = ["a", "e", "i", "o", "u", "ai", "ou"];
    let mut next = common::xorshift();
    (0..KEYWORDS)
        .map(|_| {
            (0..2 + next(3))
                .map(|_| {
                    let onset = ONSETS[usize::try_from(next(20)).unwrap()];
                    let vowel = VOWELS[usize::try_from(next(7)).unwrap()];
                    format!("{onset}{vowel}")
                })
                .collect()
        })
        .collect()
}

fn spec(order: Order) -> Spec {
    Spec {
        keywords: WordList::inline(keywords()),
        tlds: WordList::inline(["com", "net", "org", "io", "app"]),
        patterns: vec!["{typo}.{tld}".into()],
        lists: [(
            "dictionary".to_owned(),
            WordList::inline([
                "login", "secure", "pay", "app", "shop", "online", "support", "account", "mail",
                "web",
            ]),
        )]
        .into(),
        order,
        seed: 42,
        ..Spec::default()
    }
}

fn typo(c: &mut Criterion) {
    let sequential = spec(Order::Sequential);
    let before = domgen::alloc::stats().expect("the counting allocator is installed");
    let space = Space::compile(&sequential).unwrap();
    let held = domgen::alloc::stats().unwrap().live_bytes - before.live_bytes;
    let variants = space.total() / 5;
    println!(
        "typo: {variants} variants of {KEYWORDS} keywords ({} each); the space holds {} bytes per keyword",
        variants / KEYWORDS as u64,
        held / KEYWORDS as u64
    );

    let mut group = c.benchmark_group("typo");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(variants));
    group.bench_function("compile_100_keywords", |b| {
        b.iter(|| black_box(Space::compile(&sequential).unwrap().total()));
    });
    group.throughput(Throughput::Elements(space.total()));
    group.bench_function("generate/sequential", |b| {
        b.iter(|| black_box(common::run(&space, space.total(), 2, true)));
    });
    let shuffled = Space::compile(&spec(Order::Shuffled)).unwrap();
    group.bench_function("generate/shuffled", |b| {
        b.iter(|| black_box(common::run(&shuffled, shuffled.total(), 2, true)));
    });
    group.finish();
}

criterion_group!(benches, typo);
criterion_main!(benches);
