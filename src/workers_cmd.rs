//! `domgen plan`, `domgen worker` and `domgen status`: one campaign written
//! by many worker processes, coordinated through PostgreSQL.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use domgen::engine::GeneratorBuilder;
use domgen::pg::workers::{self, PlanOptions, WorkEvent, WorkOptions};

use crate::cli::{ConnArgs, MetricsArgs, ProvenanceArgs, RetryArgs, SpecArgs};
use crate::db_cmd;
use crate::failure::Failure;
use crate::telemetry;
use crate::term::{self, counting_bar, interrupt_token};

/// `domgen plan`'s flags besides the spec.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The campaign's id; workers need only this.
    #[arg(long, value_name = "UUID")]
    campaign_id: uuid::Uuid,
    /// Names per batch, pinned: what a worker claims, renders and commits
    /// at once (default: measured by each worker, in cells chosen from the
    /// table's shape; 100000 on a table without row triggers or many indexes).
    #[arg(long, value_name = "N")]
    batch_size: Option<u64>,
    /// The table to COPY into (columns campaign_id, offset_index, domain_name).
    #[arg(long, value_name = "NAME", default_value = "generated_domains")]
    table: String,
}

/// `domgen worker`'s flags.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The campaign to work on (planned with `domgen plan`).
    #[arg(long, value_name = "UUID")]
    campaign_id: uuid::Uuid,
    /// How long a claimed batch stays this worker's without renewal; it is
    /// renewed every third of it. A dead worker's batch is taken over after it.
    #[arg(long, value_name = "S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    lease_seconds: u64,
    /// Threads that render names (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Batches held at once, each on a connection of its own (plus one for renewals).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    connections: u16,
    /// This worker's name in the ledger and in pg_stat_activity (default: host:pid).
    #[arg(long, value_name = "NAME")]
    worker_id: Option<String>,
    /// Stop after claiming this many batches.
    #[arg(long, value_name = "N")]
    max_batches: Option<u64>,
    /// The most heap rendering may hold, e.g. 64MiB.
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    memory_budget: bytesize::ByteSize,
    /// Do not show a progress bar (it is shown only when stderr is a terminal).
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    provenance: ProvenanceArgs,
    #[command(flatten)]
    retry: RetryArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
}

/// `domgen status`'s flags.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The campaign.
    #[arg(long, value_name = "UUID")]
    campaign_id: uuid::Uuid,
    /// `text` or `json`.
    #[arg(long, value_name = "text|json", default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

pub(crate) fn plan(spec_args: &SpecArgs, args: &PlanArgs) -> Result<(), Failure> {
    let spec = spec_args.load()?;
    // Compiled here too, so that errors name the spec file.
    spec_args.compile_spec(&spec)?;
    domgen::pg::ledger::quote_table(&args.table)?;
    let (rt, db, client) = db_cmd::open(&args.conn)?;
    let options = PlanOptions {
        campaign_id: args.campaign_id,
        batch_names: args.batch_size,
        table: args.table.clone(),
    };
    let planned = rt
        .block_on(workers::plan(&client, &spec, &options))
        .map_err(|e| Failure::pg(e, Some(args.campaign_id), format!("planning in {db}")))?;
    println!("{planned}");
    println!(
        "run workers with: domgen worker --campaign-id {}",
        planned.campaign_id
    );
    Ok(())
}

/// What a worker's progress bar says besides rows: its batches and leases.
#[derive(Default)]
struct Tally {
    committed: u64,
    leases: u64,
}

impl Tally {
    fn hear(&mut self, event: &WorkEvent) {
        match event {
            WorkEvent::Claimed(_) => self.leases += 1,
            WorkEvent::Committed(_) => {
                self.committed += 1;
                self.leases = self.leases.saturating_sub(1);
            }
            WorkEvent::Refused(_) | WorkEvent::Released(_) => {
                self.leases = self.leases.saturating_sub(1);
            }
            WorkEvent::LeaseLost(_) | WorkEvent::Waiting | WorkEvent::ConnectionLost(_) => {}
        }
    }
}

