//! `--monitor` on `generate`, and the `monitor` and `report` commands.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use domgen::engine::{Gauge, Generator, Report};
use domgen::monitor::{Config, Handle, Monitor, RecordErrorKind, Summary};
use domgen::pg::monitor::PgRecorder;
use domgen::pg::read::{LeakReport, Sample};

use crate::cli::ConnArgs;
use crate::db_cmd;
use crate::failure::Failure;

/// A duration: `250ms`, `1s`, `5m`, `2h`, or a number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration such as 250ms, 1s, 5m or 2h"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("`{other}` is not a unit of time (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

/// A sampling interval: a duration no shorter than the monitor's shortest.
fn parse_interval(s: &str) -> Result<Duration, String> {
    let interval = parse_duration(s)?;
    if interval < domgen::monitor::MIN_INTERVAL {
        return Err(format!(
            "`{}` is shorter than the monitor's shortest interval, {} ms; sample less often",
            s.trim(),
            domgen::monitor::MIN_INTERVAL.as_millis()
        ));
    }
    Ok(interval)
}

/// The monitor's thresholds, shared by `generate --monitor` and `monitor`.
#[derive(Debug, Args)]
pub struct Thresholds {
    /// The heap the utilisation is a share of (75 % warning, 90 % critical).
    #[arg(long, value_name = "SIZE", default_value = "1GiB")]
    pub max_heap: bytesize::ByteSize,
    /// RSS above which the memory state counts as critical.
    #[arg(long, value_name = "SIZE", default_value = "2GiB")]
    pub max_memory: bytesize::ByteSize,
    /// Samples kept for the leak rules.
    #[arg(long, value_name = "N", default_value_t = 360)]
    pub history: usize,
    /// Rapid growth: live heap this far above its baseline within 5 minutes.
    #[arg(long, value_name = "SIZE", default_value = "100MiB")]
    pub leak_rapid: bytesize::ByteSize,
    /// Steady growth: a slope of the live heap above SIZE per minute (R² ≥ 0.9).
    #[arg(long, value_name = "SIZE", default_value = "10MiB")]
    pub leak_steady: bytesize::ByteSize,
    /// Thread growth: this many threads more than at the start.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub leak_threads: u64,
    /// Per run: live heap left behind of at least SIZE is a leak.
    #[arg(long, value_name = "SIZE", default_value = "256KiB")]
    pub leak_operation: bytesize::ByteSize,
}

impl Thresholds {
    fn config(&self, interval: Duration) -> Config {
        let defaults = Config::default();
        Config {
            interval,
            history: self.history.max(2),
            max_heap: self.max_heap.as_u64(),
            max_memory: self.max_memory.as_u64(),
            rapid_bytes: self.leak_rapid.as_u64(),
            // Exact below 2^53 bytes a minute.
            steady_bytes_per_min: self.leak_steady.as_u64() as f64,
            thread_growth: self.leak_threads,
            operation_bytes: self.leak_operation.as_u64(),
            ..defaults
        }
    }
}

/// `generate`'s monitor flags.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Sample memory while the run goes and record it in PostgreSQL
    /// (memory_metrics; leaks in memory_leak_detection): --database-url,
    /// DATABASE_URL, PG* or the local cluster.
    #[arg(long)]
    pub monitor: bool,
    /// Time between samples (at least 100ms).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_interval, requires = "monitor")]
    pub monitor_interval: Duration,
    #[command(flatten)]
    pub thresholds: Thresholds,
}

/// A recorder for a database checked (and, when local, migrated) for the monitor.
fn recorder(conn: &ConnArgs) -> Result<PgRecorder, Failure> {
    let (_rt, db, _client) = db_cmd::open(conn)?;
    PgRecorder::new(db.clone()).map_err(|e| {
        Failure::Run(anyhow::Error::new(e).context("cannot start the monitor's writer"))
    })
}

/// A monitor around one generation run.
pub struct Session {
    handle: Handle,
    run_id: uuid::Uuid,
}

