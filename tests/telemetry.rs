//! `--metrics-addr`, `-v` and `-q` as a host and a user meet them: a worker
//! scraped while it writes a campaign on a cluster of the test's own, whose
//! server is stopped and started again under it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Child;
use std::time::Duration;

use domgen_test_support::{own_cluster, wait_for};
use uuid::Uuid;

use crate::pg::{Checks, Sql, migrated_database};
use crate::util::{Dir, Domgen, assert_contains, finish, spawn_worker};

/// A port on the loopback that nothing listens on now.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// `GET path` on `addr`: the status code and the body, or `None` when
/// nothing answers.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// The sum of `metric`'s samples whose labels hold `label` in a
/// Prometheus text page (0 when it has none).
fn sample(page: &str, metric: &str, label: &str) -> f64 {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let name = series.split('{').next()?;
            (name == metric && series.contains(label)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// A child process killed if the test ends before it is taken back.
struct Killed(Option<Child>);

impl Killed {
    /// Fails with `why` if the child has ended.
    fn assert_running(&mut self, why: &str) {
        let child = self.0.as_mut().expect("the child is held");
        assert!(child.try_wait().expect("try_wait").is_none(), "{why}");
    }

    fn take(&mut self) -> Child {
        self.0.take().expect("the child is held")
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The worker's `/metrics` page.
fn scrape(addr: SocketAddr) -> String {
    match get(addr, "/metrics") {
        Some((200, page)) => page,
        other => panic!("GET /metrics on {addr}: {other:?}"),
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "row counts of this test are far below 2^53"
)]
#[test]
fn a_workers_metrics_follow_its_commits_and_healthz_its_server() {
    let own = own_cluster();
    let dir = Dir::new();
    dir.run(["migrate", "--database-url", &own.url]).success();
    let id = Uuid::new_v4();
    const TOTAL: i64 = 5_000_000;
    dir.run([
        "plan",
        "--pattern",
        "{alnum:5}.org",
        "--limit",
        &TOTAL.to_string(),
        "--batch-size",
        "20000",
        "--database-url",
        &own.url,
        "--campaign-id",
        &id.to_string(),
    ])
    .success();
    let addr = free_addr();
    let addr_flag = addr.to_string();
    let mut worker = Killed(Some(spawn_worker(
        &dir,
        &own.url,
        id,
        "w-metrics",
        &["--metrics-addr", &addr_flag],
    )));
    let campaign = format!("campaign=\"{id}\"");

    // The counters rise while it writes.
    let mut seen = 0.0;
    wait_for(
        "the worker's commits to show in /metrics",
        Duration::from_secs(120),
        || {
            worker.assert_running("the worker ended before it was scraped twice");
            let rows = get(addr, "/metrics")
                .filter(|(status, _)| *status == 200)
                .map_or(0.0, |(_, page)| {
                    sample(&page, "domgen_rows_committed_total", &campaign)
                });
            if seen == 0.0 {
                seen = rows;
                false
            } else {
                rows > seen
            }
        },
    );
    let page = scrape(addr);
    for help in [
        "# HELP domgen_rows_committed_total",
        "# TYPE domgen_commit_seconds histogram",
        "domgen_commit_seconds_bucket{",
    ] {
        assert!(page.contains(help), "/metrics lacks {help:?}:\n{page}");
    }

    // While no commit can land, they equal the ledger: the lock waits for
    // commits under way and holds back the next ones.
    let sql = Sql::connect(&own.url);
    sql.execute("BEGIN; LOCK TABLE generation_batches IN EXCLUSIVE MODE");
    let (rows, batches) = (
        sql.committed(id),
        sql.int(
            "SELECT count(*) FROM generation_batches WHERE campaign_id = $1 AND status = 'committed'",
            &[&id],
        ),
    );
    wait_for(
        "/metrics to count the ledger's commits",
        Duration::from_secs(20),
        || {
            let page = scrape(addr);
            let counted = sample(&page, "domgen_rows_committed_total", &campaign);
            assert!(
                counted <= rows as f64,
                "{counted} rows counted, {rows} committed"
            );
            counted == rows as f64
                && sample(&page, "domgen_batches_committed_total", &campaign) == batches as f64
        },
    );

    // /healthz follows the server, stopped while the lock still holds the
    // worker back (so that it cannot have finished).
    assert_eq!(get(addr, "/healthz").map(|(s, _)| s), Some(200));
    own.cluster.stop().expect("the server stops");
    drop(sql);
    wait_for("/healthz to say 503", Duration::from_secs(30), || {
        get(addr, "/healthz").is_some_and(|(status, _)| status == 503)
    });
    // The worker waits for the server, and says so.
    wait_for("/metrics to count retries", Duration::from_secs(30), || {
        sample(&scrape(addr), "domgen_retries_total", "") > 0.0
    });
    own.cluster.start().expect("the server starts again");
    wait_for("/healthz to say 200", Duration::from_secs(60), || {
        get(addr, "/healthz").is_some_and(|(status, _)| status == 200)
    });
    // Its lost connection is opened anew, with most of the rows to go.
    wait_for(
        "/metrics to count the reconnection",
        Duration::from_secs(60),
        || {
            worker.assert_running("the worker ended before its reconnection was scraped");
            sample(&scrape(addr), "domgen_reconnects_total", &campaign) >= 1.0
        },
    );

    // The worker rides through and finishes the campaign.
    let out = finish(worker.take(), "worker w-metrics", Duration::from_secs(600));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Sql::connect(&own.url).assert_exactly_once("generated_domains", id, TOTAL);
}

/// What each of `-q`, the default, `-v`, `-vv` and `RUST_LOG` shows on
/// standard error of a campaign run (stderr is no terminal here, so no
/// progress bar).
#[test]
fn verbosity_shows_the_librarys_events_and_quiet_only_results() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let run = |flags: &[&str], rust_log: Option<&str>| {
        let id = Uuid::new_v4().to_string();
        let mut args = vec![
            "generate",
            "--pattern",
            "{digit:3}.com",
            "--batch-size",
            "400",
            "--database-url",
            &url,
            "--campaign-id",
            &id,
        ];
        args.extend(flags);
        let mut command = dir.command(&args);
        if let Some(filter) = rust_log {
            command.env("RUST_LOG", filter);
        }
        let out = command.output().expect("domgen runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (id, String::from_utf8(out.stderr).expect("UTF-8"))
    };
    let started = "campaign run started";
    let committed = "batch committed";

    let (_, stderr) = run(&["--monitor"], None);
    assert!(stderr.contains("monitor: run "), "{stderr}");
    assert!(!stderr.contains(started), "{stderr}");
    let (_, stderr) = run(&["-q", "--monitor"], None);
    assert_eq!(stderr, "", "-q leaves stderr empty");
    let (_, stderr) = run(&["-q"], Some("domgen_pg=debug"));
    assert_eq!(stderr, "", "-q wins over RUST_LOG");

    let (id, stderr) = run(&["-v"], None);
    let campaign = format!("campaign={id}");
    assert_contains(
        &stderr,
        &[
            " INFO ",
            started,
            "campaign run finished",
            "rows=1000",
            &campaign,
        ],
    );
    assert!(!stderr.contains(committed), "{stderr}");
    assert_eq!(
        stderr.lines().count(),
        2,
        "-v is a few lines a run:\n{stderr}"
    );

    let (_, stderr) = run(&["-vv"], None);
    assert_eq!(stderr.matches(committed).count(), 3, "{stderr}");
    assert_eq!(stderr.matches("batch written").count(), 3, "{stderr}");

    let (_, stderr) = run(&[], Some("domgen_pg=debug"));
    assert_eq!(stderr.matches(committed).count(), 3, "{stderr}");
    assert!(!stderr.contains("batch written"), "{stderr}");
}
