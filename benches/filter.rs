//! Filters: what leaving names out costs, side by side with the same
//! spaces unfiltered.
//!
//! - `filter/{sequential,shuffled}/{unfiltered,filtered}`: maskprocessor's
//!   `shop?l?l?l?l?l?d.com` generated on one thread to a null sink,
//!   without and with a filter of 20 excluded words and an excluded regex
//!   that together leave out about 1 % of the names. The targets are a
//!   filtered rate of at least half the unfiltered one in sequential
//!   order, and a quarter in shuffled order.
//! - `filter/compile_1e12`: compiling and counting a spec of about 10^12
//!   names with 1,000 excluded words and a length bound. Before timing,
//!   it compiles once and fails if that took a second or more, or a peak
//!   live heap of 64 MiB or more.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domgen::{Filter, Order, Space, Spec, WordList};

#[global_allocator]
static ALLOC: domgen::alloc::CountingAlloc = domgen::alloc::CountingAlloc;

/// The mask, filtered or not.
fn mask(order: Order, filtered: bool) -> Space {
    let exclude: Vec<String> = (0..20u8)
        .map(|i| {
            [b'a' + i, b'z' - i, b'c' + i]
                .iter()
                .map(|&b| char::from(b))
                .collect()
        })
        .collect();
    let filter = if filtered {
        Filter {
            exclude: vec![WordList::inline(exclude)],
            exclude_regex: vec!["qx".into()],
            ..Filter::default()
        }
    } else {
        Filter::default()
    };
    Space::compile(&Spec {
        patterns: vec!["shop{alpha:5}{digit:1}.com".into()],
        order,
        seed: 42,
        filter,
        ..Spec::default()
    })
    .expect("the mask compiles")
}

/// About 10^12 names (10 keywords × 36^6 × 10 × 5 TLDs), with 1,000
/// pseudorandom excluded words of 3-5 letters and a length bound.
fn huge() -> Spec {
    let mut next = common::xorshift();
    let words: Vec<String> = (0..1000)
        .map(|_| {
            (0..3 + next(3))
                .map(|_| char::from(b'a' + u8::try_from(next(26)).unwrap()))
                .collect()
        })
        .collect();
    Spec {
        keywords: WordList::inline([
            "shop", "cloud", "data", "travel", "studio", "market", "health", "solar", "craft",
            "green",
        ]),
        tlds: WordList::inline(["com", "net", "io", "co.uk", "shop"]),
        patterns: vec!["{keyword}{alnum:6}{digit:1}.{tld}".into()],
        filter: Filter {
            exclude: vec![WordList::inline(words)],
            max_length: Some(14),
            ..Filter::default()
        },
        ..Spec::default()
    }
}

fn throughput(c: &mut Criterion) {
    const NAMES: u64 = 10_000_000;
    let mut group = c.benchmark_group("filter");
    group
        .throughput(Throughput::Elements(NAMES))
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for order in [Order::Sequential, Order::Shuffled] {
        for filtered in [false, true] {
            let space = mask(order, filtered);
            let kind = if filtered { "filtered" } else { "unfiltered" };
            group.bench_function(format!("{order}/{kind}"), |b| {
                b.iter(|| black_box(common::run(&space, NAMES, 1, true).names));
            });
        }
    }
    group.finish();
}

fn compile_1e12(c: &mut Criterion) {
    let spec = huge();
    let before = domgen::alloc::stats().expect("the counting allocator is installed");
    domgen::alloc::reset_peak();
    let started = Instant::now();
    let space = Space::compile(&spec).unwrap();
    let took = started.elapsed();
    let peak = domgen::alloc::stats().unwrap().peak_live_bytes - before.live_bytes;
    let unfiltered: u64 = space.patterns().map(|p| p.unfiltered).sum();
    println!(
        "filter/compile_1e12: {} of {unfiltered} names kept; compiled in {took:?}, peak live heap {peak} bytes",
        space.total()
    );
    assert!(unfiltered >= 1_000_000_000_000);
    assert!(took < Duration::from_secs(1), "compiling took {took:?}");
    assert!(peak < 64 << 20, "compiling peaked at {peak} live bytes");
    drop(space);
    let mut group = c.benchmark_group("filter");
    group.sample_size(10);
    group.bench_function("compile_1e12", |b| {
        b.iter(|| black_box(Space::compile(&spec).unwrap().total()));
    });
    group.finish();
}

criterion_group!(benches, compile_1e12, throughput);
criterion_main!(benches);
