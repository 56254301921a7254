//! Generation workers: many processes, on many machines, write one
//! campaign, with PostgreSQL as the only coordinator.
//!
//! [`plan`] stores a campaign's spec, order, positions and batch size in
//! `generation_campaigns`, with a cursor `next_start` at its first
//! position. The ledger is lazy: no batch row exists until a worker takes
//! the batch, so planning 10^9 positions writes one row.
//!
//! A worker [`claim`]s a batch: first a batch given back ([`release`]) or
//! one whose lease expired (its worker died or stalled), locked with
//! `SELECT … FOR UPDATE SKIP LOCKED` so that two workers never take the
//! same one; else the next cell of the grid, by moving the cursor and
//! inserting the batch's `leased` ledger row in one statement. A lease is
//! a fresh token and an expiry, both judged by the database's clock; the
//! worker [`renew`]s it while the engine renders the batch.
//!
//! [`commit`] sends the batch's rows with COPY and then moves its ledger
//! row to `committed` *only if the lease still holds*: same token, still
//! `leased`, not expired by `statement_timestamp()` — the same transaction
//! as `generate`'s batches, [`ledger::commit_batch`]. Otherwise nothing is
//! updated, the transaction is rolled back with its rows, and the outcome
//! is [`Outcome::Refused`]: a worker that was paused past its lease and
//! woke after another took its batch over cannot write it a second time.
//! Once the fenced update has run, the row is locked until the commit, so
//! a takeover (which skips locked rows) cannot slip in between.
//!
//! [`work`] is the loop an embedded worker runs; `domgen worker` runs it.
//! A planned campaign's progress is read with [`crate::read::status`].

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use domgen_engine::{CancelToken, Flow, Generator, RunOptions, Sink};
use domgen_pattern::{Space, Spec};
use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::types::Type;
use tracing::Instrument;
use uuid::Uuid;

use crate::connect::{Connection, Connections};
use crate::copy::CopyRows;
use crate::error::Error;
pub use crate::ledger::Outcome;
use crate::ledger::{self, Batch, Claim, Provenance, Registration, Target, Writer, to_i64};
use crate::retry::{Backoff, Control, Retry, Statement, statement};
use crate::sizing::{self, Sizer, Sizing, SizingReport};
use crate::telemetry::Meters;

/// What [`plan`] registers.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// The campaign's id; workers need only this.
    pub campaign_id: Uuid,
    /// Names per batch, pinned: the unit a worker claims, renders and
    /// commits. `None`: the grid is a cell chosen from the table's shape,
    /// and each worker leases as many cells at once as it measures to be
    /// fastest ([`crate::sizing`]; at most [`LARGEST_LEASE`] names).
    pub batch_names: Option<u64>,
    /// The table rows go to (columns `campaign_id`, `offset_index`,
    /// `domain_name`).
    pub table: String,
}

/// A planned campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// The campaign's id.
    pub campaign_id: Uuid,
    /// The positions it covers.
    pub positions: Range<u64>,
    /// Names per batch: the grid (a cell, when `sizing` is adaptive).
    pub batch_names: u64,
    /// Batches in all (the last one may be shorter); cells, when adaptive.
    pub batches: u64,
    /// The sizes workers lease, and why.
    pub sizing: Sizing,
    /// Whether this call registered it (false: it was planned already, with
    /// the same spec and settings).
    pub created: bool,
}

impl fmt::Display for Planned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "campaign {} {}: positions {}..{} ({} names) in {} {} of {}",
            self.campaign_id,
            if self.created {
                "planned"
            } else {
                "was planned already, the same way"
            },
            self.positions.start,
            self.positions.end,
            self.positions.end - self.positions.start,
            self.batches,
            if self.sizing.adaptive {
                "cells"
            } else {
                "batches"
            },
            self.batch_names
        )?;
        if self.sizing.adaptive {
            write!(
                f,
                "; workers lease {} names at first, then as measured: {}",
                self.sizing.start_names(),
                self.sizing.why
            )?;
        }
        Ok(())
    }
}

/// The most names a worker leases at once when the batch size is measured:
/// the batch size a plan had by default before it was.
pub const LARGEST_LEASE: u64 = 100_000;

