//! The `domgen` command.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use domgen::engine::{CancelToken, GeneratorBuilder, Lines, WriteSink};
use domgen::{Order, Space, Spec, WordList};

mod monitor_cmd;
mod plot;
mod workers_cmd;

#[global_allocator]
static ALLOC: domgen::alloc::CountingAlloc = domgen::alloc::CountingAlloc;

const EXAMPLES: &str = "\
Examples:
  domgen generate examples/campaign.toml          # into the local PostgreSQL under ./.domgen
  domgen generate examples/campaign.toml --database-url postgres://me@db/campaigns --campaign-id UUID --resume
  domgen check examples/campaign.toml
  domgen count --pattern 'shop{alpha:5}{digit:1}.com'
  domgen generate examples/campaign.toml --out names.txt
  domgen plan examples/campaign.toml --campaign-id UUID --batch-size 50000   # then, on any machine:
  domgen worker --campaign-id UUID --database-url postgres://me@db/campaigns
  domgen status --campaign-id UUID
  domgen generate --keyword shop --keyword café --tld com --tld co.uk \\
      --pattern '{keyword}-{random:3}.{tld}' --order shuffled --seed 7 --limit 1000 --out -";

/// Generate domain names from keywords, TLDs and patterns, exactly and in
/// bounded memory.
///
/// A spec (a TOML file and/or flags; flags override the file) lists
/// keywords, TLDs, named lists, charsets and patterns such as
/// `{keyword}-{random:3}.{tld}`. Every name has an index, and the count is
/// known before a name is made.
#[derive(Debug, Parser)]
#[command(name = "domgen", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once, lives for the whole run"
)]
enum Command {
    /// Validate a spec; print the total, each pattern's count and the first names.
    #[command(after_help = EXAMPLES)]
    Check {
        #[command(flatten)]
        spec: SpecArgs,
        /// How many names to show.
        #[arg(long, default_value_t = 5)]
        show: u64,
    },
    /// Print the exact number of names `generate` would write.
    #[command(after_help = EXAMPLES)]
    Count {
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Write names into PostgreSQL (the default) or, with --out, one per line to a file.
    #[command(after_help = EXAMPLES)]
    Generate {
        #[command(flatten)]
        spec: SpecArgs,
        /// Write lines to a file path, or `-` for standard output, instead of PostgreSQL.
        #[arg(long, value_name = "PATH|-")]
        out: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Register a campaign for workers: its spec, order, positions and batch size.
    Plan {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        args: workers_cmd::PlanArgs,
    },
    /// Write a planned campaign's batches, claimed under a lease, until it is complete.
    Worker {
        #[command(flatten)]
        args: workers_cmd::WorkerArgs,
    },
    /// Show a planned campaign's progress: batches done, leased, pending; rows, rate, workers.
    Status {
        #[command(flatten)]
        args: workers_cmd::StatusArgs,
    },
    /// Sample a process's memory into PostgreSQL (memory_metrics) until it
    /// ends, --duration is up, or Ctrl-C; leaks go to memory_leak_detection.
    Monitor(monitor_cmd::MonitorCmd),
    /// Draw a monitored run's memory over time (.svg or .png), or print its
    /// samples (--format json|csv).
    Report(monitor_cmd::ReportCmd),
    /// Apply domgen's migrations to a database (idempotent).
    Migrate {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Manage the local PostgreSQL cluster under ./.domgen.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Debug, Subcommand)]
enum DbAction {
    /// Create (if needed) and start the local cluster; print its connection string.
    Start,
    /// Stop the local cluster.
    Stop,
    /// Say whether the local cluster exists and runs.
    Status,
    /// Print the local cluster's connection string.
    Url,
}

/// Which database: a URL, DATABASE_URL, libpq's PG* variables, or the
/// local cluster under ./.domgen, in that order.
#[derive(Debug, Args)]
struct ConnArgs {
    /// A PostgreSQL connection string (postgres://… or key=value …).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

/// The campaign PostgreSQL output belongs to.
#[derive(Debug, Args)]
struct DbArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The campaign's id (default: a new one, printed).
    #[arg(long, value_name = "UUID")]
    campaign_id: Option<uuid::Uuid>,
    /// Finish the campaign: write exactly the positions not yet committed.
    #[arg(long)]
    resume: bool,
    /// The table to COPY into (columns campaign_id, offset_index, domain_name).
    #[arg(long, value_name = "NAME", default_value = "generated_domains")]
    table: String,
    /// Take the next --limit positions of this spec that no earlier campaign
    /// took (a cursor per spec in domain_generation_config_states), so
    /// campaigns with the same spec never repeat a name.
    #[arg(long = "continue", conflicts_with_all = ["resume", "offset"])]
    continue_: bool,
    /// Skip names the table has already, across patterns and campaigns
    /// (a unique index on domain_name; staging + INSERT … ON CONFLICT DO NOTHING).
    #[arg(long)]
    unique: bool,
    /// Connections that COPY batches in parallel.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    connections: u16,
}

/// The spec: a file and flags that override it.
#[derive(Debug, Args)]
struct SpecArgs {
    /// A TOML spec file.
    #[arg(value_name = "SPEC")]
    file: Option<PathBuf>,
    /// A keyword (repeatable); replaces the file's keywords.
    #[arg(long = "keyword", value_name = "K")]
    keywords: Vec<String>,
    /// A file of keywords, one per line (`#` starts a comment).
    #[arg(long, value_name = "F")]
    keywords_file: Option<PathBuf>,
    /// A TLD (repeatable), e.g. `com` or `co.uk`; replaces the file's TLDs.
    #[arg(long = "tld", value_name = "T")]
    tlds: Vec<String>,
    /// A file of TLDs, one per line.
    #[arg(long, value_name = "F")]
    tlds_file: Option<PathBuf>,
    /// A pattern (repeatable), e.g. `{keyword}-{random:3}.{tld}`; replaces the file's patterns.
    #[arg(long = "pattern", value_name = "P")]
    patterns: Vec<String>,
    /// A named list for `{list:NAME}`, read from a word file (repeatable).
    #[arg(long = "list", value_name = "NAME=FILE", value_parser = parse_pair)]
    lists: Vec<(String, String)>,
    /// A custom charset for `{NAME:N}`, characters from a-z0-9 in order (repeatable).
    #[arg(long = "charset", value_name = "NAME=CHARS", value_parser = parse_pair)]
    charsets: Vec<(String, String)>,
    /// Accept TLDs that are not on the Public Suffix List.
    #[arg(long)]
    allow_unknown_tlds: bool,
    /// The order of names.
    #[arg(long, value_name = "sequential|shuffled")]
    order: Option<Order>,
    /// The key of the shuffled order.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The first position to write.
    #[arg(long, value_name = "N")]
    offset: Option<u64>,
    /// How many names to write at most.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
}

/// How a generation runs.
#[derive(Debug, Args)]
struct RunArgs {
    /// Do not show a progress bar (it is shown only when stderr is a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// The most heap the run may hold, e.g. 64MiB; batch size and the
    /// in-flight limit are derived from it.
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    memory_budget: bytesize::ByteSize,
    /// Names per batch (default: derived from the memory budget).
    #[arg(long, value_name = "N")]
    batch_size: Option<u64>,
    /// Write the run report (names, batches, timings, memory) as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    stats: Option<PathBuf>,
    #[command(flatten)]
    monitor: monitor_cmd::MonitorArgs,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

impl SpecArgs {
    /// The file's spec with the flags applied.
    fn load(&self) -> Result<Spec, domgen::Error> {
        let mut spec = match &self.file {
            Some(path) => domgen::load::spec_file(path)?,
            None => Spec::default(),
        };
        if let Some(path) = &self.keywords_file {
            spec.keywords = domgen::load::word_file(path)?;
        } else if !self.keywords.is_empty() {
            spec.keywords = WordList::inline(self.keywords.iter().cloned());
        }
        if let Some(path) = &self.tlds_file {
            spec.tlds = domgen::load::word_file(path)?;
        } else if !self.tlds.is_empty() {
            spec.tlds = WordList::inline(self.tlds.iter().cloned());
        }
        if !self.patterns.is_empty() {
            spec.patterns.clone_from(&self.patterns);
        }
        for (name, file) in &self.lists {
            spec.lists
                .insert(name.clone(), domgen::load::word_file(file.as_ref())?);
        }
        for (name, chars) in &self.charsets {
            spec.charsets.insert(name.clone(), chars.clone());
        }
        spec.allow_unknown_tlds |= self.allow_unknown_tlds;
        if let Some(order) = self.order {
            spec.order = order;
        }
        if let Some(seed) = self.seed {
            spec.seed = seed;
        }
        if let Some(offset) = self.offset {
            spec.offset = offset;
        }
        if self.limit.is_some() {
            spec.limit = self.limit;
        }
        Ok(spec)
    }

    fn compile(&self) -> Result<Space, domgen::Error> {
        self.compile_spec(&self.load()?)
    }

    /// Compiles a spec loaded by [`SpecArgs::load`]; errors name the file.
    fn compile_spec(&self, spec: &Spec) -> Result<Space, domgen::Error> {
        Space::compile(spec).map_err(|e| match &self.file {
            Some(file) => e.in_source(&file.display().to_string()),
            None => e,
        })
    }
}

/// A failure and the exit code it earns: 2 for a bad spec or bad flags,
/// 1 for a failure while running, 130 when interrupted.
enum Failure {
    Usage(anyhow::Error),
    Run(anyhow::Error),
    Interrupted,
}

impl From<domgen::Error> for Failure {
    fn from(e: domgen::Error) -> Failure {
        Failure::Usage(e.into())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Run(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { spec, show } => check(&spec, show),
        Command::Count { spec } => count(&spec),
        Command::Generate {
            spec,
            out: Some(out),
            run,
            db,
        } => generate(&spec, &out, &run, &db.conn),
        Command::Generate {
            spec,
            out: None,
            run,
            db,
        } => generate_pg(&spec, &run, &db),
        Command::Plan { spec, args } => workers_cmd::plan(&spec, &args),
        Command::Worker { args } => workers_cmd::worker(&args),
        Command::Status { args } => workers_cmd::status(&args),
        Command::Monitor(cmd) => monitor_cmd::monitor(&cmd),
        Command::Report(cmd) => monitor_cmd::report(&cmd),
        Command::Migrate { conn } => migrate(&conn),
        Command::Db { action } => db(&action),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Interrupted) => ExitCode::from(130),
        Err(Failure::Run(e)) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", chain(&e));
            ExitCode::from(1)
        }
    }
}

/// An error and its causes, each shown once: a cause whose text the message
/// before it already holds is skipped.
fn chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

fn check(args: &SpecArgs, show: u64) -> Result<(), Failure> {
    let space = args.compile()?;
    let mut out = io::stdout().lock();
    let patterns = space.patterns().len();
    let mut run = || -> io::Result<()> {
        writeln!(
            out,
            "total: {} names from {patterns} pattern{}",
            space.total(),
            if patterns == 1 { "" } else { "s" }
        )?;
        let width = space
            .patterns()
            .map(|p| p.text.chars().count())
            .max()
            .unwrap_or(0);
        for (i, p) in space.patterns().enumerate() {
            writeln!(
                out,
                "  {:>2}. {:<width$}  {:>20} names  (indexes {}..{})",
                i + 1,
                p.text,
                p.count,
                p.start,
                p.start + p.count
            )?;
        }
        let sel = space.selection();
        writeln!(
            out,
            "selected: positions {}..{} in {} order ({} names)",
            sel.start,
            sel.end,
            space.order(),
            space.len()
        )?;
        if space.order() == Order::Shuffled {
            writeln!(out, "seed: {}", space.seed())?;
        }
        let first = sel.start..sel.start + show.min(space.len());
        if !first.is_empty() {
            writeln!(out, "first names:")?;
            let mut cursor = space.cursor(first);
            let mut line = Vec::new();
            while cursor.write_next(&mut line).is_some() {
                out.write_all(b"  ")?;
                line.push(b'\n');
                out.write_all(&line)?;
                line.clear();
            }
        }
        out.flush()
    };
    run().context("cannot write to standard output")?;
    Ok(())
}

fn count(args: &SpecArgs) -> Result<(), Failure> {
    let space = args.compile()?;
    let mut out = io::stdout().lock();
    writeln!(out, "{}", space.len())
        .and_then(|()| out.flush())
        .context("cannot write to standard output")?;
    Ok(())
}

fn generate(
    args: &SpecArgs,
    out: &std::path::Path,
    run: &RunArgs,
    conn: &ConnArgs,
) -> Result<(), Failure> {
    let space = args.compile()?;
    let gauge = std::sync::Arc::new(domgen::engine::Gauge::new());
    let generator = builder(run)
        .gauge(gauge.clone())
        .build()
        .map_err(|e| Failure::Usage(e.into()))?;
    // Before the output is created: a bad budget must not truncate a file.
    generator
        .check(&space, &Lines)
        .map_err(|e| Failure::Usage(e.into()))?;
    // Likewise a monitor database that cannot be reached.
    let session =
        monitor_cmd::Session::start(&run.monitor, conn, &gauge, 2 * generator.threads() + 2)?;

    let (writer, shown): (Box<dyn Write>, String) = if out.as_os_str() == "-" {
        (Box::new(io::stdout().lock()), "standard output".to_owned())
    } else {
        let file = std::fs::File::create(out).with_context(|| {
            format!(
                "cannot create {}; check that the directory exists and is writable",
                out.display()
            )
        })?;
        (Box::new(file), out.display().to_string())
    };
    let mut sink = WriteSink::new(writer);

    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    // Ctrl-C stops at a batch boundary; a second one kills as usual.
    let _ = ctrlc::set_handler(move || {
        if on_interrupt.is_cancelled() {
            std::process::exit(130);
        }
        on_interrupt.cancel();
    });

    let bar = (!run.no_progress && io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(space.len());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {human_pos}/{human_len} names  {per_sec}  ETA {eta}  {msg}",
            )
            .expect("the template is valid"),
        );
        bar
    });
    let mut progress = |p: &domgen::engine::Progress| {
        if let Some(bar) = &bar {
            bar.set_position(p.written);
            if let Some(live) = p.live_bytes {
                bar.set_message(format!(
                    "heap {}",
                    bytesize::ByteSize::b(live).display().iec()
                ));
            }
        }
    };
    let result = generator.run(
        &space,
        space.selection(),
        &Lines,
        &mut sink,
        Some(&cancel),
        &mut progress,
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(session) = session {
        session.finish(result.as_ref().ok());
    }
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            let written = e.written();
            return Err(Failure::Run(anyhow::Error::new(e).context(format!(
                "writing to {shown} failed after positions {}..{} were written",
                written.start, written.end
            ))));
        }
    };
    if let Some(path) = &run.stats {
        let json = serde_json::to_vec_pretty(&report).context("cannot encode the run report")?;
        std::fs::write(path, json)
            .with_context(|| format!("cannot write the run report to {}", path.display()))?;
    }
    if report.stopped_early {
        let end = report
            .written
            .first()
            .map_or(report.requested.start, |w| w.end);
        eprintln!(
            "interrupted: wrote positions {}..{end} ({} names) to {shown}; to go on, run again with --offset {end}{}",
            report.requested.start,
            report.names,
            space
                .selection()
                .end
                .checked_sub(end)
                .map(|left| format!(" --limit {left}"))
                .unwrap_or_default(),
        );
        return Err(Failure::Interrupted);
    }
    if bar.is_some() {
        eprintln!(
            "wrote {} names to {shown} in {:.1}s ({:.0} names/s)",
            report.names, report.duration_secs, report.names_per_sec
        );
    }
    Ok(())
}

