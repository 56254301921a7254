//! Campaigns: register, resume, write batches exactly once, record the run.
//!
//! Every batch commits in one transaction with its ledger row in
//! `generation_batches` (primary key `(campaign_id, batch_start)`): a batch
//! is either wholly in the target table with its ledger row, or not at all,
//! and the key makes a second commit of the same batch fail rather than
//! duplicate rows. Batches sit on a grid fixed when the campaign is
//! registered (`first_position + k × batch_names`), so `--resume` after any
//! crash writes exactly the grid cells without a ledger row.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use domgen_engine::{CancelToken, Flow, Generator, Progress, Report, Sink};
use domgen_pattern::{Order, Space, Spec};
use futures_util::SinkExt;
use tokio::runtime::Handle;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::copy::CopyRows;
use crate::error::Error;

/// What to write where.
#[derive(Clone, Debug)]
pub struct CampaignOptions {
    /// The campaign's id: rows carry it in `campaign_id`.
    pub campaign_id: Uuid,
    /// The table to COPY into; it needs columns `campaign_id uuid`,
    /// `offset_index bigint` and `domain_name text` (others take defaults).
    pub table: String,
    /// Finish a campaign that was started before (a no-op start if it was
    /// not).
    pub resume: bool,
    /// Connections that COPY batches in parallel.
    pub connections: usize,
    /// Skip names the table has already (staging + `INSERT … ON CONFLICT
    /// (domain_name) DO NOTHING`); creates a unique index on `domain_name`
    /// if the table has none.
    pub unique: bool,
}

/// Where a campaign's connections come from: the control connection that
/// registers and records the run, and the ones that COPY batches.
#[derive(Clone)]
pub enum Connections {
    /// Open them with this configuration (TLS as its `sslmode` asks, see
    /// [`crate::connect()`]); they are closed when the run ends.
    Config(Box<tokio_postgres::Config>),
    /// Take them from the host's pool; they go back to it when the run
    /// ends. The pool must allow `connections + 1` at once, or the run
    /// waits for the pool's timeout.
    Pool(deadpool_postgres::Pool),
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A configuration's Debug would show its password.
        match self {
            Connections::Config(_) => f.write_str("Connections::Config(..)"),
            Connections::Pool(pool) => write!(f, "Connections::Pool({:?})", pool.status()),
        }
    }
}

impl Connections {
    pub(crate) async fn open(&self) -> Result<Connection, Error> {
        match self {
            Connections::Config(config) => {
                let (client, task) = crate::connect(config).await.map_err(Error::db)?;
                Ok(Connection::Own { client, task })
            }
            Connections::Pool(pool) => pool
                .get()
                .await
                .map(Connection::Pooled)
                .map_err(Error::pool),
        }
    }
}

/// An open connection: our own, or one borrowed from a pool.
pub(crate) enum Connection {
    Own {
        client: Client,
        task: tokio::task::JoinHandle<()>,
    },
    Pooled(deadpool_postgres::Object),
}

impl Connection {
    pub(crate) fn client(&mut self) -> &mut Client {
        match self {
            Connection::Own { client, .. } => client,
            Connection::Pooled(object) => object,
        }
    }

    /// The client, for statements that need no transaction.
    pub(crate) fn shared(&self) -> &Client {
        match self {
            Connection::Own { client, .. } => client,
            Connection::Pooled(object) => object,
        }
    }

    /// Closes our own connection and waits for its task, so that its
    /// buffers are freed before the run's heap is measured; a pooled one
    /// goes back to its pool.
    pub(crate) async fn close(self) {
        if let Connection::Own { client, task } = self {
            drop(client);
            let _ = task.await;
        }
    }
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
}

/// The state of a campaign in the database, read before writing.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Names per batch: the grid the ledger uses.
    pub batch_names: u64,
    /// Positions not yet committed.
    pub missing: Vec<Range<u64>>,
    /// Rows already committed.
    pub committed_rows: u64,
}

