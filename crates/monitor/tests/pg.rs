//! The monitor against a real PostgreSQL (`DATABASE_URL`, or a throwaway
//! cluster): no false positives on a steady run, each leak rule on a
//! workload that leaks on purpose, a database outage, samples the database
//! rejects, and `record_memory_metrics` at the edges. Without a server these tests fail,
//! never skip.
//!
//! The tests share the process's heap and threads, which the monitor
//! measures, so they run one at a time (`SERIAL`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use domgen_engine::{CancelToken, Gauge, GeneratorBuilder, Lines, NullSink, RunOptions};
use domgen_monitor::{Config, Monitor, RecordErrorKind, State, Summary};
use domgen_pattern::{Space, Spec};
use domgen_pg::Database;
use domgen_pg::monitor::PgRecorder;
use domgen_test_support::{Sql, fresh_database, own_cluster, wait_for};
use uuid::Uuid;

#[global_allocator]
static ALLOC: domgen_alloc::CountingAlloc = domgen_alloc::CountingAlloc;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The checks' client, on a migrated database, and the monitor's leaks.
trait MonitorSql {
    fn migrated(url: &str) -> Sql;
    fn leaks(&self, run: Uuid) -> Vec<(String, String, String)>;
}

impl MonitorSql for Sql {
    fn migrated(url: &str) -> Sql {
        let mut sql = Sql::connect(url);
        sql.with_client(async |client| domgen_pg::migrate::migrate(client).await.unwrap());
        sql
    }

    /// (leak_type, severity, leak_source) of the run's leaks.
    fn leaks(&self, run: Uuid) -> Vec<(String, String, String)> {
        self.query(
            "SELECT leak_type, severity, leak_source FROM memory_leak_detection
             WHERE run_id = $1 ORDER BY detected_at",
            &[&run],
        )
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    }
}

/// The PostgreSQL recorder for `url`.
fn recorder(url: &str) -> PgRecorder {
    PgRecorder::new(url.parse::<Database>().unwrap()).unwrap()
}

fn config(interval_ms: u64) -> (Config, Uuid) {
    let run = Uuid::new_v4();
    let config = Config {
        interval: Duration::from_millis(interval_ms),
        run_id: Some(run),
        ..Config::default()
    };
    (config, run)
}

#[test]
fn steady_generation_for_30_seconds_reports_no_leak() {
    let _serial = serial();
    let url = fresh_database();
    let sql = Sql::migrated(&url);
    let gauge = Arc::new(Gauge::new());
    let generator = GeneratorBuilder::new()
        .threads(2)
        .gauge(gauge.clone())
        .build()
        .unwrap();
    let (mut config, run) = config(200);
    let states = Arc::new(Mutex::new(Vec::new()));
    let seen = states.clone();
    config.on_pressure(move |s| seen.lock().unwrap().push(s));
    config.on_pressure(domgen_monitor::throttle(gauge.clone(), 6));
    let handle = Monitor::start_recording(config, Some(gauge.clone()), recorder(&url)).unwrap();

    let spec = Spec {
        patterns: vec!["{alnum:6}{digit:1}.com".into()],
        ..Spec::default()
    };
    let space = Space::compile(&spec).unwrap();
    let cancel = CancelToken::new();
    let stopper = cancel.clone();
    let timer = thread::spawn(move || {
        // The run's length is what is under test: 30 s of samples.
        thread::sleep(Duration::from_secs(30));
        stopper.cancel();
    });
    let report = generator
        .run(
            &space,
            &Lines,
            &mut NullSink::default(),
            RunOptions {
                cancel: Some(&cancel),
                ..RunOptions::new(0..space.total())
            },
        )
        .unwrap();
    timer.join().unwrap();
    assert!(report.stopped_early, "the run lasts the whole 30 s");
    let leak = handle.operation(
        "steady",
        report.live_bytes_before.unwrap(),
        report.live_bytes_after.unwrap(),
    );
    assert_eq!(leak, None, "the run left heap behind");
    let summary = handle.stop();

    assert!(summary.samples >= 140, "{summary:?}");
    assert_eq!(summary.written, summary.samples, "{summary:?}");
    assert_eq!((summary.dropped, summary.leaks), (0, 0), "{summary:?}");
    let rows = sql.int(
        "SELECT count(*) FROM memory_metrics WHERE run_id = $1",
        &[&run],
    );
    assert_eq!(u64::try_from(rows).unwrap(), summary.samples);
    let not_normal = sql.int(
        "SELECT count(*) FROM memory_metrics WHERE run_id = $1 AND memory_state <> 'normal'",
        &[&run],
    );
    assert_eq!(not_normal, 0);
    let in_flight = sql.int(
        "SELECT count(*) FROM memory_metrics WHERE run_id = $1 AND batches_in_flight > 0",
        &[&run],
    );
    assert!(in_flight > 100, "the gauge was read: {in_flight}");
    assert_eq!(sql.leaks(run), []);
    assert_eq!(*states.lock().unwrap(), [State::Normal]);
    assert_eq!(gauge.throttled_to(), None);
}

