//! The engine against the single-threaded cursor: same bytes for every
//! order, thread count and batch size; exact reports when stopped.

use std::ops::Range;

use domgen_engine::{
    CancelToken, Encoder, ErrorKind, Flow, GeneratorBuilder, Lines, NullSink, RunOptions, Sink,
    WriteSink,
};
use domgen_pattern::{Order, Space, Spec, WordList};

fn space(order: Order) -> Space {
    Space::compile(&Spec {
        keywords: WordList::inline(["shop", "café", "data"]),
        tlds: WordList::inline(["com", "co.uk"]),
        patterns: vec![
            "{keyword}-{alnum:1-2}.{tld}".into(),
            "shop{alpha:2}{digit:1}.com".into(),
            "{number:01-40}{keyword}.net".into(),
        ],
        order,
        seed: 3,
        ..Spec::default()
    })
    .unwrap()
}

/// The reference: one cursor, one thread.
fn sequential(space: &Space, positions: Range<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    let n = positions.end - positions.start;
    space.cursor(positions).write_lines(&mut out, n, b'\n');
    out
}

#[test]
fn parallel_output_equals_sequential_output() {
    for order in [Order::Sequential, Order::Shuffled] {
        let space = space(order);
        let total = space.total();
        for (threads, batch, in_flight) in [
            (1, 1, 1),
            (2, 7, 2),
            (3, 100, 3),
            (4, 1000, 16),
            (2, 100_000, 4),
        ] {
            let generator = GeneratorBuilder::new()
                .threads(threads)
                .batch_names(batch)
                .in_flight(in_flight)
                .build()
                .unwrap();
            for range in [0..total, 5..total - 3, 100..101, 17..17] {
                let mut sink = WriteSink::new(Vec::new());
                let report = generator
                    .run(&space, &Lines, &mut sink, RunOptions::new(range.clone()))
                    .unwrap();
                assert_eq!(
                    sink.into_inner(),
                    sequential(&space, range.clone()),
                    "{order:?} threads={threads} batch={batch} range={range:?}"
                );
                assert_eq!(report.names, range.end - range.start);
                assert!(!report.stopped_early);
                let expected_written: Vec<Range<u64>> = if range.is_empty() {
                    vec![]
                } else {
                    vec![range.clone()]
                };
                assert_eq!(report.written, expected_written);
            }
        }
    }
}

/// A sink that cancels the run's token after `after` batches.
struct CancelAfter {
    token: CancelToken,
    after: u64,
    seen: u64,
    bytes: Vec<u8>,
}

impl Sink for CancelAfter {
    type Error = std::io::Error;

    fn write_batch(&mut self, _: Range<u64>, bytes: &[u8]) -> Result<Flow, std::io::Error> {
        self.bytes.extend_from_slice(bytes);
        self.seen += 1;
        if self.seen == self.after {
            self.token.cancel();
        }
        Ok(Flow::Continue)
    }
}

#[test]
fn a_cancelled_run_reports_exactly_what_it_wrote() {
    let space = space(Order::Shuffled);
    let generator = GeneratorBuilder::new()
        .threads(2)
        .batch_names(50)
        .in_flight(4)
        .build()
        .unwrap();
    let token = CancelToken::new();
    let mut sink = CancelAfter {
        token: token.clone(),
        after: 3,
        seen: 0,
        bytes: Vec::new(),
    };
    let report = generator
        .run(
            &space,
            &Lines,
            &mut sink,
            RunOptions {
                cancel: Some(&token),
                ..RunOptions::new(10..space.total())
            },
        )
        .unwrap();
    assert!(report.stopped_early);
    // Batches already in flight when the token fired are still written, in
    // order; nothing after them.
    assert_eq!(report.written.len(), 1);
    let written = report.written[0].clone();
    assert_eq!(written.start, 10);
    assert!(
        written.end >= 10 + 3 * 50 && written.end < space.total(),
        "{written:?}"
    );
    assert_eq!((written.end - 10) % 50, 0);
    assert_eq!(report.names, written.end - written.start);
    assert_eq!(sink.bytes, sequential(&space, written));
}

