//! The command through a real PgBouncer (the machine's, 1.18 on Debian):
//! in transaction pooling with two server connections shared by every
//! client, `migrate`, `generate` (killed with SIGKILL, then `--resume`),
//! `--continue`, `--unique`, the memory monitor, and `plan` with three
//! concurrent workers — every position exactly once; in session pooling,
//! the same commands. The checks read the server directly.

use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use domgen_test_support::{Bouncer, PoolMode, fresh_database, pgbouncer};
use uuid::Uuid;

use crate::pg::{Checks, Sql};
use crate::util::{Dir, Domgen, assert_contains};

/// 36³ × 10 = 466,560 names: long enough in a debug build for a kill to
/// land mid-run, in batches of 5,000.
const SPEC: [&str; 4] = [
    "--pattern",
    "{alnum:3}{digit:1}.com",
    "--batch-size",
    "5000",
];
const TOTAL: i64 = 36 * 36 * 36 * 10;

/// A database on the test server, its PgBouncer, and a client of the
/// server itself for the checks.
struct Pooled {
    dir: Dir,
    bouncer: Bouncer,
    sql: Sql,
}

impl Pooled {
    /// A fresh database behind PgBouncer in `mode`, migrated through it.
    fn new(mode: PoolMode, pool_size: u32) -> Pooled {
        let url = fresh_database();
        let pooled = Pooled {
            dir: Dir::new(),
            bouncer: pgbouncer(&url, mode, pool_size),
            sql: Sql::connect(&url),
        };
        let out = pooled.run(&["migrate"]);
        assert_contains(out.success(), &["applied 5 migrations"]);
        pooled
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = args.to_vec();
        all.extend(["--database-url", &self.bouncer.url]);
        all
    }

    fn run(&self, args: &[&str]) -> crate::util::Output {
        self.dir.run(self.args(args))
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.dir
            .command(self.args(args))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start domgen")
    }