/// Holds on to `step` bytes more every `every`, `steps` times.
fn leak_steadily(step: usize, every: Duration, steps: usize) -> Vec<Vec<u8>> {
    let mut kept = Vec::new();
    for _ in 0..steps {
        kept.push(vec![1u8; step]);
        // The pace of the leak is the workload: growth over time.
        thread::sleep(every);
    }
    kept
}

#[test]
fn a_steady_leak_is_reported_by_the_steady_rule_with_its_severity() {
    let _serial = serial();
    let url = fresh_database();
    let sql = Sql::migrated(&url);
    let (config, run) = config(200);
    let min_samples = config.steady_min_samples;
    let handle = Monitor::start_recording(config, None, recorder(&url)).unwrap();
    // 1 MiB every 100 ms: 600 MiB a minute; the default threshold is 10.
    let started = Instant::now();
    let mut kept = Vec::new();
    while handle.summary().leaks == 0 && started.elapsed() < Duration::from_secs(20) {
        kept.extend(leak_steadily(1 << 20, Duration::from_millis(100), 2));
    }
    let samples_then = handle.summary().samples;
    let summary = handle.stop();
    drop(kept);
    // The rule needs its minimum of samples, and fires on the first that has it.
    assert!(
        samples_then <= u64::try_from(min_samples).unwrap() + 2,
        "reported after {samples_then} samples"
    );
    assert_eq!(summary.leaks_written, summary.leaks, "{summary:?}");
    let leaks = sql.leaks(run);
    assert!(!leaks.is_empty());
    let (kind, severity, source) = &leaks[0];
    assert_eq!(kind, "steady_growth");
    // About 600 MiB/min over 19 samples of 200 ms: some 38 MiB, `high`
    // (10 MiB ≤ leaked < 100 MiB).
    assert_eq!(severity, "high", "{source}");
    assert!(
        source.contains("B/min") && source.contains("R²"),
        "{source}"
    );
    let alerts = sql.int(
        "SELECT count(*) FROM system_alerts WHERE alert_type = 'memory_leak_detected'
           AND context->>'leak_id' IN (SELECT id::text FROM memory_leak_detection WHERE run_id = $1)",
        &[&run],
    );
    assert!(alerts >= 1, "a high leak raises an alert");
}

#[test]
fn a_burst_is_reported_by_the_rapid_rule() {
    let _serial = serial();
    let url = fresh_database();
    let sql = Sql::migrated(&url);
    let (config, run) = config(100);
    let handle = Monitor::start_recording(config, None, recorder(&url)).unwrap();
    wait_for(
        "a baseline before the burst",
        Duration::from_secs(10),
        || handle.summary().samples >= 3,
    );
    let burst = vec![0u8; 150 << 20];
    wait_for("a sample of the burst", Duration::from_secs(10), || {
        handle.summary().leaks >= 1
    });
    let summary = handle.stop();
    drop(burst);
    assert!(summary.leaks >= 1, "{summary:?}");
    let leaks = sql.leaks(run);
    let rapid: Vec<_> = leaks.iter().filter(|l| l.0 == "rapid_growth").collect();
    assert_eq!(rapid.len(), 1, "{leaks:?}");
    // 150 MiB above the baseline: critical (≥ 100 MiB).
    assert_eq!(rapid[0].1, "critical", "{}", rapid[0].2);
    assert!(rapid[0].2.contains("above its baseline"), "{}", rapid[0].2);
}