/// Quotes a possibly schema-qualified table name, refusing anything but
/// plain identifiers.
pub fn quote_table(name: &str) -> Result<String, Error> {
    let parts: Vec<&str> = name.split('.').collect();
    let plain = |p: &&str| {
        !p.is_empty()
            && p.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if parts.len() > 2 || !parts.iter().all(plain) {
        return Err(Error::usage(format!(
            "table name `{name}` is not a plain identifier (letters, digits, `_`, optionally schema.table)"
        )));
    }
    Ok(parts
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join("."))
}

/// Reserves the next `limit` positions (all that are left when `None`) of
/// `space` in its order for a new campaign, from
/// `domain_generation_config_states`, so that campaigns with the same spec
/// get disjoint positions — as the campaign service does to avoid
/// duplicates across campaigns.
///
/// The key is the compiled space's fingerprint with the order (and the seed
/// when shuffled): two specs share a cursor exactly when they put the same
/// name at every position. The row is locked while the cursor moves, so
/// concurrent reservations are disjoint; the cursor never moves backwards;
/// an exhausted spec is refused with its numbers, never wrapped around.
pub async fn reserve(
    client: &Client,
    space: &Space,
    limit: Option<u64>,
) -> Result<Range<u64>, Error> {
    let key = cursor_key(space);
    let total = to_i64(space.total(), "the space's size")?;
    let want = to_i64(limit.unwrap_or(space.total()), "--limit")?;
    let details = serde_json::json!({
        "fingerprint": space.fingerprint(),
        "order": space.order().to_string(),
        "seed": space.seed().to_string(),
        "total": space.total(),
        "patterns": space.patterns().map(|p| p.text.to_owned()).collect::<Vec<_>>(),
    });
    client
        .execute(
            "INSERT INTO domain_generation_config_states (config_hash, last_offset, config_details)
             VALUES ($1, 0, $2) ON CONFLICT (config_hash) DO NOTHING",
            &[&key, &details],
        )
        .await
        .map_err(Error::db)?;
    let row = client
        .query_one(
            "WITH current AS (
                 SELECT last_offset FROM domain_generation_config_states WHERE config_hash = $1 FOR UPDATE
             )
             UPDATE domain_generation_config_states AS s
                SET last_offset = GREATEST(current.last_offset, LEAST(current.last_offset + $2, $3)),
                    updated_at = now()
               FROM current
              WHERE s.config_hash = $1
          RETURNING current.last_offset, s.last_offset",
            &[&key, &want, &total],
        )
        .await
        .map_err(Error::db)?;
    let (from, to): (i64, i64) = (row.get(0), row.get(1));
    let (from, to) = (
        u64::try_from(from).unwrap_or(0),
        u64::try_from(to).unwrap_or(0),
    );
    if from >= space.total() {
        return Err(Error::usage(format!(
            "this spec is exhausted: all {} names were issued to earlier campaigns (cursor {from} of {}); change the spec, or use --offset/--limit without --continue to write names again",
            space.total(),
            space.total()
        )));
    }
    Ok(from..to)
}

/// Makes `domain_name` unique in `table` for `unique` mode, unless a
/// unique index on exactly that column exists. On a large table this
/// builds an index once; afterwards every insert pays for it.
pub async fn ensure_unique_index(client: &Client, table: &str) -> Result<(), Error> {
    let quoted = quote_table(table)?;
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (
                 SELECT 1 FROM pg_index i
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnkeyatts = 1
                    AND a.attname = 'domain_name' AND i.indpred IS NULL)",
            &[&quoted],
        )
        .await
        .map_err(Error::db)?
        .get(0);
    if !exists {
        let name = format!("\"{}_domain_name_unique\"", table.replace('.', "_"));
        client
            .batch_execute(&format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {quoted} (domain_name)"
            ))
            .await
            .map_err(Error::db)?;
    }
    Ok(())
}

/// The key of a spec's cursor in `domain_generation_config_states`.
pub fn cursor_key(space: &Space) -> String {
    match space.order() {
        Order::Sequential => format!("domgen:{}:sequential", space.fingerprint()),
        Order::Shuffled => format!("domgen:{}:shuffled:{}", space.fingerprint(), space.seed()),
    }
}

/// The positions a stored campaign covers, if it exists.
pub async fn stored_positions(
    client: &Client,
    campaign_id: Uuid,
) -> Result<Option<Range<u64>>, Error> {
    let row = client
        .query_opt(
            "SELECT first_position, end_position FROM generation_campaigns WHERE campaign_id = $1",
            &[&campaign_id],
        )
        .await
        .map_err(Error::db)?;
    Ok(row.map(|r| {
        let (a, b): (i64, i64) = (r.get(0), r.get(1));
        u64::try_from(a).unwrap_or(0)..u64::try_from(b).unwrap_or(0)
    }))
}

