//! The engine's metrics: names counted per batch, batches in flight back
//! to none at the end, throttling counted once per episode, nothing for
//! the generator's warm-up.

use domgen_engine::telemetry::{
    self, BATCHES_IN_FLIGHT, NAMES_GENERATED, THROTTLED, THROTTLED_NOW,
};
use std::ops::Range;

use domgen_engine::{Flow, Gauge, Generator, GeneratorBuilder, Lines, RunOptions, Sink, WriteSink};
use domgen_pattern::{Space, Spec};
use metrics::Unit;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// Everything recorded by `f` on this thread: `(name, unit, value)`.
fn recorded(f: impl FnOnce()) -> Vec<(String, Option<Unit>, DebugValue)> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        telemetry::describe();
        f();
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, unit, _, value)| (key.key().name().to_owned(), unit, value))
        .collect()
}

fn value<'a>(recorded: &'a [(String, Option<Unit>, DebugValue)], name: &str) -> &'a DebugValue {
    &recorded
        .iter()
        .find(|(n, ..)| n == name)
        .unwrap_or_else(|| panic!("{name} not recorded: {recorded:?}"))
        .2
}

/// 6,760 names.
fn mask() -> Space {
    Space::compile(&Spec {
        patterns: vec!["shop{alpha:2}{digit:1}.com".into()],
        ..Spec::default()
    })
    .unwrap()
}

/// Two threads, batches of 100 names.
fn generator() -> Generator {
    GeneratorBuilder::new()
        .threads(2)
        .batch_names(100)
        .build()
        .unwrap()
}

#[test]
fn a_run_counts_its_names_and_leaves_no_batch_in_flight() {
    let space = mask();
    let recorded = recorded(|| {
        let generator = generator();
        let mut sink = WriteSink::new(Vec::new());
        let report = generator
            .run(&space, &Lines, &mut sink, RunOptions::new(0..space.total()))
            .unwrap();
        assert_eq!(report.names, 6760);
    });
    // The warm-up's names are not counted.
    assert_eq!(
        value(&recorded, NAMES_GENERATED),
        &DebugValue::Counter(6760)
    );
    assert_eq!(
        value(&recorded, BATCHES_IN_FLIGHT),
        &DebugValue::Gauge(0.0.into())
    );
    let unit = recorded
        .iter()
        .find(|(n, ..)| n == NAMES_GENERATED)
        .unwrap()
        .1;
    assert_eq!(unit, Some(Unit::Count), "described");
}

/// A sink that panics at its third batch, as a host's might.
struct PanicsAtThird(u32);

impl Sink for PanicsAtThird {
    type Error = std::io::Error;

    fn write_batch(&mut self, _: Range<u64>, _: &[u8]) -> Result<Flow, std::io::Error> {
        self.0 += 1;
        assert!(self.0 < 3, "the sink fails");
        Ok(Flow::Continue)
    }
}

#[test]
fn a_run_unwound_by_its_sink_leaves_no_batch_in_flight() {
    let space = mask();
    let recorded = recorded(|| {
        let generator = generator();
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            generator.run(
                &space,
                &Lines,
                &mut PanicsAtThird(0),
                RunOptions::new(0..space.total()),
            )
        }));
        assert!(run.is_err(), "the sink's panic comes through");
    });
    assert_eq!(
        value(&recorded, BATCHES_IN_FLIGHT),
        &DebugValue::Gauge(0.0.into())
    );
}

#[test]
fn throttling_is_counted_once_per_episode() {
    // Kept past the recording: still throttled when it is read.
    let gauge = Gauge::new();
    let recorded = recorded(|| {
        gauge.throttle(4);
        gauge.throttle(1);
        gauge.release();
        gauge.release();
        gauge.throttle(2);
        // Another engine's, throttled and dropped so: it counts no more.
        let other = Gauge::new();
        other.throttle(1);
        drop(other);
    });
    assert_eq!(value(&recorded, THROTTLED), &DebugValue::Counter(3));
    assert_eq!(
        value(&recorded, THROTTLED_NOW),
        &DebugValue::Gauge(1.0.into())
    );
}
