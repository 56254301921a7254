//! Memory laws, with the counting allocator installed: a run's heap is
//! bounded by its in-flight buffers and returns to where it started, even
//! when the sink fails mid-run; no worker thread outlives its generator.
//! One test only: the counters are process-wide.

use std::ops::Range;

use domgen_alloc::CountingAlloc;
use domgen_engine::{Flow, GeneratorBuilder, Lines, NullSink, RunOptions, Sink};
use domgen_pattern::{Space, Spec};
use domgen_test_support::wait_until;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct FailAt(u64);

impl Sink for FailAt {
    type Error = std::io::Error;
    fn write_batch(&mut self, r: Range<u64>, _: &[u8]) -> Result<Flow, std::io::Error> {
        if r.end > self.0 {
            return Err(std::io::Error::other("disk full"));
        }
        Ok(Flow::Continue)
    }
}

/// Threads allocate a few KiB once, on first use (channel wait contexts,
/// thread-locals of rayon and crossbeam); a batch buffer here is 140 kB.
/// Runs may differ from zero by that much, never by a buffer, and repeated
/// runs must not accumulate.
const SLACK: i64 = 8 << 10;

#[test]
fn heap_is_bounded_and_returns_to_its_start() {
    let space = Space::compile(&Spec {
        patterns: vec!["shop{alpha:4}{digit:1}.com".into()],
        ..Spec::default()
    })
    .unwrap();
    // Process-wide lazies (crossbeam-epoch's collector behind rayon's
    // deques) are allocated by the first thread pool and never freed.
    let threads_at_start = threads();
    drop(GeneratorBuilder::new().threads(2).build().unwrap());
    wait_for_threads_to_exit(threads_at_start);
    let threads_before = domgen_alloc::process().unwrap().threads;
    let live_before = live();
    {
        let generator = GeneratorBuilder::new()
            .threads(2)
            .batch_names(10_000)
            .in_flight(4)
            .build()
            .unwrap();
        assert!(domgen_alloc::process().unwrap().threads >= threads_before + 2);

        // A full run: the peak is the in-flight buffers, not the output.
        let report = generator
            .run(
                &space,
                &Lines,
                &mut NullSink::default(),
                RunOptions::new(0..space.total()),
            )
            .unwrap();
        assert_eq!(report.names, 26u64.pow(4) * 10);
        let bound = 4 * report.batch_bytes + (256 << 10);
        let peak = report.peak_live_bytes.unwrap();
        assert!(peak <= bound, "peak {peak} over {bound}");
        assert!(report.bytes_out > 10 * bound, "the output dwarfs the bound");
        assert_eq!(report.pool_misses, 4);
        assert!(report.leaked_bytes().unwrap().abs() < SLACK, "{report:?}");

        // Repeated runs hold no more than one did.
        let settled = live();
        for _ in 0..10 {
            generator
                .run(
                    &space,
                    &Lines,
                    &mut NullSink::default(),
                    RunOptions::new(0..space.total()),
                )
                .unwrap();
        }
        assert!(
            (live() - settled).abs() < SLACK,
            "{} then {}",
            settled,
            live()
        );

        // A sink failing mid-run: the error comes back and no batch
        // buffer is left behind.
        let err = generator
            .run(
                &space,
                &Lines,
                &mut FailAt(50_000),
                RunOptions::new(0..space.total()),
            )
            .unwrap_err();
        assert_eq!(err.written(), 0..50_000);
        drop(err);
        assert!(
            (live() - settled).abs() < SLACK,
            "{} then {}",
            settled,
            live()
        );
    }
    // Dropping the generator stops its threads and frees what it held.
    wait_until(std::time::Duration::from_secs(5), || {
        threads() <= threads_before
    });
    assert_eq!(domgen_alloc::process().unwrap().threads, threads_before);
    // Memory pressure: a sink that holds 4 MiB for a while pushes the live
    // heap over a 2 MiB budget; the planner waits instead of adding
    // batches, and the run still completes with the right output.
    let generator = GeneratorBuilder::new()
        .threads(2)
        .in_flight(4)
        .memory_budget(2 << 20)
        .build()
        .unwrap();
    let mut hog = Hog {
        seen: 0,
        held: None,
        bytes: 0,
    };
    let report = generator
        .run(&space, &Lines, &mut hog, RunOptions::new(0..space.total()))
        .unwrap();
    assert!(report.memory_waits > 0, "{report:?}");
    assert_eq!(report.names, space.total());
    assert_eq!(hog.bytes, report.bytes_out);
    drop(generator);
    wait_for_threads_to_exit(threads_before);

    // crossbeam-epoch frees the exited threads' records lazily (~4 KiB a
    // thread), so allow twice the slack here: still far below one buffer.
    assert!(
        (live() - live_before).abs() < 2 * SLACK,
        "{} then {}",
        live_before,
        live()
    );
}

/// Holds 4 MiB from its 2nd batch to its 20th.
struct Hog {
    seen: u64,
    held: Option<Vec<u8>>,
    bytes: u64,
}

impl Sink for Hog {
    type Error = std::io::Error;
    fn write_batch(&mut self, _: Range<u64>, bytes: &[u8]) -> Result<Flow, std::io::Error> {
        self.seen += 1;
        self.bytes += bytes.len() as u64;
        match self.seen {
            2 => self.held = Some(vec![1; 4 << 20]),
            20 => self.held = None,
            _ => {}
        }
        Ok(Flow::Continue)
    }
}

fn threads() -> u64 {
    domgen_alloc::process().unwrap().threads
}

/// Waits until no more than `threads` threads run: those of a dropped
/// generator exit after the drop returns, and free what they held then.
fn wait_for_threads_to_exit(threads: u64) {
    domgen_test_support::wait_for(
        "a dropped generator's threads to exit",
        std::time::Duration::from_secs(5),
        || self::threads() <= threads,
    );
}

fn live() -> i64 {
    i64::try_from(domgen_alloc::stats().unwrap().live_bytes).unwrap()
}
