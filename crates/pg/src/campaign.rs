//! The campaign writer: one call writes a campaign's positions exactly once.
//!
//! [`prepare`] settles which positions a run writes — new, resumed, or the
//! next ones of a spec ([`Start`]) — and registers the campaign in the
//! ledger; [`Prepared::run`] renders the missing batches with the engine
//! and commits each with its ledger row over a few connections
//! ([`PgSink`], through [`ledger::commit_batch`]), then records a
//! `generation_runs` row and a `memory_allocations` row. [`generate`] is
//! both, as one async call for a host service.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use domgen_engine::{CancelToken, Flow, Generator, Progress, Report, RunOptions, Sink};
use domgen_pattern::{Order, SHUFFLE_VERSIONS, Space, Spec};
use tokio::runtime::Handle;
use tokio_postgres::Client;
use tokio_postgres::types::Type;
use tracing::Instrument;
use uuid::Uuid;

use crate::connect::{Connection, Connections};
use crate::error::Error;
use crate::ledger::{
    self, Batch, Claim, Outcome, Provenance, Registration, Target, Writer, to_i64,
};
use crate::retry::{Backoff, Control, Retry};
use crate::sizing::{self, Sizer, Sizing, SizingReport};
use crate::telemetry::Meters;

/// Which positions a campaign run writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Start {
    /// A new campaign: the spec's positions (its `offset`/`limit`). A
    /// campaign id that exists already is refused.
    #[default]
    New,
    /// Finish a campaign started before: exactly the positions it has not
    /// committed yet, refused if the spec, order, seed, positions or table
    /// differ from the stored campaign. A campaign never started simply
    /// starts.
    Resume,
    /// A new campaign taking the next `limit` positions of this spec that
    /// no earlier campaign took ([`ledger::reserve`]), so campaigns of the
    /// same spec never repeat a name. An exhausted spec is refused. For a
    /// spec converted from a campaign-service config the cursor is the
    /// service's own offset for that config
    /// ([`ledger::ConfigState::for_spec`]).
    Continue,
}

/// What to write where.
#[derive(Clone, Debug)]
pub struct CampaignOptions {
    /// The campaign's id: rows carry it in `campaign_id`.
    pub campaign_id: Uuid,
    /// The table to COPY into; it needs columns `campaign_id uuid`,
    /// `offset_index bigint` and `domain_name text`, fills the
    /// [`CampaignOptions::provenance`] columns it has, and others take
    /// their defaults.
    pub table: String,
    /// Which positions to write.
    pub start: Start,
    /// Connections that COPY batches in parallel.
    pub connections: usize,
    /// Skip names the table has already (staging + `INSERT … ON CONFLICT
    /// (domain_name) DO NOTHING`); creates a unique index on `domain_name`
    /// if the table has none.
    pub unique: bool,
    /// How the run rides through a restart or a lost connection.
    pub retry: Retry,
    /// The table's columns for the keyword, pattern and TLD each name was
    /// built from, written only where the table has them (by default the
    /// campaign service's `source_keyword`, `source_pattern`, `tld`;
    /// [`Provenance::none`] writes three columns whatever the table has).
    pub provenance: Provenance,
}

/// What a campaign run did.
#[derive(Clone, Debug)]
pub struct CampaignReport {
    /// This run's id (`generation_runs.run_id`, `memory_allocations.operation_id`).
    pub run_id: Uuid,
    /// The engine's report, summed over the ranges written.
    pub report: Report,
    /// Rows the campaign had before this run.
    pub rows_before: u64,
    /// Rows the campaign has in all, once this run ended.
    pub rows_total: u64,
    /// Positions the campaign covers.
    pub positions: Range<u64>,
    /// Whether the campaign was complete already and nothing was written.
    pub already_complete: bool,
    /// Names skipped because the table had them already (`unique` mode).
    pub already_present: u64,
    /// Connections lost during the run and opened anew.
    pub reconnects: u64,
    /// The provenance columns the rows filled: those of
    /// [`CampaignOptions::provenance`] the table has.
    pub provenance: Provenance,
    /// The batch sizes chosen, and why ([`crate::sizing`]).
    pub sizing: SizingReport,
}