/// The local cluster's directory, relative to where domgen runs.
const LOCAL_CLUSTER: &str = ".domgen";

/// A database to connect to, and how to name it in messages (never with
/// its password).
struct Database {
    config: tokio_postgres::Config,
    shown: String,
    local: bool,
}

impl ConnArgs {
    fn resolve(&self) -> Result<Database, Failure> {
        let url = self
            .database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok());
        if let Some(url) = url {
            let config: tokio_postgres::Config = url.parse().map_err(|e| {
                Failure::Usage(anyhow::anyhow!("the database URL is not valid: {e}"))
            })?;
            let shown = describe(&config);
            return Ok(Database {
                config,
                shown,
                local: false,
            });
        }
        if let Some(config) = libpq_env() {
            let shown = describe(&config);
            return Ok(Database {
                config,
                shown,
                local: false,
            });
        }
        let cluster = domgen::cluster::LocalCluster::new(LOCAL_CLUSTER)
            .map_err(|e| Failure::Run(e.into()))?;
        let url = cluster
            .ensure_running()
            .map_err(|e| Failure::Run(e.into()))?;
        let config: tokio_postgres::Config = url
            .parse()
            .context("the local cluster's connection string")?;
        Ok(Database {
            shown: format!("the local cluster under ./{LOCAL_CLUSTER} (psql \"{url}\")"),
            config,
            local: true,
        })
    }
}