impl Session {
    /// Starts a monitor when `--monitor` was given, with the engine's
    /// throttle as its pressure callback.
    pub fn start(
        args: &MonitorArgs,
        conn: &ConnArgs,
        gauge: &Arc<Gauge>,
        generator: &Generator,
    ) -> Result<Option<Session>, Failure> {
        let in_flight = generator.in_flight();
        if !args.monitor {
            return Ok(None);
        }
        let run_id = uuid::Uuid::new_v4();
        let mut config = args.thresholds.config(args.monitor_interval);
        let recorder = recorder(conn)?;
        config.run_id = Some(run_id);
        config.on_pressure(domgen::monitor::throttle(gauge.clone(), in_flight));
        crate::term::note!("monitor: run {run_id} (domgen report --run {run_id} --out run.svg)");
        Ok(Some(Session {
            handle: Monitor::start_recording(config, Some(gauge.clone()), recorder)
                .context("cannot start the monitor")?,
            run_id,
        }))
    }

    /// Applies the per-run rule to `report`, stops the monitor and says
    /// what it did.
    pub fn finish(self, report: Option<&Report>) -> Summary {
        if let Some(r) = report
            && let (Some(before), Some(after)) = (r.live_bytes_before, r.live_bytes_after)
        {
            self.handle
                .operation(&self.run_id.to_string(), before, after);
        }
        let summary = self.handle.stop();
        print_summary(&summary);
        summary
    }
}

fn print_summary(s: &Summary) {
    let cpu_ms = s.cpu_ns as f64 / 1e6;
    crate::term::note!(
        "monitor: {} samples, {} written, {} dropped, {} leaks reported ({} written), {} write errors, {} rejected, {} unwritten; monitor threads' CPU {cpu_ms:.1} ms",
        s.samples,
        s.written,
        s.dropped,
        s.leaks,
        s.leaks_written,
        s.write_errors,
        s.rejected,
        s.unwritten
    );
    if let Some(e) = &s.last_error {
        let before = e.at.elapsed().unwrap_or_default().as_secs_f64();
        let fate = match e.kind {
            RecordErrorKind::Rejected => "rejected, dropped",
            _ => "kept to try again",
        };
        crate::term::note!(
            "monitor: last write error, {before:.1} s before the end ({fate}): {}",
            e.message
        );
    }
}

/// `domgen monitor`'s arguments.
#[derive(Debug, Args)]
pub struct MonitorCmd {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The process to sample (RSS and threads from /proc/PID); default: this one.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Time between samples (at least 100ms).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_interval)]
    pub interval: Duration,
    /// Stop after this long (default: when the process ends, or at Ctrl-C).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// The run id to record the samples under (default: a new one, printed).
    #[arg(long, value_name = "UUID")]
    pub run: Option<uuid::Uuid>,
    #[command(flatten)]
    pub thresholds: Thresholds,
}

/// `domgen monitor`: samples a process until it ends, the duration is up,
/// or Ctrl-C.
pub fn monitor(cmd: &MonitorCmd) -> Result<(), Failure> {
    let run_id = cmd.run.unwrap_or_else(uuid::Uuid::new_v4);
    let mut config = cmd.thresholds.config(cmd.interval);
    let recorder = recorder(&cmd.conn)?;
    config.run_id = Some(run_id);
    config.pid = cmd.pid;
    if let Some(pid) = cmd.pid
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    {
        return Err(Failure::Usage(anyhow::anyhow!("there is no process {pid}")));
    }
    eprintln!("monitor: run {run_id} (domgen report --run {run_id} --out run.svg)");
    let cancel = crate::term::interrupt_token();
    let handle =
        Monitor::start_recording(config, None, recorder).context("cannot start the monitor")?;
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let gone = cmd
            .pid
            .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
        let over = cmd.duration.is_some_and(|d| started.elapsed() >= d);
        if gone || over || cancel.is_cancelled() {
            break;
        }
    }
    print_summary(&handle.stop());
    Ok(())
}

