//! The `domgen` command.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use domgen::engine::{CancelToken, GeneratorBuilder, Lines, WriteSink};
use domgen::{Order, Space, Spec, WordList};

#[global_allocator]
static ALLOC: domgen::alloc::CountingAlloc = domgen::alloc::CountingAlloc;

const EXAMPLES: &str = "\
Examples:
  domgen check examples/campaign.toml
  domgen count --pattern 'shop{alpha:5}{digit:1}.com'
  domgen generate examples/campaign.toml --out names.txt
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
    /// Write names, one per line.
    #[command(after_help = EXAMPLES)]
    Generate {
        #[command(flatten)]
        spec: SpecArgs,
        /// Where to write: a file path, or `-` for standard output.
        #[arg(long, value_name = "PATH|-")]
        out: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
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
        let spec = self.load()?;
        Space::compile(&spec).map_err(|e| match &self.file {
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
        Command::Generate { spec, out, run } => generate(&spec, &out, &run),
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
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
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

fn generate(args: &SpecArgs, out: &std::path::Path, run: &RunArgs) -> Result<(), Failure> {
    let space = args.compile()?;
    let mut builder = GeneratorBuilder::new();
    builder.memory_budget(run.memory_budget.as_u64());
    if let Some(threads) = run.threads {
        builder.threads(threads);
    }
    if let Some(names) = run.batch_size {
        builder.batch_names(names);
    }
    let generator = builder.build().map_err(|e| Failure::Usage(e.into()))?;
    // Before the output is created: a bad budget must not truncate a file.
    generator
        .check(&space, &Lines)
        .map_err(|e| Failure::Usage(e.into()))?;

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