#[test]
fn leaked_threads_are_reported_by_the_thread_rule() {
    let _serial = serial();
    let url = fresh_database();
    let sql = Sql::migrated(&url);
    let (mut config, run) = config(100);
    config.thread_growth = 10;
    let handle = Monitor::start_recording(config, None, recorder(&url)).unwrap();
    wait_for(
        "the thread count at the start to be sampled",
        Duration::from_secs(10),
        || handle.summary().samples >= 3,
    );
    let release = Arc::new(std::sync::Barrier::new(13));
    let leaked: Vec<_> = (0..12)
        .map(|_| {
            let release = release.clone();
            thread::spawn(move || {
                release.wait();
            })
        })
        .collect();
    wait_for(
        "a sample of the leaked threads",
        Duration::from_secs(10),
        || handle.summary().leaks >= 1,
    );
    let summary = handle.stop();
    release.wait();
    for t in leaked {
        t.join().unwrap();
    }
    let leaks = sql.leaks(run);
    assert!(
        leaks
            .iter()
            .any(|l| l.0 == "thread_growth" && l.2.contains("more than")),
        "{leaks:?} {summary:?}"
    );
}

#[test]
fn an_outage_drops_the_oldest_samples_counts_them_and_writes_the_rest_after() {
    let _serial = serial();
    let own = own_cluster();
    let sql = Sql::migrated(&own.url);
    drop(sql);
    let (mut config, run) = config(100);
    config.backlog = 10;
    let handle = Monitor::start_recording(config, None, recorder(&own.url)).unwrap();
    wait_for(
        "samples written before the outage",
        Duration::from_secs(10),
        || handle.summary().written >= 3,
    );
    own.cluster.stop().unwrap();
    // 10 samples kept while the database is down, the older ones dropped:
    // more than a second of them, so that they leave a gap (checked below).
    wait_for(
        "15 samples dropped in the outage",
        Duration::from_secs(30),
        || handle.summary().dropped >= 15,
    );
    assert!(handle.summary().dropped > 0, "{:?}", handle.summary());
    own.cluster.start().unwrap();
    // The writer retries every 500 ms; give it time to catch up.
    let deadline = Instant::now() + Duration::from_secs(20);
    while handle.summary().written + handle.summary().dropped < handle.summary().samples {
        assert!(Instant::now() < deadline, "{:?}", handle.summary());
        thread::sleep(Duration::from_millis(100));
    }
    let summary = handle.stop();
    assert!(summary.write_errors > 0, "{summary:?}");
    assert_eq!(summary.rejected, 0, "an outage is transient: {summary:?}");
    assert_eq!(summary.unwritten, 0, "{summary:?}");
    assert_all_counted(&summary);
    assert_eq!(
        summary.written + summary.dropped,
        summary.samples,
        "{summary:?}"
    );

    let sql = Sql::connect(&own.url);
    let rows = sql.int(
        "SELECT count(*) FROM memory_metrics WHERE run_id = $1",
        &[&run],
    );
    assert_eq!(u64::try_from(rows).unwrap(), summary.written);
    let dropped = sql.int(
        "SELECT coalesce(sum((context->>'dropped')::bigint), 0)::bigint FROM system_alerts
         WHERE alert_type = 'memory_metrics_dropped' AND context->>'run_id' = $1",
        &[&run.to_string()],
    );
    assert_eq!(u64::try_from(dropped).unwrap(), summary.dropped);
    // Samples kept through the outage carry the time they were taken.
    let gap = sql.query(
        "SELECT max(d) FROM (SELECT extract(epoch FROM sampled_at - lag(sampled_at)
                 OVER (ORDER BY sampled_at))::float8 AS d FROM memory_metrics WHERE run_id = $1) g",
        &[&run],
    )[0]
    .get::<_, Option<f64>>(0)
    .unwrap();
    assert!(gap > 1.0, "the dropped samples leave a gap: {gap}");
}

/// Once stopped, every sample and leak is counted once.
fn assert_all_counted(s: &Summary) {
    assert_eq!(
        s.samples + s.leaks,
        s.written + s.leaks_written + s.dropped + s.rejected + s.unwritten,
        "{s:?}"
    );
}