    /// Waits until no server backend of this database is inside a
    /// transaction: PgBouncer keeps its idle server connections, so
    /// "no backends" would never come; a killed client's transaction is
    /// rolled back when PgBouncer closes its server connection.
    fn wait_for_transactions_to_end(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.sql.int(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND backend_type = 'client backend' AND state <> 'idle'",
            &[],
        ) > 0
        {
            assert!(
                Instant::now() < deadline,
                "a killed domgen's transaction is still open after 20 s"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// `generate` of [`SPEC`] over two connections, SIGKILLed once it has
    /// committed a batch, then resumed: every position exactly once.
    fn kill_then_resume(&self) {
        let id = Uuid::new_v4().to_string();
        let generate = |resume: bool| {
            let mut args = vec!["generate"];
            args.extend(SPEC);
            args.extend(["--connections", "2", "--no-progress", "--campaign-id", &id]);
            if resume {
                args.push("--resume");
            }
            args
        };
        let uuid: Uuid = id.parse().unwrap();
        let mut child = self.spawn(&generate(false));
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.sql.committed(uuid) == 0 {
            if child.try_wait().expect("try_wait").is_some() {
                let out = child.wait_with_output().expect("output");
                panic!(
                    "generate ended before its first commit: {}\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(Instant::now() < deadline, "no batch committed within 60 s");
            thread::sleep(Duration::from_millis(5));
        }
        child.kill().expect("kill -9");
        let out = child.wait_with_output().expect("wait");
        assert!(!out.status.success(), "generate ended before its kill");
        self.wait_for_transactions_to_end();
        let committed = self.sql.committed(uuid);
        assert!(
            0 < committed && committed < TOTAL,
            "killed with {committed} of {TOTAL} rows"
        );
        assert_contains(
            &ok(&self.run(&generate(true))),
            &[&format!("campaign {id}"), "memory_allocations:"],
        );
        self.sql
            .assert_exactly_once("generated_domains", uuid, TOTAL);
    }

    /// `plan`, then `workers` concurrent workers of two connections each,
    /// and `status`: every position exactly once.
    fn workers(&self, workers: usize) {
        let id = Uuid::new_v4().to_string();
        let mut plan = vec!["plan"];
        plan.extend(SPEC);
        plan.extend(["--campaign-id", &id]);
        assert_contains(
            self.run(&plan).success(),
            &[&format!("planned: positions 0..{TOTAL}")],
        );
        let names: Vec<String> = (0..workers).map(|i| format!("w-{i}")).collect();
        let children: Vec<Child> = names
            .iter()
            .map(|name| {
                self.spawn(&[
                    "worker",
                    "--campaign-id",
                    &id,
                    "--worker-id",
                    name,
                    "--threads",
                    "1",
                    "--connections",
                    "2",
                    "--no-progress",
                ])
            })
            .collect();
        for (child, name) in children.into_iter().zip(&names) {
            let out = child.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "worker {name}: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_contains(
            self.run(&["status", "--campaign-id", &id]).success(),
            &[&format!("{TOTAL} of {TOTAL} rows (100.0%), complete")],
        );
        self.sql
            .assert_exactly_once("generated_domains", id.parse().unwrap(), TOTAL);
    }
}

/// Asserts that `domgen` exited 0 (it may have said things on stderr);
/// returns what it wrote to both.
#[track_caller]
fn ok(out: &crate::util::Output) -> String {
    assert_eq!(out.code, Some(0), "{out}");
    format!("{}{}", out.stdout, out.stderr)
}

/// The campaign id `generate` printed.
fn campaign_id(out: &crate::util::Output) -> Uuid {
    let text = ok(out);
    let at = text.find("campaign ").expect("a campaign id") + "campaign ".len();
    text[at..at + 36].parse().expect("a uuid")
}

#[test]
fn transaction_pooling_generate_resume_continue_unique_monitor() {
    let pooled = Pooled::new(PoolMode::Transaction, 2);
    // migrate again: one transaction, so nothing to refuse.
    assert_contains(pooled.run(&["migrate"]).success(), &["up to date"]);
    pooled.kill_then_resume();

    // --continue: three campaigns take disjoint slices of one spec's 676
    // names, and the exhausted spec is refused.
    let spec = ["--pattern", "c{alpha:2}.org", "--no-progress"];
    let mut ids = Vec::new();
    for limit in ["400", "400"] {
        let mut args = vec!["generate", "--continue", "--limit", limit];
        args.extend(spec);
        ids.push(campaign_id(&pooled.run(&args)));
    }
    let mut args = vec!["generate", "--continue", "--limit", "1"];
    args.extend(spec);
    let refused = pooled.run(&args);
    assert_ne!(refused.code, Some(0), "{refused}");
    assert_contains(&refused.stderr, &["this spec is exhausted"]);
    let row = &pooled.sql.query(
        "SELECT count(*), count(DISTINCT domain_name) FROM generated_domains
          WHERE campaign_id = ANY($1)",
        &[&ids],
    )[0];
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (676, 676));

    // --unique: the c…org names are present, 26 of the 702 are new.
    let mut args = vec!["generate", "--unique"];
    args.extend(["--pattern", "c{alpha:2}.org", "--pattern", "u{alpha:1}.org"]);
    args.push("--no-progress");
    assert_contains(&ok(&pooled.run(&args)), &["676 names were already present"]);
    assert_eq!(
        pooled.sql.int(
            "SELECT count(*) FROM generated_domains WHERE domain_name LIKE 'u_.org'",
            &[]
        ),
        26
    );

    // The memory monitor records its samples through PgBouncer.
    let out = pooled.run(&[
        "generate",
        "--pattern",
        "{alnum:4}{digit:1}.com",
        "--out",
        "/dev/null",
        "--no-progress",
        "--monitor",
        "--monitor-interval",
        "100ms",
    ]);
    assert_contains(&ok(&out), &[" 0 dropped, 0 leaks reported"]);
    let run = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("monitor: run "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|id| id.parse::<Uuid>().ok())
        .unwrap_or_else(|| panic!("no run id in\n{out}"));
    let samples = pooled.sql.int(
        "SELECT count(*) FROM memory_metrics WHERE run_id = $1",
        &[&run],
    );
    assert!(samples >= 2, "{samples} samples");
}

#[test]
fn transaction_pooling_three_workers_write_every_position_once() {
    Pooled::new(PoolMode::Transaction, 2).workers(3);
}

#[test]
fn session_pooling_runs_every_command() {
    // A server connection per client for its whole session: enough of them
    // for three workers of two connections and a control connection each.
    let pooled = Pooled::new(PoolMode::Session, 20);
    assert_contains(pooled.run(&["migrate"]).success(), &["up to date"]);
    pooled.kill_then_resume();
    pooled.workers(3);
}