/// Registers a campaign for workers: its spec (compiled here, so a bad one
/// is refused before anything is stored), order, seed, positions, batch
/// size and table. Planning the same campaign again with the same spec and
/// settings is a no-op; with anything different it is refused.
pub async fn plan(client: &Client, spec: &Spec, options: &PlanOptions) -> Result<Planned, Error> {
    crate::migrate::check_migrated(client).await?;
    let mut space = Space::compile(spec)?;
    let id = options.campaign_id;
    let sizing = match options.batch_names {
        Some(names) => Sizing::pinned(names, "the batch size was given, which pins it"),
        None => {
            ledger::check_table(client, &options.table, &Provenance::none()).await?;
            let shape = sizing::table_shape(client, &options.table).await?;
            Sizing::for_table(&options.table, &shape, LARGEST_LEASE)
        }
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
            writer: Writer::Workers,
        },
    )
    .await?;
    let positions = space.selection();
    tracing::info!(
        campaign = %id,
        created = registered.created,
        start = positions.start,
        end = positions.end,
        "campaign planned"
    );
    let planned = |sizing: Sizing| Planned {
        campaign_id: id,
        batches: (positions.end - positions.start).div_ceil(sizing.cell),
        positions: positions.clone(),
        batch_names: sizing.cell,
        created: registered.created,
        sizing,
    };
    if registered.created {
        return Ok(planned(sizing));
    }
    let stored = &registered.stored;
    if stored.writer == Writer::Generate {
        return Err(started_by_generate(id));
    }
    stored.keep_order(&mut space)?;
    let mut differ = stored.differences(&space, &options.table, options.batch_names);
    if stored.adaptive && options.batch_names == Some(stored.batch_names) {
        differ.push(format!(
            "the batch size ({} pinned now, measured in cells of {} stored)",
            stored.batch_names, stored.batch_names
        ));
    }
    if differ.is_empty() {
        // What the workers will do: the stored grid, not today's reading.
        let sizing =
            stored_sizing(client, stored.batch_names, stored.adaptive, &stored.table).await?;
        return Ok(planned(sizing));
    }
    Err(Error::usage(format!(
        "campaign {id} is planned already, and {} from it; plan it with the same spec and options, or use a new `campaign_id`",
        ledger::differ_sentence(&differ)
    )))
}

/// The sizes a planned campaign's workers lease: runs of its cells as
/// measured on `table`, or its fixed batches.
async fn stored_sizing(
    client: &Client,
    cell: u64,
    adaptive: bool,
    table: &str,
) -> Result<Sizing, Error> {
    if !adaptive {
        return Ok(Sizing::pinned(
            cell,
            "the campaign was planned with fixed batches of this size",
        ));
    }
    let shape = sizing::table_shape(client, table).await?;
    Ok(Sizing::for_grid(
        cell,
        table,
        &shape,
        LARGEST_LEASE.max(cell),
    ))
}

fn started_by_generate(id: Uuid) -> Error {
    Error::usage(format!(
        "campaign {id} was started by `campaign::generate`, not planned for workers; finish it with `campaign::generate` and `Start::Resume`"
    ))
}

/// A campaign planned for workers, as stored.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// The campaign's id.
    pub campaign_id: Uuid,
    /// The stored spec.
    pub spec: Spec,
    /// The spec compiled, with the stored positions selected.
    pub space: Space,
    /// The positions the campaign covers.
    pub positions: Range<u64>,
    /// Names per batch: the grid (a cell, when `adaptive`).
    pub batch_names: u64,
    /// Whether workers lease a measured number of cells at once.
    pub adaptive: bool,
    /// The table rows go to.
    pub table: String,
}

/// Reads a campaign planned for workers; refuses one that does not exist,
/// one written by `generate`, or one whose stored spec no longer compiles
/// to the same names.
pub async fn load(client: &Client, campaign_id: Uuid) -> Result<Campaign, Error> {
    let Some(stored) = ledger::stored_campaign(client, campaign_id).await? else {
        return Err(Error::usage(format!(
            "campaign {campaign_id} is not planned; run `workers::plan` first"
        )));
    };
    if stored.writer == Writer::Generate {
        return Err(started_by_generate(campaign_id));
    }
    let mut space = Space::compile(&stored.spec).map_err(|e| {
        Error::usage(format!(
            "campaign {campaign_id}: the stored spec no longer compiles: {e}"
        ))
        .because(e)
    })?;
    if space.fingerprint() != stored.fingerprint {
        return Err(Error::usage(format!(
            "campaign {campaign_id}: the stored spec compiles to other names than when it was planned (fingerprint {} now, {} stored): this domgen's pattern rules differ from the planner's; run workers of the planner's version",
            space.fingerprint(),
            stored.fingerprint
        )));
    }
    let positions = stored.positions;
    if positions.end > space.total() || positions.start > positions.end {
        return Err(Error::database(format!(
            "campaign {campaign_id}: the position range in generation_campaigns is corrupt"
        )));
    }
    space.select(positions.clone());
    Ok(Campaign {
        campaign_id,
        spec: stored.spec,
        space,
        positions,
        batch_names: stored.batch_names,
        adaptive: stored.adaptive,
        table: stored.table,
    })
}

/// A batch held by a worker until its lease expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The campaign.
    pub campaign_id: Uuid,
    /// The batch's positions.
    pub positions: Range<u64>,
    /// The lease's token: a commit or renewal with another token is refused.
    pub token: Uuid,
}

fn positions_of(row: &tokio_postgres::Row) -> Result<Range<u64>, Error> {
    let (start, end): (i64, i64) = (row.get(0), row.get(1));
    match (u64::try_from(start), u64::try_from(end)) {
        (Ok(start), Ok(end)) => Ok(start..end),
        _ => Err(Error::usage(format!(
            "a ledger row in generation_batches has negative positions {start}..{end}"
        ))),
    }
}

fn lease_secs(lease: Duration) -> f64 {
    lease.as_secs_f64()
}

/// Claims a batch for `worker_id` for `lease`: a released or expired one
/// if there is one, else the next cell of the grid. `None` when every
/// batch is committed or held by a live lease.
pub async fn claim(
    client: &Client,
    campaign_id: Uuid,
    worker_id: &str,
    lease: Duration,
) -> Result<Option<Lease>, Error> {
    claim_cells(client, campaign_id, worker_id, lease, 1).await
}

