//! What the benches share: the specs they generate and how they run them.
// Each bench binary includes this module and uses part of it.
#![allow(dead_code)]

use domgen::engine::{GeneratorBuilder, Lines, NullSink, Report, RunOptions};
use domgen::{Order, Space, Spec, WordList};

/// A realistic campaign: keywords (one Unicode), several TLDs, lists,
/// random suffixes, numbers.
pub fn campaign(order: Order) -> Space {
    Space::compile(&Spec {
        keywords: WordList::inline([
            "shop", "cloud", "data", "café", "travel", "studio", "market", "health", "solar",
            "craft",
        ]),
        tlds: WordList::inline(["com", "net", "io", "co.uk", "shop"]),
        patterns: vec![
            "{keyword}.{tld}".into(),
            "{list:prefix}{keyword}.{tld}".into(),
            "{keyword}{list:suffix}.{tld}".into(),
            "{keyword}-{random:3}.{tld}".into(),
            "{keyword}{number:01-99}.{tld}".into(),
        ],
        lists: [
            (
                "prefix".to_owned(),
                WordList::inline(["get", "try", "my", "the", "go"]),
            ),
            (
                "suffix".to_owned(),
                WordList::inline(["hub", "ly", "hq", "app"]),
            ),
        ]
        .into_iter()
        .collect(),
        order,
        seed: 42,
        ..Spec::default()
    })
    .expect("the bench campaign compiles")
}

/// maskprocessor's `shop?l?l?l?l?l?d.com`.
pub fn mask(order: Order) -> Space {
    Space::compile(&Spec {
        patterns: vec!["shop{alpha:5}{digit:1}.com".into()],
        order,
        seed: 42,
        ..Spec::default()
    })
    .expect("the mask compiles")
}

/// Generates `names` names of `space` to a null sink.
pub fn run(space: &Space, names: u64, threads: usize, pooled: bool) -> Report {
    let generator = GeneratorBuilder::new()
        .threads(threads)
        .pooled(pooled)
        .build()
        .expect("the generator starts");
    generator
        .run(
            space,
            &Lines,
            &mut NullSink::default(),
            RunOptions::new(0..names),
        )
        .expect("a null sink does not fail")
}

/// Cores on this machine.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A fixed xorshift stream: `next(below)` is its next number below
/// `below`, the same on every run.
pub fn xorshift() -> impl FnMut(u64) -> u64 {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    move |below| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below
    }
}