/// A campaign registered and ready to run: its positions settled, the
/// batches it lacks known.
#[derive(Clone, Debug)]
pub struct Prepared {
    space: Space,
    options: CampaignOptions,
    sizing: Sizing,
    missing: Vec<Range<u64>>,
    committed_rows: u64,
    reserved: Option<Range<u64>>,
    target: Target,
}

impl Prepared {
    /// The space with the campaign's positions selected.
    pub fn space(&self) -> &Space {
        &self.space
    }

    /// The positions [`Start::Continue`] reserved for this campaign.
    pub fn reserved(&self) -> Option<Range<u64>> {
        self.reserved.clone()
    }

    /// Positions not committed yet: what [`Prepared::run`] writes.
    pub fn missing(&self) -> &[Range<u64>] {
        &self.missing
    }

    /// Rows committed before this run.
    pub fn committed_rows(&self) -> u64 {
        self.committed_rows
    }

    /// Names per cell: the campaign's grid.
    pub fn batch_names(&self) -> u64 {
        self.sizing.cell
    }

    /// The batch sizes the run starts from and may choose from, and why.
    pub fn sizing(&self) -> &Sizing {
        &self.sizing
    }

    /// The provenance columns the rows fill: those of
    /// [`CampaignOptions::provenance`] the table has.
    pub fn provenance(&self) -> &Provenance {
        self.target.provenance()
    }
}

/// Settles which positions the campaign writes and registers it (see
/// [`Start`]): `space` is `spec` compiled (the caller compiles it, so that
/// its errors can name the spec's file). Nothing is written but the
/// campaign's row, and the cursor [`Start::Continue`] moves.
pub async fn prepare(
    client: &Client,
    spec: &Spec,
    mut space: Space,
    generator: &Generator,
    options: &CampaignOptions,
) -> Result<Prepared, Error> {
    crate::migrate::check_migrated(client).await?;
    let id = options.campaign_id;
    let provenance = ledger::check_table(client, &options.table, &options.provenance).await?;
    let target = if options.unique {
        Target::unique(&options.table, &provenance)?
    } else {
        Target::table(&options.table, &provenance)?
    };
    // Before the cursor moves: the rows as written, pieces and all, must
    // fit the budget.
    generator
        .check(&space, &target.encoder(id, &space))
        .map_err(Error::engine)?;
    let stored = ledger::stored_campaign(client, id).await?;
    let mut reserved = None;
    match (options.start, &stored) {
        (Start::Continue, Some(_)) => {
            return Err(Error::usage(format!(
                "campaign {id} already exists; `Start::Continue` starts a new campaign (finish this one with `Start::Resume`)"
            )));
        }
        (Start::Continue, None) => {
            keep_continued_order(client, &mut space).await?;
            let state = ledger::ConfigState::for_spec(spec, &space)?;
            let positions = ledger::reserve(client, &state, &space, spec.limit).await?;
            tracing::info!(
                campaign = %id,
                start = positions.start,
                end = positions.end,
                "positions reserved"
            );
            space.select(positions.clone());
            reserved = Some(positions);
        }
        // A resumed campaign keeps the positions it was given (by
        // `Start::Continue`, say) unless the spec names others.
        (Start::Resume, Some(stored))
            if spec.offset == 0
                && spec.limit.is_none()
                && stored.positions.end <= space.total() =>
        {
            space.select(stored.positions.clone());
        }
        _ => {}
    }
    if options.unique {
        ledger::ensure_unique_index(client, &options.table).await?;
    }
    // The rows' pieces count in their size, so in the batch size.
    let largest = generator
        .batch_names_for(&space, &target.encoder(id, &space))
        .map_err(Error::engine)?;
    let shape = sizing::table_shape(client, &options.table).await?;
    let sizing = match generator.pinned_batch_names() {
        Some(names) => Sizing::pinned(names, sizing::PINNED),
        None => Sizing::for_table(&options.table, &shape, largest),
    };
    let registered = ledger::register_campaign(
        client,
        &Registration {
            campaign_id: id,
            spec,
            space: &space,
            batch_names: sizing.cell,
            adaptive: sizing.adaptive,
            table: &options.table,
            writer: Writer::Generate,
        },
    )
    .await?;
    let selection = space.selection();
    let mut prepared = Prepared {
        sizing,
        missing: if selection.is_empty() {
            vec![]
        } else {
            vec![selection.clone()]
        },
        committed_rows: 0,
        reserved,
        space,
        options: options.clone(),
        target,
    };
    if registered.created {
        return Ok(prepared);
    }
    let stored = registered.stored;
    if stored.writer == Writer::Workers {
        return Err(Error::usage(format!(
            "campaign {id} was planned for workers (`workers::plan`); write it with `workers::work`, or use a new `campaign_id`"
        )));
    }
    if options.start != Start::Resume {
        return Err(Error::usage(format!(
            "campaign {id} already exists; set `Start::Resume` to finish it, or use a new `campaign_id`"
        )));
    }
    stored.keep_order(&mut prepared.space)?;
    let differ = stored.differences(&prepared.space, &options.table, None);
    if !differ.is_empty() {
        return Err(Error::usage(format!(
            "cannot resume: {} from the stored campaign; resume with the same spec and options, or start a new `campaign_id`",
            ledger::differ_sentence(&differ)
        )));
    }
    prepared.sizing = resumed_sizing(&stored, generator.pinned_batch_names(), &shape, largest);
    (prepared.missing, prepared.committed_rows) = ledger::missing(client, id, selection).await?;
    tracing::info!(
        campaign = %id,
        rows_before = prepared.committed_rows,
        missing = prepared.missing.iter().map(|r| r.end - r.start).sum::<u64>(),
        ranges = prepared.missing.len(),
        "resuming campaign"
    );
    Ok(prepared)
}

