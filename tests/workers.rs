//! `domgen plan`, `worker` and `status` as real processes against a real
//! server: four workers on one campaign, one SIGKILLed mid-batch and one
//! SIGSTOPped past its lease; Ctrl-C releasing a batch. Every position
//! exactly once in the end.

use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use uuid::Uuid;

use domgen_test_support::wait_for;

use crate::pg::{BIG, BIG_TOTAL, Checks, Sql, migrated_database};
use crate::util::{Dir, Domgen, assert_contains, finish, spawn_worker};

/// A short lease, so that a dead worker's batch is taken over soon.
const LEASE: &[&str] = &["--lease-seconds", "2"];

/// Sends `signal` to a child.
fn signal(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {}", child.id());
}

/// The batch `worker` holds a live lease on, with its token.
fn held(sql: &Sql, id: Uuid, worker: &str) -> Option<(i64, i64, Uuid)> {
    sql.query(
        "SELECT batch_start, batch_end, lease_token FROM generation_batches
          WHERE campaign_id = $1 AND worker_id = $2 AND status = 'leased'
            AND lease_expires_at > clock_timestamp()",
        &[&id, &worker],
    )
    .first()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
}

/// Waits until `worker` holds a lease, and returns it.
fn wait_for_lease(sql: &Sql, id: Uuid, worker: &str) -> (i64, i64, Uuid) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(lease) = held(sql, id, worker) {
            return lease;
        }
        assert!(
            Instant::now() < deadline,
            "worker {worker} never held a lease"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

/// The ledger row of a batch: status, worker, token.
fn batch(sql: &Sql, id: Uuid, start: i64) -> (String, Option<String>, Option<Uuid>) {
    let row = &sql.query(
        "SELECT status, worker_id, lease_token FROM generation_batches
          WHERE campaign_id = $1 AND batch_start = $2",
        &[&id, &start],
    )[0];
    (row.get(0), row.get(1), row.get(2))
}

fn plan(dir: &Dir, url: &str, id: Uuid, batch: &str) {
    let mut args = vec!["plan"];
    args.extend(BIG);
    let id = id.to_string();
    args.extend([
        "--database-url",
        url,
        "--campaign-id",
        &id,
        "--batch-size",
        batch,
    ]);
    assert_contains(dir.run(&args).success(), &["planned: positions 0..3359232"]);
}

#[test]
fn four_workers_one_killed_one_stopped_every_position_once() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let sql = Sql::connect(&url);
    let id = Uuid::new_v4();
    plan(&dir, &url, id, "40000");

    let killed = spawn_worker(&dir, &url, id, "w-kill", LEASE);
    let stopped = spawn_worker(&dir, &url, id, "w-stop", LEASE);
    let others = [
        spawn_worker(&dir, &url, id, "w-a", LEASE),
        spawn_worker(&dir, &url, id, "w-b", LEASE),
    ];

    // SIGKILL while it holds a batch; once its backend is gone the batch
    // is still leased to it, and only expiry frees it.
    let (kill_start, _, kill_token) = wait_for_lease(&sql, id, "w-kill");
    signal(&killed, "KILL");
    let out = finish(killed, "worker w-kill", Duration::from_secs(10));
    assert_eq!(out.status.signal(), Some(9));
    wait_for(
        "the killed worker's backend to end",
        Duration::from_secs(20),
        || {
            sql.int(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'w-kill'",
                &[],
            ) == 0
        },
    );
    let (status, who, token) = batch(&sql, id, kill_start);
    assert_eq!(
        (status.as_str(), who.as_deref(), token),
        ("leased", Some("w-kill"), Some(kill_token)),
        "the killed worker's batch is left leased to it"
    );

    // SIGSTOP while it holds a batch and has no transaction open past the
    // fence, until another worker took the batch over; then SIGCONT. If the
    // stop landed after its fenced update (the row stays locked and is not
    // taken over) or its commit landed, try again.
    let mut late = None;
    for _attempt in 0..20 {
        let (start, end, token) = wait_for_lease(&sql, id, "w-stop");
        signal(&stopped, "STOP");
        let deadline = Instant::now() + Duration::from_secs(8);
        let taken_over = loop {
            let (status, who, now) = batch(&sql, id, start);
            if who.as_deref() != Some("w-stop") && status == "committed" {
                break true;
            }
            if (now == Some(token) && status == "committed") || Instant::now() > deadline {
                break false;
            }
            thread::sleep(Duration::from_millis(50));
        };
        signal(&stopped, "CONT");
        if taken_over {
            late = Some((start, end));
            break;
        }
    }
    let (start, end) =
        late.expect("the stopped worker's batch was never taken over in 20 attempts");

    for (child, name) in others.into_iter().zip(["w-a", "w-b"]) {
        let out = finish(child, &format!("worker {name}"), Duration::from_secs(180));
        assert!(
            out.status.success(),
            "{name}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_contains(
            &String::from_utf8_lossy(&out.stdout),
            &["the campaign is complete"],
        );
    }
    let out = finish(stopped, "worker w-stop", Duration::from_secs(60));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "w-stop: {:?}\n{stderr}", out.status);
    assert_contains(
        &stderr,
        &[&format!(
            "worker w-stop: commit of batch {start}..{end} refused: the lease was lost"
        )],
    );
    assert_contains(&stdout, &["1 refused", "the campaign is complete"]);

    sql.assert_exactly_once("generated_domains", id, BIG_TOTAL);
    let (status, who, _) = batch(&sql, id, start);
    assert_eq!(status, "committed");
    assert_ne!(
        who.as_deref(),
        Some("w-stop"),
        "the late commit did not land"
    );
    let (status, who, _) = batch(&sql, id, kill_start);
    assert_eq!(status, "committed");
    assert_ne!(who.as_deref(), Some("w-kill"));

    let status = dir.run([
        "status",
        "--database-url",
        &url,
        "--campaign-id",
        &id.to_string(),
    ]);
    assert_contains(
        status.success(),
        &[
            "3359232 of 3359232 rows (100.0%), complete",
            "84 done, 0 leased, 0 pending",
        ],
    );
}

