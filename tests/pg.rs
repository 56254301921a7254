//! `generate` into PostgreSQL, `migrate` and `db`, against a real server:
//! `DATABASE_URL`, or a throwaway cluster the shared harness starts. Without
//! a server these tests fail, never skip.
//!
//! The exactly-once tests check the database against two oracles: the
//! counts (every position once, every name once, the ledger summing to the
//! total) and the bytes `generate --out -` writes for the same spec, which
//! must be the campaign's names in `offset_index` order.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use domgen_test_support::{database_url, fresh_database, with_dbname, with_setting};
use uuid::Uuid;

pub(crate) use domgen_test_support::Sql;

use crate::util::{Dir, Domgen, Output, assert_contains, capture};

/// Two patterns, 2 × 36⁴ = 3,359,232 names: a few seconds of COPY, so that
/// a kill or a terminated backend lands in the middle of the run.
pub(crate) const BIG: [&str; 4] = ["--pattern", "{alnum:4}x.com", "--pattern", "{alnum:4}y.net"];
pub(crate) const BIG_TOTAL: i64 = 2 * 36 * 36 * 36 * 36;

/// The checks of domgen's tables, on the synchronous client.
pub(crate) trait Checks {
    fn committed(&self, id: Uuid) -> i64;
    fn wait_for_other_backends_to_end(&self);
    fn assert_exactly_once(&self, table: &str, id: Uuid, total: i64);
    fn names_in_order(&self, id: Uuid) -> String;
}

impl Checks for Sql {
    /// Rows in `generation_batches` committed for `id`.
    fn committed(&self, id: Uuid) -> i64 {
        self.int(
            "SELECT coalesce(sum(rows), 0)::bigint FROM generation_batches
             WHERE campaign_id = $1 AND status = 'committed'",
            &[&id],
        )
    }

    /// Waits until no other client is connected to this database: the
    /// backends of a killed `domgen` have noticed and rolled back, so a
    /// commit in flight cannot land after the next run has read the ledger.
    fn wait_for_other_backends_to_end(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let others = self.int(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()
                   AND backend_type = 'client backend'",
                &[],
            );
            if others == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{others} backends of a killed domgen are still connected after 20 s"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every position of `id` in `table` exactly once: as many rows, distinct
    /// offsets and distinct names as positions, offsets 0..total, and the
    /// ledger's committed rows summing to the total.
    fn assert_exactly_once(&self, table: &str, id: Uuid, total: i64) {
        let row = &self.query(
            &format!(
                "SELECT count(*), count(DISTINCT offset_index), count(DISTINCT domain_name),
                        min(offset_index), max(offset_index)
                 FROM {table} WHERE campaign_id = $1"
            ),
            &[&id],
        )[0];
        let counts: [i64; 3] = [row.get(0), row.get(1), row.get(2)];
        let (min, max): (Option<i64>, Option<i64>) = (row.get(3), row.get(4));
        assert_eq!(
            counts, [total; 3],
            "campaign {id}: rows, distinct offsets, distinct names"
        );
        assert_eq!(
            (min, max),
            (Some(0), Some(total - 1)),
            "campaign {id}: offsets"
        );
        assert_eq!(self.committed(id), total, "campaign {id}: ledger rows");
        let overlaps = self.int(
            "SELECT count(*) FROM generation_batches a JOIN generation_batches b
               ON a.campaign_id = b.campaign_id AND a.batch_start < b.batch_start
              AND b.batch_start < a.batch_end
             WHERE a.campaign_id = $1",
            &[&id],
        );
        assert_eq!(overlaps, 0, "campaign {id}: overlapping ledger ranges");
    }

    /// The names of `id`, one per line in `offset_index` order, as
    /// `generate --out -` writes them.
    fn names_in_order(&self, id: Uuid) -> String {
        let text: Option<String> = self.query(
            "SELECT string_agg(domain_name, E'\\n' ORDER BY offset_index) || E'\\n'
             FROM generated_domains WHERE campaign_id = $1",
            &[&id],
        )[0]
        .get(0);
        text.unwrap_or_default()
    }
}

/// A new database on the test server, migrated with `domgen migrate`.
pub(crate) fn migrated_database(dir: &Dir) -> String {
    let url = fresh_database();
    dir.run(["migrate", "--database-url", &url]).success();
    url
}

/// A campaign: the spec's flags, where it goes, its id.
struct Campaign<'a> {
    dir: &'a Dir,
    url: &'a str,
    id: Uuid,
    args: Vec<String>,
}