/// Puts a shuffled `space` in the version of its order whose cursor in
/// `domain_generation_config_states` campaigns continuing the spec have
/// moved, whatever version was asked for: campaigns continuing a spec
/// take disjoint positions of one order, and the positions of two orders
/// are not disjoint. So a spec continued before a newer order came (or
/// with `shuffle_version` set) goes on in the order it began with; one
/// never continued takes the version asked for. Refused when cursors of
/// several versions exist (made by hand, or by two first campaigns asking
/// different versions at once): their names may overlap already.
async fn keep_continued_order(client: &Client, space: &mut Space) -> Result<(), Error> {
    if space.order() != Order::Shuffled {
        return Ok(());
    }
    let wanted = space.shuffle_version();
    let mut moved = Vec::new();
    for version in SHUFFLE_VERSIONS {
        space.set_shuffle_version(version)?;
        let state = ledger::ConfigState::domgen(space);
        if ledger::cursor_exists(client, &state).await? {
            moved.push((version, state.config_hash));
        }
    }
    match moved.as_slice() {
        [] => Ok(space.set_shuffle_version(wanted)?),
        [(version, _)] => Ok(space.set_shuffle_version(*version)?),
        several => Err(Error::usage(format!(
            "campaigns continuing this spec moved cursors of several shuffled order versions ({}), whose positions are not disjoint: names may repeat across those campaigns. Keep the cursor of one version (delete the other rows from domain_generation_config_states) or start afresh with another seed",
            several
                .iter()
                .map(|(version, key)| format!("version {version}: {key}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The sizes a resumed campaign writes its missing cells in: its own grid,
/// grouped as a pinned size says (rounded to whole cells), or as measured
/// if the campaign was registered adaptive; a campaign of fixed batches
/// keeps them.
fn resumed_sizing(
    stored: &ledger::StoredCampaign,
    pinned: Option<u64>,
    shape: &sizing::TableShape,
    largest: u64,
) -> Sizing {
    let cell = stored.batch_names;
    match (stored.adaptive, pinned) {
        (false, _) => Sizing::pinned(
            cell,
            "the campaign was registered with fixed batches of this size",
        ),
        (true, Some(names)) => {
            let cells = (names / cell).clamp(1, sizing::MAX_GROUP_CELLS);
            Sizing {
                start_cells: cells,
                max_cells: cells,
                adaptive: false,
                why: format!(
                    "{}, in whole cells of the campaign's grid ({cell} names)",
                    sizing::PINNED
                ),
                ..Sizing::pinned(cell, "")
            }
        }
        (true, None) => Sizing::for_grid(cell, &stored.table, shape, largest),
    }
}

/// What a commit task gives back: its connection (unless it broke), the
/// batch's cells, when it ended, how long its commit took (`None` when the
/// ledger said a commit cut short had landed), and what became of the
/// batch.
type Committed = (
    Option<Connection>,
    Vec<Range<u64>>,
    std::time::Instant,
    Option<f64>,
    Result<Outcome, Error>,
);

/// Writes batches into PostgreSQL over one or more connections, each batch
/// in one transaction with its ledger rows ([`ledger::commit_batch`]).
///
/// The engine hands it cells of the campaign's grid; it groups as many as
/// its [`Sizer`] says into one commit, and tells the sizer what each commit
/// achieved ([`crate::sizing`]). Called by the engine's coordinator thread,
/// it drives the async clients with `Handle::block_on`, so it must not run
/// on a runtime worker thread (use `spawn_blocking` or a plain thread). A
/// cell is copied into a buffer of its own; a full group is committed by a
/// task on an idle connection; with every connection the sizer allows busy,
/// `write_batch` waits for one. So at most one group per connection is in
/// the database's hands and one is being filled, and [`Sink::finish`]
/// commits the last and waits for them all.
pub struct PgSink {
    handle: Handle,
    idle: Vec<Connection>,
    busy: tokio::task::JoinSet<Committed>,
    campaign_id: Uuid,
    target: Arc<Target>,
    source: Arc<Connections>,
    retry: Retry,
    reconnects: Arc<AtomicU64>,
    meters: Arc<Meters>,
    sizer: Sizer,
    /// The group being filled: its cells and their rows.
    cells: Vec<Range<u64>>,
    chunks: Vec<Bytes>,
    /// Commits made.
    pub commits: u64,
    /// Rows committed by this sink.
    pub committed_rows: u64,
    /// Names skipped because the table had them already (`unique` mode).
    pub already_present: u64,
}

impl PgSink {
    /// A sink writing to `target` for `campaign_id` over `connections`
    /// connections from `source`, in batches `sizing` allows (cells of its
    /// grid, grouped as measured); a connection lost during a commit is
    /// opened anew and the batch committed again, as `retry` allows (the
    /// ledger says whether the cut commit had landed). With a
    /// [`Target::unique`], each batch goes through a staging table and
    /// `INSERT … ON CONFLICT (domain_name) DO NOTHING`, so names already in
    /// the table are skipped (the table needs a unique index on
    /// `domain_name`; see [`ledger::ensure_unique_index`]). The batches
    /// must be encoded for the target ([`Target::encoder`]).
    pub async fn connect(
        handle: Handle,
        source: &Connections,
        connections: usize,
        campaign_id: Uuid,
        target: Target,
        retry: Retry,
        sizing: Sizing,
    ) -> Result<PgSink, Error> {
        let mut idle = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            idle.push(retry.open(source, None, &mut retry.backoff()).await?);
        }
        Ok(PgSink {
            handle,
            busy: tokio::task::JoinSet::new(),
            campaign_id,
            target: Arc::new(target),
            source: Arc::new(source.clone()),
            retry,
            reconnects: Arc::default(),
            meters: Arc::new(Meters::new(campaign_id)),
            sizer: Sizer::new(sizing, idle.len()),
            idle,
            cells: Vec::new(),
            chunks: Vec::new(),
            commits: 0,
            committed_rows: 0,
            already_present: 0,
        })
    }

    /// Connections lost during a commit and opened anew.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// What the sizing did.
    pub fn sizing(&self) -> SizingReport {
        self.sizer.report()
    }

    /// Waits for one busy connection and takes back its outcome.
    fn settle_one(&mut self) -> Result<(), Error> {
        let Some(joined) = self.handle.block_on(self.busy.join_next()) else {
            return Ok(());
        };
        let (connection, cells, done, seconds, outcome) =
            joined.map_err(|e| Error::task("a COPY task", e))?;
        self.idle.extend(connection);
        let names: u64 = cells.iter().map(|c| c.end - c.start).sum();
        match outcome? {
            Outcome::Committed { rows } => {
                let first_to_last = cells[0].start..cells[cells.len() - 1].end;
                self.meters.committed(first_to_last, rows, seconds);
                self.commits += 1;
                self.committed_rows += rows;
                self.already_present += names.saturating_sub(rows);
                self.sizer.committed(cells.len() as u64, names, done);
                Ok(())
            }
            Outcome::Refused => Err(Error::database(format!(
                "batch {}..{} was refused by the ledger, though it was not leased",
                cells[0].start,
                cells[cells.len() - 1].end
            ))),
        }
    }

    /// Waits for every busy connection.
    fn settle_all(&mut self) -> Result<(), Error> {
        let mut first = None;
        while !self.busy.is_empty() {
            if let Err(e) = self.settle_one() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Waits for every commit, closes the connections and waits for their
    /// tasks to end, so their buffers are freed. A group still being
    /// filled is dropped, not committed: [`Sink::finish`] commits it at the
    /// end of a run, and after a failure its cells are left to the resume.
    pub fn close(mut self) -> Result<(), Error> {
        let settled = self.settle_all();
        for connection in self.idle.drain(..) {
            self.handle.block_on(connection.close());
        }
        settled
    }

    /// Commits the group being filled on an idle connection, waiting for
    /// one while as many as the sizer allows are busy.
    fn send_group(&mut self) -> Result<(), Error> {
        if self.cells.is_empty() {
            return Ok(());
        }
        while self.idle.is_empty() || self.busy.len() >= self.sizer.active_connections() {
            if self.busy.is_empty() {
                return Err(Error::database(
                    "no COPY connection is left: each was lost with a batch",
                ));
            }
            self.settle_one()?;
        }
        let connection = self.idle.pop().expect("an idle connection was waited for");
        let (cells, chunks) = (
            std::mem::take(&mut self.cells),
            std::mem::take(&mut self.chunks),
        );
        let (target, campaign_id) = (Arc::clone(&self.target), self.campaign_id);
        let (source, retry) = (Arc::clone(&self.source), self.retry);
        let (reconnects, meters) = (Arc::clone(&self.reconnects), Arc::clone(&self.meters));
        // A group's cells need not be neighbours: its span names the first
        // and last, and how many.
        let span = tracing::debug_span!(
            "batch",
            start = cells[0].start,
            end = cells[cells.len() - 1].end,
            cells = cells.len()
        );
        self.busy.spawn_on(
            async move {
                let batch = Batch {
                    campaign_id,
                    positions: &cells,
                    claim: Claim::Unclaimed,
                    chunks: &chunks,
                };
                let (connection, outcome, seconds) = commit_riding_through(
                    connection,
                    &source,
                    &retry,
                    &target,
                    &batch,
                    &reconnects,
                    &meters,
                )
                .await;
                (
                    connection,
                    cells,
                    std::time::Instant::now(),
                    seconds,
                    outcome,
                )
            }
            .instrument(span),
            &self.handle,
        );
        Ok(())
    }
}

impl Sink for PgSink {
    type Error = Error;

    fn ordered(&self) -> bool {
        false
    }

    fn write_batch(&mut self, positions: Range<u64>, bytes: &[u8]) -> Result<Flow, Error> {
        self.cells.push(positions);
        self.chunks.push(Bytes::copy_from_slice(bytes));
        if self.cells.len() as u64 >= self.sizer.cells() {
            self.send_group()?;
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self) -> Result<(), Error> {
        let sent = self.send_group();
        let settled = self.settle_all();
        sent.and(settled)
    }
}

/// Commits `batch` (unclaimed) on `connection`; when the connection is lost
/// or the commit goes unanswered, opens another and commits again, unless
/// the ledger says the cut commit landed. Gives back the connection, if one
/// is left, the outcome, and how long the commit took when it was this
/// attempt's (not when the ledger says a cut one landed).
async fn commit_riding_through(
    mut connection: Connection,
    source: &Connections,
    retry: &Retry,
    target: &Target,
    batch: &Batch<'_>,
    reconnects: &AtomicU64,
    meters: &Meters,
) -> (Option<Connection>, Result<Outcome, Error>, Option<f64>) {
    let starts: Vec<u64> = batch.positions.iter().map(|c| c.start).collect();
    let what = format!(
        "the commit of batch {}..{}{}",
        starts[0],
        batch.positions[0].end,
        match starts.len() {
            1 => String::new(),
            n => format!(" and {} more cells", n - 1),
        }
    );
    let mut backoff: Option<Backoff> = None;
    loop {
        let attempt = std::time::Instant::now();
        let failure = match retry
            .commit(
                &what,
                ledger::commit_batch(connection.client(), target, batch),
            )
            .await
        {
            Err(e) if e.is_transient() => e,
            Err(e) if backoff.is_some() => {
                // A commit cut before might have landed after all (its
                // transaction ended after we gave up on it): then the
                // ledger refuses this one, and says so.
                let landed = retry
                    .statement(
                        "reading the ledger",
                        ledger::committed(connection.shared(), batch.campaign_id, &starts),
                    )
                    .await;
                return match landed {
                    Ok(Some(c)) => (
                        Some(connection),
                        Ok(Outcome::Committed { rows: c.rows }),
                        None,
                    ),
                    _ => (Some(connection), Err(e), None),
                };
            }
            result => {
                let seconds = attempt.elapsed().as_secs_f64();
                return (Some(connection), result, Some(seconds));
            }
        };
        connection.abandon();
        let backoff = backoff.get_or_insert_with(|| retry.backoff());
        if let Err(e) = backoff.pause(failure).await {
            return (None, Err(e), None);
        }
        connection = match retry.open(source, None, backoff).await {
            Ok(c) => c,
            Err(e) => return (None, Err(e), None),
        };
        reconnects.fetch_add(1, Ordering::Relaxed);
        meters.reconnected();
        // Whether the commit that was cut had landed: then it is not
        // written again.
        let landed = retry
            .statement(
                "reading the ledger",
                ledger::committed(connection.shared(), batch.campaign_id, &starts),
            )
            .await;
        match landed {
            Ok(Some(c)) => {
                return (
                    Some(connection),
                    Ok(Outcome::Committed { rows: c.rows }),
                    None,
                );
            }
            Ok(None) => {}
            // Lost again: the loop's next commit finds out.
            Err(e) if e.is_transient() => {}
            Err(e) => return (Some(connection), Err(e), None),
        }
    }
}

impl Prepared {
    /// Runs the campaign to completion (or to cancellation) on the calling
    /// thread, which must not be a runtime worker (the sink drives
    /// `handle`'s runtime with `block_on`): writes the missing batches with
    /// `generator` over the options' connections from `connections`,
    /// records a `generation_runs` row and a `memory_allocations` row on a
    /// control connection of its own, and reports. `progress` hears of
    /// every batch written. A lost connection is opened anew as the
    /// options' [`Retry`] allows, and the run goes on.
    pub fn run(
        self,
        handle: &Handle,
        connections: &Connections,
        generator: &Generator,
        cancel: Option<&CancelToken>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<CampaignReport, Error> {
        let run_id = Uuid::new_v4();
        let positions = self.space.selection();
        let span = tracing::info_span!(
            "campaign",
            campaign = %self.options.campaign_id,
            run = %run_id,
            order = ?self.space.order(),
            start = positions.start,
            end = positions.end,
        );
        let _entered = span.enter();
        let ran = self.run_in_span(run_id, handle, connections, generator, cancel, progress);
        if let Err(e) = &ran {
            tracing::warn!(error = %e, "campaign run failed");
        }
        ran
    }

    /// [`Prepared::run`], inside the run's span.
    fn run_in_span(
        self,
        run_id: Uuid,
        handle: &Handle,
        connections: &Connections,
        generator: &Generator,
        cancel: Option<&CancelToken>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<CampaignReport, Error> {
        let options = &self.options;
        let positions = self.space.selection();
        tracing::info!(
            rows_before = self.committed_rows,
            missing = self.missing.iter().map(|r| r.end - r.start).sum::<u64>(),
            connections = options.connections,
            "campaign run started"
        );
        let mut control = handle.block_on(Control::open(connections, options.retry, None))?;
        let campaign_id = options.campaign_id;
        handle.block_on(control.call("registering the run", |client| {
            Box::pin(async move {
                client
                    .execute_typed(
                        "INSERT INTO generation_runs (run_id, campaign_id, status) VALUES ($1, $2, 'running')
                         ON CONFLICT (run_id) DO NOTHING",
                        &[(&run_id, Type::UUID), (&campaign_id, Type::UUID)],
                    )
                    .await?;
                Ok(())
            })
        }))?;
        let encoder = self.target.encoder(options.campaign_id, &self.space);
        let mut total: Option<Report> = None;
        let mut failure = None;
        // The batches go over connections of their own, closed before the
        // heap is measured again: their buffers grow to a batch and are not
        // a leak of the run.
        let mut sink = handle.block_on(PgSink::connect(
            handle.clone(),
            connections,
            options.connections,
            options.campaign_id,
            self.target.clone(),
            options.retry,
            self.sizing.clone(),
        ))?;
        for range in &self.missing {
            let run = RunOptions {
                batch_names: Some(self.sizing.cell),
                cancel,
                progress: Some(&mut *progress),
                ..RunOptions::new(range.clone())
            };
            match generator.run(&self.space, &encoder, &mut sink, run) {
                Ok(report) => {
                    let stopped = report.stopped_early;
                    match &mut total {
                        Some(t) => t.absorb(report),
                        None => total = Some(report),
                    }
                    if stopped {
                        break;
                    }
                }
                Err(e) => {
                    // The sink's own error keeps its kind (a refused
                    // statement is the database's, not the engine's).
                    failure = Some(e.into_sink_error::<Error>().unwrap_or_else(Error::engine));
                    break;
                }
            }
        }
        // Commits still in flight after a failure count once they settle.
        if let Err(e) = sink.settle_all() {
            failure.get_or_insert(e);
        }
        let (committed, already_present) = (sink.committed_rows, sink.already_present);
        let (reconnects, commits, sizing) = (sink.reconnects(), sink.commits, sink.sizing());
        if let Err(e) = sink.close() {
            failure.get_or_insert(e);
        }
        let mut report = total.unwrap_or_default();
        if let Some(stats) = domgen_alloc::stats() {
            report.live_bytes_after = Some(stats.live_bytes);
        }
        // Rows the database committed, and its commits, not the cells
        // handed to the sink.
        report.names = committed;
        report.names_per_sec = if report.duration_secs > 0.0 {
            committed as f64 / report.duration_secs
        } else {
            0.0
        };
        report.batches = commits;
        report.batch_names = sizing.final_names;
        let recorded = handle.block_on(record_run(
            &mut control,
            run_id,
            options.campaign_id,
            &report,
            failure.is_none(),
        ));
        handle.block_on(control.close());
        let rows_total = self.committed_rows + committed;
        if let Some(e) = failure {
            return Err(e.context(format!(
                "{committed} rows of {} were committed before it ({} in all)",
                self.space.len(),
                self.committed_rows + committed
            )));
        }
        recorded?;
        tracing::info!(
            rows = committed,
            batches = commits,
            rows_total,
            seconds = report.duration_secs,
            reconnects,
            stopped_early = report.stopped_early,
            "campaign run finished"
        );
        Ok(CampaignReport {
            run_id,
            rows_before: self.committed_rows,
            rows_total,
            positions,
            already_complete: self.missing.is_empty(),
            already_present,
            reconnects,
            provenance: self.target.provenance().clone(),
            sizing,
            report,
        })
    }
}

/// Records how a run ended: its `generation_runs` row and its
/// `memory_allocations` row (each safe to repeat after a lost connection).
async fn record_run(
    control: &mut Control,
    run_id: Uuid,
    campaign_id: Uuid,
    report: &Report,
    succeeded: bool,
) -> Result<(), Error> {
    let status = match (succeeded, report.stopped_early) {
        (false, _) => "failed",
        (true, true) => "interrupted",
        (true, false) => "complete",
    };
    let report_json = serde_json::to_value(report)
        .map_err(|e| Error::usage(format!("the run report cannot be stored: {e}")).because(e))?;
    let rows = to_i64(report.names, "rows")?;
    control
        .call("recording the run", |client| {
            let report_json = report_json.clone();
            Box::pin(async move {
                client
                    .execute_typed(
                        "UPDATE generation_runs SET finished_at = now(), status = $2, positions_written = $3, report = $4
                         WHERE run_id = $1",
                        &[
                            (&run_id, Type::UUID),
                            (&status, Type::TEXT),
                            (&rows, Type::INT8),
                            (&report_json, Type::JSONB),
                        ],
                    )
                    .await?;
                Ok(())
            })
        })
        .await?;
    let duration_ms =
        i32::try_from(std::time::Duration::from_secs_f64(report.duration_secs).as_millis())
            .unwrap_or(i32::MAX);
    let bytes = |b: Option<u64>| b.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
    let (allocated, peak) = (bytes(report.allocated_bytes), bytes(report.peak_live_bytes));
    let clean = succeeded && report.leaked_bytes().is_none_or(|l| l <= 0);
    let leaked = report.leaked_bytes().unwrap_or(0);
    let operation = run_id.to_string();
    control
        .call("recording the run's memory", |client| {
            let (operation, report_json) = (operation.clone(), report_json.clone());
            Box::pin(async move {
            client
                .execute_typed(
                    "INSERT INTO memory_allocations
                       (operation_id, operation_type, campaign_id, allocated_bytes, peak_bytes, duration_ms,
                        allocation_pattern, cleanup_successful, memory_leaked_bytes)
                     SELECT $1, 'domain_generation', $2, $3, $4, $5, $6, $7, $8
                     WHERE NOT EXISTS (SELECT 1 FROM memory_allocations WHERE operation_id = $1)",
                    &[
                        (&operation, Type::VARCHAR),
                        (&campaign_id, Type::UUID),
                        (&allocated, Type::INT8),
                        (&peak, Type::INT8),
                        (&duration_ms, Type::INT4),
                        (&report_json, Type::JSONB),
                        (&clean, Type::BOOL),
                        (&leaked, Type::INT8),
                    ],
                )
                .await?;
            Ok(())
            })
        })
        .await
}

impl fmt::Display for CampaignReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.already_complete {
            return write!(
                f,
                "the campaign is already complete ({} rows); nothing written",
                self.rows_total
            );
        }
        write!(
            f,
            "wrote {} rows in {} batches ({:.0} rows/s); the campaign has {} of {} rows",
            self.report.names,
            self.report.batches,
            self.report.names_per_sec,
            self.rows_total,
            self.positions.end - self.positions.start
        )?;
        if self.already_present > 0 {
            write!(
                f,
                "; {} names were already present and skipped",
                self.already_present
            )?;
        }
        if self.reconnects > 0 {
            write!(f, "; {} lost connections were opened anew", self.reconnects)?;
        }
        let sizing = &self.sizing;
        if sizing.adaptive {
            write!(
                f,
                "; batches of {} names on {} connection{} at the end (from {}, in cells of {}; {} windows measured)",
                sizing.final_names,
                sizing.final_connections,
                if sizing.final_connections == 1 {
                    ""
                } else {
                    "s"
                },
                sizing.start_names,
                sizing.cell,
                sizing.windows
            )?;
        }
        Ok(())
    }
}

/// The campaign service's call: compiles `spec`, prepares the campaign
/// ([`prepare`]: new, resumed or continued, as `options.start` says),
/// writes its missing batches and returns the report. The connections come
/// from the host's pool (`deadpool_postgres::Pool`) or are opened with a
/// `tokio_postgres::Config`; either converts into [`Connections`]: a
/// control connection and `options.connections` COPY connections. Async:
/// the engine runs on a blocking thread (`spawn_blocking`) and its sink
/// drives this runtime's connections, so call it from a multi-threaded
/// tokio runtime.
///
/// The database must be migrated ([`crate::migrate::migrate`]).
pub async fn generate(
    connections: impl Into<Connections>,
    spec: Spec,
    options: CampaignOptions,
    generator: Arc<Generator>,
    cancel: Option<CancelToken>,
) -> Result<CampaignReport, Error> {
    let connections = connections.into();
    let space = Space::compile(&spec)?;
    let mut control = Control::open(&connections, options.retry, None).await?;
    let prepared = prepare(control.client().await?, &spec, space, &generator, &options).await;
    control.close().await;
    let prepared = prepared?;
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        prepared.run(
            &handle,
            &connections,
            &generator,
            cancel.as_ref(),
            &mut |_| {},
        )
    })
    .await
    .map_err(|e| Error::task("the generation task", e))?
}