/// libpq's connection variables, when any is set.
fn libpq_env() -> Option<tokio_postgres::Config> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let names = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"];
    if names.iter().all(|n| var(n).is_none()) {
        return None;
    }
    let mut config = tokio_postgres::Config::new();
    config.host(var("PGHOST").as_deref().unwrap_or("localhost"));
    if let Some(port) = var("PGPORT").and_then(|p| p.parse().ok()) {
        config.port(port);
    }
    let user = var("PGUSER")
        .or_else(|| var("USER"))
        .unwrap_or_else(|| "postgres".into());
    config.user(&user);
    if let Some(password) = var("PGPASSWORD") {
        config.password(password);
    }
    config.dbname(var("PGDATABASE").as_deref().unwrap_or(&user));
    Some(config)
}

/// host, port, user and database: what a message may show.
fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    format!(
        "host={} port={} user={} dbname={}",
        hosts.join(","),
        config.get_ports().first().copied().unwrap_or(5432),
        config.get_user().unwrap_or("?"),
        config.get_dbname().unwrap_or("?"),
    )
}

/// A runtime for the client's connection task, and the connected client.
fn connect(db: &Database) -> Result<(tokio::runtime::Runtime, tokio_postgres::Client), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("domgen-pg")
        .enable_all()
        .build()
        .context("cannot start the PostgreSQL client's runtime")?;
    let client = rt
        .block_on(domgen::pg::connect(&db.config))
        .map(|(client, _task)| client)
        .map_err(|e| {
            Failure::Run(anyhow::anyhow!(
                "cannot connect to PostgreSQL at {}: {}",
                db.shown,
                pg_reason(&e)
            ))
        })?;
    Ok((rt, client))
}