/// [`claim`], cutting a new batch of `cells` cells of the grid (fewer at
/// the campaign's end). A released or expired batch is taken whole, at the
/// size its first worker cut it.
pub async fn claim_cells(
    client: &Client,
    campaign_id: Uuid,
    worker_id: &str,
    lease: Duration,
    cells: u64,
) -> Result<Option<Lease>, Error> {
    let meters = Meters::new(campaign_id);
    claim_metered(client, campaign_id, worker_id, lease, cells, &meters).await
}

/// [`claim_cells`], reported through `meters` (a worker's, registered once).
async fn claim_metered(
    client: &Client,
    campaign_id: Uuid,
    worker_id: &str,
    lease: Duration,
    cells: u64,
    meters: &Meters,
) -> Result<Option<Lease>, Error> {
    let cells = to_i64(cells.max(1), "cells")?;
    let token = Uuid::new_v4();
    let secs = lease_secs(lease);
    let row = client
        .query_typed_opt(
            "WITH open AS (
                 SELECT batch_start, status, worker_id FROM generation_batches
                  WHERE campaign_id = $1
                    AND (status = 'released' OR (status = 'leased' AND lease_expires_at <= statement_timestamp()))
                  ORDER BY batch_start
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED
             )
             UPDATE generation_batches AS b
                SET status = 'leased', worker_id = $2, lease_token = $3,
                    lease_expires_at = statement_timestamp() + $4 * interval '1 second'
               FROM open
              WHERE b.campaign_id = $1 AND b.batch_start = open.batch_start
          RETURNING b.batch_start, b.batch_end, open.status, open.worker_id",
            &[
                (&campaign_id, Type::UUID),
                (&worker_id, Type::TEXT),
                (&token, Type::UUID),
                (&secs, Type::FLOAT8),
            ],
        )
        .await?;
    if let Some(row) = row {
        let positions = positions_of(&row)?;
        // What the batch was: given back, or leased to a worker whose
        // lease expired (another, or this one's own, which is no take-over).
        let (status, previous): (&str, Option<&str>) = (row.get(2), row.get(3));
        let taken_from = (status == "leased" && previous != Some(worker_id))
            .then(|| previous.unwrap_or("unknown"));
        meters.claimed(worker_id, &positions, taken_from, status == "released");
        return Ok(Some(Lease {
            campaign_id,
            positions,
            token,
        }));
    }
    let row = client
        .query_typed_opt(
            "WITH cursor AS (
                 SELECT next_start, end_position, batch_names FROM generation_campaigns
                  WHERE campaign_id = $1 AND next_start < end_position
                  FOR UPDATE
             ), moved AS (
                 UPDATE generation_campaigns AS c
                    SET next_start = LEAST(cursor.next_start + $5 * cursor.batch_names, cursor.end_position)
                   FROM cursor
                  WHERE c.campaign_id = $1
              RETURNING cursor.next_start AS batch_start, c.next_start AS batch_end
             )
             INSERT INTO generation_batches
                 (campaign_id, batch_start, batch_end, status, worker_id, lease_token, lease_expires_at)
             SELECT $1, batch_start, batch_end, 'leased', $2, $3,
                    statement_timestamp() + $4 * interval '1 second'
               FROM moved
          RETURNING batch_start, batch_end",
            &[
                (&campaign_id, Type::UUID),
                (&worker_id, Type::TEXT),
                (&token, Type::UUID),
                (&secs, Type::FLOAT8),
                (&cells, Type::INT8),
            ],
        )
        .await?;
    row.map(|row| {
        let positions = positions_of(&row)?;
        meters.claimed(worker_id, &positions, None, false);
        Ok(Lease {
            campaign_id,
            positions,
            token,
        })
    })
    .transpose()
}

/// Extends a lease to `lease` from now. False when the lease is lost
/// (expired, taken over or released): then its batch must not be
/// committed, and [`commit`] would refuse it.
pub async fn renew(client: &Client, lease: &Lease, duration: Duration) -> Result<bool, Error> {
    let updated = client
        .execute_typed(
            "UPDATE generation_batches
                SET lease_expires_at = statement_timestamp() + $4 * interval '1 second'
              WHERE campaign_id = $1 AND batch_start = $2 AND lease_token = $3
                AND status = 'leased' AND lease_expires_at > statement_timestamp()",
            &[
                (&lease.campaign_id, Type::UUID),
                (&to_i64(lease.positions.start, "batch start")?, Type::INT8),
                (&lease.token, Type::UUID),
                (&lease_secs(duration), Type::FLOAT8),
            ],
        )
        .await?;
    Ok(updated == 1)
}

/// Gives a leased batch back, for another worker to take at once. False
/// when the lease was lost already.
pub async fn release(client: &Client, lease: &Lease) -> Result<bool, Error> {
    let updated = client
        .execute_typed(
            "UPDATE generation_batches
                SET status = 'released', lease_token = NULL, lease_expires_at = NULL
              WHERE campaign_id = $1 AND batch_start = $2 AND lease_token = $3 AND status = 'leased'",
            &[
                (&lease.campaign_id, Type::UUID),
                (&to_i64(lease.positions.start, "batch start")?, Type::INT8),
                (&lease.token, Type::UUID),
            ],
        )
        .await?;
    Ok(updated == 1)
}

