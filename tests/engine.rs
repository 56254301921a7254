//! `generate` on the parallel engine: threads and batch sizes never change
//! the bytes; reports, budgets and interruption.

use std::process::Stdio;
use std::time::Duration;

use domgen_test_support::wait_for;

use crate::util::{Dir, Domgen, assert_contains, domgen};

const SPEC: &str = r#"
keywords = ["shop", "Café", "data", "SHOP"]
tlds = ["com", "co.uk"]
patterns = ["{keyword}-{alnum:1-2}.{tld}", "x{alpha:2}{digit:1}.com", "{number:01-30}{keyword}.net"]
"#;

#[test]
fn threads_and_batch_sizes_do_not_change_the_output() {
    for order in ["sequential", "shuffled"] {
        let reference = domgen(
            &[("spec.toml", SPEC)],
            &[
                "generate",
                "spec.toml",
                "--order",
                order,
                "--threads",
                "1",
                "--out",
                "-",
            ],
        );
        let reference = reference.success().to_owned();
        assert!(reference.lines().count() > 5000);
        for (threads, batch) in [("2", "7"), ("3", "1000"), ("4", "1")] {
            let out = domgen(
                &[("spec.toml", SPEC)],
                &[
                    "generate",
                    "spec.toml",
                    "--order",
                    order,
                    "--threads",
                    threads,
                    "--batch-size",
                    batch,
                    "--out",
                    "-",
                ],
            );
            assert_eq!(
                out.success(),
                reference,
                "{order} threads={threads} batch={batch}"
            );
        }
    }
}

#[test]
fn stats_are_written_as_json() {
    let dir = Dir::new();
    dir.create("spec.toml", SPEC);
    let out = dir.run([
        "generate",
        "spec.toml",
        "--out",
        "names.txt",
        "--stats",
        "run.json",
        "--threads",
        "2",
    ]);
    out.success();
    let report: serde_json::Value =
        serde_json::from_str(&dir.read("run.json")).expect("the report is JSON");
    let names = dir.read("names.txt").lines().count() as u64;
    assert_eq!(report["names"], names);
    assert_eq!(report["threads"], 2);
    assert_eq!(report["stopped_early"], false);
    assert!(
        report["peak_live_bytes"]
            .as_u64()
            .expect("the binary counts allocations")
            > 0
    );
    assert!(report["live_bytes_before"].is_u64() && report["live_bytes_after"].is_u64());
    for field in [
        "batches",
        "batch_names",
        "in_flight",
        "duration_secs",
        "names_per_sec",
        "allocated_bytes",
        "arena_bytes",
        "pool_hits",
        "pool_misses",
        "peak_rss_bytes",
    ] {
        assert!(!report[field].is_null(), "{field} missing from {report}");
    }
}

#[test]
fn a_memory_budget_too_small_is_refused() {
    let out = domgen(
        &[("spec.toml", SPEC)],
        &[
            "generate",
            "spec.toml",
            "--out",
            "-",
            "--memory-budget",
            "2KiB",
        ],
    );
    let err = out.spec_error();
    assert_contains(
        err,
        &[
            "memory budget of 2048 bytes",
            "raise --memory-budget to at least",
        ],
    );
    let out = domgen(
        &[("spec.toml", SPEC)],
        &[
            "generate",
            "spec.toml",
            "--out",
            "-",
            "--memory-budget",
            "lots",
        ],
    );
    assert_eq!(out.code, Some(2), "{out}");
    let out = domgen(
        &[("spec.toml", SPEC)],
        &["generate", "spec.toml", "--out", "-", "--threads", "0"],
    );
    assert_contains(out.spec_error(), &["--threads must be at least 1"]);
}

#[test]
fn an_interrupt_stops_at_a_batch_boundary_and_says_what_was_written() {
    let dir = Dir::new();
    // Far more names than can be written before the signal arrives.
    let pattern = "{alnum:9}.com";
    let child = dir
        .command([
            "generate",
            "--pattern",
            pattern,
            "--batch-size",
            "1000",
            "--out",
            "names.txt",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start domgen");
    let file = dir.path().join("names.txt");
    wait_for(
        "a first batch in names.txt",
        Duration::from_secs(30),
        || std::fs::metadata(&file).is_ok_and(|m| m.len() > 0),
    );
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("cannot run kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("cannot wait for domgen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {stderr}");
    let written: u64 = stderr
        .split("wrote positions 0..")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no written range in: {stderr}"));
    assert!(written > 0 && written % 1000 == 0, "{stderr}");
    assert_contains(&stderr, &[&format!("--offset {written}")]);
    let names = dir.read("names.txt");
    assert_eq!(names.lines().count() as u64, written);
    let expected = domgen(
        &[],
        &[
            "generate",
            "--pattern",
            pattern,
            "--limit",
            &written.to_string(),
            "--out",
            "-",
        ],
    );
    assert!(
        names == expected.success(),
        "the file holds exactly the reported positions"
    );
}