impl Campaign<'_> {
    fn command(&self, resume: bool) -> Command {
        let id = self.id.to_string();
        let mut args = vec!["generate"];
        args.extend(self.args.iter().map(String::as_str));
        args.extend(["--database-url", self.url, "--campaign-id", &id]);
        if resume {
            args.push("--resume");
        }
        self.dir.command(args)
    }

    fn run(&self, resume: bool) -> Output {
        capture(self.command(resume))
    }

    fn spawn(&self, resume: bool) -> Child {
        self.command(resume)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start domgen")
    }

    /// What `generate --out -` writes for the same spec.
    fn oracle(&self) -> String {
        let mut args = vec!["generate"];
        args.extend(self.args.iter().map(String::as_str));
        args.extend(["--out", "-"]);
        self.dir.run(args).success().to_owned()
    }
}

/// Kills `child` with SIGKILL; returns whether the kill ended it (rather
/// than it ending first), and its output.
fn kill_9(mut child: Child) -> (bool, Output) {
    // Killing a child that has exited but not been waited for is harmless.
    child.kill().expect("cannot kill domgen");
    let out = child.wait_with_output().expect("cannot wait for domgen");
    let killed = out.status.signal() == Some(9);
    (killed, Output::new("domgen generate".into(), out))
}

/// A small, seeded PRNG (SplitMix64), so that the kill moments are
/// pseudo-random yet the same at every run.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }

    fn millis(&mut self, range: std::ops::Range<u64>) -> Duration {
        Duration::from_millis(range.start + self.below(range.end - range.start))
    }
}

/// Asserts that the database holds the campaign's names exactly as the
/// oracle writes them, and says where the first difference is if not.
#[track_caller]
fn assert_same_names(campaign: &Campaign<'_>, sql: &Sql) {
    let expected = campaign.oracle();
    let actual = sql.names_in_order(campaign.id);
    if expected != actual {
        let at = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a);
        panic!(
            "campaign {}: the names in offset order differ from `generate --out -` \
             ({} lines expected, {} in the database; first difference at line {at:?})",
            campaign.id,
            expected.lines().count(),
            actual.lines().count()
        );
    }
}

#[test]
fn kill_9_at_random_moments_then_resume_writes_every_position_once() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let sql = Sql::connect(&url);
    let mut rng = SplitMix(7);
    for order in [["--order", "sequential"], ["--order", "shuffled"]] {
        let mut args: Vec<String> = BIG.iter().map(|s| (*s).to_owned()).collect();
        args.extend(order.iter().map(|s| (*s).to_owned()));
        args.extend(["--seed", "7", "--batch-size", "20000", "--no-progress"].map(String::from));
        let campaign = Campaign {
            dir: &dir,
            url: &url,
            id: Uuid::new_v4(),
            args,
        };
        let mut killed_mid_write = 0;
        for round in 0..3 {
            let before = sql.committed(campaign.id);
            // The first run may die anywhere, even before the campaign is
            // registered; the resumes die once they have committed a batch.
            let child = campaign.spawn(round > 0);
            let delay = if round == 0 {
                rng.millis(150..700)
            } else {
                let deadline = Instant::now() + Duration::from_secs(30);
                while sql.committed(campaign.id) == before && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(5));
                }
                rng.millis(0..400)
            };
            // The random moment of the kill is what is under test.
            thread::sleep(delay);
            let (killed, out) = kill_9(child);
            if !killed {
                // It finished first: then it must have succeeded.
                out.success();
            }
            sql.wait_for_other_backends_to_end();
            let after = sql.committed(campaign.id);
            eprintln!(
                "{order:?} round {round}: killed={killed} after {delay:?}, committed {before} -> {after} of {BIG_TOTAL}"
            );
            assert!(after >= before, "committed rows went backwards");
            if killed && 0 < after && after < BIG_TOTAL {
                killed_mid_write += 1;
            }
        }
        assert!(
            killed_mid_write > 0,
            "{order:?}: no kill landed in the middle of the run; the test proves nothing"
        );

        // A resume that outran its kill may have finished the campaign.
        let finished = if sql.committed(campaign.id) == BIG_TOTAL {
            format!("the campaign is already complete ({BIG_TOTAL} rows)")
        } else {
            format!("the campaign has {BIG_TOTAL} of {BIG_TOTAL} rows")
        };
        let done = campaign.run(true);
        assert_contains(
            done.success(),
            &[
                &format!("campaign {}", campaign.id),
                &finished,
                "memory_allocations:",
            ],
        );
        sql.assert_exactly_once("generated_domains", campaign.id, BIG_TOTAL);
        assert_same_names(&campaign, &sql);

        let again = campaign.run(true);
        assert_contains(
            again.success(),
            &[&format!(
                "the campaign is already complete ({BIG_TOTAL} rows); nothing written"
            )],
        );
        sql.assert_exactly_once("generated_domains", campaign.id, BIG_TOTAL);
    }
}