/// `domgen report`'s arguments.
#[derive(Debug, Args)]
pub struct ReportCmd {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The run whose samples to show (printed by `--monitor` and `monitor`).
    #[arg(long, value_name = "UUID")]
    pub run: uuid::Uuid,
    /// Where to write: a .svg or .png picture, or the raw samples with --format.
    #[arg(long, value_name = "PATH|-", default_value = "-")]
    pub out: PathBuf,
    /// The raw samples as json or csv instead of a picture.
    #[arg(long, value_name = "json|csv")]
    pub format: Option<Format>,
}

/// The raw formats of `report`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// One JSON object: the run, its samples and its leaks.
    Json,
    /// One line per sample, with a header.
    Csv,
}

/// Samples and leaks of `run`.
fn load(conn: &ConnArgs, run: uuid::Uuid) -> Result<(Vec<Sample>, Vec<LeakReport>), Failure> {
    let db = conn.database()?;
    let rt = db_cmd::runtime()?;
    let client = rt.block_on(db.connect())?;
    let (samples, leaks) = rt
        .block_on(domgen::pg::read::run_samples(&client, run))
        .map_err(|e| Failure::Run(e.into()))?;
    if samples.is_empty() {
        return Err(Failure::Usage(anyhow::anyhow!(
            "no samples of run {run} in memory_metrics at {db}; run `domgen generate … --monitor` or `domgen monitor` first"
        )));
    }
    Ok((samples, leaks))
}

/// `domgen report`: a run's samples as a picture, JSON or CSV.
pub fn report(cmd: &ReportCmd) -> Result<(), Failure> {
    let (samples, leaks) = load(&cmd.conn, cmd.run)?;
    let picture = cmd.format.is_none();
    let ext = cmd.out.extension().and_then(|e| e.to_str()).unwrap_or("");
    let bytes = match cmd.format {
        Some(Format::Json) => serde_json::to_vec_pretty(&serde_json::json!({
            "run_id": cmd.run, "samples": samples, "leaks": leaks,
        }))
        .context("cannot encode the samples")?,
        Some(Format::Csv) => csv(&samples).into_bytes(),
        None => match ext {
            "svg" => crate::plot::svg(cmd.run, &samples, &leaks)?.into_bytes(),
            "png" => crate::plot::png(cmd.run, &samples, &leaks)?,
            _ => {
                return Err(Failure::Usage(anyhow::anyhow!(
                    "--out {} is neither .svg nor .png; give one, or --format json|csv",
                    cmd.out.display()
                )));
            }
        },
    };
    if cmd.out.as_os_str() == "-" {
        if picture {
            return Err(Failure::Usage(anyhow::anyhow!(
                "a picture needs --out run.svg or run.png; for standard output give --format json|csv"
            )));
        }
        std::io::stdout()
            .lock()
            .write_all(&bytes)
            .context("cannot write the samples")?;
    } else {
        std::fs::write(&cmd.out, bytes)
            .with_context(|| format!("cannot write {}", cmd.out.display()))?;
    }
    Ok(())
}

fn csv(samples: &[Sample]) -> String {
    let mut out = String::from(
        "secs,sampled_at,heap_used_bytes,heap_size_bytes,rss_bytes,peak_heap_bytes,threads,batches_in_flight,memory_state\n",
    );
    let opt = |x: Option<i64>| x.map(|v| v.to_string()).unwrap_or_default();
    for s in samples {
        out.push_str(&format!(
            "{:.3},{},{},{},{},{},{},{},{}\n",
            s.secs,
            s.sampled_at,
            s.heap_used_bytes,
            s.heap_size_bytes,
            opt(s.rss_bytes),
            opt(s.peak_heap_bytes),
            s.threads.map(|t| t.to_string()).unwrap_or_default(),
            opt(s.batches_in_flight),
            s.memory_state.as_deref().unwrap_or(""),
        ));
    }
    out
}