#[test]
fn ctrl_c_releases_the_batch_and_exits_130() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let sql = Sql::connect(&url);
    let id = Uuid::new_v4();
    plan(&dir, &url, id, "400000");
    let worker = spawn_worker(&dir, &url, id, "w-int", LEASE);
    let (start, end, _) = wait_for_lease(&sql, id, "w-int");
    signal(&worker, "INT");
    let out = finish(worker, "worker w-int", Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_contains(&stderr, &["interrupted: worker w-int released its batches"]);
    assert_eq!(
        sql.int(
            "SELECT count(*) FROM generation_batches WHERE campaign_id = $1 AND status = 'leased'",
            &[&id],
        ),
        0,
        "no batch is left leased"
    );
    let (status, _, _) = batch(&sql, id, start);
    // The batch in hand was released, unless its commit beat the signal.
    if status != "committed" {
        assert_eq!(status, "released");
        assert_contains(&stderr, &[&format!("released batch {start}..{end}")]);
    }
    let out = finish(
        spawn_worker(&dir, &url, id, "w-next", LEASE),
        "w-next",
        Duration::from_secs(180),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sql.assert_exactly_once("generated_domains", id, BIG_TOTAL);
}

#[test]
fn worker_refusals_are_clear() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let id = Uuid::new_v4().to_string();
    let out = dir.run(["worker", "--database-url", &url, "--campaign-id", &id]);
    assert_contains(
        out.spec_error(),
        &[&format!(
            "campaign {id} is not planned; run `domgen plan SPEC --campaign-id {id}` first"
        )],
    );
    let out = dir.run(["status", "--database-url", &url, "--campaign-id", &id]);
    assert_contains(
        out.spec_error(),
        &["does not exist; plan it with `domgen plan"],
    );
    let mut args = vec!["generate"];
    args.extend(BIG);
    args.extend([
        "--limit",
        "1000",
        "--database-url",
        &url,
        "--campaign-id",
        &id,
    ]);
    dir.run(&args).success();
    let out = dir.run(["worker", "--database-url", &url, "--campaign-id", &id]);
    assert_contains(
        out.spec_error(),
        &["was started by `domgen generate`, not planned for workers"],
    );
}