/// Writes a leased batch: `chunks` are binary COPY streams of the batch's
/// rows (each with its header and trailer, as `target`'s encoder
/// [`Target::encoder`] writes them), sent as one COPY into the target; then the ledger row moves to
/// `committed`, fenced on the lease ([`ledger::commit_batch`]). If the
/// lease no longer holds, the transaction is rolled back, rows and all,
/// and the outcome is [`Outcome::Refused`].
pub async fn commit(
    client: &mut Client,
    lease: &Lease,
    target: &Target,
    chunks: Vec<Bytes>,
) -> Result<Outcome, Error> {
    let batch = Batch {
        campaign_id: lease.campaign_id,
        positions: std::slice::from_ref(&lease.positions),
        claim: Claim::Leased(lease.token),
        chunks: &chunks,
    };
    let started = Instant::now();
    let outcome = ledger::commit_batch(client, target, &batch).await?;
    let meters = Meters::new(lease.campaign_id);
    match outcome {
        Outcome::Committed { rows } => {
            let seconds = started.elapsed().as_secs_f64();
            meters.committed(lease.positions.clone(), rows, Some(seconds));
        }
        Outcome::Refused => meters.refused(&lease.positions),
    }
    Ok(outcome)
}

/// Whether every position of the campaign is committed.
pub async fn is_complete(client: &Client, campaign_id: Uuid) -> Result<bool, Error> {
    let row = client
        .query_typed_one(
            "SELECT c.next_start >= c.end_position
                    AND NOT EXISTS (SELECT 1 FROM generation_batches b
                                     WHERE b.campaign_id = $1 AND b.status <> 'committed')
               FROM generation_campaigns c WHERE c.campaign_id = $1",
            &[(&campaign_id, Type::UUID)],
        )
        .await?;
    Ok(row.get::<_, Option<bool>>(0).unwrap_or(false))
}

/// How [`work`] runs.
#[derive(Clone, Debug)]
pub struct WorkOptions {
    /// The campaign (planned with [`plan`]).
    pub campaign_id: Uuid,
    /// This worker's name in the ledger (`generation_batches.worker_id`)
    /// and in `pg_stat_activity.application_name`.
    pub worker_id: String,
    /// How long a claimed batch is this worker's without renewal; it is
    /// renewed every third of it.
    pub lease: Duration,
    /// Batches held at once, each on a connection of its own (plus one
    /// connection for renewals).
    pub connections: usize,
    /// Stop after claiming this many batches (all when `None`).
    pub max_batches: Option<u64>,
    /// How the worker rides through a restart or a lost connection.
    pub retry: Retry,
    /// The table's columns for each name's keyword, pattern and TLD,
    /// written where the table has them, as
    /// [`CampaignOptions::provenance`](crate::campaign::CampaignOptions::provenance).
    /// Every worker of a campaign should be given the same.
    pub provenance: Provenance,
}

/// What happened to a batch, as [`work`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkEvent {
    /// A batch was claimed.
    Claimed(Range<u64>),
    /// A batch was committed.
    Committed(Range<u64>),
    /// A renewal found the lease lost; the commit will be refused.
    LeaseLost(Range<u64>),
    /// The commit was refused by the lease fence: nothing was written.
    Refused(Range<u64>),
    /// The batch was given back (cancellation or an error).
    Released(Range<u64>),
    /// No batch could be claimed, but other workers' leases are open:
    /// waiting for them to commit or expire.
    Waiting,
    /// A connection was lost (why): reconnecting, as `WorkOptions::retry`
    /// allows.
    ConnectionLost(String),
}

impl fmt::Display for WorkEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkEvent::Claimed(p) => write!(f, "claimed batch {}..{}", p.start, p.end),
            WorkEvent::Committed(p) => write!(f, "committed batch {}..{}", p.start, p.end),
            WorkEvent::LeaseLost(p) => write!(
                f,
                "lost the lease of batch {}..{} (expired or taken over)",
                p.start, p.end
            ),
            WorkEvent::Refused(p) => write!(
                f,
                "commit of batch {}..{} refused: the lease was lost (expired or taken over); nothing was written",
                p.start, p.end
            ),
            WorkEvent::Released(p) => write!(f, "released batch {}..{}", p.start, p.end),
            WorkEvent::Waiting => {
                f.write_str("no batch free: waiting for other workers' leases to commit or expire")
            }
            WorkEvent::ConnectionLost(why) => write!(f, "{why}; reconnecting"),
        }
    }
}

/// What a [`work`] call did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkReport {
    /// Batches committed by this worker.
    pub batches: u64,
    /// Rows committed by this worker.
    pub rows: u64,
    /// Commits refused by the lease fence.
    pub refused: u64,
    /// Batches given back.
    pub released: u64,
    /// Connections lost and opened anew.
    pub reconnects: u64,
    /// Whether the campaign was complete when the worker stopped.
    pub complete: bool,
    /// Whether the worker stopped because it was cancelled.
    pub cancelled: bool,
    /// Seconds from the start to the end.
    pub duration_secs: f64,
    /// The lease sizes this worker chose, and why.
    pub sizing: SizingReport,
}