#[test]
fn a_sink_that_stops_ends_the_run_at_its_batch() {
    struct StopAt(u64, u64);
    impl Sink for StopAt {
        type Error = std::io::Error;
        fn write_batch(&mut self, r: Range<u64>, _: &[u8]) -> Result<Flow, std::io::Error> {
            self.1 = r.end;
            Ok(if r.end >= self.0 {
                Flow::Stop
            } else {
                Flow::Continue
            })
        }
    }
    let space = space(Order::Sequential);
    let generator = GeneratorBuilder::new()
        .threads(2)
        .batch_names(10)
        .in_flight(3)
        .build()
        .unwrap();
    let mut sink = StopAt(30, 0);
    let report = generator
        .run(&space, &Lines, &mut sink, RunOptions::new(0..space.total()))
        .unwrap();
    assert!(report.stopped_early);
    assert_eq!(report.written, vec![0..30]);
    assert_eq!(sink.1, 30);
}

#[test]
fn a_failing_sink_stops_the_run_with_its_error() {
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
    let space = space(Order::Sequential);
    let generator = GeneratorBuilder::new()
        .threads(3)
        .batch_names(25)
        .in_flight(5)
        .build()
        .unwrap();
    let err = generator
        .run(
            &space,
            &Lines,
            &mut FailAt(100),
            RunOptions::new(0..space.total()),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sink);
    assert!(err.to_string().contains("disk full"));
    assert_eq!(err.written(), 0..100);
    // The generator is still usable afterwards.
    let mut null = NullSink::default();
    let report = generator
        .run(&space, &Lines, &mut null, RunOptions::new(0..space.total()))
        .unwrap();
    assert_eq!(report.names, space.total());
}

#[test]
fn a_panicking_encoder_is_an_error_not_a_hang() {
    struct Boom;
    impl Encoder for Boom {
        fn max_bytes_per_name(&self, n: usize) -> usize {
            n + 1
        }
        fn encode(&self, space: &Space, positions: Range<u64>, out: &mut Vec<u8>) {
            if positions.start >= 40 {
                panic!("boom at {}", positions.start);
            }
            Lines.encode(space, positions, out);
        }
    }
    let space = space(Order::Sequential);
    let generator = GeneratorBuilder::new()
        .threads(2)
        .batch_names(20)
        .in_flight(4)
        .build()
        .unwrap();
    let mut sink = WriteSink::new(Vec::new());
    let err = generator
        .run(&space, &Boom, &mut sink, RunOptions::new(0..space.total()))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Worker);
    assert!(err.to_string().contains("boom at"), "{err}");
}

#[test]
fn a_budget_too_small_is_a_clear_error() {
    let space = space(Order::Sequential);
    let generator = GeneratorBuilder::new()
        .threads(2)
        .memory_budget(1000)
        .build()
        .unwrap();
    let err = generator
        .run(
            &space,
            &Lines,
            &mut NullSink::default(),
            RunOptions::new(0..space.total()),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Budget);
    assert!(
        err.to_string()
            .contains("raise `GeneratorBuilder::memory_budget` to at least"),
        "{err}"
    );
}

#[test]
fn unordered_sinks_get_every_batch_once() {
    struct Collect(Vec<(Range<u64>, Vec<u8>)>);
    impl Sink for Collect {
        type Error = std::io::Error;
        fn ordered(&self) -> bool {
            false
        }
        fn write_batch(&mut self, r: Range<u64>, b: &[u8]) -> Result<Flow, std::io::Error> {
            self.0.push((r, b.to_vec()));
            Ok(Flow::Continue)
        }
    }
    let space = space(Order::Shuffled);
    let generator = GeneratorBuilder::new()
        .threads(3)
        .batch_names(13)
        .in_flight(6)
        .build()
        .unwrap();
    let mut sink = Collect(Vec::new());
    generator
        .run(&space, &Lines, &mut sink, RunOptions::new(0..space.total()))
        .unwrap();
    sink.0.sort_by_key(|(r, _)| r.start);
    let joined: Vec<u8> = sink.0.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    assert_eq!(joined, sequential(&space, 0..space.total()));
}

#[test]
fn progress_is_reported_after_every_batch() {
    let space = space(Order::Sequential);
    let generator = GeneratorBuilder::new()
        .threads(2)
        .batch_names(100)
        .build()
        .unwrap();
    let mut seen = Vec::new();
    let report = generator
        .run(
            &space,
            &Lines,
            &mut NullSink::default(),
            RunOptions {
                progress: Some(&mut |p| seen.push(p.written)),
                ..RunOptions::new(0..space.total())
            },
        )
        .unwrap();
    assert_eq!(u64::try_from(seen.len()).unwrap(), report.batches);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(seen.last().copied(), Some(space.total()));
}