#[test]
fn samples_the_database_rejects_are_dropped_and_counted_and_later_ones_written() {
    let _serial = serial();
    let url = fresh_database();
    let sql = Sql::migrated(&url);
    // A missing function: an error about the statement, not the connection.
    sql.execute("ALTER FUNCTION record_memory_sample RENAME TO record_memory_sample_away");
    let (config, run) = config(100);
    let handle = Monitor::start_recording(config, None, recorder(&url)).unwrap();
    wait_for("3 samples rejected", Duration::from_secs(10), || {
        handle.summary().rejected >= 3
    });
    let during = handle.summary();
    assert_eq!(during.written, 0, "{during:?}");
    let last = during.last_error.clone().unwrap();
    assert_eq!(last.kind, RecordErrorKind::Rejected, "{last:?}");
    assert!(
        last.message
            .starts_with("recording a sample: PostgreSQL: function record_memory_sample(")
            && last.message.ends_with("does not exist [SQLSTATE 42883]"),
        "{}",
        last.message
    );

    // Each rejected sample was dropped, not retried: the later ones get
    // through once the function is back.
    sql.execute("ALTER FUNCTION record_memory_sample_away RENAME TO record_memory_sample");
    wait_for("3 samples written", Duration::from_secs(10), || {
        handle.summary().written >= 3
    });
    let summary = handle.stop();
    assert_all_counted(&summary);
    assert_eq!((summary.dropped, summary.unwritten), (0, 0), "{summary:?}");
    assert!(summary.rejected >= during.rejected, "{summary:?}");
    assert_eq!(
        summary.write_errors, summary.rejected,
        "no transient failure"
    );
    let rows = sql.int(
        "SELECT count(*) FROM memory_metrics WHERE run_id = $1",
        &[&run],
    );
    assert_eq!(u64::try_from(rows).unwrap(), summary.written);
}

#[test]
fn record_memory_metrics_at_0_and_100_percent_and_heap_size_0() {
    let _serial = serial();
    let url = fresh_database();
    let sql = Sql::migrated(&url);
    let cases: [(i64, i64, Option<&str>); 4] = [
        (1 << 30, 0, Some("normal")),
        (1 << 30, 1 << 30, Some("critical")),
        (0, 0, Some("unknown")),
        (0, 12345, Some("unknown")),
    ];
    for (size, used, want) in cases {
        let row = &sql.query(
            "SELECT memory_state FROM record_memory_sample('edge', '1', $1, $2, 3, NULL, NULL, NULL, NULL, NULL, now())",
            &[&size, &used],
        )[0];
        assert_eq!(row.get::<_, Option<&str>>(0), want, "{size} {used}");
        let id: Uuid = sql.query(
            "SELECT record_memory_metrics('edge', '1', $1, $2)",
            &[&size, &used],
        )[0]
        .get(0);
        let state: String = sql.query(
            "SELECT memory_state FROM memory_metrics WHERE id = $1",
            &[&id],
        )[0]
        .get(0);
        assert_eq!(Some(state.as_str()), want);
    }
}

#[test]
fn memory_pressure_throttles_the_engine_until_the_state_is_normal() {
    let _serial = serial();
    let url = fresh_database();
    let _sql = Sql::migrated(&url);
    let gauge = Arc::new(Gauge::new());
    let (mut config, _run) = config(100);
    // The heap as it is now is at most 25 %; 85 % of the heap more puts it
    // at warning (≥ 75 %) or critical (≥ 90 %).
    let live = domgen_alloc::stats().unwrap().live_bytes;
    config.max_heap = 4 * live.max(8 << 20);
    let extra = config.max_heap / 100 * 85;
    let states = Arc::new(Mutex::new(Vec::new()));
    let seen = states.clone();
    config.on_pressure(move |s| seen.lock().unwrap().push(s));
    config.on_pressure(domgen_monitor::throttle(gauge.clone(), 8));
    let handle = Monitor::start_recording(config, Some(gauge.clone()), recorder(&url)).unwrap();
    let wait_for = |want: &dyn Fn(Option<usize>) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !want(gauge.throttled_to()) {
            assert!(Instant::now() < deadline, "{:?}", states.lock().unwrap());
            thread::sleep(Duration::from_millis(20));
        }
    };
    let pressure = vec![1u8; usize::try_from(extra).unwrap()];
    wait_for(&|t| matches!(t, Some(1 | 4)));
    drop(pressure);
    wait_for(&|t| t.is_none());
    handle.stop();
    let states = states.lock().unwrap().clone();
    assert!(
        states
            .iter()
            .any(|s| matches!(s, State::Warning | State::Critical)),
        "{states:?}"
    );
    assert_eq!(states.last(), Some(&State::Normal), "{states:?}");
}
