//! domgen on a real Citus cluster: a coordinator and two workers that the
//! harness (`domgen_test_support::citus_cluster`) starts on loopback TCP,
//! each test in a database of its own distributed with
//! `domgen migrate --distribute`. Every exactly-once check runs against the
//! coordinator: rows = distinct offsets = distinct names = the campaign's
//! positions, and the ledger sums to them.
//!
//! Behind the `citus-tests` feature, out of `cargo test --workspace`: run
//! them with `scripts/test-citus`, which builds Citus when it is missing.
//!
//! The one statement Citus changes is `--unique`'s unique index on
//! `domain_name`, which Citus refuses on a distributed table:
//! `unique_is_refused_on_a_distributed_table` shows the refusal. The rest
//! (the workers' claims, the cursor move, `--continue`'s cursor on a
//! reference table, COPY with the ledger in one transaction) runs as it is.

// Helpers that run the built binary in a fresh temporary directory.
#[allow(
    dead_code,
    unused_imports,
    reason = "shared with tests/tests.rs, which uses all of it"
)]
mod util;

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use domgen::engine::GeneratorBuilder;
use domgen::pattern::Spec;
use domgen::pg::campaign::{self, CampaignOptions, Start};
use domgen::pg::workers::{self, PlanOptions, WorkOptions};
use domgen_test_support::{Sql, citus_cluster, fresh_database, wait_for};
use uuid::Uuid;

use crate::util::{Dir, Domgen, Output, assert_contains, spawn_worker};

/// Two patterns, 2 × 36⁴ = 3,359,232 names: long enough for a kill to
/// land mid-run.
const BIG: [&str; 4] = ["--pattern", "{alnum:4}x.com", "--pattern", "{alnum:4}y.net"];
const BIG_TOTAL: i64 = 2 * 36 * 36 * 36 * 36;

/// A small spec: 36³ = 46,656 names.
const SMALL: [&str; 2] = ["--pattern", "{alnum:3}s.com"];
const SMALL_TOTAL: i64 = 36 * 36 * 36;

/// A new database on the Citus cluster, migrated and distributed.
fn distributed_database(dir: &Dir) -> String {
    let url = citus_cluster().fresh_database();
    let out = dir.run(["migrate", "--database-url", &url, "--distribute"]);
    assert_contains(out.success(), &["distributed: 5 tables placed"]);
    url
}

/// Every position of `id` in `table` exactly once, checked on the
/// coordinator: as many rows, distinct offsets and distinct names as
/// positions, offsets 0..total, the ledger summing to the total with no
/// overlapping batches.
#[track_caller]
fn assert_exactly_once(sql: &Sql, table: &str, id: Uuid, total: i64) {
    let row = &sql.query(
        &format!(
            "SELECT count(*), count(DISTINCT offset_index), count(DISTINCT domain_name),
                    min(offset_index), max(offset_index)
               FROM {table} WHERE campaign_id = $1"
        ),
        &[&id],
    )[0];
    let counts: [i64; 3] = [row.get(0), row.get(1), row.get(2)];
    let (min, max): (Option<i64>, Option<i64>) = (row.get(3), row.get(4));
    assert_eq!(counts, [total; 3], "{id}: rows, distinct offsets, names");
    assert_eq!((min, max), (Some(0), Some(total - 1)), "{id}: offsets");
    assert_eq!(committed(sql, id), total, "{id}: the ledger's rows");
    let overlaps = sql.int(
        "SELECT count(*) FROM generation_batches a JOIN generation_batches b
           ON a.campaign_id = b.campaign_id AND a.batch_start < b.batch_start
          AND b.batch_start < a.batch_end
         WHERE a.campaign_id = $1",
        &[&id],
    );
    assert_eq!(overlaps, 0, "{id}: overlapping ledger ranges");
}

fn committed(sql: &Sql, id: Uuid) -> i64 {
    sql.int(
        "SELECT coalesce(sum(rows), 0)::bigint FROM generation_batches
          WHERE campaign_id = $1 AND status = 'committed'",
        &[&id],
    )
}

/// The worker node holding `id`'s shard of `table`.
fn node_of(sql: &Sql, table: &str, id: Uuid) -> i32 {
    sql.query(
        "SELECT nodeport FROM citus_shards
          WHERE shardid = get_shard_id_for_distribution_column($1::text::regclass, $2::text)",
        &[&table, &id.to_string()],
    )[0]
    .get(0)
}

