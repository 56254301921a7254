//! The command line: what `domgen` accepts, as clap reads it. The doc
//! comments are the help text.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use domgen::pg::Database;
use domgen::{Order, Space, Spec, WordList};

use crate::failure::Failure;

pub(crate) const EXAMPLES: &str = "\
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
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Show what the library does on standard error: -v a few lines a run,
    /// -vv every batch, -vvv everything (RUST_LOG, when set, decides
    /// instead). `worker -v` also says every claim and commit.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Print only results and errors: no progress bar, no notes on
    /// standard error.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
}

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once, lives for the whole run"
)]
pub(crate) enum Command {
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
        args: crate::workers_cmd::PlanArgs,
    },
    /// Write a planned campaign's batches, claimed under a lease, until it is complete.
    Worker {
        #[command(flatten)]
        args: crate::workers_cmd::WorkerArgs,
    },
    /// Show a planned campaign's progress: batches done, leased, pending; rows, rate, workers.
    Status {
        #[command(flatten)]
        args: crate::workers_cmd::StatusArgs,
    },
    /// Sample a process's memory into PostgreSQL (memory_metrics) until it
    /// ends, --duration is up, or Ctrl-C; leaks go to memory_leak_detection.
    Monitor(crate::monitor_cmd::MonitorCmd),
    /// Draw a monitored run's memory over time (.svg or .png), or print its
    /// samples (--format json|csv).
    Report(crate::monitor_cmd::ReportCmd),
    /// Apply domgen's migrations to a database (idempotent).
    Migrate {
        #[command(flatten)]
        conn: ConnArgs,
        /// On a Citus coordinator, after the migrations: distribute
        /// generation_campaigns, generation_batches and generated_domains by
        /// campaign_id, co-located, and make domain_generation_config_states
        /// and generation_runs reference tables (the monitor's tables stay
        /// on the coordinator). Idempotent; refused without Citus.
        #[arg(long)]
        distribute: bool,
        /// With --distribute: also distribute this table of yours (a
        /// `generate --table`) by campaign_id, co-located. Repeatable.
        #[arg(long = "table", value_name = "NAME", requires = "distribute")]
        tables: Vec<String>,
    },
    /// Manage the local PostgreSQL cluster under ./.domgen.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbAction {
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
pub(crate) struct ConnArgs {
    /// A PostgreSQL connection string (postgres://… or key=value …), read
    /// as libpq reads it: sslmode up to verify-full, sslrootcert, sslcert,
    /// sslkey, PGSSLMODE and the other PG* variables, ~/.pgpass.
    #[arg(long, value_name = "URL")]
    pub(crate) database_url: Option<String>,
}

/// The campaign PostgreSQL output belongs to.
#[derive(Debug, Args)]
pub(crate) struct DbArgs {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// The campaign's id (default: a new one, printed).
    #[arg(long, value_name = "UUID")]
    pub(crate) campaign_id: Option<uuid::Uuid>,
    /// Finish the campaign: write exactly the positions not yet committed.
    #[arg(long)]
    pub(crate) resume: bool,
    /// The table to COPY into (columns campaign_id, offset_index,
    /// domain_name, and the provenance columns it has).
    #[arg(long, value_name = "NAME", default_value = "generated_domains")]
    pub(crate) table: String,
    /// Take the next --limit positions of this spec that no earlier campaign
    /// took (a cursor per spec in domain_generation_config_states), so
    /// campaigns with the same spec never repeat a name.
    #[arg(long = "continue", conflicts_with_all = ["resume", "offset"])]
    pub(crate) continue_: bool,
    /// Skip names the table has already, across patterns and campaigns
    /// (a unique index on domain_name; staging + INSERT … ON CONFLICT DO NOTHING).
    #[arg(long)]
    pub(crate) unique: bool,
    /// Connections that COPY batches in parallel.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) connections: u16,
    #[command(flatten)]
    pub(crate) provenance: ProvenanceArgs,
    #[command(flatten)]
    pub(crate) retry: RetryArgs,
}

/// Where each name's keyword, pattern and TLD go: columns of the table,
/// filled only when the table has them.
#[derive(Debug, Args)]
pub(crate) struct ProvenanceArgs {
    /// The column for the keyword a name was built from (NULL for a
    /// pattern without {keyword}), if the table has it.
    #[arg(long, value_name = "COLUMN", default_value = "source_keyword")]
    keyword_column: String,
    /// The column for the pattern a name was built from, as written in the
    /// spec, if the table has it.
    #[arg(long, value_name = "COLUMN", default_value = "source_pattern")]
    pattern_column: String,
    /// The column for the TLD of a name, without its leading dot, if the
    /// table has it.
    #[arg(long, value_name = "COLUMN", default_value = "tld")]
    tld_column: String,
    /// Fill no provenance column: rows of campaign_id, offset_index and
    /// domain_name only.
    #[arg(long, conflicts_with_all = ["keyword_column", "pattern_column", "tld_column"])]
    no_provenance: bool,
}