/// The default worker name: the host's and this process's.
fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}:{}", std::process::id())
}

/// `domgen worker`; `verbose` says every claim and commit.
pub(crate) fn worker(args: &WorkerArgs, verbose: bool) -> Result<(), Failure> {
    let mut builder = GeneratorBuilder::new();
    builder.memory_budget(args.memory_budget.as_u64());
    if let Some(threads) = args.threads {
        builder.threads(threads);
    }
    let generator = Arc::new(builder.build()?);
    let (rt, db, client) = db_cmd::open(&args.conn)?;
    if let Some(addr) = args.metrics.metrics_addr {
        telemetry::serve(addr, Some(db.clone()))?;
    }
    // The whole campaign's rows, and those committed before this worker.
    let bar = match rt.block_on(domgen::pg::read::status(&client, args.campaign_id)) {
        Ok(status) => counting_bar(args.no_progress, status.positions, "rows").inspect(|bar| {
            bar.set_position(status.rows);
        }),
        // `work` says what is wrong with the campaign.
        Err(_) => None,
    };
    drop(client);
    let worker_id = args.worker_id.clone().unwrap_or_else(default_worker_id);
    let options = WorkOptions {
        campaign_id: args.campaign_id,
        worker_id: worker_id.clone(),
        lease: Duration::from_secs(args.lease_seconds),
        connections: usize::from(args.connections),
        max_batches: args.max_batches,
        retry: args.retry.retry(),
        provenance: args.provenance.provenance(),
    };
    let cancel = interrupt_token();
    let (name, shown) = (worker_id.clone(), bar.clone());
    let tally = Mutex::new(Tally::default());
    let events = move |event: &WorkEvent| {
        let always = matches!(
            event,
            WorkEvent::Refused(_)
                | WorkEvent::LeaseLost(_)
                | WorkEvent::Released(_)
                | WorkEvent::ConnectionLost(_)
        );
        if verbose || (always && !term::quiet()) {
            match &shown {
                Some(bar) => bar.println(format!("worker {name}: {event}")),
                None => eprintln!("worker {name}: {event}"),
            }
        }
        if let Some(bar) = &shown {
            let mut tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
            tally.hear(event);
            if let WorkEvent::Committed(positions) = event {
                bar.inc(positions.end - positions.start);
            }
            bar.set_message(format!(
                "{} batches committed, {} leases held",
                tally.committed, tally.leases
            ));
        }
    };
    let result = rt.block_on(workers::work(
        db.connections(),
        options,
        generator,
        Some(cancel),
        events,
    ));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = result.map_err(|e| {
        Failure::pg(
            e,
            Some(args.campaign_id),
            format!(
                "worker {worker_id} on campaign {} in {db}",
                args.campaign_id
            ),
        )
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "worker {worker_id}: {report}")
        .and_then(|()| out.flush())
        .context("cannot write to standard output")?;
    if report.cancelled {
        eprintln!(
            "interrupted: worker {worker_id} released its batches; run `domgen worker --campaign-id {}` to go on",
            args.campaign_id
        );
        return Err(Failure::Interrupted);
    }
    Ok(())
}

pub(crate) fn status(args: &StatusArgs) -> Result<(), Failure> {
    let (rt, db, client) = db_cmd::open(&args.conn)?;
    let status = rt
        .block_on(domgen::pg::read::status(&client, args.campaign_id))
        .map_err(|e| {
            Failure::pg(
                e,
                Some(args.campaign_id),
                format!("reading the status in {db}"),
            )
        })?;
    let mut out = std::io::stdout().lock();
    let text = if args.format == "json" {
        serde_json::to_string_pretty(&status).context("cannot encode the status")?
    } else {
        status.to_string()
    };
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .context("cannot write to standard output")?;
    Ok(())
}