/// The rows are on a worker, on the same node as the campaign's ledger:
/// the tables are co-located.
#[track_caller]
fn assert_on_one_worker(sql: &Sql, table: &str, id: Uuid) {
    let node = node_of(sql, table, id);
    assert!(
        citus_cluster()
            .workers
            .contains(&u16::try_from(node).unwrap()),
        "{table}'s shard for {id} is on port {node}, not a worker"
    );
    assert_eq!(node, node_of(sql, "generation_batches", id));
    assert_eq!(node, node_of(sql, "generation_campaigns", id));
}

/// Waits until no domgen connection is left on the coordinator: a killed
/// run's transactions have rolled back (Citus's own connections, named
/// `citus_internal…`, do not count).
fn wait_for_domgen_backends_to_end(sql: &Sql) {
    wait_for(
        "the killed run's backends to end",
        Duration::from_secs(20),
        || {
            sql.int(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid()
                    AND backend_type = 'client backend'
                    AND application_name NOT LIKE 'citus%'",
                &[],
            ) == 0
        },
    );
}

fn generate(dir: &Dir, url: &str, id: Uuid, spec: &[&str], extra: &[&str]) -> Output {
    let id = id.to_string();
    let mut args = vec!["generate", "--no-progress"];
    args.extend(spec);
    args.extend(["--database-url", url, "--campaign-id", &id]);
    args.extend(extra);
    dir.run(args)
}