/// Terminates the backends of `child`'s COPYs in flight, once at least
/// one is seen.
fn terminate_a_copy(sql: &Sql, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let terminated = sql.int(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE query ILIKE 'COPY%' AND datname = current_database()",
            &[],
        );
        if terminated > 0 {
            return;
        }
        if let Some(status) = child.try_wait().expect("cannot wait for domgen") {
            panic!("domgen ended ({status}) before a COPY could be terminated");
        }
        assert!(Instant::now() < deadline, "no COPY to terminate in 30 s");
        thread::sleep(Duration::from_millis(5));
    }
}

/// A terminated backend (SQLSTATE 57P01, as at a fast shutdown) is a lost
/// connection: the run opens another and goes on, and the batch cut is
/// written once.
#[test]
fn pg_terminate_backend_mid_run_is_ridden_through() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let sql = Sql::connect(&url);
    let mut args: Vec<String> = BIG.iter().map(|s| (*s).to_owned()).collect();
    args.extend(["--batch-size", "20000", "--no-progress"].map(String::from));
    let campaign = Campaign {
        dir: &dir,
        url: &url,
        id: Uuid::new_v4(),
        args,
    };
    let mut child = campaign.spawn(false);
    terminate_a_copy(&sql, &mut child);
    let out = Output::new(
        "domgen generate".into(),
        child.wait_with_output().expect("cannot wait for domgen"),
    );
    assert_contains(out.success(), &["lost connections were opened anew"]);
    sql.assert_exactly_once("generated_domains", campaign.id, BIG_TOTAL);
    assert_same_names(&campaign, &sql);
    let status = sql.text(
        "SELECT string_agg(status, ',') FROM generation_runs WHERE campaign_id = $1",
        &[&campaign.id],
    );
    assert_eq!(status, "complete");
}

/// With `--reconnect-for 0` the first lost connection ends the run: what
/// was committed stays, and `--resume` finishes it.
#[test]
fn pg_terminate_backend_mid_run_without_reconnecting_then_resume() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let sql = Sql::connect(&url);
    let mut args: Vec<String> = BIG.iter().map(|s| (*s).to_owned()).collect();
    args.extend(
        [
            "--batch-size",
            "20000",
            "--no-progress",
            "--reconnect-for",
            "0",
        ]
        .map(String::from),
    );
    let campaign = Campaign {
        dir: &dir,
        url: &url,
        id: Uuid::new_v4(),
        args,
    };
    let mut child = campaign.spawn(false);
    terminate_a_copy(&sql, &mut child);
    let out = Output::new(
        "domgen generate".into(),
        child.wait_with_output().expect("cannot wait for domgen"),
    );
    assert_eq!(out.code, Some(1), "{out}");
    let id = campaign.id.to_string();
    assert_contains(
        &out.stderr,
        &[
            "error: ",
            &format!("campaign {id}"),
            &format!("--campaign-id {id} --resume"),
            "connection",
        ],
    );
    assert!(!out.stderr.contains("panicked"), "{out}");
    let committed = sql.committed(campaign.id);
    assert!(committed < BIG_TOTAL, "the run was not cut short");

    let done = campaign.run(true);
    assert_contains(
        done.success(),
        &[&format!("the campaign has {BIG_TOTAL} of {BIG_TOTAL} rows")],
    );
    sql.assert_exactly_once("generated_domains", campaign.id, BIG_TOTAL);
    assert_same_names(&campaign, &sql);
    // Both runs are on record, the failed one as such.
    let runs: Vec<String> = sql
        .query(
            "SELECT status FROM generation_runs WHERE campaign_id = $1 ORDER BY started_at",
            &[&campaign.id],
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(runs, ["failed", "complete"]);
    let allocations = sql.int(
        "SELECT count(*) FROM memory_allocations WHERE campaign_id = $1",
        &[&campaign.id],
    );
    assert_eq!(allocations, 2, "one memory_allocations row per run");
}

