//! `generate --monitor`, `monitor` and `report` against a real PostgreSQL.

use crate::pg::migrated_database;
use crate::util::{Dir, Output};

/// The run id `--monitor` prints.
fn run_id(out: &Output) -> String {
    assert_eq!(out.code, Some(0), "{out}");
    let line = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("monitor: run "))
        .unwrap_or_else(|| panic!("no run id in\n{out}"));
    line.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn generate_monitor_then_report_svg_png_json_csv() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let out = dir.run([
        "generate",
        "--pattern",
        "{alnum:4}{digit:1}.com",
        "--out",
        "/dev/null",
        "--no-progress",
        "--monitor",
        "--monitor-interval",
        "100ms",
        "--database-url",
        &url,
    ]);
    let run = run_id(&out);
    assert!(out.stderr.contains(" 0 dropped, 0 leaks reported"), "{out}");

    let svg = dir.run([
        "report",
        "--run",
        &run,
        "--out",
        "run.svg",
        "--database-url",
        &url,
    ]);
    assert_eq!(svg.code, Some(0), "{svg}");
    let text = dir.read("run.svg");
    let doc = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    for id in ["live-heap", "rss"] {
        let path = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap_or_else(|| panic!("no series {id}"));
        let d = path.attribute("d").unwrap();
        assert!(d.starts_with('M') && d.contains('L'), "{id}: {d}");
    }
    let normal = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("state normal"))
        .count();
    assert!(normal >= 1, "state bands");

    let png = dir.run([
        "report",
        "--run",
        &run,
        "--out",
        "run.png",
        "--database-url",
        &url,
    ]);
    assert_eq!(png.code, Some(0), "{png}");
    let file = std::fs::File::open(dir.path().join("run.png")).unwrap();
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a PNG image");
    assert_eq!((info.width, info.height), (900, 420));
    assert!(buf.iter().any(|&b| b != 255), "something is drawn");

    let csv = dir.run([
        "report",
        "--run",
        &run,
        "--format",
        "csv",
        "--database-url",
        &url,
    ]);
    assert_eq!(csv.code, Some(0), "{csv}");
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert!(lines[0].starts_with("secs,sampled_at,heap_used_bytes"));
    assert!(lines.len() >= 2, "{csv}");
    let json = dir.run([
        "report",
        "--run",
        &run,
        "--format",
        "json",
        "--database-url",
        &url,
    ]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        value["samples"].as_array().unwrap().len(),
        lines.len() - 1,
        "json and csv show the same samples"
    );
}

#[test]
fn report_of_an_unknown_run_says_what_to_do() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let out = dir.run([
        "report",
        "--run",
        "00000000-0000-0000-0000-000000000001",
        "--out",
        "x.svg",
        "--database-url",
        &url,
    ]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("--monitor"), "{out}");
}

#[test]
fn monitor_samples_another_process_for_a_duration() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let mut sleeper = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = sleeper.id().to_string();
    let out = dir.run([
        "monitor",
        "--pid",
        &pid,
        "--interval",
        "100ms",
        "--duration",
        "1s",
        "--database-url",
        &url,
    ]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let run = run_id(&out);
    let csv = dir.run([
        "report",
        "--run",
        &run,
        "--format",
        "csv",
        "--database-url",
        &url,
    ]);
    let samples = csv.stdout.lines().count() - 1;
    assert!(
        (8..=13).contains(&samples),
        "{samples} samples in 1 s at 100 ms\n{csv}"
    );
}

/// The default path: names into PostgreSQL, the monitor's samples into the
/// same database, every name exactly once and the samples under the run id
/// printed.
#[test]
fn generate_into_postgres_with_monitor() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let id = uuid::Uuid::new_v4();
    let out = dir.run([
        "generate",
        "--pattern",
        "{alnum:3}{digit:1}.com",
        "--campaign-id",
        &id.to_string(),
        "--no-progress",
        "--monitor",
        "--monitor-interval",
        "100ms",
        "--database-url",
        &url,
    ]);
    let run = run_id(&out);
    assert!(out.stderr.contains(" 0 dropped, "), "{out}");
    let sql = crate::pg::Sql::connect(&url);
    // 36^3 * 10 names.
    sql.assert_exactly_once("generated_domains", id, 466_560);
    let run: uuid::Uuid = run.parse().unwrap();
    let samples = sql.int(
        "SELECT count(*) FROM memory_metrics WHERE run_id = $1",
        &[&run],
    );
    assert!(samples >= 1, "no samples under run {run}\n{out}");
    let bad = sql.int(
        "SELECT count(*) FROM memory_metrics
         WHERE run_id = $1 AND (heap_used_bytes <= 0 OR rss_bytes <= 0)",
        &[&run],
    );
    assert_eq!(bad, 0, "every sample has a live heap and an RSS\n{out}");
}