/// Registers the campaign or, with `resume`, finds what is left of it.
pub async fn plan(
    client: &Client,
    options: &CampaignOptions,
    space: &Space,
    spec: &Spec,
    batch_names: u64,
) -> Result<Plan, Error> {
    crate::migrate::check_migrated(client)
        .await
        .map_err(|e| Error::database(e.to_string()))?;
    check_table(client, &options.table).await?;
    if options.unique {
        ensure_unique_index(client, &options.table).await?;
    }
    let selection = space.selection();
    let fingerprint = space.fingerprint();
    let id = options.campaign_id;
    let row = client
        .query_opt(
            "SELECT fingerprint, order_kind, seed, first_position, end_position, batch_names, target_table,
                    next_start IS NOT NULL
             FROM generation_campaigns WHERE campaign_id = $1",
            &[&id],
        )
        .await
        .map_err(Error::db)?;
    let Some(row) = row else {
        let spec_json = serde_json::to_value(spec).map_err(|e| Error::usage(e.to_string()))?;
        client
            .execute(
                "INSERT INTO generation_campaigns
                   (campaign_id, fingerprint, spec, order_kind, seed, first_position, end_position, batch_names, target_table)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &id,
                    &fingerprint,
                    &spec_json,
                    &space.order().to_string(),
                    &to_i64(space.seed(), "seed")?,
                    &to_i64(selection.start, "offset")?,
                    &to_i64(selection.end, "end position")?,
                    &to_i64(batch_names, "batch size")?,
                    &options.table,
                ],
            )
            .await
            .map_err(Error::db)?;
        return Ok(Plan {
            batch_names,
            missing: if selection.is_empty() {
                vec![]
            } else {
                vec![selection]
            },
            committed_rows: 0,
        });
    };
    if row.get::<_, bool>(7) {
        return Err(Error::usage(format!(
            "campaign {id} was planned for workers (`domgen plan`); write it with `domgen worker --campaign-id {id}`, or use a new --campaign-id for `generate`"
        )));
    }
    let stored = Stored {
        fingerprint: row.get(0),
        order: row.get(1),
        seed: row.get(2),
        first: row.get(3),
        end: row.get(4),
        batch_names: row.get(5),
        table: row.get(6),
    };
    if !options.resume {
        return Err(Error::usage(format!(
            "campaign {id} already exists; pass --resume to finish it, or use a new --campaign-id"
        )));
    }
    stored.check(space, &fingerprint, &options.table)?;
    let batch_names = u64::try_from(stored.batch_names)
        .map_err(|_| Error::usage("corrupt batch size in generation_campaigns"))?;
    let committed = client
        .query(
            "SELECT batch_start, batch_end FROM generation_batches
             WHERE campaign_id = $1 AND status = 'committed' ORDER BY batch_start",
            &[&id],
        )
        .await
        .map_err(Error::db)?;
    let mut missing = Vec::new();
    let mut at = selection.start;
    let mut committed_rows = 0;
    for row in committed {
        let (start, end): (i64, i64) = (row.get(0), row.get(1));
        let (start, end) = (
            u64::try_from(start).unwrap_or(0),
            u64::try_from(end).unwrap_or(0),
        );
        if start > at {
            missing.push(at..start);
        }
        committed_rows += end - start;
        at = at.max(end);
    }
    if at < selection.end {
        missing.push(at..selection.end);
    }
    Ok(Plan {
        batch_names,
        missing,
        committed_rows,
    })
}

struct Stored {
    fingerprint: String,
    order: String,
    seed: i64,
    first: i64,
    end: i64,
    batch_names: i64,
    table: String,
}

impl Stored {
    /// Refuses to resume with anything that would change which name sits
    /// at which position.
    fn check(&self, space: &Space, fingerprint: &str, table: &str) -> Result<(), Error> {
        let mut differ = Vec::new();
        if self.fingerprint != fingerprint {
            differ.push(format!(
                "the spec (its names differ: fingerprint {} now, {} stored)",
                fingerprint, self.fingerprint
            ));
        }
        if self.order != space.order().to_string() {
            differ.push(format!(
                "the order ({} now, {} stored)",
                space.order(),
                self.order
            ));
        }
        if space.order() == Order::Shuffled && Ok(self.seed) != i64::try_from(space.seed()) {
            differ.push(format!(
                "the seed ({} now, {} stored)",
                space.seed(),
                self.seed
            ));
        }
        let selection = space.selection();
        if Ok(self.first) != i64::try_from(selection.start)
            || Ok(self.end) != i64::try_from(selection.end)
        {
            differ.push(format!(
                "the positions ({}..{} now, {}..{} stored: check --offset/--limit)",
                selection.start, selection.end, self.first, self.end
            ));
        }
        if self.table != table {
            differ.push(format!("the table ({table} now, {} stored)", self.table));
        }
        if differ.is_empty() {
            return Ok(());
        }
        Err(Error::usage(format!(
            "cannot resume: {} differ{} from the stored campaign; resume with the same spec and flags, or start a new --campaign-id",
            differ.join(", "),
            if differ.len() == 1 { "s" } else { "" }
        )))
    }
}

pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64, Error> {
    i64::try_from(v)
        .map_err(|_| Error::usage(format!("{what} {v} does not fit PostgreSQL's bigint")))
}

/// Writes batches into PostgreSQL over one or more connections, each batch
/// in one transaction with its ledger row.
///
/// Called by the engine's coordinator thread, it drives the async clients
/// with `Handle::block_on`, so it must not run on a runtime worker thread
/// (use `spawn_blocking` or a plain thread). A batch is copied into a
/// buffer of its own and committed by a task on an idle connection; with
/// every connection busy, `write_batch` waits for one. So at most one batch
/// per connection is in the database's hands, and [`Sink::finish`] waits
/// for them all.
pub struct PgSink {
    handle: Handle,
    idle: Vec<Connection>,
    busy: tokio::task::JoinSet<(Connection, Range<u64>, Result<u64, tokio_postgres::Error>)>,
    campaign_id: Uuid,
    statements: Arc<Statements>,
    /// Rows committed by this sink.
    pub committed_rows: u64,
    /// Names skipped because the table had them already (`unique` mode).
    pub already_present: u64,
}

/// The SQL a batch runs.
struct Statements {
    /// COPY into the table, or into the staging table in `unique` mode.
    copy: String,
    /// `unique` mode: staging to the table, skipping names present.
    insert: Option<String>,
}

/// The per-connection staging table of `unique` mode.
const STAGING: &str = "pg_temp.domgen_staging";

/// `unique` mode records the rows a batch really added.
const LEDGER_ROWS: &str =
    "UPDATE generation_batches SET rows = $3 WHERE campaign_id = $1 AND batch_start = $2";

const LEDGER_INSERT: &str = "INSERT INTO generation_batches (campaign_id, batch_start, batch_end, status, rows, committed_at)
     VALUES ($1, $2, $3, 'committed', $4, now())";

impl PgSink {
    /// A sink writing to `table` for `campaign_id` over `connections`
    /// connections from `source`. With `unique`, each batch goes
    /// through a staging table and `INSERT … ON CONFLICT (domain_name) DO
    /// NOTHING`, so names already in the table are skipped (the table needs
    /// a unique index on `domain_name`; see [`ensure_unique_index`]).
    pub async fn connect(
        handle: Handle,
        source: &Connections,
        connections: usize,
        campaign_id: Uuid,
        table: &str,
        unique: bool,
    ) -> Result<PgSink, Error> {
        let quoted = quote_table(table)?;
        let statements = if unique {
            Statements {
                copy: format!(
                    "COPY {STAGING} (campaign_id, offset_index, domain_name) FROM STDIN (FORMAT binary)"
                ),
                insert: Some(format!(
                    "INSERT INTO {quoted} (campaign_id, offset_index, domain_name)
                     SELECT campaign_id, offset_index, domain_name FROM {STAGING}
                     ON CONFLICT (domain_name) DO NOTHING"
                )),
            }
        } else {
            Statements {
                copy: format!(
                    "COPY {quoted} (campaign_id, offset_index, domain_name) FROM STDIN (FORMAT binary)"
                ),
                insert: None,
            }
        };
        let mut idle = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            let mut connection = source.open().await?;
            if unique {
                // A pooled connection may have it from an earlier run.
                connection
                    .client()
                    .batch_execute(&format!(
                        "CREATE TEMP TABLE IF NOT EXISTS {STAGING} (campaign_id uuid, offset_index bigint, domain_name text) ON COMMIT DELETE ROWS"
                    ))
                    .await
                    .map_err(Error::db)?;
            }
            idle.push(connection);
        }
        Ok(PgSink {
            handle,
            idle,
            busy: tokio::task::JoinSet::new(),
            campaign_id,
            statements: Arc::new(statements),
            committed_rows: 0,
            already_present: 0,
        })
    }

    /// Waits for one busy connection and takes back its outcome.
    fn settle_one(&mut self) -> Result<(), Error> {
        let Some(joined) = self.handle.block_on(self.busy.join_next()) else {
            return Ok(());
        };
        let (connection, positions, result) =
            joined.map_err(|e| Error::usage(format!("a COPY task failed: {e}")))?;
        self.idle.push(connection);
        let inserted = result.map_err(Error::db)?;
        self.committed_rows += inserted;
        self.already_present += (positions.end - positions.start).saturating_sub(inserted);
        Ok(())
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

    /// Closes the connections and waits for their tasks to end, so their
    /// buffers are freed.
    pub fn close(mut self) -> Result<(), Error> {
        let settled = self.settle_all();
        for connection in self.idle.drain(..) {
            self.handle.block_on(connection.close());
        }
        settled
    }
}