#[test]
fn migrations_applied_twice() {
    let dir = Dir::new();
    let url = fresh_database();
    let first = dir.run(["migrate", "--database-url", &url]);
    assert_contains(
        first.success(),
        &[
            "applied 5 migrations: ",
            "V1",
            "memory_monitoring",
            "V2",
            "generation",
            "V3",
            "workers",
            "V4",
            "monitor",
            "V5",
            "adaptive_batches",
        ],
    );
    let second = dir.run(["migrate", "--database-url", &url]);
    assert_eq!(
        second.success(),
        "the database is up to date: no migrations to apply\n"
    );
}

/// Asserts a connection failure: exit 1, `error: …` on stderr naming
/// `needles`, and the password nowhere.
#[track_caller]
fn assert_connection_error(out: &Output, needles: &[&str]) {
    assert!(
        out.code == Some(1) && out.stdout.is_empty() && out.stderr.starts_with("error: "),
        "expected exit 1 and `error: …`\n{out}"
    );
    assert_contains(&out.stderr, needles);
    assert!(
        !out.stdout.contains("secretpw") && !out.stderr.contains("secretpw"),
        "the password leaked\n{out}"
    );
}

#[test]
fn connection_errors_exit_1_with_a_clear_message_and_no_password() {
    let dir = Dir::new();
    let spec = ["generate", "--pattern", "{alnum:2}.com"];
    let run = |url: &str, migrate: bool| {
        let mut args: Vec<&str> = if migrate {
            vec!["migrate"]
        } else {
            spec.to_vec()
        };
        args.extend(["--database-url", url]);
        dir.run(args)
    };

    // Port 1 refuses.
    let refused = "postgres://u:secretpw@127.0.0.1:1/x";
    for migrate in [false, true] {
        assert_connection_error(
            &run(refused, migrate),
            &[
                "cannot connect to PostgreSQL at host=127.0.0.1 port=1 user=u dbname=x",
                "Connection refused",
            ],
        );
    }

    // The server is there, the database is not.
    let missing = with_setting(
        &with_dbname(&database_url(), "nope_does_not_exist"),
        "password",
        "secretpw",
    );
    for migrate in [false, true] {
        assert_connection_error(
            &run(&missing, migrate),
            &[
                "cannot connect to PostgreSQL",
                "dbname=nope_does_not_exist",
                "database \"nope_does_not_exist\" does not exist",
            ],
        );
    }

    // The database is there, domgen's schema is not.
    let bare = with_setting(&fresh_database(), "password", "secretpw");
    assert_connection_error(
        &run(&bare, false),
        &[
            "is not migrated",
            "V1__memory_monitoring",
            "`domgen migrate`",
        ],
    );
    // Nothing was registered in a database without the tables.
    let sql = Sql::connect(&bare);
    let tables = sql.int(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        &[],
    );
    assert_eq!(tables, 0);
}

#[test]
fn resume_with_a_different_seed_is_refused() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let id = Uuid::new_v4();
    let campaign = |seed: &str| Campaign {
        dir: &dir,
        url: &url,
        id,
        args: [
            "--pattern",
            "{alnum:3}.com",
            "--order",
            "shuffled",
            "--seed",
            seed,
        ]
        .map(String::from)
        .to_vec(),
    };
    campaign("7").run(false).success();
    let refused = campaign("8").run(true);
    assert_contains(
        refused.spec_error(),
        &[
            "cannot resume",
            "the seed (8 now, 7 stored)",
            "--campaign-id",
        ],
    );
    // The stored campaign is untouched, and resumes with its own seed.
    Sql::connect(&url).assert_exactly_once("generated_domains", id, 36 * 36 * 36);
    assert_contains(campaign("7").run(true).success(), &["already complete"]);
}

#[test]
fn a_campaign_id_reused_without_resume_is_refused() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let campaign = Campaign {
        dir: &dir,
        url: &url,
        id: Uuid::new_v4(),
        args: ["--pattern", "{alnum:3}.com", "--limit", "100"]
            .map(String::from)
            .to_vec(),
    };
    campaign.run(false).success();
    let refused = campaign.run(false);
    assert_contains(
        refused.spec_error(),
        &[
            &format!("campaign {} already exists", campaign.id),
            "--resume",
        ],
    );
    let sql = Sql::connect(&url);
    sql.assert_exactly_once("generated_domains", campaign.id, 100);
}

