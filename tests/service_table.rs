//! `generate --table generated_domains` into the campaign service's own
//! table (`SERVICE_SCHEMA`: 25 indexes, a foreign key, per-row counter and
//! audit triggers, loaded before `domgen migrate` as in the service's
//! database) for a campaign the service has: SIGKILLed once a batch is
//! committed, then `--resume`. Every position exactly once, with its
//! provenance, and the counters and the audit count each row once: a
//! killed batch's trigger work rolls back with its rows.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use domgen_test_support::{SERVICE_SCHEMA, fresh_database, service_campaign, wait_for};
use uuid::Uuid;

use crate::pg::{Checks, Sql};
use crate::util::{Dir, Domgen, assert_contains, capture};

const PATTERN: &str = "{keyword}-{alnum:3}.{tld}";

/// 30,000 of the 4 × 36³ names, shuffled: at the default batch size, a
/// few batches, each a few seconds of trigger work; a batch size of its
/// own would hide what the default does here.
const SPEC: [&str; 16] = [
    "--keyword",
    "shop",
    "--keyword",
    "cloud",
    "--tld",
    "com",
    "--tld",
    "net",
    "--pattern",
    PATTERN,
    "--order",
    "shuffled",
    "--seed",
    "3",
    "--limit",
    "30000",
];
const TOTAL: i64 = 30_000;

/// Rows of `id`: in `generated_domains`, in its counters row, in the audit.
fn counted(sql: &Sql, id: Uuid) -> [i64; 3] {
    let row = &sql.query(
        "SELECT (SELECT count(*) FROM generated_domains WHERE campaign_id = $1),
                (SELECT coalesce(sum(total_domains), 0)::bigint FROM campaign_domain_counters
                  WHERE campaign_id = $1),
                (SELECT count(*) FROM generated_domains_audit WHERE campaign_id = $1)",
        &[&id],
    )[0];
    [row.get(0), row.get(1), row.get(2)]
}

#[test]
fn kill_9_then_resume_into_the_services_table_writes_and_counts_every_position_once() {
    let dir = Dir::new();
    let url = fresh_database();
    let sql = Sql::connect(&url);
    sql.execute(SERVICE_SCHEMA);
    dir.run(["migrate", "--database-url", &url]).success();
    let id = Uuid::new_v4();
    sql.execute(&service_campaign(id));
    let id_text = id.to_string();
    let generate = |resume: bool| {
        let mut args = vec!["generate"];
        args.extend(SPEC);
        args.extend([
            "--table",
            "generated_domains",
            "--database-url",
            &url,
            "--campaign-id",
            &id_text,
            "--no-progress",
        ]);
        if resume {
            args.push("--resume");
        }
        dir.command(args)
    };

    let mut child = generate(false)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("domgen generate starts");
    wait_for("a committed batch", Duration::from_secs(120), || {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("generate ended ({status}) before its first commit");
        }
        sql.committed(id) > 0
    });
    child.kill().expect("kill -9");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.signal(),
        Some(9),
        "generate ended before its kill: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    sql.wait_for_other_backends_to_end();
    let committed = sql.committed(id);
    eprintln!("killed after {committed} of {TOTAL} rows were committed");
    assert!(
        0 < committed && committed < TOTAL,
        "killed with {committed} of {TOTAL} rows: the kill must land mid-run"
    );
    assert_eq!(
        counted(&sql, id),
        [committed; 3],
        "rows, counted, audited: the committed batches' and no more"
    );

    let resumed = capture(generate(true));
    assert_eq!(resumed.code, Some(0), "{resumed}");
    // The service's columns are found and filled, and the triggers make
    // the batch size measured, from small batches, in cells of 100.
    assert_contains(
        &resumed.stderr,
        &[
            "batches: 1000 names to start, then as measured, in cells of 100: \
             generated_domains has row triggers on INSERT \
             (generated_domains_audit, generated_domains_counters)",
            "provenance columns: source_keyword, source_pattern, tld\n",
        ],
    );
    assert_contains(
        &resumed.stdout,
        &[
            &format!("the campaign has {TOTAL} of {TOTAL} rows"),
            "in cells of 100",
        ],
    );
    assert_eq!(
        sql.int(
            "SELECT count(*) FROM generation_batches WHERE campaign_id = $1 AND batch_end - batch_start = 100",
            &[&id],
        ),
        TOTAL / 100,
        "a ledger row per cell"
    );
    sql.assert_exactly_once("generated_domains", id, TOTAL);
    assert_eq!(counted(&sql, id), [TOTAL; 3], "rows, counted, audited");
    let mut oracle = vec!["generate"];
    oracle.extend(SPEC);
    oracle.extend(["--out", "-"]);
    assert!(
        dir.run(oracle).success() == sql.names_in_order(id),
        "the names in offset order are those `generate --out -` writes"
    );
    // Both runs filled the provenance columns of their rows.
    let with_pieces = sql.int(
        "SELECT count(*) FROM generated_domains
          WHERE campaign_id = $1 AND source_pattern = $2
            AND domain_name LIKE source_keyword || '-___.' || tld",
        &[&id, &PATTERN],
    );
    assert_eq!(with_pieces, TOTAL);
}
