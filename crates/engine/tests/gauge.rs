//! The gauge a monitor reads: batches in flight, arena resets, and the
//! throttle that lowers the in-flight limit.

use std::sync::Arc;

use domgen_engine::{Flow, Gauge, GeneratorBuilder, Lines, RunOptions, Sink};
use domgen_pattern::{Space, Spec};

/// Records the most batches the gauge said were in flight while writing.
struct Watch {
    gauge: Arc<Gauge>,
    most: u64,
}

impl Sink for Watch {
    type Error = std::convert::Infallible;

    fn write_batch(
        &mut self,
        _positions: std::ops::Range<u64>,
        _bytes: &[u8],
    ) -> Result<Flow, Self::Error> {
        self.most = self.most.max(self.gauge.batches_in_flight());
        Ok(Flow::Continue)
    }
}

fn space() -> Space {
    let spec = Spec {
        patterns: vec!["{alnum:3}.com".into()],
        ..Spec::default()
    };
    Space::compile(&spec).unwrap()
}

#[test]
fn counts_batches_and_resets_and_returns_to_zero() {
    let gauge = Arc::new(Gauge::new());
    let generator = GeneratorBuilder::new()
        .threads(2)
        .batch_names(100)
        .in_flight(4)
        .gauge(gauge.clone())
        .build()
        .unwrap();
    // The warm-up run at build counts too; start from here.
    let before = gauge.batches_written();
    let space = space();
    let mut sink = Watch {
        gauge: gauge.clone(),
        most: 0,
    };
    let report = generator
        .run(&space, &Lines, &mut sink, RunOptions::new(0..space.total()))
        .unwrap();
    assert_eq!(gauge.batches_written() - before, report.batches);
    assert_eq!(gauge.batches_in_flight(), 0, "every batch retired");
    assert!(gauge.arena_resets() >= report.pool_hits);
    assert!((1..=4).contains(&sink.most), "{}", sink.most);
}

#[test]
fn a_throttle_of_one_keeps_one_batch_in_flight() {
    let gauge = Arc::new(Gauge::new());
    let generator = GeneratorBuilder::new()
        .threads(2)
        .batch_names(50)
        .in_flight(8)
        .gauge(gauge.clone())
        .build()
        .unwrap();
    gauge.throttle(0);
    assert_eq!(gauge.throttled_to(), Some(1), "a throttle is at least 1");
    let space = space();
    let mut sink = Watch {
        gauge: gauge.clone(),
        most: 0,
    };
    let report = generator
        .run(&space, &Lines, &mut sink, RunOptions::new(0..space.total()))
        .unwrap();
    assert_eq!(report.names, space.total());
    assert_eq!(sink.most, 1);
    gauge.release();
    assert_eq!(gauge.throttled_to(), None);
}