impl fmt::Display for WorkReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Display only.
        let rate = if self.duration_secs > 0.0 {
            self.rows as f64 / self.duration_secs
        } else {
            0.0
        };
        write!(
            f,
            "committed {} batches ({} rows, {rate:.0} rows/s over {:.1} s{}); {} refused, {} released; {}{}",
            self.batches,
            self.rows,
            self.duration_secs,
            if self.sizing.adaptive {
                format!(
                    "; leases of {} names at the end, from {}, in cells of {}",
                    self.sizing.final_names, self.sizing.start_names, self.sizing.cell
                )
            } else {
                String::new()
            },
            self.refused,
            self.released,
            match self.reconnects {
                0 => String::new(),
                n => format!("{n} lost connections opened anew; "),
            },
            if self.complete {
                "the campaign is complete"
            } else if self.cancelled {
                "interrupted"
            } else {
                "the campaign is not complete"
            }
        )
    }
}

/// Hands a claimed batch's COPY chunks, as the engine renders them, to
/// the COPY that is sending them: the batch is never held whole.
struct Chunks(tokio::sync::mpsc::Sender<Result<Bytes, Error>>);

impl Sink for Chunks {
    type Error = Error;

    fn ordered(&self) -> bool {
        false
    }

    fn write_batch(&mut self, _positions: Range<u64>, bytes: &[u8]) -> Result<Flow, Error> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(bytes)))
            .map_err(|_| Error::database("the batch's COPY ended before its rows did"))?;
        Ok(Flow::Continue)
    }
}

/// Chunks in the channel between the renderer and the COPY: with the
/// engine's batches in flight, what a worker holds of a batch at once.
const CHUNKS_QUEUED: usize = 2;

type Events = Arc<dyn Fn(&WorkEvent) + Send + Sync>;

/// What the claim loops share.
struct Shared {
    campaign: Campaign,
    /// Where the rows go, with the provenance columns the table has.
    target: Target,
    /// The rows' encoder, for the target.
    encoder: CopyRows,
    options: WorkOptions,
    generator: Arc<Generator>,
    /// Where connections come from, when one is lost.
    source: Connections,
    /// Renewals, releases and completion checks.
    control: tokio::sync::Mutex<Control>,
    /// Set on cancellation or on a loop's error: every loop stops.
    stop: CancelToken,
    /// Batches claimed so far, for `max_batches`.
    claimed: AtomicU64,
    committed: AtomicU64,
    rows: AtomicU64,
    refused: AtomicU64,
    released: AtomicU64,
    reconnects: AtomicU64,
    /// How many cells the next new lease takes.
    sizer: std::sync::Mutex<Sizer>,
    meters: Meters,
    events: Events,
}

impl Shared {
    /// The lease sizer (a panic while it was held cannot leave it torn:
    /// its state is whole after every call).
    fn sizer(&self) -> std::sync::MutexGuard<'_, Sizer> {
        self.sizer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `call` on the control connection (see [`Control::call`]).
    async fn control<T>(
        &self,
        what: &str,
        call: impl for<'c> Fn(&'c Client) -> Statement<'c, T>,
    ) -> Result<T, Error> {
        self.control.lock().await.call(what, call).await
    }

    /// Gives a batch back for another worker, if the lease still holds:
    /// one try when the worker gave up on the server (`reachable` false),
    /// else as `WorkOptions::retry` allows.
    async fn release(&self, lease: &Lease, reachable: bool) {
        let call = statement(|c| {
            let lease = lease.clone();
            Box::pin(async move { release(c, &lease).await })
        });
        let mut control = self.control.lock().await;
        let released = if reachable {
            control.call("releasing a batch", call).await
        } else {
            control.call_once("releasing a batch", call).await
        };
        if released.unwrap_or(false) {
            self.released.fetch_add(1, Ordering::SeqCst);
            tracing::debug!(
                start = lease.positions.start,
                end = lease.positions.end,
                "batch released"
            );
            (self.events)(&WorkEvent::Released(lease.positions.clone()));
        }
    }
}

/// Runs a worker in a host service until the campaign is complete (every
/// batch committed, by this worker or others), `options.max_batches` are
/// claimed, or `cancel` is cancelled — then its batches in hand are
/// released for others. It opens `options.connections + 1` connections
/// (from the host's pool or a configuration) and gives them back.
///
/// Each connection claims a batch, renders it with `generator` on a
/// blocking thread straight into the batch's open COPY (the lease renewed
/// in the background every third of its length), and commits it fenced on
/// the lease. A lost connection is opened anew as `options.retry` allows:
/// a batch in hand whose commit was cut is committed again if its lease
/// still holds, unless the ledger says the cut commit landed. `events`
/// hears of every claim, commit, refusal, release and lost connection.
///
/// Call it from a multi-threaded tokio runtime; the database must be
/// migrated and the campaign planned ([`plan`]).
pub async fn work(
    connections: impl Into<Connections>,
    options: WorkOptions,
    generator: Arc<Generator>,
    cancel: Option<CancelToken>,
    events: impl Fn(&WorkEvent) + Send + Sync + 'static,
) -> Result<WorkReport, Error> {
    let span = tracing::info_span!(
        "worker",
        campaign = %options.campaign_id,
        worker = %options.worker_id,
    );
    let work = work_in_span(
        connections.into(),
        options,
        generator,
        cancel,
        Arc::new(events),
    );
    let worked = work.instrument(span.clone()).await;
    if let Err(e) = &worked {
        span.in_scope(|| tracing::warn!(error = %e, "worker failed"));
    }
    worked
}

