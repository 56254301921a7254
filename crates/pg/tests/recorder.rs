//! `PgRecorder` against a real PostgreSQL: what a failed call means for the
//! event. A value the database refuses is rejected and the connection kept;
//! a terminated connection is transient and the next call reconnects; a
//! server that stops answering (behind a proxy that swallows the bytes)
//! times the call out, connecting included, and the next call after it
//! answers again succeeds. Without a server these tests fail, never skip.

use std::time::{Duration, Instant, SystemTime};

use domgen_monitor::{Leak, RecordErrorKind, Recorder, Rule, Sample, Source, State};
use domgen_pg::Database;
use domgen_pg::monitor::{DEFAULT_TIMEOUT, PgRecorder};
use domgen_test_support::{Proxy, Sql, fresh_database, wait_for, with_setting};
use tokio_postgres::Config;

/// A fresh migrated database and a client for the checks.
fn migrated() -> (String, Sql) {
    let url = fresh_database();
    let mut sql = Sql::connect(&url);
    sql.with_client(async |client| domgen_pg::migrate::migrate(client).await.unwrap());
    (url, sql)
}

fn source(service: &str) -> Source<'_> {
    Source {
        service,
        process_id: "1",
        run_id: None,
        max_heap: 1 << 30,
        backlog: 10,
    }
}

fn sample() -> Sample {
    Sample {
        at: SystemTime::now(),
        secs: 0.0,
        live_bytes: Some(1 << 20),
        peak_bytes: Some(2 << 20),
        rss_bytes: Some(8 << 20),
        threads: Some(3),
        batches_in_flight: None,
        arena_resets: None,
    }
}

/// When the backend of `application_name` started, if it is connected.
fn backend_start(sql: &Sql, application_name: &str) -> Option<SystemTime> {
    sql.query(
        "SELECT backend_start FROM pg_stat_activity WHERE application_name = $1",
        &[&application_name],
    )
    .first()
    .map(|row| row.get(0))
}

#[test]
fn the_default_timeout_is_5_seconds() {
    let recorder = PgRecorder::new("host=/nowhere user=x".parse::<Database>().unwrap()).unwrap();
    assert_eq!(recorder.timeout(), DEFAULT_TIMEOUT);
    assert_eq!(DEFAULT_TIMEOUT, Duration::from_secs(5));
}

#[test]
fn a_value_the_database_refuses_is_rejected_and_the_connection_kept() {
    let (url, sql) = migrated();
    let app = "recorder-rejected";
    let mut recorder = PgRecorder::new(
        with_setting(&url, "application_name", app)
            .parse::<Database>()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        recorder.sample(&source("svc"), &sample()).unwrap(),
        State::Normal
    );
    let connected = backend_start(&sql, app).expect("the recorder is connected");

    // service_name is VARCHAR(100).
    let long = "s".repeat(101);
    let e = recorder.sample(&source(&long), &sample()).unwrap_err();
    assert_eq!(e.kind(), RecordErrorKind::Rejected, "{e}");
    assert!(
        e.to_string()
            .starts_with("recording a sample: PostgreSQL: ")
            && e.to_string().contains("[SQLSTATE 22001]"),
        "{e}"
    );
    let leak = Leak {
        rule: Rule::Operation,
        leaked: 1,
        evidence: "test".into(),
        details: serde_json::json!({}),
        operation_id: Some("op".into()),
    };
    let e = recorder.leak(&source(&long), &leak).unwrap_err();
    assert_eq!(e.kind(), RecordErrorKind::Rejected, "{e}");

    // The next event is written, on the same connection.
    recorder.sample(&source("svc"), &sample()).unwrap();
    recorder.leak(&source("svc"), &leak).unwrap();
    assert_eq!(backend_start(&sql, app), Some(connected));
    assert_eq!(sql.int("SELECT count(*) FROM memory_metrics", &[]), 2);
}

#[test]
fn a_terminated_connection_is_transient_and_the_next_call_reconnects() {
    let (url, sql) = migrated();
    let app = "recorder-terminated";
    let mut recorder = PgRecorder::new(
        with_setting(&url, "application_name", app)
            .parse::<Database>()
            .unwrap(),
    )
    .unwrap();
    recorder.sample(&source("svc"), &sample()).unwrap();
    sql.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        &[&app],
    );
    wait_for("the backend to end", Duration::from_secs(10), || {
        backend_start(&sql, app).is_none()
    });
    let e = recorder.sample(&source("svc"), &sample()).unwrap_err();
    assert_eq!(e.kind(), RecordErrorKind::Transient, "{e}");
    recorder.sample(&source("svc"), &sample()).unwrap();
    assert!(backend_start(&sql, app).is_some());
    assert_eq!(sql.int("SELECT count(*) FROM memory_metrics", &[]), 2);
}

/// A proxy to the test server, and `url`'s settings with the proxy as the
/// host (and a password, to check no message shows it).
fn through_proxy(url: &str, app: &str) -> (Proxy, Config, String) {
    let real: Config = url.parse().unwrap();
    let proxy = Proxy::to_server(url);
    let mut config = Config::new();
    config
        .host("127.0.0.1")
        .port(proxy.port())
        .application_name(app);
    if let Some(user) = real.get_user() {
        config.user(user);
    }
    if let Some(dbname) = real.get_dbname() {
        config.dbname(dbname);
    }
    // A server that trusts the test user asks for no password.
    let password = real
        .get_password()
        .map_or("never-shown-pw".to_owned(), |p| {
            String::from_utf8_lossy(p).into_owned()
        });
    config.password(&password);
    config.ssl_mode(real.get_ssl_mode());
    (proxy, config, password)
}

#[test]
fn a_server_that_stops_answering_times_the_call_out_and_the_next_call_reconnects() {
    let (url, sql) = migrated();
    let app = "recorder-blackholed";
    let (proxy, config, password) = through_proxy(&url, app);
    let timeout = Duration::from_secs(1);
    let margin = Duration::from_millis(1500);
    let mut recorder = PgRecorder::new(config).unwrap().with_timeout(timeout);
    recorder.sample(&source("svc"), &sample()).unwrap();

    // Connected, then the server stops answering: the statement times out.
    proxy.forward(false);
    let started = Instant::now();
    let e = recorder.sample(&source("svc"), &sample()).unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), RecordErrorKind::Transient, "{e}");
    assert!(took >= timeout && took < timeout + margin, "{took:?}: {e}");
    assert!(
        e.to_string()
            .starts_with("recording a sample: no answer from PostgreSQL at "),
        "{e}"
    );
    assert!(e.to_string().ends_with("within 1s"), "{e}");

    // Not connected, and it still does not answer: connecting times out.
    let started = Instant::now();
    let e = recorder.sample(&source("svc"), &sample()).unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), RecordErrorKind::Transient, "{e}");
    assert!(took >= timeout && took < timeout + margin, "{took:?}: {e}");
    for text in [e.to_string(), format!("{recorder:?}")] {
        assert!(!text.contains(&password), "{text}");
    }

    // It answers again: the next call connects anew and is written.
    proxy.forward(true);
    recorder.sample(&source("svc"), &sample()).unwrap();
    assert_eq!(sql.int("SELECT count(*) FROM memory_metrics", &[]), 2);
}