async fn commit(
    connection: &mut Connection,
    statements: &Statements,
    campaign_id: Uuid,
    positions: Range<u64>,
    bytes: Bytes,
) -> Result<u64, tokio_postgres::Error> {
    let names = positions.end - positions.start;
    let start = i64::try_from(positions.start).unwrap_or(i64::MAX);
    let end = i64::try_from(positions.end).unwrap_or(i64::MAX);
    let tx = connection.client().transaction().await?;
    // The ledger row first: a batch committed before fails here, on its
    // primary key, before any row is sent.
    let rows = i64::try_from(names).unwrap_or(i64::MAX);
    tx.execute(LEDGER_INSERT, &[&campaign_id, &start, &end, &rows])
        .await?;
    let sink = tx.copy_in::<_, Bytes>(statements.copy.as_str()).await?;
    futures_util::pin_mut!(sink);
    sink.send(bytes).await?;
    sink.as_mut().finish().await?;
    let inserted = match &statements.insert {
        None => names,
        Some(insert) => {
            let inserted = tx.execute(insert.as_str(), &[]).await?;
            let rows = i64::try_from(inserted).unwrap_or(i64::MAX);
            tx.execute(LEDGER_ROWS, &[&campaign_id, &start, &rows])
                .await?;
            inserted
        }
    };
    tx.commit().await?;
    Ok(inserted)
}

impl Sink for PgSink {
    type Error = Error;

    fn ordered(&self) -> bool {
        false
    }

    fn write_batch(&mut self, positions: Range<u64>, bytes: &[u8]) -> Result<Flow, Error> {
        if self.idle.is_empty() {
            self.settle_one()?;
        }
        let mut connection = self
            .idle
            .pop()
            .expect("a connection is idle after settling");
        let bytes = Bytes::copy_from_slice(bytes);
        let (statements, campaign_id) = (Arc::clone(&self.statements), self.campaign_id);
        self.busy.spawn_on(
            async move {
                let result = commit(
                    &mut connection,
                    &statements,
                    campaign_id,
                    positions.clone(),
                    bytes,
                )
                .await;
                (connection, positions, result)
            },
            &self.handle,
        );
        Ok(Flow::Continue)
    }

    fn finish(&mut self) -> Result<(), Error> {
        self.settle_all()
    }
}

