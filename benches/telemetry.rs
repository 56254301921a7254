//! What the metrics cost a run: 10M names of the mask to a null sink on
//! every core, first with no recorder installed (the facade's calls do
//! nothing), then with the Prometheus recorder the CLI installs for
//! `--metrics-addr`. Also prints what the recorder rendered, so the run is
//! seen to have recorded.
//!
//! `cargo bench --bench telemetry`; the two medians should be within the
//! noise of each other.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use domgen::Order;
use metrics_exporter_prometheus::PrometheusBuilder;

#[global_allocator]
static ALLOC: domgen::alloc::CountingAlloc = domgen::alloc::CountingAlloc;

fn recorder(c: &mut Criterion) {
    const NAMES: u64 = 10_000_000;
    let space = common::mask(Order::Sequential);
    let threads = common::cores();
    let mut group = c.benchmark_group("recorder");
    group
        .throughput(Throughput::Elements(NAMES))
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("none", |b| {
        b.iter(|| black_box(common::run(&space, NAMES, threads, true).names));
    });
    // Installed for the rest of the process: the benches run in order.
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .expect("no recorder is installed yet");
    domgen::engine::telemetry::describe();
    group.bench_function("prometheus", |b| {
        b.iter(|| black_box(common::run(&space, NAMES, threads, true).names));
    });
    group.finish();
    let page = handle.render();
    let generated = page
        .lines()
        .find(|l| l.starts_with(domgen::engine::telemetry::NAMES_GENERATED))
        .expect("the run recorded the names it generated");
    println!("recorded: {generated}");
}

criterion_group!(benches, recorder);
criterion_main!(benches);