/// The server's words for a failure, or the client's.
fn pg_reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

fn migrate(conn: &ConnArgs) -> Result<(), Failure> {
    let db = conn.resolve()?;
    let (rt, mut client) = connect(&db)?;
    let report = rt
        .block_on(domgen::pg::migrate::migrate(&mut client))
        .map_err(|e| Failure::Run(anyhow::anyhow!("migrating {}: {e}", db.shown)))?;
    println!("{report}");
    Ok(())
}

fn db(action: &DbAction) -> Result<(), Failure> {
    let cluster =
        domgen::cluster::LocalCluster::new(LOCAL_CLUSTER).map_err(|e| Failure::Run(e.into()))?;
    match action {
        DbAction::Start => {
            let url = cluster
                .ensure_running()
                .map_err(|e| Failure::Run(e.into()))?;
            let db = Database {
                config: url
                    .parse()
                    .context("the local cluster's connection string")?,
                shown: url.clone(),
                local: true,
            };
            let (rt, mut client) = connect(&db)?;
            rt.block_on(domgen::pg::migrate::migrate(&mut client))
                .map_err(|e| Failure::Run(e.into()))?;
            println!("running: psql \"{url}\"");
        }
        DbAction::Stop => {
            cluster.stop().map_err(|e| Failure::Run(e.into()))?;
            println!("stopped");
        }
        DbAction::Status => {
            let status = cluster.status().map_err(|e| Failure::Run(e.into()))?;
            println!(
                "{}",
                match status {
                    domgen::cluster::Status::NotInitialised =>
                        "not initialised (domgen db start creates it)",
                    domgen::cluster::Status::Stopped => "stopped",
                    domgen::cluster::Status::Running => "running",
                }
            );
        }
        DbAction::Url => println!("{}", cluster.url()),
    }
    Ok(())
}