impl ProvenanceArgs {
    pub(crate) fn provenance(&self) -> domgen::pg::Provenance {
        if self.no_provenance {
            return domgen::pg::Provenance::none();
        }
        domgen::pg::Provenance {
            keyword: Some(self.keyword_column.clone()),
            pattern: Some(self.pattern_column.clone()),
            tld: Some(self.tld_column.clone()),
        }
    }
}

/// How a run rides through a server restart or a lost connection.
#[derive(Debug, Args)]
pub(crate) struct RetryArgs {
    /// Keep reconnecting this long after a connection is lost, then give
    /// up (what was committed stays); 0 gives up at once.
    #[arg(long, value_name = "S", default_value_t = 300)]
    reconnect_for: u64,
    /// A control statement (claim, renewal, record) unanswered this long
    /// takes its connection for lost.
    #[arg(long, value_name = "S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    statement_timeout: u64,
    /// A batch's commit unanswered this long takes its connection for lost.
    #[arg(long, value_name = "S", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    commit_timeout: u64,
}

impl RetryArgs {
    pub(crate) fn retry(&self) -> domgen::pg::Retry {
        domgen::pg::Retry {
            reconnect_for: Duration::from_secs(self.reconnect_for),
            statement_timeout: Duration::from_secs(self.statement_timeout),
            commit_timeout: Duration::from_secs(self.commit_timeout),
        }
    }
}

/// The spec: a file and flags that override it.
#[derive(Debug, Args)]
pub(crate) struct SpecArgs {
    /// A TOML spec file.
    #[arg(value_name = "SPEC")]
    pub(crate) file: Option<PathBuf>,
    /// A keyword (repeatable); replaces the file's keywords.
    #[arg(long = "keyword", value_name = "K")]
    pub(crate) keywords: Vec<String>,
    /// A file of keywords, one per line (`#` starts a comment).
    #[arg(long, value_name = "F")]
    pub(crate) keywords_file: Option<PathBuf>,
    /// A TLD (repeatable), e.g. `com` or `co.uk`; replaces the file's TLDs.
    #[arg(long = "tld", value_name = "T")]
    pub(crate) tlds: Vec<String>,
    /// A file of TLDs, one per line.
    #[arg(long, value_name = "F")]
    pub(crate) tlds_file: Option<PathBuf>,
    /// A pattern (repeatable), e.g. `{keyword}-{random:3}.{tld}`; replaces the file's patterns.
    #[arg(long = "pattern", value_name = "P")]
    pub(crate) patterns: Vec<String>,
    /// A named list for `{list:NAME}`, read from a word file (repeatable).
    #[arg(long = "list", value_name = "NAME=FILE", value_parser = parse_pair)]
    pub(crate) lists: Vec<(String, String)>,
    /// A custom charset for `{NAME:N}`, characters from a-z0-9 in order (repeatable).
    #[arg(long = "charset", value_name = "NAME=CHARS", value_parser = parse_pair)]
    pub(crate) charsets: Vec<(String, String)>,
    /// Accept TLDs that are not on the Public Suffix List.
    #[arg(long)]
    pub(crate) allow_unknown_tlds: bool,
    /// The order of names.
    #[arg(long, value_name = "sequential|shuffled")]
    pub(crate) order: Option<Order>,
    /// The key of the shuffled order.
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
    /// The version of the shuffled order: 2 (the default), or 1 to make
    /// again an order made before version 2 existed (a resumed or
    /// continued campaign keeps its own by itself).
    #[arg(long, value_name = "N")]
    pub(crate) shuffle_version: Option<u8>,
    /// The first position to write.
    #[arg(long, value_name = "N")]
    pub(crate) offset: Option<u64>,
    /// How many names to write at most.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<u64>,
    /// The algorithms of `{typo}` (repeatable, or comma-separated), e.g.
    /// `omission,homoglyph`; replaces the spec's `typo_algorithms`.
    #[arg(
        long = "typo",
        value_name = "ALGO",
        value_delimiter = ',',
        help_heading = "Look-alikes"
    )]
    pub(crate) typo: Vec<domgen::pattern::TypoAlgorithm>,
    /// The keyboards of the `insertion` and `replacement` algorithms
    /// (repeatable, or comma-separated): qwerty, qwertz, azerty.
    #[arg(
        long = "typo-keyboard",
        value_name = "LAYOUT",
        value_delimiter = ',',
        help_heading = "Look-alikes"
    )]
    pub(crate) typo_keyboards: Vec<domgen::pattern::Keyboard>,
    /// Leave out names shorter than N octets without their TLD.
    #[arg(long, value_name = "N", help_heading = "Filters")]
    pub(crate) min_length: Option<usize>,
    /// Leave out names longer than N octets without their TLD.
    #[arg(long, value_name = "N", help_heading = "Filters")]
    pub(crate) max_length: Option<usize>,
    /// Leave out names that hold WORD before their TLD (repeatable).
    #[arg(long = "exclude", value_name = "WORD", help_heading = "Filters")]
    pub(crate) exclude: Vec<String>,
    /// Leave out names that hold any word of file F, one per line (repeatable).
    #[arg(long = "exclude-file", value_name = "F", help_heading = "Filters")]
    pub(crate) exclude_files: Vec<PathBuf>,
    /// Leave out the whole names of file F, one per line (repeatable).
    #[arg(
        long = "exclude-names-file",
        value_name = "F",
        help_heading = "Filters"
    )]
    pub(crate) exclude_names_files: Vec<PathBuf>,
    /// Leave out names that match RE anywhere, TLD included (repeatable).
    #[arg(long = "exclude-regex", value_name = "RE", help_heading = "Filters")]
    pub(crate) exclude_regex: Vec<String>,
    /// Keep only names that match RE (repeatable: all of them).
    #[arg(long = "include-regex", value_name = "RE", help_heading = "Filters")]
    pub(crate) include_regex: Vec<String>,
}

