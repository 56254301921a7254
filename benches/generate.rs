//! Generation benches, with the counting allocator installed.
//!
//! - `generate_10k`: 10,000 names of a realistic campaign; also prints the
//!   run's peak live heap and fails if it exceeds 1 MiB.
//! - `throughput`: 10M names to a null sink, sequential and shuffled, one
//!   thread and all threads (names/s as criterion's throughput).
//! - `pooling`: pooled buffers vs a fresh buffer per batch.
//! - `alloc_churn`: the counting allocator's cost per allocation; compare
//!   with the same bench in `alloc_off` (plain mimalloc).
//! - `copy_rows`: 1M names of the campaign encoded as binary COPY rows on
//!   one thread, bare (three fields) and with the provenance columns
//!   (keyword, pattern, TLD): what filling a service table's columns costs.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domgen::Order;
use domgen::engine::{GeneratorBuilder, Lines, NullSink, RunOptions};
use domgen::pg::copy::{CopyRows, PieceFields};

#[global_allocator]
static ALLOC: domgen::alloc::CountingAlloc = domgen::alloc::CountingAlloc;

const PEAK_LIMIT: u64 = 1 << 20;

fn generate_10k(c: &mut Criterion) {
    let space = common::campaign(Order::Sequential);
    assert!(space.total() >= 10_000);
    let generator = GeneratorBuilder::new().build().unwrap();
    let mut peak = 0;
    let mut group = c.benchmark_group("generate_10k");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("campaign", |b| {
        b.iter(|| {
            let report = generator
                .run(
                    &space,
                    &Lines,
                    &mut NullSink::default(),
                    RunOptions::new(0..10_000),
                )
                .unwrap();
            peak = peak.max(
                report
                    .peak_live_bytes
                    .expect("the counting allocator is installed"),
            );
            black_box(report.names)
        });
    });
    group.finish();
    println!("generate_10k: peak live heap {peak} bytes (limit {PEAK_LIMIT})");
    assert!(
        peak <= PEAK_LIMIT,
        "10k names peaked at {peak} live bytes, over {PEAK_LIMIT}"
    );
}

fn throughput(c: &mut Criterion) {
    const NAMES: u64 = 10_000_000;
    let mut group = c.benchmark_group("throughput");
    group
        .throughput(Throughput::Elements(NAMES))
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for order in [Order::Sequential, Order::Shuffled] {
        let space = common::mask(order);
        for threads in [1, common::cores()] {
            group.bench_function(format!("mask/{order}/{threads}-threads"), |b| {
                b.iter(|| black_box(common::run(&space, NAMES, threads, true).names));
            });
        }
    }
    let space = common::campaign(Order::Sequential);
    let names = space.total().min(NAMES);
    group.throughput(Throughput::Elements(names));
    group.bench_function(
        format!("campaign/sequential/{}-threads", common::cores()),
        |b| {
            b.iter(|| black_box(common::run(&space, names, common::cores(), true).names));
        },
    );
    group.finish();
}

fn pooling(c: &mut Criterion) {
    const NAMES: u64 = 10_000_000;
    let space = common::mask(Order::Sequential);
    let mut group = c.benchmark_group("pooling");
    group
        .throughput(Throughput::Elements(NAMES))
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for pooled in [true, false] {
        let name = if pooled { "pooled" } else { "fresh-vec" };
        group.bench_function(name, |b| {
            b.iter(|| black_box(common::run(&space, NAMES, common::cores(), pooled).names));
        });
    }
    group.finish();
}

fn alloc_churn(c: &mut Criterion) {
    c.bench_function("alloc_churn/counting", |b| {
        b.iter(|| {
            for n in 0..1000usize {
                black_box(Vec::<u8>::with_capacity(16 + n % 512));
            }
        });
    });
}

fn copy_rows(c: &mut Criterion) {
    const NAMES: u64 = 1_000_000;
    let space = common::campaign(Order::Sequential);
    assert!(space.total() >= NAMES);
    let generator = GeneratorBuilder::new().threads(1).build().unwrap();
    let id = uuid::Uuid::nil();
    let all = PieceFields {
        keyword: true,
        pattern: true,
        tld: true,
    };
    let mut group = c.benchmark_group("copy_rows");
    group.throughput(Throughput::Elements(NAMES));
    group.sample_size(20);
    for (name, encoder) in [
        ("bare", CopyRows::new(id)),
        ("provenance", CopyRows::new(id).with_pieces(all, &space)),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let report = generator
                    .run(
                        &space,
                        &encoder,
                        &mut NullSink::default(),
                        RunOptions::new(0..NAMES),
                    )
                    .unwrap();
                black_box(report.bytes_out)
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    generate_10k,
    throughput,
    pooling,
    alloc_churn,
    copy_rows
);
criterion_main!(benches);
