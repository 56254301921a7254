//! Production conditions for `generate` and workers, on a cluster of the
//! test's own: the server crashes and restarts (`pg_ctl stop -m immediate`
//! and start) twice while 20M rows are written, and a connection is cut
//! without a word by a loopback proxy that stops forwarding. The runs
//! ride through by themselves — exit 0, no `--resume` — and every position
//! is written exactly once.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use domgen_test_support::{OwnCluster, Proxy, own_cluster, wait_for};
use uuid::Uuid;

use crate::pg::{Checks, Sql};
use crate::util::{Dir, Domgen, assert_contains, finish, spawn_worker};

/// A seed for the moments of the crashes, printed so that a failure can
/// be replayed.
fn seed() -> u64 {
    let seed = std::env::var("DOMGEN_RESTART_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("time")
                .subsec_nanos()
                .into()
        });
    eprintln!("crash moments from DOMGEN_RESTART_SEED={seed}");
    seed
}

/// `fraction` (in [0, 1]) of `total` rows, rounded down.
#[allow(
    clippy::cast_possible_truncation,
    reason = "a fraction in [0, 1] of an i64 fits an i64"
)]
fn share(fraction: f64, total: i64) -> i64 {
    (fraction * total as f64) as i64
}

/// A fraction in [lo, hi) from `seed` (splitmix64).
fn fraction(seed: &mut u64, lo: f64, hi: f64) -> f64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    lo + (hi - lo) * (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Crashes the server as `pg_ctl stop -m immediate` does (SIGQUIT to the
/// postmaster: no checkpoint, every backend gone at once), then starts it
/// again; crash recovery runs at the start.
fn crash_and_restart(own: &OwnCluster) {
    let pid_file = own.cluster.data_dir().join("postmaster.pid");
    let pid = std::fs::read_to_string(&pid_file)
        .expect("postmaster.pid")
        .lines()
        .next()
        .expect("the postmaster's pid")
        .trim()
        .to_owned();
    let status = std::process::Command::new("kill")
        .args(["-QUIT", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -QUIT {pid}");
    wait_for("the server to go", Duration::from_secs(30), || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    own.cluster.start().expect("the server starts again");
}

/// Waits until the ledger has `rows` committed rows of `id`.
fn wait_for_rows(url: &str, id: Uuid, rows: i64, child: &mut Child) {
    let sql = Sql::connect(url);
    wait_for(
        &format!("{rows} committed rows of campaign {id}"),
        Duration::from_secs(300),
        || {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("domgen ended before {rows} rows were committed: {status}");
            }
            sql.committed(id) >= rows
        },
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// 20M positions of one pattern: tens of seconds of COPY.
const TWENTY_MILLION: i64 = 20_000_000;

#[test]
fn generate_rides_through_two_crash_restarts_and_writes_every_position_once() {
    let own = own_cluster();
    let dir = Dir::new();
    dir.run(["migrate", "--database-url", &own.url]).success();
    let id = Uuid::new_v4();
    let mut seed = seed();
    let started = Instant::now();
    let mut child = dir
        .command([
            "generate",
            "--pattern",
            "{alnum:5}.com",
            "--limit",
            &TWENTY_MILLION.to_string(),
            "--database-url",
            &own.url,
            "--campaign-id",
            &id.to_string(),
            "--no-progress",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("domgen generate starts");
    for (lo, hi) in [(0.05, 0.35), (0.45, 0.8)] {
        let at = share(fraction(&mut seed, lo, hi), TWENTY_MILLION);
        wait_for_rows(&own.url, id, at, &mut child);
        let crashed = Instant::now();
        crash_and_restart(&own);
        let back = Instant::now();
        let before = Sql::connect(&own.url).committed(id);
        wait_for_rows(&own.url, id, before + 1, &mut child);
        // What the note quotes: how soon a run writes again.
        eprintln!(
            "crashed the server after {at} rows ({:.1} s in); it was back {:.2} s later, and the run committed again {:.2} s after that",
            crashed.duration_since(started).as_secs_f64(),
            back.duration_since(crashed).as_secs_f64(),
            back.elapsed().as_secs_f64()
        );
    }
    let out = finish(child, "domgen", Duration::from_secs(900));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "generate failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert_contains(&stdout, &["lost connections were opened anew"]);
    let sql = Sql::connect(&own.url);
    sql.assert_exactly_once("generated_domains", id, TWENTY_MILLION);
    let status = sql.text(
        "SELECT string_agg(status, ',') FROM generation_runs WHERE campaign_id = $1",
        &[&id],
    );
    assert_eq!(status, "complete", "one run, complete");
}

/// A worker with a 5 s lease, so that a killed one's batch is taken over
/// soon; `extra` adds flags.
fn short_lease_worker(dir: &Dir, url: &str, id: Uuid, name: &str, extra: &[&str]) -> Child {
    let mut args = vec!["--lease-seconds", "5"];
    args.extend_from_slice(extra);
    spawn_worker(dir, url, id, name, &args)
}

fn plan(dir: &Dir, url: &str, pattern: &str, limit: i64, batch: u64) -> Uuid {
    let id = Uuid::new_v4();
    dir.run([
        "plan",
        "--pattern",
        pattern,
        "--limit",
        &limit.to_string(),
        "--batch-size",
        &batch.to_string(),
        "--database-url",
        url,
        "--campaign-id",
        &id.to_string(),
    ])
    .success();
    id
}

#[test]
fn workers_ride_through_two_crash_restarts_and_a_killed_worker() {
    const TOTAL: i64 = TWENTY_MILLION;
    let own = own_cluster();
    let dir = Dir::new();
    dir.run(["migrate", "--database-url", &own.url]).success();
    let id = plan(&dir, &own.url, "{alnum:5}.net", TOTAL, 100_000);
    let mut seed = seed();
    let mut workers: Vec<Child> = (0..3)
        .map(|i| short_lease_worker(&dir, &own.url, id, &format!("w{i}"), &[]))
        .collect();
    let mut moments = [
        (fraction(&mut seed, 0.1, 0.3), "restart"),
        (fraction(&mut seed, 0.3, 0.5), "kill"),
        (fraction(&mut seed, 0.5, 0.8), "restart"),
    ];
    moments.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (at, what) in moments {
        let rows = share(at, TOTAL);
        wait_for_rows(&own.url, id, rows, &mut workers[1]);
        match what {
            "kill" => {
                workers[0].kill().expect("SIGKILL w0");
                eprintln!("killed w0 after {rows} rows");
            }
            _ => {
                crash_and_restart(&own);
                eprintln!("crashed and restarted the server after {rows} rows");
            }
        }
    }
    let mut killed = workers.remove(0);
    let _ = killed.wait();
    let mut lost = 0;
    for (i, worker) in workers.into_iter().enumerate() {
        let out = finish(worker, "domgen", Duration::from_secs(600));
        let stderr = text(&out.stderr);
        assert!(
            out.status.success(),
            "worker w{} failed: {}\nstderr:\n{stderr}",
            i + 1,
            out.status
        );
        lost += stderr.matches("; reconnecting").count();
    }
    assert!(lost > 0, "the surviving workers said they reconnected");
    let sql = Sql::connect(&own.url);
    sql.assert_exactly_once("generated_domains", id, TOTAL);
    let open = sql.int(
        "SELECT count(*) FROM generation_batches WHERE campaign_id = $1 AND status <> 'committed'",
        &[&id],
    );
    assert_eq!(open, 0, "every ledger row is committed");
}

/// Lines of a child's stderr as they come, with when they came.
fn lines_of(child: &mut Child) -> mpsc::Receiver<(Instant, String)> {
    let stderr = child.stderr.take().expect("piped stderr");
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    receive
}

/// Waits up to `limit` for a line containing `needle`; returns when it
/// came, and every line seen.
fn wait_for_line(
    lines: &mpsc::Receiver<(Instant, String)>,
    needle: &str,
    limit: Duration,
    seen: &mut Vec<String>,
) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok((at, line)) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return Some(at);
                }
            }
            Err(_) => return None,
        }
    }
    None
}

#[test]
fn a_connection_cut_without_a_word_is_noticed_within_the_timeout_and_ridden_through() {
    let own = own_cluster();
    let dir = Dir::new();
    dir.run(["migrate", "--database-url", &own.url]).success();
    let proxy = Proxy::to_server(&own.url);
    let url = format!(
        "host=127.0.0.1 port={} user=domgen dbname=domgen sslmode=disable",
        proxy.port()
    );
    const TOTAL: i64 = 3_000_000;
    let id = plan(&dir, &url, "{alnum:5}.org", TOTAL, 50_000);
    // A control statement has 2 s, a commit 4 s: whichever the worker is
    // in when the proxy goes quiet, it notices within 4 s.
    let timeouts = [
        "--statement-timeout",
        "2",
        "--commit-timeout",
        "4",
        "--reconnect-for",
        "120",
    ];
    let mut worker = short_lease_worker(&dir, &url, id, "behind-proxy", &timeouts);
    let lines = lines_of(&mut worker);
    wait_for_rows(&own.url, id, TOTAL / 5, &mut worker);
    let quiet = Instant::now();
    proxy.forward(false);
    let mut seen = Vec::new();
    let noticed = wait_for_line(&lines, "did not answer", Duration::from_secs(30), &mut seen)
        .unwrap_or_else(|| panic!("the cut was not noticed in 30 s; stderr so far:\n{seen:?}"));
    let after = noticed.duration_since(quiet);
    eprintln!("the cut connection was noticed after {after:?}");
    // The slack is for a loaded machine; without the timeouts the cut
    // would not be noticed at all.
    assert!(
        after < Duration::from_secs(4) + Duration::from_secs(6),
        "noticed after {after:?}, the timeouts are 2 s and 4 s: {seen:?}"
    );
    // The proxy forwards again: the worker reconnects and finishes.
    thread::sleep(Duration::from_secs(2));
    proxy.forward(true);
    let out = finish(worker, "domgen", Duration::from_secs(300));
    seen.extend(lines.try_iter().map(|(_, line)| line));
    assert!(
        out.status.success(),
        "the worker failed: {}\nstderr:\n{seen:#?}",
        out.status
    );
    let sql = Sql::connect(&own.url);
    sql.assert_exactly_once("generated_domains", id, TOTAL);

    // A cut that lasts longer than --reconnect-for ends the worker with
    // what it did and how to go on.
    let id = plan(&dir, &url, "{alnum:4}.org", 1_000_000, 50_000);
    let mut worker = short_lease_worker(
        &dir,
        &url,
        id,
        "gives-up",
        &[
            "--statement-timeout",
            "1",
            "--commit-timeout",
            "2",
            "--reconnect-for",
            "3",
        ],
    );
    let lines = lines_of(&mut worker);
    wait_for_rows(&own.url, id, 100_000, &mut worker);
    let quiet = Instant::now();
    proxy.forward(false);
    let out = finish(worker, "domgen", Duration::from_secs(60));
    let took = quiet.elapsed();
    let stderr: Vec<String> = lines.try_iter().map(|(_, line)| line).collect();
    let stderr = stderr.join("\n");
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    assert_contains(
        &stderr,
        &["did not answer", "gave up reconnecting after 3 s"],
    );
    assert!(took < Duration::from_secs(30), "gave up after {took:?}");
    proxy.forward(true);
}