#[test]
fn distribute_twice_changes_nothing_the_second_time() {
    let dir = Dir::new();
    let url = distributed_database(&dir);
    let sql = Sql::connect(&url);
    let placed: Vec<(String, String, String)> = sql
        .query(
            "SELECT table_name::text, citus_table_type, distribution_column
               FROM citus_tables ORDER BY 1",
            &[],
        )
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected = [
        ("domain_generation_config_states", "reference", "<none>"),
        ("generated_domains", "distributed", "campaign_id"),
        ("generation_batches", "distributed", "campaign_id"),
        ("generation_campaigns", "distributed", "campaign_id"),
        ("generation_runs", "reference", "<none>"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(placed, expected);
    let groups = sql.int(
        "SELECT count(DISTINCT colocation_id) FROM citus_tables
          WHERE citus_table_type = 'distributed'",
        &[],
    );
    assert_eq!(groups, 1, "the distributed tables are co-located");

    let again = dir.run(["migrate", "--database-url", &url, "--distribute"]);
    assert_contains(
        again.success(),
        &[
            "the database is up to date: no migrations to apply",
            "generated_domains: already distributed by campaign_id",
            "system_alerts: stays a local table on the coordinator",
            "nothing to distribute: every table is placed already",
        ],
    );
}

#[test]
fn distribute_is_refused_on_plain_postgresql_before_anything_changes() {
    let dir = Dir::new();
    let url = fresh_database();
    let out = dir.run(["migrate", "--database-url", &url, "--distribute"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert_contains(
        &out.stderr,
        &["this database has no Citus", "CREATE EXTENSION citus"],
    );
    let sql = Sql::connect(&url);
    assert_eq!(
        sql.int(
            "SELECT count(*) FROM pg_class WHERE relname = 'refinery_schema_history'",
            &[]
        ),
        0,
        "nothing migrated"
    );
}

/// A user's table with a unique index that leaves out `campaign_id` is
/// refused with the index named; with `campaign_id` in its key it is
/// distributed, co-located, and `generate --table` writes it exactly once.
#[test]
fn a_users_table_is_distributed_unless_a_unique_index_forbids_it() {
    let dir = Dir::new();
    let url = distributed_database(&dir);
    let sql = Sql::connect(&url);
    sql.execute(
        "CREATE TABLE mine (campaign_id uuid NOT NULL, offset_index bigint NOT NULL,
                            domain_name text NOT NULL, seen timestamptz DEFAULT now());
         CREATE UNIQUE INDEX mine_name ON mine (domain_name);",
    );
    let out = dir.run([
        "migrate",
        "--database-url",
        &url,
        "--distribute",
        "--table",
        "mine",
    ]);
    assert_eq!(out.code, Some(2), "{out}");
    assert_contains(
        &out.stderr,
        &[
            "table mine cannot be distributed by campaign_id: its unique index mine_name",
            "does not include campaign_id",
        ],
    );

    sql.execute(
        "DROP INDEX mine_name;
         ALTER TABLE mine ADD PRIMARY KEY (campaign_id, offset_index);",
    );
    let out = dir.run([
        "migrate",
        "--database-url",
        &url,
        "--distribute",
        "--table",
        "mine",
    ]);
    assert_contains(
        out.success(),
        &["mine: now distributed by campaign_id, co-located with generation_campaigns"],
    );
    let id = Uuid::new_v4();
    generate(&dir, &url, id, &SMALL, &["--table", "mine"]).success();
    assert_exactly_once(&sql, "mine", id, SMALL_TOTAL);
    assert_on_one_worker(&sql, "mine", id);
}

/// Sequential and shuffled: every position once, the names those of
/// `--out -` in the same order, on one worker with the campaign's ledger.
#[test]
fn generate_sequential_and_shuffled_write_every_position_once() {
    let dir = Dir::new();
    let url = distributed_database(&dir);
    let sql = Sql::connect(&url);
    for order in [
        &["--order", "sequential"][..],
        &["--order", "shuffled", "--seed", "7"],
    ] {
        let id = Uuid::new_v4();
        let mut spec = SMALL.to_vec();
        spec.extend(order);
        generate(&dir, &url, id, &spec, &[]).success();
        assert_exactly_once(&sql, "generated_domains", id, SMALL_TOTAL);
        assert_on_one_worker(&sql, "generated_domains", id);
        let mut oracle = vec!["generate"];
        oracle.extend(&spec);
        oracle.extend(["--out", "-"]);
        let expected = dir.run(oracle).success().to_owned();
        let actual: String = sql.query(
            "SELECT string_agg(domain_name, E'\\n' ORDER BY offset_index) || E'\\n'
               FROM generated_domains WHERE campaign_id = $1",
            &[&id],
        )[0]
        .get(0);
        assert!(
            expected == actual,
            "{order:?}: the names differ from --out -"
        );
    }
}

/// kill -9 mid-run, then `--resume`: every position once.
#[test]
fn generate_killed_then_resumed_writes_every_position_once() {
    let dir = Dir::new();
    let url = distributed_database(&dir);
    let sql = Sql::connect(&url);
    for order in [&["--order", "sequential"][..], &["--order", "shuffled"]] {
        let id = Uuid::new_v4();
        let id_text = id.to_string();
        let mut args = vec!["generate", "--no-progress"];
        args.extend(BIG);
        args.extend(order);
        args.extend(["--database-url", &url, "--campaign-id", &id_text]);
        let mut child = dir
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("domgen generate starts");
        wait_for("a first batch committed", Duration::from_secs(60), || {
            committed(&sql, id) > 0
        });
        child.kill().expect("kill -9");
        let status = child.wait().expect("wait");
        assert_eq!(status.signal(), Some(9), "{order:?}: killed mid-run");
        wait_for_domgen_backends_to_end(&sql);
        let before = committed(&sql, id);
        assert!(0 < before && before < BIG_TOTAL, "{order:?}: {before}");

        args.push("--resume");
        dir.run(&args).success();
        assert_exactly_once(&sql, "generated_domains", id, BIG_TOTAL);
    }
}

/// Two `--continue` campaigns over one spec: the cursor (a reference
/// table) hands each the next positions.
#[test]
fn continue_takes_the_next_positions_from_the_reference_cursor() {
    let dir = Dir::new();
    let url = distributed_database(&dir);
    let sql = Sql::connect(&url);
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    for (id, reserved) in [(a, "0..1000"), (b, "1000..2000")] {
        let out = generate(&dir, &url, id, &SMALL, &["--continue", "--limit", "1000"]);
        assert_eq!(out.code, Some(0), "{out}");
        assert_contains(
            &out.stderr,
            &[&format!("reserved positions {reserved} of 46656")],
        );
    }
    let ranges: Vec<(i64, i64, i64)> = [a, b]
        .iter()
        .map(|id| {
            let r = &sql.query(
                "SELECT count(DISTINCT domain_name), min(offset_index), max(offset_index)
                   FROM generated_domains WHERE campaign_id = $1",
                &[id],
            )[0];
            (r.get(0), r.get(1), r.get(2))
        })
        .collect();
    assert_eq!(ranges, [(1000, 0, 999), (1000, 1000, 1999)]);
    // Not a join on domain_name: the two campaigns' rows are on shards
    // that Citus would have to repartition to join.
    let names = sql.int(
        "SELECT count(DISTINCT domain_name) FROM generated_domains
          WHERE campaign_id IN ($1, $2)",
        &[&a, &b],
    );
    assert_eq!(names, 2000, "the two campaigns share no name");
    assert_eq!(
        sql.int(
            "SELECT last_offset FROM domain_generation_config_states",
            &[]
        ),
        2000
    );
}

/// Citus allows a unique index on a distributed table only with the
/// distribution column, so `--unique` (a unique `domain_name` across
/// campaigns) is refused there, before anything is written.
#[test]
fn unique_is_refused_on_a_distributed_table() {
    let dir = Dir::new();
    let url = distributed_database(&dir);
    let sql = Sql::connect(&url);
    let id = Uuid::new_v4();
    let out = generate(&dir, &url, id, &SMALL, &["--unique"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert_contains(
        &out.stderr,
        &[
            "--unique is refused on table generated_domains: it is distributed by Citus",
            "a unique index only together with the distribution column",
        ],
    );
    assert_eq!(
        sql.int("SELECT count(*) FROM generated_domains", &[]),
        0,
        "nothing written"
    );
    assert_eq!(
        sql.int(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'generated_domains'",
            &[]
        ),
        0,
        "no index made"
    );
}

/// `plan`, three workers, one SIGKILLed while it holds a lease: its batch
/// is taken over when the lease expires; `status` says complete; every
/// position once.
#[test]
fn three_workers_one_killed_write_every_position_once() {
    let dir = Dir::new();
    let url = distributed_database(&dir);
    let sql = Sql::connect(&url);
    let id = Uuid::new_v4();
    let id_text = id.to_string();
    let mut plan = vec!["plan"];
    plan.extend(BIG);
    plan.extend([
        "--database-url",
        &url,
        "--campaign-id",
        &id_text,
        "--batch-size",
        "100000",
    ]);
    assert_contains(dir.run(&plan).success(), &["planned: positions 0..3359232"]);

    let mut workers: Vec<Child> = ["a", "b", "c"]
        .iter()
        .map(|name| spawn_worker(&dir, &url, id, name, &["--lease-seconds", "2"]))
        .collect();
    wait_for("worker c to hold a lease", Duration::from_secs(60), || {
        sql.int(
            "SELECT count(*) FROM generation_batches
              WHERE campaign_id = $1 AND worker_id = 'c' AND status = 'leased'",
            &[&id],
        ) > 0
    });
    let mut c = workers.pop().expect("worker c");
    c.kill().expect("kill -9 worker c");
    assert_eq!(c.wait().expect("wait").signal(), Some(9));

    let deadline = Instant::now() + Duration::from_secs(300);
    for (worker, name) in workers.into_iter().zip(["a", "b"]) {
        let mut worker = worker;
        while worker.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "worker {name} did not finish");
            thread::sleep(Duration::from_millis(50));
        }
        let out = worker.wait_with_output().expect("output");
        assert!(
            out.status.success(),
            "worker {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let status = dir.run(["status", "--database-url", &url, "--campaign-id", &id_text]);
    assert_contains(
        status.success(),
        &["3359232 of 3359232 rows (100.0%), complete", "0 pending"],
    );
    assert_exactly_once(&sql, "generated_domains", id, BIG_TOTAL);
    assert_on_one_worker(&sql, "generated_domains", id);
}

/// `generate --monitor` samples into the coordinator's local monitor
/// tables while the rows go to the workers; `report` reads them back.
#[test]
fn generate_monitor_then_report() {
    let dir = Dir::new();
    let url = distributed_database(&dir);
    let sql = Sql::connect(&url);
    let id = Uuid::new_v4();
    let out = generate(
        &dir,
        &url,
        id,
        &BIG[..2],
        &["--monitor", "--monitor-interval", "100ms"],
    );
    assert_eq!(out.code, Some(0), "{out}");
    let run = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("monitor: run "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in\n{out}"))
        .to_owned();
    assert_exactly_once(&sql, "generated_domains", id, BIG_TOTAL / 2);
    let csv = dir.run([
        "report",
        "--run",
        &run,
        "--format",
        "csv",
        "--database-url",
        &url,
    ]);
    let samples = csv.success().lines().count() - 1;
    assert!(samples >= 2, "{samples} samples");
    let svg = dir.run([
        "report",
        "--run",
        &run,
        "--out",
        "run.svg",
        "--database-url",
        &url,
    ]);
    svg.success();
    assert!(dir.read("run.svg").contains("<svg"));
}

/// The library: `campaign::generate` and, for a planned campaign, two
/// `workers::work` at once, over a `tokio_postgres::Config` of the
/// coordinator.
#[test]
fn library_generate_and_work_write_every_position_once() {
    let dir = Dir::new();
    let url = distributed_database(&dir);
    let sql = Sql::connect(&url);
    let config: tokio_postgres::Config = url.parse().expect("a connection string");
    let spec = Spec {
        patterns: vec!["{alnum:3}l.com".into()],
        ..Spec::default()
    };
    let generator = Arc::new(GeneratorBuilder::new().threads(2).build().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let generated = Uuid::new_v4();
    let report = rt
        .block_on(campaign::generate(
            config.clone(),
            spec.clone(),
            CampaignOptions {
                campaign_id: generated,
                table: "generated_domains".into(),
                start: Start::New,
                connections: 2,
                unique: false,
                retry: domgen::pg::Retry::default(),
                provenance: domgen::pg::Provenance::default(),
            },
            Arc::clone(&generator),
            None,
        ))
        .expect("campaign::generate");
    assert_eq!(report.rows_total, 36 * 36 * 36);
    assert_exactly_once(&sql, "generated_domains", generated, 36 * 36 * 36);

    let planned = Uuid::new_v4();
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        workers::plan(
            &client,
            &spec,
            &PlanOptions {
                campaign_id: planned,
                batch_names: Some(2000),
                table: "generated_domains".into(),
            },
        )
        .await
        .expect("workers::plan");
    });
    let work = |name: &str| {
        workers::work(
            config.clone(),
            WorkOptions {
                campaign_id: planned,
                worker_id: name.into(),
                lease: Duration::from_secs(10),
                connections: 2,
                max_batches: None,
                retry: domgen::pg::Retry::default(),
                provenance: domgen::pg::Provenance::default(),
            },
            Arc::clone(&generator),
            None,
            |_: &workers::WorkEvent| {},
        )
    };
    let (a, b) = rt.block_on(async { tokio::join!(work("a"), work("b")) });
    let (a, b) = (a.expect("worker a"), b.expect("worker b"));
    assert!(a.complete && b.complete);
    assert_eq!(a.rows + b.rows, 36 * 36 * 36);
    assert_exactly_once(&sql, "generated_domains", planned, 36 * 36 * 36);
}

/// A table with many indexes gets batches measured in cells of the grid
/// (see `domgen::pg::sizing`): `generate`'s commits group cells, each with
/// its own ledger row in one multi-row INSERT that Citus routes to the
/// campaign's shard; workers lease runs of cells cut from the cursor, and
/// `status` counts cells. Every position once, on the coordinator.
#[test]
fn measured_batch_sizes_group_cells_on_citus() {
    let dir = Dir::new();
    let url = distributed_database(&dir);
    let sql = Sql::connect(&url);
    for column in ["domain_name", "offset_index", "campaign_id"] {
        for method in ["btree", "hash"] {
            sql.execute(&format!(
                "CREATE INDEX ON generated_domains USING {method} ({column})"
            ));
        }
    }
    // One statement per call: Citus refuses two CREATE INDEX in one.
    sql.execute("CREATE INDEX ON generated_domains (lower(domain_name))");
    sql.execute("CREATE INDEX ON generated_domains (campaign_id, offset_index)");

    let id = Uuid::new_v4();
    let out = generate(&dir, &url, id, &SMALL, &["--memory-budget", "8MiB"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_contains(
        &out.stderr,
        &[
            "then as measured, in cells of",
            "generated_domains has 8 indexes",
        ],
    );
    assert_exactly_once(&sql, "generated_domains", id, SMALL_TOTAL);
    assert_on_one_worker(&sql, "generated_domains", id);
    let (cells, batches) = (
        sql.int(
            "SELECT count(*) FROM generation_batches WHERE campaign_id = $1",
            &[&id],
        ),
        sql.int(
            "SELECT (report->>'batches')::bigint FROM generation_runs WHERE campaign_id = $1",
            &[&id],
        ),
    );
    assert!(cells > batches, "{cells} ledger cells in {batches} commits");

    let planned = Uuid::new_v4();
    let planned_text = planned.to_string();
    let mut plan = vec!["plan"];
    plan.extend(SMALL);
    plan.extend(["--database-url", &url, "--campaign-id", &planned_text]);
    assert_contains(
        dir.run(&plan).success(),
        &["cells of 6250", "workers lease 100000 names at first"],
    );
    let workers: Vec<Child> = ["a", "b"]
        .iter()
        .map(|name| spawn_worker(&dir, &url, planned, name, &[]))
        .collect();
    for (worker, name) in workers.into_iter().zip(["a", "b"]) {
        let out = crate::util::finish(worker, name, Duration::from_secs(120));
        assert!(
            out.status.success(),
            "worker {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let status = dir.run([
        "status",
        "--database-url",
        &url,
        "--campaign-id",
        &planned_text,
    ]);
    assert_contains(
        status.success(),
        &[
            "46656 of 46656 rows (100.0%), complete",
            "cells of 6250: 8 done",
        ],
    );
    assert_exactly_once(&sql, "generated_domains", planned, SMALL_TOTAL);
}
