//! `domgen generate`: a campaign into PostgreSQL (the default), or names
//! one per line into a file.

use std::io::{self, Write};
use std::sync::Arc;

use anyhow::Context;
use domgen::Order;
use domgen::engine::{Gauge, GeneratorBuilder, Lines, Progress, RunOptions, WriteSink};
use domgen::pg::campaign::{self, CampaignOptions, Start};
use domgen::pg::copy::CopyRows;
use domgen::pg::{ledger, read};

use crate::cli::{ConnArgs, DbArgs, RunArgs, SpecArgs};
use crate::db_cmd;
use crate::failure::Failure;
use crate::monitor_cmd::Session;
use crate::telemetry;
use crate::term::{interrupt_token, note, progress_bar};

pub(crate) fn to_file(
    args: &SpecArgs,
    out: &std::path::Path,
    run: &RunArgs,
    conn: &ConnArgs,
) -> Result<(), Failure> {
    let space = args.compile()?;
    let gauge = Arc::new(Gauge::new());
    let generator = builder(run).gauge(gauge.clone()).build()?;
    if let Some(addr) = run.metrics.metrics_addr {
        telemetry::serve(addr, None)?;
    }
    // Before the output is created: a bad budget must not truncate a file.
    generator.check(&space, &Lines)?;
    // Likewise a monitor database that cannot be reached.
    let session = Session::start(&run.monitor, conn, &gauge, &generator)?;

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

    let cancel = interrupt_token();
    let bar = progress_bar(run.no_progress, space.len());
    let mut progress = |p: &Progress| show_progress(bar.as_ref(), p);
    let result = generator.run(
        &space,
        &Lines,
        &mut sink,
        RunOptions {
            cancel: Some(&cancel),
            progress: Some(&mut progress),
            ..RunOptions::new(space.selection())
        },
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
            "interrupted: wrote positions {}..{end} ({} names) to {shown}; to go on, run again with --offset {end}{}{}",
            report.requested.start,
            report.names,
            space
                .selection()
                .end
                .checked_sub(end)
                .map(|left| format!(" --limit {left}"))
                .unwrap_or_default(),
            // The same order even under a release whose default differs.
            if space.order() == Order::Shuffled {
                format!(" --shuffle-version {}", space.shuffle_version())
            } else {
                String::new()
            },
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

/// Writes a campaign into PostgreSQL: new, resumed or continued; then shows
/// a few of its rows and the run's `memory_allocations` row.
pub(crate) fn to_pg(args: &SpecArgs, run: &RunArgs, db_args: &DbArgs) -> Result<(), Failure> {
    let spec = args.load()?;
    let space = args.compile_spec(&spec)?;
    let gauge = Arc::new(Gauge::new());
    let generator = builder(run).gauge(gauge.clone()).build()?;
    generator.check(&space, &CopyRows::new(uuid::Uuid::nil()))?;
    ledger::quote_table(&db_args.table)?;
    let (rt, db, client) = db_cmd::open(&db_args.conn)?;
    if let Some(addr) = run.metrics.metrics_addr {
        telemetry::serve(addr, Some(db.clone()))?;
    }
    let campaign_id = db_args.campaign_id.unwrap_or_else(uuid::Uuid::new_v4);
    let options = CampaignOptions {
        campaign_id,
        table: db_args.table.clone(),
        start: match (db_args.continue_, db_args.resume) {
            (true, _) => Start::Continue,
            (false, true) => Start::Resume,
            (false, false) => Start::New,
        },
        connections: usize::from(db_args.connections),
        unique: db_args.unique,
        retry: db_args.retry.retry(),
        provenance: db_args.provenance.provenance(),
    };
    let failed = |e: domgen::pg::Error| {
        Failure::pg(
            e,
            Some(campaign_id),
            format!(
                "campaign {campaign_id} into {db} failed; what was committed stays, and `--campaign-id {campaign_id} --resume` finishes it"
            ),
        )
    };
    let prepared = rt
        .block_on(campaign::prepare(
            &client, &spec, space, &generator, &options,
        ))
        .map_err(failed)?;
    if let Some(reserved) = prepared.reserved() {
        note!(
            "reserved positions {}..{} of {} for campaign {campaign_id}",
            reserved.start,
            reserved.end,
            prepared.space().total()
        );
    }
    let sizing = prepared.sizing();
    if sizing.adaptive {
        note!(
            "batches: {} names to start, then as measured, in cells of {}: {}",
            sizing.start_names(),
            sizing.cell,
            crate::flags::cli_message(&sizing.why, Some(campaign_id))
        );
    }
    let filled: Vec<&str> = prepared.provenance().columns().collect();
    if !filled.is_empty() {
        note!("provenance columns: {}", filled.join(", "));
    }
    let cancel = interrupt_token();
    let bar = progress_bar(run.no_progress, prepared.space().len());
    let mut progress = |p: &Progress| show_progress(bar.as_ref(), p);
    let session = Session::start(&run.monitor, &db_args.conn, &gauge, &generator)?;
    // The run has connections of its own, opened anew if the server
    // restarts; so has what follows it.
    drop(client);
    let result = prepared.run(
        rt.handle(),
        &db.connections(),
        &generator,
        Some(&cancel),
        &mut progress,
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(session) = session {
        session.finish(result.as_ref().ok().map(|r| &r.report));
    }
    let report = result.map_err(failed)?;
    if let Some(path) = &run.stats {
        /// The engine's report with the batch sizes the run chose.
        #[derive(serde::Serialize)]
        struct Stats<'a> {
            #[serde(flatten)]
            report: &'a domgen::engine::Report,
            sizing: &'a domgen::pg::sizing::SizingReport,
        }
        let stats = Stats {
            report: &report.report,
            sizing: &report.sizing,
        };
        let json = serde_json::to_vec_pretty(&stats).context("cannot encode the run report")?;
        std::fs::write(path, json)
            .with_context(|| format!("cannot write the run report to {}", path.display()))?;
    }
    let mut out = io::stdout().lock();
    writeln!(out, "campaign {campaign_id} in {db}")
        .and_then(|()| writeln!(out, "{report}"))
        .context("cannot write to standard output")?;
    if report.report.stopped_early {
        writeln!(
            out,
            "interrupted: run again with --campaign-id {campaign_id} --resume to finish"
        )
        .context("cannot write to standard output")?;
        return Err(Failure::Interrupted);
    }
    let client = rt.block_on(db.connect())?;
    let rows = rt.block_on(read::sample_rows(&client, &db_args.table, campaign_id, 3))?;
    let allocation = rt
        .block_on(read::allocation(&client, report.run_id))?
        .with_context(|| format!("run {} has no memory_allocations row", report.run_id))?;
    let mut show = || -> io::Result<()> {
        for (position, name) in &rows {
            writeln!(out, "  {position:>12}  {name}")?;
        }
        writeln!(out, "memory_allocations: {allocation}")?;
        out.flush()
    };
    show().context("cannot write to standard output")?;
    Ok(())
}

/// The engine as the run flags ask.
pub(crate) fn builder(run: &RunArgs) -> GeneratorBuilder {
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

fn show_progress(bar: Option<&indicatif::ProgressBar>, p: &Progress) {
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