fn generate_pg(args: &SpecArgs, run: &RunArgs, db_args: &DbArgs) -> Result<(), Failure> {
    use domgen::pg::campaign::{self, CampaignOptions};
    let spec = args.load()?;
    let mut space = args.compile_spec(&spec)?;
    let gauge = std::sync::Arc::new(domgen::engine::Gauge::new());
    let generator = builder(run)
        .gauge(gauge.clone())
        .build()
        .map_err(|e| Failure::Usage(e.into()))?;
    generator
        .check(&space, &domgen::pg::copy::CopyRows::new(uuid::Uuid::nil()))
        .map_err(|e| Failure::Usage(e.into()))?;
    campaign::quote_table(&db_args.table).map_err(|e| Failure::Usage(e.into()))?;
    let db = db_args.conn.resolve()?;
    let (rt, mut client) = connect(&db)?;
    if db.local {
        rt.block_on(domgen::pg::migrate::migrate(&mut client))
            .map_err(|e| Failure::Run(e.into()))?;
    }
    // Before anything reads domgen's tables: say plainly when they are not there.
    rt.block_on(domgen::pg::migrate::check_migrated(&client))
        .map_err(|e| Failure::Run(e.into()))?;
    let campaign_id = db_args.campaign_id.unwrap_or_else(uuid::Uuid::new_v4);
    let pg_usage = |e: domgen::pg::Error| match e.kind() {
        domgen::pg::ErrorKind::Usage => Failure::Usage(e.into()),
        _ => Failure::Run(e.into()),
    };
    let stored = rt
        .block_on(campaign::stored_positions(&client, campaign_id))
        .map_err(pg_usage)?;
    if db_args.continue_ {
        if stored.is_some() {
            return Err(Failure::Usage(anyhow::anyhow!(
                "campaign {campaign_id} already exists; --continue starts a new campaign (finish this one with --resume)"
            )));
        }
        let positions = rt
            .block_on(campaign::reserve(&client, &space, spec.limit))
            .map_err(pg_usage)?;
        eprintln!(
            "reserved positions {}..{} of {} for campaign {campaign_id}",
            positions.start,
            positions.end,
            space.total()
        );
        space.select(positions);
    } else if let (true, Some(positions), 0, None) =
        (db_args.resume, stored, spec.offset, spec.limit)
    {
        // A resumed campaign keeps the positions it was given.
        if positions.end <= space.total() {
            space.select(positions);
        }
    }
    let options = CampaignOptions {
        campaign_id,
        table: db_args.table.clone(),
        resume: db_args.resume,
        connections: usize::from(db_args.connections),
        unique: db_args.unique,
    };
    let cancel = interrupt_token();
    let bar = progress_bar(run, space.len());
    let mut progress = |p: &domgen::engine::Progress| show_progress(bar.as_ref(), p);
    let handle = rt.handle().clone();
    let session = monitor_cmd::Session::start(
        &run.monitor,
        &db_args.conn,
        &gauge,
        2 * generator.threads() + 2,
    )?;
    let result = campaign::run(
        &handle,
        &campaign::Connections::from(db.config.clone()),
        &mut client,
        &generator,
        &space,
        &spec,
        &options,
        Some(&cancel),
        &mut progress,
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(session) = session {
        session.finish(result.as_ref().ok().map(|r| &r.report));
    }
    let report = match result {
        Ok(report) => report,
        Err(e) if e.kind() == domgen::pg::ErrorKind::Usage => return Err(Failure::Usage(e.into())),
        Err(e) => {
            return Err(Failure::Run(anyhow::Error::new(e).context(format!(
                "campaign {campaign_id} into {} failed; what was committed stays, and `--campaign-id {campaign_id} --resume` finishes it",
                db.shown
            ))));
        }
    };
    if let Some(path) = &run.stats {
        let json =
            serde_json::to_vec_pretty(&report.report).context("cannot encode the run report")?;
        std::fs::write(path, json)
            .with_context(|| format!("cannot write the run report to {}", path.display()))?;
    }
    let mut out = io::stdout().lock();
    let mut show = || -> anyhow::Result<()> {
        writeln!(out, "campaign {campaign_id} in {}", db.shown)?;
        writeln!(out, "{report}")?;
        if report.report.stopped_early {
            writeln!(
                out,
                "interrupted: run again with --campaign-id {campaign_id} --resume to finish"
            )?;
            return Ok(());
        }
        let table = campaign::quote_table(&db_args.table)?;
        let rows = rt.block_on(client.query(
            // No ORDER BY: the table has no index, and a sort would read it all.
            &format!(
                "SELECT offset_index, domain_name FROM {table} WHERE campaign_id = $1 LIMIT 3"
            ),
            &[&campaign_id],
        ))?;
        for row in rows {
            writeln!(
                out,
                "  {:>12}  {}",
                row.get::<_, i64>(0),
                row.get::<_, String>(1)
            )?;
        }
        let alloc = rt.block_on(client.query_one(
            "SELECT operation_id, allocated_bytes, peak_bytes, duration_ms, memory_leaked_bytes, cleanup_successful
             FROM memory_allocations WHERE operation_id = $1",
            &[&report.run_id.to_string()],
        ))?;
        writeln!(
            out,
            "memory_allocations: operation_id={} allocated_bytes={} peak_bytes={} duration_ms={} memory_leaked_bytes={} cleanup_successful={}",
            alloc.get::<_, String>(0),
            alloc
                .get::<_, Option<i64>>(1)
                .map_or("unavailable".into(), |v| v.to_string()),
            alloc
                .get::<_, Option<i64>>(2)
                .map_or("unavailable".into(), |v| v.to_string()),
            alloc.get::<_, Option<i32>>(3).unwrap_or(0),
            alloc.get::<_, Option<i64>>(4).unwrap_or(0),
            alloc.get::<_, Option<bool>>(5).unwrap_or(false),
        )?;
        Ok(())
    };
    show().map_err(Failure::Run)?;
    if report.report.stopped_early {
        return Err(Failure::Interrupted);
    }
    Ok(())
}

fn builder(run: &RunArgs) -> GeneratorBuilder {
    let mut builder = GeneratorBuilder::new();
    builder.memory_budget(run.memory_budget.as_u64());
    if let Some(threads) = run.threads {
        builder.threads(threads);
    }
    if let Some(names) = run.batch_size {
        builder.batch_names(names);
    }
    builder
}

/// A token that Ctrl-C cancels: the run stops at a batch boundary; a second
/// Ctrl-C exits at once.
fn interrupt_token() -> CancelToken {
    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if on_interrupt.is_cancelled() {
            std::process::exit(130);
        }
        on_interrupt.cancel();
    });
    cancel
}

fn progress_bar(run: &RunArgs, len: u64) -> Option<indicatif::ProgressBar> {
    (!run.no_progress && io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(len);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {human_pos}/{human_len} names  {per_sec}  ETA {eta}  {msg}",
            )
            .expect("the template is valid"),
        );
        bar
    })
}

fn show_progress(bar: Option<&indicatif::ProgressBar>, p: &domgen::engine::Progress) {
    if let Some(bar) = bar {
        bar.set_position(p.written);
        if let Some(live) = p.live_bytes {
            bar.set_message(format!(
                "heap {}",
                bytesize::ByteSize::b(live).display().iec()
            ));
        }
    }
}