/// Runs a campaign to completion (or to cancellation) on the calling
/// thread: registers or resumes it, writes the missing batches, records a
/// `generation_runs` row and a `memory_allocations` row.
#[allow(
    clippy::too_many_arguments,
    reason = "one call that the CLI and hosts make"
)]
pub fn run(
    handle: &Handle,
    connections: &Connections,
    client: &mut Client,
    generator: &Generator,
    space: &Space,
    spec: &Spec,
    options: &CampaignOptions,
    cancel: Option<&CancelToken>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<CampaignReport, Error> {
    let batch_names = generator
        .batch_names_for(space, &CopyRows::new(options.campaign_id))
        .map_err(Error::engine)?;
    let plan = handle.block_on(plan(client, options, space, spec, batch_names))?;
    let run_id = Uuid::new_v4();
    handle
        .block_on(client.execute(
            "INSERT INTO generation_runs (run_id, campaign_id, status) VALUES ($1, $2, 'running')",
            &[&run_id, &options.campaign_id],
        ))
        .map_err(Error::db)?;
    let encoder = CopyRows::new(options.campaign_id);
    let mut total: Option<Report> = None;
    let mut failure = None;
    let committed;
    let already_present;
    {
        // The batches go over a connection of their own, closed before the
        // heap is measured again: its buffers grow to a batch and are not a
        // leak of the run.
        let mut sink = handle.block_on(PgSink::connect(
            handle.clone(),
            connections,
            options.connections,
            options.campaign_id,
            &options.table,
            options.unique,
        ))?;
        for range in &plan.missing {
            match generator.run_with_batch(
                space,
                range.clone(),
                plan.batch_names,
                &encoder,
                &mut sink,
                cancel,
                progress,
            ) {
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
                    failure = Some(Error::engine(e));
                    break;
                }
            }
        }
        committed = sink.committed_rows;
        already_present = sink.already_present;
        if let Err(e) = sink.close() {
            failure.get_or_insert(e);
        }
    }
    let mut report = total.unwrap_or_default();
    if let Some(stats) = domgen_alloc::stats() {
        report.live_bytes_after = Some(stats.live_bytes);
    }

    // Rows the database committed, not batches handed to the sink.
    let written = committed;
    report.names = written;
    let status = match (&failure, report.stopped_early) {
        (Some(_), _) => "failed",
        (None, true) => "interrupted",
        (None, false) => "complete",
    };
    let report_json = serde_json::to_value(&report).map_err(|e| Error::usage(e.to_string()))?;
    let record = async {
        client
            .execute(
                "UPDATE generation_runs SET finished_at = now(), status = $2, positions_written = $3, report = $4
                 WHERE run_id = $1",
                &[&run_id, &status, &to_i64(written, "rows")?, &report_json],
            )
            .await
            .map_err(Error::db)?;
        let duration_ms =
            i32::try_from(std::time::Duration::from_secs_f64(report.duration_secs).as_millis())
                .unwrap_or(i32::MAX);
        client
            .execute(
                "INSERT INTO memory_allocations
                   (operation_id, operation_type, campaign_id, allocated_bytes, peak_bytes, duration_ms,
                    allocation_pattern, cleanup_successful, memory_leaked_bytes)
                 VALUES ($1, 'domain_generation', $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &run_id.to_string(),
                    &options.campaign_id,
                    &report.allocated_bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
                    &report.peak_live_bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
                    &duration_ms,
                    &report_json,
                    &(failure.is_none() && report.leaked_bytes().is_none_or(|l| l <= 0)),
                    &report.leaked_bytes().unwrap_or(0),
                ],
            )
            .await
            .map_err(Error::db)?;
        Ok::<(), Error>(())
    };
    let recorded = handle.block_on(record);
    if let Some(e) = failure {
        return Err(e.context(format!(
            "{} rows of {} were committed before it ({} in all)",
            written,
            space.len(),
            plan.committed_rows + written
        )));
    }
    recorded?;
    Ok(CampaignReport {
        run_id,
        rows_before: plan.committed_rows,
        rows_total: plan.committed_rows + written,
        positions: space.selection(),
        already_complete: plan.missing.is_empty(),
        already_present,
        report,
    })
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
        Ok(())
    }
}

/// The campaign service's call: compiles `spec`, registers (or, with
/// `options.resume`, resumes) the campaign in the database, writes its
/// missing batches and returns the report. The connections come from the
/// host's pool (`deadpool_postgres::Pool`) or are opened with a
/// `tokio_postgres::Config`; either converts into [`Connections`]. Async:
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
    let space = Space::compile(&spec).map_err(|e| Error::usage(e.to_string()))?;
    let handle = Handle::current();
    let mut control = connections.open().await?;
    let (result, control) = tokio::task::spawn_blocking(move || {
        let result = run(
            &handle,
            &connections,
            control.client(),
            &generator,
            &space,
            &spec,
            &options,
            cancel.as_ref(),
            &mut |_| {},
        );
        (result, control)
    })
    .await
    .map_err(|e| Error::usage(format!("the generation task failed: {e}")))?;
    control.close().await;
    result
}

impl From<tokio_postgres::Config> for Connections {
    fn from(config: tokio_postgres::Config) -> Connections {
        Connections::Config(Box::new(config))
    }
}

impl From<deadpool_postgres::Pool> for Connections {
    fn from(pool: deadpool_postgres::Pool) -> Connections {
        Connections::Pool(pool)
    }
}

/// Refuses a table for the rows that does not exist, saying how to make it.
pub(crate) async fn check_table(client: &Client, table: &str) -> Result<(), Error> {
    let quoted = quote_table(table)?;
    let exists: Option<String> = client
        .query_one("SELECT to_regclass($1)::text", &[&quoted])
        .await
        .map_err(Error::db)?
        .get(0);
    if exists.is_none() {
        return Err(Error::usage(format!(
            "table {table} does not exist; run `domgen migrate` or create it with columns campaign_id uuid, offset_index bigint, domain_name text"
        )));
    }
    Ok(())
}
