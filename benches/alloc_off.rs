//! The counting allocator's ablation: the same work as in `generate` with
//! plain mimalloc as the global allocator.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domgen::Order;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn throughput(c: &mut Criterion) {
    const NAMES: u64 = 10_000_000;
    let space = common::mask(Order::Sequential);
    let mut group = c.benchmark_group("throughput-alloc-off");
    group
        .throughput(Throughput::Elements(NAMES))
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function(
        format!("mask/sequential/{}-threads", common::cores()),
        |b| {
            b.iter(|| black_box(common::run(&space, NAMES, common::cores(), true).names));
        },
    );
    group.finish();
}

fn alloc_churn(c: &mut Criterion) {
    c.bench_function("alloc_churn/plain", |b| {
        b.iter(|| {
            for n in 0..1000usize {
                black_box(Vec::<u8>::with_capacity(16 + n % 512));
            }
        });
    });
}

criterion_group!(benches, throughput, alloc_churn);
criterion_main!(benches);
