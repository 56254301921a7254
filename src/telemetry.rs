//! What the command shows of the library's events, and the metrics it
//! serves: `-v`/`-q`/`RUST_LOG`, and `--metrics-addr`.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use domgen::pg::Database;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::failure::Failure;
use crate::term;

/// Shows the library's events on standard error, above any progress bar:
/// none by default (the command says what matters in its own words),
/// `info` with `-v`, `debug` with `-vv`, everything with `-vvv`; `RUST_LOG`,
/// when set, decides instead (`RUST_LOG=domgen_pg=debug`), unless `-q`.
pub(crate) fn show_events(verbose: u8, quiet: bool) {
    let level = match verbose {
        _ if quiet => "off",
        0 => "off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !quiet && !directives.trim().is_empty() => EnvFilter::new(directives),
        _ => EnvFilter::new(level),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(AboveTheBar)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .try_init();
}

/// Standard error, with the progress bar (if one is shown) put aside while
/// a line is written, so that the two do not tear each other.
struct AboveTheBar;

impl<'a> MakeWriter<'a> for AboveTheBar {
    type Writer = EventLine;

    fn make_writer(&'a self) -> EventLine {
        EventLine(Vec::new())
    }
}

/// One event's text, written out whole when it is dropped.
struct EventLine(Vec<u8>);

impl Write for EventLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventLine {
    fn drop(&mut self) {
        let line = std::mem::take(&mut self.0);
        term::above_the_bar(|| {
            let _ = io::stderr().lock().write_all(&line);
        });
    }
}

/// The buckets of `domgen_commit_seconds`, in seconds: a commit of a
/// batch takes milliseconds on a bare table and seconds on a busy one.
const COMMIT_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the Prometheus recorder and serves `/metrics` and `/healthz`
/// on `addr` until the process ends; `/healthz` answers 200 while a
/// connection to `db` can be opened and used within 5 s, and 503 otherwise
/// (always 200 without a database). The address is bound before this
/// returns, so a taken port fails the command before it starts.
pub(crate) fn serve(addr: SocketAddr, db: Option<Database>) -> Result<(), Failure> {
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot serve metrics on {addr} (--metrics-addr)"))?;
    listener
        .set_nonblocking(true)
        .context("cannot serve metrics: setting the socket non-blocking")?;
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(domgen::engine::telemetry::COMMIT_SECONDS.to_owned()),
            &COMMIT_BUCKETS,
        )
        .context("cannot set the metrics' buckets")?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).context("a metrics recorder is installed already")?;
    domgen::engine::telemetry::describe();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the metrics server's runtime")?;
    std::thread::Builder::new()
        .name("domgen-metrics".to_owned())
        .spawn(move || rt.block_on(serving(listener, handle, db)))
        .context("cannot start the metrics server's thread")?;
    Ok(())
}

/// Answers scrapes and health checks, and keeps the recorder's histograms
/// drained.
async fn serving(listener: std::net::TcpListener, handle: PrometheusHandle, db: Option<Database>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        handle.render(),
                    )
                }
            }),
        )
        .route(
            "/healthz",
            get(move || {
                let db = db.clone();
                async move { health(db.as_ref()).await.into_response() }
            }),
        );
    let _ = axum::serve(listener, app).await;
}

/// 200 when `db` answers a query on a new connection within 5 s; 503
/// otherwise. The body says no more than that: the endpoint has no
/// authentication, and the reason (hosts, users) goes to the `debug` event.
async fn health(db: Option<&Database>) -> (StatusCode, &'static str) {
    let Some(db) = db else {
        return (StatusCode::OK, "ok\n");
    };
    match db.ping(Duration::from_secs(5)).await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::debug!(error = %e, "health check: the database is unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n")
        }
    }
}