#[test]
fn custom_table() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let sql = Sql::connect(&url);
    sql.execute(
        "CREATE TABLE my_domains (campaign_id uuid, offset_index bigint, domain_name text,
                                  dns_status text DEFAULT 'pending', lead_score int DEFAULT 0)",
    );
    let campaign = Campaign {
        dir: &dir,
        url: &url,
        id: Uuid::new_v4(),
        args: [
            "--pattern",
            "{alnum:3}.com",
            "--table",
            "my_domains",
            "--batch-size",
            "1000",
        ]
        .map(String::from)
        .to_vec(),
    };
    let out = campaign.run(false);
    let shown = out.success();
    assert_contains(shown, &["the campaign has 46656 of 46656 rows"]);
    // A sample of the rows written: batches commit over two connections in
    // any order, so which rows come first in the table varies.
    let space = domgen::Space::compile(&domgen::Spec {
        patterns: vec!["{alnum:3}.com".into()],
        ..domgen::Spec::default()
    })
    .unwrap();
    let rows: Vec<(u64, &str)> = shown
        .lines()
        .filter_map(|line| {
            let (position, name) = line.trim().split_once("  ")?;
            Some((position.parse().ok()?, name))
        })
        .collect();
    assert_eq!(rows.len(), 3, "three rows shown:\n{shown}");
    for (position, name) in rows {
        assert_eq!(name, space.name(space.index_at(position)));
    }
    sql.assert_exactly_once("my_domains", campaign.id, 46656);
    let defaults = sql.int(
        "SELECT count(*) FROM my_domains
         WHERE campaign_id = $1 AND dns_status = 'pending' AND lead_score = 0",
        &[&campaign.id],
    );
    assert_eq!(defaults, 46656, "every row takes the table's defaults");
    let elsewhere = sql.int("SELECT count(*) FROM generated_domains", &[]);
    assert_eq!(elsewhere, 0, "nothing went to generated_domains");
}

/// Stops the local cluster under a directory when dropped, so that a failed
/// test does not leave a server running.
struct StopCluster(Dir);

impl Drop for StopCluster {
    fn drop(&mut self) {
        let out = self.0.run(["db", "stop"]);
        if out.code != Some(0) && !thread::panicking() {
            panic!("domgen db stop failed\n{out}");
        }
    }
}

#[test]
fn embedded_default_cluster() {
    // The server runs as `postgres` when the tests run as root: it must be
    // able to reach ./.domgen, so the directory is a 0755 one under /tmp.
    let cluster = StopCluster(Dir::shared());
    let dir = &cluster.0;
    dir.create(
        "spec.toml",
        "keywords = [\"shop\", \"data\"]\ntlds = [\"com\", \"net\"]\npatterns = [\"{keyword}{alnum:2}.{tld}\"]\n",
    );
    let run = |args: &[&str]| {
        let mut cmd = dir.command(args);
        for var in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD"] {
            cmd.env_remove(var);
        }
        capture(cmd)
    };

    let out = run(&["generate", "spec.toml", "--limit", "1000"]);
    assert_contains(
        out.success(),
        &[
            "in the local cluster under ./.domgen",
            "the campaign has 1000 of 1000 rows",
            "0  shopaa.com",
            "memory_allocations: operation_id=",
        ],
    );
    assert!(dir.path().join(".domgen/pgdata").is_dir());
    let id = out
        .stdout
        .strip_prefix("campaign ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse::<Uuid>().ok())
        .unwrap_or_else(|| panic!("no campaign id in\n{out}"));

    assert_eq!(run(&["db", "status"]).success(), "running\n");
    let url = run(&["db", "url"]).success().trim().to_owned();
    assert_contains(&url, &["host=", "dbname=domgen"]);
    let sql = Sql::connect(&url);
    sql.assert_exactly_once("generated_domains", id, 1000);
    let alloc = sql.int(
        "SELECT count(*) FROM memory_allocations
         WHERE campaign_id = $1 AND operation_type = 'domain_generation'",
        &[&id],
    );
    assert_eq!(alloc, 1);
    drop(sql);

    assert_eq!(run(&["db", "stop"]).success(), "stopped\n");
    assert_eq!(run(&["db", "status"]).success(), "stopped\n");
}
