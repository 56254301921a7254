//! `generate --monitor`, `monitor` and `report` against a real PostgreSQL.

use crate::pg::{Checks, migrated_database};
use crate::util::{Dir, Domgen, Output};

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

    // The number of samples, to check each series has a point per sample.
    let samples = dir.run([
        "report",
        "--run",
        &run,
        "--format",
        "csv",
        "--database-url",
        &url,
    ]);
    assert_eq!(samples.code, Some(0), "{samples}");
    let samples = samples.stdout.lines().count() - 1;
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
    assert_eq!(svg.code, Some(0), "{svg}");
    let text = dir.read("run.svg");
    let doc = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    // plotters draws a series as a <polyline>; ours are known by their stroke
    // (src/plot.rs: live heap #D62728, RSS #1F77B4), the longest one of each
    // colour being the series (the legend's sample is two points).
    for (name, stroke) in [("live heap", "#d62728"), ("RSS", "#1f77b4")] {
        let points = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .filter(|n| {
                n.attribute("stroke")
                    .is_some_and(|s| s.eq_ignore_ascii_case(stroke))
            })
            .map(|n| {
                n.attribute("points")
                    .unwrap_or("")
                    .split_whitespace()
                    .count()
            })
            .max()
            .unwrap_or_else(|| panic!("no {stroke} polyline for {name}"));
        assert!(
            points >= samples,
            "{name}: {points} points for {samples} samples"
        );
        assert!(
            doc.descendants()
                .any(|n| n.has_tag_name("text") && n.text().map(str::trim) == Some(name)),
            "no legend text {name:?}"
        );
    }
    for label in ["time since the first sample (s)", "memory (MiB)"] {
        assert!(
            doc.descendants()
                .any(|n| n.has_tag_name("text") && n.text().map(str::trim) == Some(label)),
            "no axis label {label:?}"
        );
    }
    // The state bands: the run stayed normal, so at least one rect is filled
    // with normal's colour (src/plot.rs STATES).
    let normal = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter(|n| {
            n.attribute("fill")
                .is_some_and(|f| f.eq_ignore_ascii_case("#dff0d8"))
        })
        .count();
    assert!(
        normal >= 2,
        "a normal state band and its legend entry: {normal}"
    );

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
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels: Vec<&[u8]> = buf.chunks(3).collect();
    for (what, rgb) in [
        ("live heap", [0xd6, 0x27, 0x28]),
        ("RSS", [0x1f, 0x77, 0xb4]),
        ("the normal band", [0xdf, 0xf0, 0xd8]),
    ] {
        let n = pixels.iter().filter(|p| **p == rgb).count();
        assert!(n >= 100, "{what}: {n} pixels of its colour in the PNG");
    }
    // Text is drawn: anti-aliased grey pixels, which nothing else makes.
    let grey = pixels
        .iter()
        .filter(|p| p[0] == p[1] && p[1] == p[2] && p[0] > 0 && p[0] < 200)
        .count();
    assert!(grey >= 200, "{grey} grey (text) pixels in the PNG");

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

#[test]
fn monitor_shows_samples_the_database_rejects_and_the_last_error() {
    let dir = Dir::new();
    let url = migrated_database(&dir);
    let sql = crate::pg::Sql::connect(&url);
    sql.execute("ALTER FUNCTION record_memory_sample RENAME TO record_memory_sample_away");
    let out = dir.run([
        "monitor",
        "--interval",
        "100ms",
        "--duration",
        "1s",
        "--database-url",
        &url,
    ]);
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stderr.contains(" 0 written, "), "{out}");
    assert!(!out.stderr.contains(" 0 rejected, "), "{out}");
    let last = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("monitor: last write error, "))
        .unwrap_or_else(|| panic!("no last error in\n{out}"));
    assert!(
        last.contains(" s before the end (rejected, dropped): recording a sample: PostgreSQL: function record_memory_sample(")
            && last.ends_with("[SQLSTATE 42883]"),
        "{out}"
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

#[test]
fn an_interval_under_100ms_is_refused() {
    let dir = Dir::new();
    for args in [
        vec!["monitor", "--interval", "50ms", "--duration", "1s"],
        vec![
            "generate",
            "--pattern",
            "a.com",
            "--out",
            "-",
            "--monitor",
            "--monitor-interval",
            "99ms",
        ],
    ] {
        let out = dir.run(args);
        assert_eq!(out.code, Some(2), "{out}");
        assert!(
            out.stderr
                .contains("shorter than the monitor's shortest interval, 100 ms"),
            "{out}"
        );
    }
}