/// [`work`], in its span.
async fn work_in_span(
    connections: Connections,
    options: WorkOptions,
    generator: Arc<Generator>,
    cancel: Option<CancelToken>,
    events: Events,
) -> Result<WorkReport, Error> {
    let started = Instant::now();
    if options.lease < Duration::from_secs(1) {
        return Err(Error::usage(format!(
            "lease of {:?} is too short to renew; give at least 1 second (`WorkOptions::lease`)",
            options.lease
        )));
    }
    let mut control = Control::open(&connections, options.retry, Some(&options.worker_id)).await?;
    let client = control.client().await?;
    crate::migrate::check_migrated(client).await?;
    let campaign = load(client, options.campaign_id).await?;
    let provenance = ledger::check_table(client, &campaign.table, &options.provenance).await?;
    let target = Target::table(&campaign.table, &provenance)?;
    let encoder = target.encoder(campaign.campaign_id, &campaign.space);
    let sizing = stored_sizing(
        client,
        campaign.batch_names,
        campaign.adaptive,
        &campaign.table,
    )
    .await?;
    // Each claim loop commits on its own connection: the sizer steers
    // the size only, not how many loops run.
    let sizer = Sizer::with_connections(sizing, options.connections.max(1));
    generator
        .check(&campaign.space, &encoder)
        .map_err(Error::engine)?;
    tracing::info!(
        start = campaign.positions.start,
        end = campaign.positions.end,
        connections = options.connections,
        lease_seconds = options.lease.as_secs_f64(),
        "worker started"
    );
    let meters = Meters::new(campaign.campaign_id);
    let stop = CancelToken::new();
    // If the host drops this future (a timeout, a select!), the renders in
    // flight stop at their next chunk and the tasks below are aborted, so
    // no lease is renewed for a batch nobody will commit.
    let _stop_on_drop = CancelOnDrop(stop.clone());
    let shared = Arc::new(Shared {
        campaign,
        target,
        encoder,
        generator,
        source: connections,
        control: tokio::sync::Mutex::new(control),
        stop: stop.clone(),
        claimed: AtomicU64::new(0),
        committed: AtomicU64::new(0),
        rows: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        released: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
        sizer: std::sync::Mutex::new(sizer),
        meters,
        events,
        options,
    });
    // The host's token is not ours to cancel: a watcher carries it over.
    let cancelled = Arc::new(AtomicBool::new(false));
    let watcher = cancel.map(|cancel| {
        let (stop, cancelled) = (stop.clone(), Arc::clone(&cancelled));
        AbortOnDrop(tokio::spawn(
            async move {
                loop {
                    if cancel.is_cancelled() {
                        cancelled.store(true, Ordering::SeqCst);
                        stop.cancel();
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            .in_current_span(),
        ))
    });
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..shared.options.connections.max(1) {
        let shared = Arc::clone(&shared);
        loops.spawn(
            async move {
                let result = claim_loop(&shared).await;
                if result.is_err() {
                    shared.stop.cancel();
                }
                result
            }
            .in_current_span(),
        );
    }
    let mut first_error = None;
    while let Some(joined) = loops.join_next().await {
        let result = joined
            .map_err(|e| Error::task("a worker task", e))
            .and_then(|r| r);
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    let id = shared.campaign.campaign_id;
    let check = statement(|c| Box::pin(is_complete(c, id)));
    let complete = match &first_error {
        // Given up on the server: one try, not another round of them.
        Some(e) if e.is_transient() => {
            let mut control = shared.control.lock().await;
            control.call_once("checking completion", check).await
        }
        _ => shared.control("checking completion", check).await,
    };
    let report = WorkReport {
        batches: shared.committed.load(Ordering::SeqCst),
        rows: shared.rows.load(Ordering::SeqCst),
        refused: shared.refused.load(Ordering::SeqCst),
        released: shared.released.load(Ordering::SeqCst),
        reconnects: shared.reconnects.load(Ordering::SeqCst),
        complete: *complete.as_ref().unwrap_or(&false),
        cancelled: cancelled.load(Ordering::SeqCst),
        duration_secs: started.elapsed().as_secs_f64(),
        sizing: shared.sizer().report(),
    };
    if let Ok(shared) = Arc::try_unwrap(shared) {
        shared.control.into_inner().close().await;
    }
    if first_error.is_none() && complete.is_ok() {
        tracing::info!(
            batches = report.batches,
            rows = report.rows,
            refused = report.refused,
            released = report.released,
            reconnects = report.reconnects,
            complete = report.complete,
            cancelled = report.cancelled,
            seconds = report.duration_secs,
            "worker finished"
        );
    }
    match first_error {
        Some(e) => Err(e.context(format!(
            "the worker stopped after committing {} batches ({} rows); its batches in hand were released or will expire",
            report.batches, report.rows
        ))),
        None => complete.map(|_| report),
    }
}

/// What a claim loop does next.
enum Step {
    /// Claim (or wait for) a batch.
    Claim,
    /// Write the batch in hand; `again` after a lost connection.
    Write { lease: Lease, again: bool },
    /// Nothing is left to claim.
    Done,
}

/// One connection's loop: claim, render, commit, until there is nothing
/// left or the worker stops; a lost connection is opened anew and the
/// loop goes on where it was.
async fn claim_loop(shared: &Arc<Shared>) -> Result<(), Error> {
    let retry = shared.options.retry;
    let mut connection: Option<Connection> = None;
    let mut backoff: Option<Backoff> = None;
    let mut step = Step::Claim;
    let mut waiting_said = false;
    let result = loop {
        if shared.stop.is_cancelled() || matches!(step, Step::Done) {
            break Ok(());
        }
        let open = match &mut connection {
            Some(open) => open,
            None => {
                let lost = backoff.is_some();
                let backoff = backoff.get_or_insert_with(|| retry.backoff());
                match retry
                    .open(&shared.source, Some(&shared.options.worker_id), backoff)
                    .await
                {
                    Ok(opened) => {
                        if lost {
                            shared.reconnects.fetch_add(1, Ordering::SeqCst);
                            shared.meters.reconnected();
                        }
                        connection.insert(opened)
                    }
                    Err(e) => break Err(e),
                }
            }
        };
        let next = match &step {
            Step::Claim => next_batch(shared, open, &mut waiting_said).await,
            Step::Write { lease, again } => write(shared, open, lease, *again)
                .instrument(tracing::debug_span!(
                    "batch",
                    start = lease.positions.start,
                    end = lease.positions.end,
                    again
                ))
                .await
                .map(|()| Step::Claim),
            Step::Done => unreachable!("the loop ends on Done"),
        };
        match next {
            Ok(next) => {
                backoff = None;
                step = next;
            }
            Err(e) if e.is_transient() => {
                if let Some(lost) = connection.take() {
                    lost.abandon();
                }
                (shared.events)(&WorkEvent::ConnectionLost(e.to_string()));
                if let Step::Write { again, .. } = &mut step {
                    *again = true;
                }
                let backoff = backoff.get_or_insert_with(|| retry.backoff());
                if let Err(e) = backoff.pause(e).await {
                    break Err(e);
                }
            }
            Err(e) => break Err(e),
        }
    };
    let result = match (result, &step) {
        (Err(e), Step::Write { lease, .. }) => {
            // Give the batch back if the database still can be reached;
            // if not, its lease expires and another worker takes it.
            shared.release(lease, !e.is_transient()).await;
            Err(e.context(format!(
                "batch {}..{} of campaign {}",
                lease.positions.start, lease.positions.end, shared.campaign.campaign_id
            )))
        }
        (Ok(()), Step::Write { lease, .. }) => {
            shared.release(lease, true).await;
            Ok(())
        }
        (result, _) => result,
    };
    if let Some(connection) = connection {
        connection.close().await;
    }
    result
}

/// Claims a batch, or waits a moment if every open batch is leased.
async fn next_batch(
    shared: &Arc<Shared>,
    connection: &mut Connection,
    waiting_said: &mut bool,
) -> Result<Step, Error> {
    let id = shared.campaign.campaign_id;
    let options = &shared.options;
    let retry = options.retry;
    if let Some(max) = options.max_batches {
        if shared.claimed.fetch_add(1, Ordering::SeqCst) >= max {
            return Ok(Step::Done);
        }
    }
    let client = connection.shared();
    let cells = shared.sizer().cells();
    let claim = claim_metered(
        client,
        id,
        &options.worker_id,
        options.lease,
        cells,
        &shared.meters,
    );
    let claimed = retry.statement("claiming a batch", claim).await;
    let claimed = match claimed {
        Ok(claimed) => claimed,
        Err(e) => {
            if options.max_batches.is_some() {
                shared.claimed.fetch_sub(1, Ordering::SeqCst);
            }
            return Err(e);
        }
    };
    let Some(lease) = claimed else {
        if options.max_batches.is_some() {
            shared.claimed.fetch_sub(1, Ordering::SeqCst);
        }
        if retry
            .statement("checking completion", is_complete(client, id))
            .await?
        {
            return Ok(Step::Done);
        }
        if !*waiting_said {
            tracing::debug!("no batch free: waiting for other workers' leases");
            (shared.events)(&WorkEvent::Waiting);
            *waiting_said = true;
        }
        tokio::time::sleep((options.lease / 4).min(Duration::from_secs(1))).await;
        return Ok(Step::Claim);
    };
    *waiting_said = false;
    (shared.events)(&WorkEvent::Claimed(lease.positions.clone()));
    Ok(Step::Write {
        lease,
        again: false,
    })
}

/// Renders a leased batch into its open COPY while renewing its lease,
/// and commits it fenced, or releases it when the worker is stopping.
/// `again`: a commit of it was cut before, so the ledger is asked first
/// whether that one landed.
async fn write(
    shared: &Arc<Shared>,
    connection: &mut Connection,
    lease: &Lease,
    again: bool,
) -> Result<(), Error> {
    let retry = shared.options.retry;
    let id = shared.campaign.campaign_id;
    if again {
        let landed = retry
            .statement(
                "reading the ledger",
                ledger::committed(connection.shared(), id, &[lease.positions.start]),
            )
            .await?;
        if let Some(landed) = landed {
            if landed.lease_token == Some(lease.token) {
                count_committed(shared, lease, landed.rows, None);
            } else {
                count_refused(shared, lease);
            }
            return Ok(());
        }
    }
    let renewer = {
        let (shared, lease) = (Arc::clone(shared), lease.clone());
        AbortOnDrop(tokio::spawn(
            async move {
                let every = shared.options.lease / 3;
                loop {
                    tokio::time::sleep(every).await;
                    // A connection cut without a word must be noticed while
                    // the lease still holds: a third of it to answer, at most,
                    // waiting for the control connection included.
                    let limit = every.min(shared.options.retry.statement_timeout);
                    let renewal = async {
                        shared
                            .control
                            .lock()
                            .await
                            .call_within(limit, "renewing a lease", |c| {
                                let (lease, duration) = (lease.clone(), shared.options.lease);
                                Box::pin(async move { renew(c, &lease, duration).await })
                            })
                            .await
                    };
                    // A failed or unanswered renewal is not a lost lease: the
                    // commit's fence decides. Try again at the next tick.
                    if let Ok(Ok(false)) = tokio::time::timeout(every, renewal).await {
                        tracing::info!(
                            start = lease.positions.start,
                            end = lease.positions.end,
                            "lease lost at renewal"
                        );
                        (shared.events)(&WorkEvent::LeaseLost(lease.positions.clone()));
                        return;
                    }
                }
            }
            .in_current_span(),
        ))
    };
    let (sender, mut receiver) = tokio::sync::mpsc::channel(CHUNKS_QUEUED);
    let render = {
        let (shared, positions) = (Arc::clone(shared), lease.positions.clone());
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut chunks = Chunks(sender);
            let rendered = render_into(&shared, positions, &mut chunks);
            // A batch cut short must not commit: the COPY ends with this
            // error, unless it has ended already with its own.
            let failure = match rendered {
                Ok(false) => return false,
                Ok(true) => Error::usage("the worker is stopping"),
                Err(e) => Error::engine(e),
            };
            let _ = chunks.0.blocking_send(Err(failure));
            true
        })
    };
    let chunks = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let what = format!(
        "the commit of batch {}..{}",
        lease.positions.start, lease.positions.end
    );
    let commit_started = Instant::now();
    let outcome = retry
        .commit(
            &what,
            ledger::commit_stream(
                connection.client(),
                &shared.target,
                id,
                std::slice::from_ref(&lease.positions),
                Claim::Leased(lease.token),
                chunks,
            ),
        )
        .await;
    renewer.abort();
    // The COPY's end dropped the channel, so the renderer ends too.
    let cut_short = render.await.unwrap_or(true);
    let seconds = commit_started.elapsed().as_secs_f64();
    match outcome {
        Ok(Outcome::Committed { rows }) => count_committed(shared, lease, rows, Some(seconds)),
        // A commit cut before may have landed while this one waited for
        // the ledger row's lock: then the fence refused this one because
        // the batch is ours already.
        Ok(Outcome::Refused) if again => {
            let landed = retry
                .statement(
                    "reading the ledger",
                    ledger::committed(connection.shared(), id, &[lease.positions.start]),
                )
                .await?;
            match landed {
                Some(landed) if landed.lease_token == Some(lease.token) => {
                    count_committed(shared, lease, landed.rows, None);
                }
                _ => count_refused(shared, lease),
            }
        }
        Ok(Outcome::Refused) => count_refused(shared, lease),
        Err(_) if cut_short && shared.stop.is_cancelled() => shared.release(lease, true).await,
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Renders `positions` into `chunks` in the engine's batches; true when
/// the worker stopped it early.
fn render_into(
    shared: &Shared,
    positions: Range<u64>,
    chunks: &mut Chunks,
) -> Result<bool, domgen_engine::Error> {
    let encoder = &shared.encoder;
    let space = &shared.campaign.space;
    let chunk = shared
        .generator
        .batch_names_for(space, encoder)?
        .min(positions.end - positions.start)
        .max(1);
    let report = shared.generator.run(
        space,
        encoder,
        chunks,
        RunOptions {
            batch_names: Some(chunk),
            cancel: Some(&shared.stop),
            ..RunOptions::new(positions)
        },
    )?;
    Ok(report.stopped_early)
}

/// Counts a committed batch; `seconds` when its commit was timed here.
fn count_committed(shared: &Shared, lease: &Lease, rows: u64, seconds: Option<f64>) {
    shared
        .meters
        .committed(lease.positions.clone(), rows, seconds);
    shared.committed.fetch_add(1, Ordering::SeqCst);
    shared.rows.fetch_add(rows, Ordering::SeqCst);
    let names = lease.positions.end - lease.positions.start;
    let cells = names.div_ceil(shared.campaign.batch_names);
    shared.sizer().committed(cells, names, Instant::now());
    (shared.events)(&WorkEvent::Committed(lease.positions.clone()));
}

fn count_refused(shared: &Shared, lease: &Lease) {
    shared.meters.refused(&lease.positions);
    shared.refused.fetch_add(1, Ordering::SeqCst);
    (shared.events)(&WorkEvent::Refused(lease.positions.clone()));
}

/// A background task that ends with its owner: aborted when dropped, so a
/// dropped [`work`] future leaves no renewer or watcher behind.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl AbortOnDrop {
    fn abort(&self) {
        self.0.abort();
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Cancels a token when dropped: [`work`]'s renders stop with its future.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