/// How a generation runs.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Do not show a progress bar (it is shown only when stderr is a terminal).
    #[arg(long)]
    pub(crate) no_progress: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// The most heap the run may hold, e.g. 64MiB; batch size and the
    /// in-flight limit are derived from it.
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    pub(crate) memory_budget: bytesize::ByteSize,
    /// Names per batch (default: derived from the memory budget).
    #[arg(long, value_name = "N")]
    pub(crate) batch_size: Option<u64>,
    /// Write the run report (names, batches, timings, memory) as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    pub(crate) stats: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) monitor: crate::monitor_cmd::MonitorArgs,
    #[command(flatten)]
    pub(crate) metrics: MetricsArgs,
}

/// Serving the process's metrics while it runs.
#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// Serve /metrics (Prometheus text format) and /healthz (200 while the
    /// database can be reached) on ADDR, e.g. 127.0.0.1:9464, while the
    /// command runs.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics_addr: Option<std::net::SocketAddr>,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

impl SpecArgs {
    /// The file's spec with the flags applied.
    pub(crate) fn load(&self) -> Result<Spec, domgen::Error> {
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
        if let Some(version) = self.shuffle_version {
            spec.shuffle_version = version;
        }
        if let Some(offset) = self.offset {
            spec.offset = offset;
        }
        if self.limit.is_some() {
            spec.limit = self.limit;
        }
        if !self.typo.is_empty() {
            spec.typo_algorithms.clone_from(&self.typo);
        }
        if !self.typo_keyboards.is_empty() {
            spec.typo_keyboards.clone_from(&self.typo_keyboards);
        }
        let filter = &mut spec.filter;
        if self.min_length.is_some() {
            filter.min_length = self.min_length;
        }
        if self.max_length.is_some() {
            filter.max_length = self.max_length;
        }
        if !self.exclude.is_empty() {
            filter
                .exclude
                .push(WordList::inline(self.exclude.iter().cloned()));
        }
        for path in &self.exclude_files {
            filter.exclude.push(domgen::load::word_file(path)?);
        }
        for path in &self.exclude_names_files {
            filter.exclude_names.push(domgen::load::word_file(path)?);
        }
        filter
            .exclude_regex
            .extend(self.exclude_regex.iter().cloned());
        filter
            .include_regex
            .extend(self.include_regex.iter().cloned());
        Ok(spec)
    }

    pub(crate) fn compile(&self) -> Result<Space, domgen::Error> {
        self.compile_spec(&self.load()?)
    }

    /// Compiles a spec loaded by [`SpecArgs::load`]; errors name the file.
    pub(crate) fn compile_spec(&self, spec: &Spec) -> Result<Space, domgen::Error> {
        Space::compile(spec).map_err(|e| match &self.file {
            Some(file) => e.in_source(&file.display().to_string()),
            None => e,
        })
    }
}

impl ConnArgs {
    /// The database: `--database-url`, `DATABASE_URL`, `PG*`, or the local
    /// cluster under ./.domgen (started if it is not running).
    pub(crate) fn database(&self) -> Result<Database, Failure> {
        Database::resolve(
            self.database_url.as_deref(),
            Path::new(crate::db_cmd::LOCAL_CLUSTER),
        )
        .map_err(Failure::from)
    }
}
