//! Every PostgreSQL feature of the `domgen` command, driven through the
//! library alone (no binary, no SQL for the actions; SQL only checks what
//! they left), and the regression test of `ledger::commit_batch`'s COPY
//! row count.

// The figures in memory_allocations and the monitor's heap samples come
// from the counting allocator.
#[global_allocator]
static ALLOC: domgen_alloc::CountingAlloc = domgen_alloc::CountingAlloc;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use domgen_engine::{CancelToken, Encoder, Gauge, Generator, GeneratorBuilder, Progress};
use domgen_monitor::Monitor;
use domgen_pattern::{Order, Space, Spec, WordList};
use domgen_pg::campaign::{self, CampaignOptions, CampaignReport, Start};
use domgen_pg::copy::CopyRows;
use domgen_pg::ledger::{self, Batch, Claim, Outcome, Registration, Target, Writer};
use domgen_pg::monitor::PgRecorder;
use domgen_pg::workers::{self, PlanOptions, WorkOptions};
use domgen_pg::{Database, ErrorKind, read};
use domgen_test_support::{Sql, fresh_database};
use tokio_postgres::Client;
use uuid::Uuid;

/// A fresh migrated database, opened as `domgen` opens one, and a client
/// for the checks.
struct Pg {
    rt: tokio::runtime::Runtime,
    db: Database,
    client: Client,
    sql: Sql,
}

impl Pg {
    fn new() -> Pg {
        let url = fresh_database();
        let mut sql = Sql::connect(&url);
        // `domgen db migrate`.
        sql.with_client(async |client| domgen_pg::migrate::migrate(client).await.unwrap());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = Database::from_config(url.parse().unwrap());
        let client = rt.block_on(db.open()).expect("open the migrated database");
        Pg {
            rt,
            db,
            client,
            sql,
        }
    }

    /// `domgen generate` into PostgreSQL: prepares the campaign, then runs
    /// it on this thread; `progress` hears of every batch. Returns the
    /// positions `Start::Continue` reserved, and the report.
    fn generate(
        &self,
        spec: &Spec,
        options: &CampaignOptions,
        generator: &Generator,
        cancel: Option<&CancelToken>,
        progress: &mut dyn FnMut(&Progress),
    ) -> (Option<Range<u64>>, CampaignReport) {
        let space = Space::compile(spec).unwrap();
        let prepared = self
            .rt
            .block_on(campaign::prepare(
                &self.client,
                spec,
                space,
                generator,
                options,
            ))
            .expect("prepare");
        let reserved = prepared.reserved();
        let report = prepared
            .run(
                self.rt.handle(),
                &self.db.connections(),
                generator,
                cancel,
                progress,
            )
            .expect("run");
        (reserved, report)
    }

    /// A campaign's rows in `table` as (position, name), by position.
    fn rows(&self, table: &str, campaign_id: Uuid) -> Vec<(u64, String)> {
        self.sql
            .query(
                &format!(
                    "SELECT offset_index, domain_name FROM {table} WHERE campaign_id = $1 ORDER BY offset_index"
                ),
                &[&campaign_id],
            )
            .iter()
            .map(|r| (u64::try_from(r.get::<_, i64>(0)).unwrap(), r.get(1)))
            .collect()
    }

    /// The campaign's rows in `table` are `positions`, each exactly once,
    /// each with the name the spec puts there.
    fn assert_exactly(&self, table: &str, campaign_id: Uuid, spec: &Spec, positions: Range<u64>) {
        let rows = self.rows(table, campaign_id);
        assert_eq!(
            rows.len() as u64,
            positions.end - positions.start,
            "rows of campaign {campaign_id} in {table}"
        );
        let name = named(spec);
        for (row, position) in rows.iter().zip(positions) {
            assert_eq!(*row, (position, name(position)), "campaign {campaign_id}");
        }
    }

    fn int(&self, sql: &str, campaign_id: Uuid) -> i64 {
        self.sql.int(sql, &[&campaign_id])
    }
}

/// The oracle: the name at each position of the spec's order.
fn named(spec: &Spec) -> impl Fn(u64) -> String {
    let space = Space::compile(spec).unwrap();
    move |position| space.name(space.index_at(position))
}

fn spec(order: Order, seed: u64) -> Spec {
    Spec {
        keywords: WordList::inline(["shop", "café", "data"]),
        tlds: WordList::inline(["com", "co.uk"]),
        patterns: vec![
            "{keyword}-{alnum:1-2}.{tld}".into(),
            "x{alpha:2}{digit:1}.net".into(),
        ],
        order,
        seed,
        ..Spec::default()
    }
}

fn generator(batch: u64) -> Generator {
    GeneratorBuilder::new()
        .threads(2)
        .batch_names(batch)
        .build()
        .unwrap()
}

fn options(campaign_id: Uuid, start: Start) -> CampaignOptions {
    CampaignOptions {
        campaign_id,
        table: "generated_domains".into(),
        start,
        connections: 2,
        unique: false,
        retry: domgen_pg::Retry::default(),
        provenance: domgen_pg::Provenance::default(),
    }
}

/// What `domgen generate`, `generate --resume`, `--continue`, `--unique`,
/// `--table`, `--monitor`, `domgen report`, `workers plan`, `workers run`
/// and `workers status` do, one after another on one database.
#[test]
fn every_postgres_feature_of_the_cli_works_through_the_library() {
    let pg = Pg::new();
    new_campaign_shows_its_rows_and_allocation(&pg);
    interrupted_campaign_is_finished_by_resume(&pg);
    continued_campaigns_get_disjoint_positions(&pg);
    unique_mode_into_its_own_table_skips_names_present(&pg);
    monitored_run_leaves_samples_for_the_report(&pg);
    workers_complete_a_planned_campaign(&pg);
}

/// `domgen generate`: a new campaign into the default table, then the few
/// rows and the `memory_allocations` row it prints.
fn new_campaign_shows_its_rows_and_allocation(pg: &Pg) {
    let id = Uuid::new_v4();
    let s = spec(Order::Shuffled, 7);
    let len = Space::compile(&s).unwrap().len();
    let (reserved, report) = pg.generate(
        &s,
        &options(id, Start::New),
        &generator(500),
        None,
        &mut |_| {},
    );
    assert_eq!(reserved, None);
    assert!(!report.already_complete);
    assert_eq!((report.rows_before, report.rows_total), (0, len));
    pg.assert_exactly("generated_domains", id, &s, 0..len);
    let batches = pg.int(
        "SELECT count(*) FROM generation_batches WHERE campaign_id = $1 AND status = 'committed'",
        id,
    );
    assert_eq!(u64::try_from(batches).unwrap(), report.report.batches);

    let sample = pg
        .rt
        .block_on(read::sample_rows(&pg.client, "generated_domains", id, 3))
        .unwrap();
    assert_eq!(sample.len(), 3);
    let name = named(&s);
    for (position, domain) in &sample {
        assert_eq!(*domain, name(u64::try_from(*position).unwrap()));
    }
    let allocation = pg
        .rt
        .block_on(read::allocation(&pg.client, report.run_id))
        .unwrap()
        .expect("the run's memory_allocations row");
    assert_eq!(allocation.operation_id, report.run_id.to_string());
    assert!(
        allocation.allocated_bytes.is_some_and(|b| b > 0),
        "{allocation}"
    );
    let status = pg.sql.text(
        "SELECT status FROM generation_runs WHERE run_id = $1",
        &[&report.run_id],
    );
    assert_eq!(status, "complete");
}

/// `domgen generate` interrupted (Ctrl-C cancels its token), then
/// `generate --campaign-id … --resume`.
fn interrupted_campaign_is_finished_by_resume(pg: &Pg) {
    let id = Uuid::new_v4();
    let s = spec(Order::Shuffled, 5);
    let len = Space::compile(&s).unwrap().len();
    let cancel = CancelToken::new();
    let mut seen = 0;
    let (_, first) = pg.generate(
        &s,
        &options(id, Start::New),
        &generator(300),
        Some(&cancel),
        &mut |_| {
            seen += 1;
            if seen == 3 {
                cancel.cancel();
            }
        },
    );
    assert!(first.report.stopped_early);
    assert!(first.rows_total > 0 && first.rows_total < len, "{first}");
    assert_eq!(
        pg.int(
            "SELECT count(*) FROM generated_domains WHERE campaign_id = $1",
            id
        ),
        i64::try_from(first.rows_total).unwrap()
    );
    let status = pg.sql.text(
        "SELECT status FROM generation_runs WHERE run_id = $1",
        &[&first.run_id],
    );
    assert_eq!(status, "interrupted");

    // The resume keeps the campaign's grid of 300, whatever the engine's batch size.
    let (_, second) = pg.generate(
        &s,
        &options(id, Start::Resume),
        &generator(999),
        None,
        &mut |_| {},
    );
    assert_eq!(second.rows_before, first.rows_total);
    assert_eq!(second.rows_total, len);
    pg.assert_exactly("generated_domains", id, &s, 0..len);
    let ledger = pg.int(
        "SELECT sum(batch_end - batch_start)::bigint FROM generation_batches
          WHERE campaign_id = $1 AND status = 'committed'",
        id,
    );
    assert_eq!(u64::try_from(ledger).unwrap(), len);
}

/// `domgen generate --continue --limit 1000`, twice: the second campaign
/// takes the next positions of the spec, so none repeats a name.
fn continued_campaigns_get_disjoint_positions(pg: &Pg) {
    let s = Spec {
        limit: Some(1000),
        ..spec(Order::Sequential, 0)
    };
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let (reserved_a, report_a) = pg.generate(
        &s,
        &options(a, Start::Continue),
        &generator(400),
        None,
        &mut |_| {},
    );
    let (reserved_b, report_b) = pg.generate(
        &s,
        &options(b, Start::Continue),
        &generator(400),
        None,
        &mut |_| {},
    );
    assert_eq!(reserved_a, Some(0..1000));
    assert_eq!(reserved_b, Some(1000..2000));
    assert_eq!(
        (report_a.positions, report_b.positions),
        (0..1000, 1000..2000)
    );
    pg.assert_exactly("generated_domains", a, &s, 0..1000);
    pg.assert_exactly("generated_domains", b, &s, 1000..2000);
    let distinct = pg.sql.int(
        "SELECT count(DISTINCT domain_name) FROM generated_domains WHERE campaign_id IN ($1, $2)",
        &[&a, &b],
    );
    assert_eq!(distinct, 2000);
}

/// `domgen generate --table my_names --unique`: the second campaign skips
/// the names the first one wrote, and names it repeats itself.
fn unique_mode_into_its_own_table_skips_names_present(pg: &Pg) {
    // The table is the user's to make; domgen only checks that it exists.
    pg.sql.execute(
        "CREATE TABLE my_names (campaign_id uuid, offset_index bigint, domain_name text, note text DEFAULT 'mine')",
    );
    let first = Spec {
        patterns: vec!["u{alpha:2}.com".into()],
        ..Spec::default()
    };
    // All of the first's 676 names, the 25 of them again, and 10 new ones.
    let second = Spec {
        patterns: vec![
            "u{alpha:2}.com".into(),
            "u{vowel:2}.com".into(),
            "v{digit:1}.com".into(),
        ],
        ..Spec::default()
    };
    let unique = |campaign_id| CampaignOptions {
        table: "my_names".into(),
        unique: true,
        retry: domgen_pg::Retry::default(),
        provenance: domgen_pg::Provenance::default(),
        ..options(campaign_id, Start::New)
    };
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let (_, report_a) = pg.generate(&first, &unique(a), &generator(100), None, &mut |_| {});
    assert_eq!((report_a.rows_total, report_a.already_present), (676, 0));
    pg.assert_exactly("my_names", a, &first, 0..676);
    let (_, report_b) = pg.generate(&second, &unique(b), &generator(100), None, &mut |_| {});
    assert_eq!(
        (report_b.rows_total, report_b.already_present),
        (10, 676 + 25)
    );

    let rows = pg.rows("my_names", b);
    let name = named(&second);
    assert_eq!(rows.len(), 10);
    for (position, domain) in &rows {
        assert_eq!(*domain, name(*position));
        assert!(domain.starts_with('v'), "{domain} was present already");
    }
    let (count, distinct): (i64, i64) = {
        let row = &pg.sql.query(
            "SELECT count(*), count(DISTINCT domain_name) FROM my_names WHERE note = 'mine'",
            &[],
        )[0];
        (row.get(0), row.get(1))
    };
    assert_eq!((count, distinct), (686, 686));
    assert_eq!(
        pg.int(
            "SELECT count(*) FROM generated_domains WHERE campaign_id = $1",
            b
        ),
        0,
        "nothing went to the default table"
    );
    // The ledger counts the rows each batch really added.
    assert_eq!(
        pg.int(
            "SELECT sum(rows)::bigint FROM generation_batches WHERE campaign_id = $1",
            b
        ),
        10
    );
}

/// `domgen generate --monitor`, then `domgen report --run`: the monitor
/// records samples around the run, and `read::run_samples` reads them back.
fn monitored_run_leaves_samples_for_the_report(pg: &Pg) {
    let gauge = Arc::new(Gauge::new());
    let generator = GeneratorBuilder::new()
        .threads(2)
        .batch_names(500)
        .gauge(gauge.clone())
        .build()
        .unwrap();
    let run = Uuid::new_v4();
    let config = domgen_monitor::Config {
        interval: Duration::from_millis(100),
        run_id: Some(run),
        ..domgen_monitor::Config::default()
    };
    let recorder = PgRecorder::new(pg.db.config().clone()).unwrap();
    let handle = Monitor::start_recording(config, Some(gauge), recorder).unwrap();
    let id = Uuid::new_v4();
    let s = spec(Order::Sequential, 0);
    let (_, report) = pg.generate(&s, &options(id, Start::New), &generator, None, &mut |_| {});
    let summary = handle.stop();
    let len = Space::compile(&s).unwrap().len();
    assert_eq!(report.rows_total, len);
    pg.assert_exactly("generated_domains", id, &s, 0..len);

    // A sample at the start and one at the stop, at least, all written.
    assert!(summary.samples >= 2, "{summary:?}");
    assert_eq!(summary.written, summary.samples, "{summary:?}");
    let (samples, leaks) = pg.rt.block_on(read::run_samples(&pg.client, run)).unwrap();
    assert_eq!(samples.len() as u64, summary.written);
    assert_eq!(samples[0].secs, 0.0);
    assert!(samples.windows(2).all(|w| w[0].secs <= w[1].secs));
    assert!(samples.iter().all(|s| s.heap_used_bytes > 0), "{samples:?}");
    assert_eq!(leaks.len() as u64, summary.leaks_written);
    assert_eq!(
        pg.sql.int(
            "SELECT count(*) FROM memory_metrics WHERE run_id = $1",
            &[&run]
        ),
        i64::try_from(samples.len()).unwrap()
    );
}

/// `domgen workers plan`, two `domgen workers run` at once (each with two
/// connections), then `domgen workers status`.
fn workers_complete_a_planned_campaign(pg: &Pg) {
    let id = Uuid::new_v4();
    let s = spec(Order::Shuffled, 3);
    let len = Space::compile(&s).unwrap().len();
    let planned = pg
        .rt
        .block_on(workers::plan(
            &pg.client,
            &s,
            &PlanOptions {
                campaign_id: id,
                batch_names: Some(700),
                table: "generated_domains".into(),
            },
        ))
        .unwrap();
    assert!(planned.created);
    assert_eq!(planned.positions, 0..len);
    let before = pg.rt.block_on(read::status(&pg.client, id)).unwrap();
    assert!(!before.complete);
    assert_eq!((before.done, before.rows), (0, 0));

    let generator = Arc::new(generator(250));
    let worker = |name: &str| {
        workers::work(
            pg.db.connections(),
            WorkOptions {
                campaign_id: id,
                worker_id: name.into(),
                lease: Duration::from_secs(60),
                connections: 2,
                max_batches: None,
                retry: domgen_pg::Retry::default(),
                provenance: domgen_pg::Provenance::default(),
            },
            Arc::clone(&generator),
            None,
            |_| {},
        )
    };
    let (a, b) = pg
        .rt
        .block_on(async { tokio::join!(worker("worker-a"), worker("worker-b")) });
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.complete && b.complete, "{a} / {b}");
    assert_eq!(a.rows + b.rows, len);
    assert_eq!(a.batches + b.batches, planned.batches);
    assert_eq!((a.refused + b.refused, a.released + b.released), (0, 0));

    let status = pg.rt.block_on(read::status(&pg.client, id)).unwrap();
    assert!(status.complete, "{status}");
    assert_eq!(status.positions, len);
    assert_eq!(
        (status.batches, status.done, status.leased, status.pending),
        (planned.batches, planned.batches, 0, 0)
    );
    assert_eq!(status.rows, len);
    pg.assert_exactly("generated_domains", id, &s, 0..len);
}

/// A binary COPY stream of the rows of `positions`, as the engine's
/// workers encode them.
fn encoded(campaign_id: Uuid, spec: &Spec, positions: Range<u64>) -> Bytes {
    let space = Space::compile(spec).unwrap();
    let mut bytes = Vec::new();
    CopyRows::new(campaign_id).encode(&space, positions, &mut bytes);
    Bytes::from(bytes)
}

/// `commit_batch` must count the rows the server's COPY took against the
/// batch's positions: a chunk one row short (an encoder or a caller that
/// lost a name) would otherwise commit with a ledger row claiming every
/// position, and a resume would never write the missing one. Refused, the
/// batch leaves nothing behind — neither rows nor ledger row — so the
/// right rows can still commit.
#[test]
fn a_batch_whose_copy_takes_fewer_rows_than_its_positions_is_refused() {
    const N: u64 = 50;
    let pg = Pg::new();
    let s = spec(Order::Shuffled, 13);
    let space = Space::compile(&s).unwrap();
    let target = Target::table("generated_domains", &domgen_pg::Provenance::none()).unwrap();
    let mut client = pg.rt.block_on(pg.db.connect()).unwrap();
    let short_by_one = |err: domgen_pg::Error| {
        assert_eq!(err.kind(), ErrorKind::Database, "{err}");
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "batch 0..{N}: the server's COPY took {} rows, expected {N}",
                N - 1
            )),
            "{message}"
        );
    };
    let rows = |id| {
        pg.int(
            "SELECT count(*) FROM generated_domains WHERE campaign_id = $1",
            id,
        )
    };

    // A batch of `generate`: its ledger row would be inserted as committed.
    let id = Uuid::new_v4();
    pg.rt
        .block_on(ledger::register_campaign(
            &pg.client,
            &Registration {
                campaign_id: id,
                spec: &s,
                space: &space,
                batch_names: N,
                adaptive: false,
                table: "generated_domains",
                writer: Writer::Generate,
            },
        ))
        .unwrap();
    // One cell: the batch's positions are a single range.
    #[allow(clippy::single_range_in_vec_init)]
    let cell = [0..N];
    let commit = |client: &mut Client, claim: Claim, chunk: Bytes| {
        pg.rt.block_on(ledger::commit_batch(
            client,
            &target,
            &Batch {
                campaign_id: id,
                positions: &cell,
                claim,
                chunks: &[chunk],
            },
        ))
    };
    let short = encoded(id, &s, 0..N - 1);
    short_by_one(commit(&mut client, Claim::Unclaimed, short).unwrap_err());
    assert_eq!(
        pg.int(
            "SELECT count(*) FROM generation_batches WHERE campaign_id = $1",
            id
        ),
        0,
        "no ledger row"
    );
    assert_eq!(rows(id), 0, "no rows");
    let whole = encoded(id, &s, 0..N);
    assert_eq!(
        commit(&mut client, Claim::Unclaimed, whole).unwrap(),
        Outcome::Committed { rows: N }
    );
    pg.assert_exactly("generated_domains", id, &s, 0..N);

    // A worker's leased batch: its ledger row would move to committed.
    let leased = Uuid::new_v4();
    pg.rt
        .block_on(workers::plan(
            &pg.client,
            &s,
            &PlanOptions {
                campaign_id: leased,
                batch_names: Some(N),
                table: "generated_domains".into(),
            },
        ))
        .unwrap();
    let lease = pg
        .rt
        .block_on(workers::claim(
            &pg.client,
            leased,
            "worker",
            Duration::from_secs(60),
        ))
        .unwrap()
        .expect("a batch to claim");
    assert_eq!(lease.positions, 0..N);
    let commit_leased = |client: &mut Client, chunk: Bytes| {
        pg.rt.block_on(ledger::commit_batch(
            client,
            &target,
            &Batch {
                campaign_id: leased,
                positions: std::slice::from_ref(&lease.positions),
                claim: Claim::Leased(lease.token),
                chunks: &[chunk],
            },
        ))
    };
    let short = encoded(leased, &s, 0..N - 1);
    short_by_one(commit_leased(&mut client, short).unwrap_err());
    let status = pg.sql.text(
        "SELECT status FROM generation_batches WHERE campaign_id = $1",
        &[&leased],
    );
    assert_eq!(status, "leased", "the ledger row is not committed");
    assert_eq!(rows(leased), 0, "no rows");
    // The lease still holds: the right rows commit under it.
    let whole = encoded(leased, &s, 0..N);
    assert_eq!(
        commit_leased(&mut client, whole).unwrap(),
        Outcome::Committed { rows: N }
    );
    pg.assert_exactly("generated_domains", leased, &s, 0..N);
}

/// A `generate` commit groups cells of the grid, each with its own ledger
/// row, so a second writer that groups the same cells differently still
/// meets the first on the ledger's primary key: a group with one cell
/// committed before is refused whole, rows and ledger rows. `committed`
/// answers for a whole group, and in `unique` mode the rows a group
/// skipped come off its cells so that the ledger adds up to the table.
#[test]
fn grouped_cells_commit_once_whatever_the_grouping() {
    const CELL: u64 = 20;
    let pg = Pg::new();
    let s = spec(Order::Sequential, 0);
    let space = Space::compile(&s).unwrap();
    let target = Target::table("generated_domains", &domgen_pg::Provenance::none()).unwrap();
    let mut client = pg.rt.block_on(pg.db.connect()).unwrap();
    let id = Uuid::new_v4();
    pg.rt
        .block_on(ledger::register_campaign(
            &pg.client,
            &Registration {
                campaign_id: id,
                spec: &s,
                space: &space,
                batch_names: CELL,
                adaptive: true,
                table: "generated_domains",
                writer: Writer::Generate,
            },
        ))
        .unwrap();
    let commit = |client: &mut Client, target: &Target, cells: &[Range<u64>]| {
        let chunks: Vec<Bytes> = cells.iter().map(|c| encoded(id, &s, c.clone())).collect();
        pg.rt.block_on(ledger::commit_batch(
            client,
            target,
            &Batch {
                campaign_id: id,
                positions: cells,
                claim: Claim::Unclaimed,
                chunks: &chunks,
            },
        ))
    };
    // Cells out of order and apart, as an unordered run hands them over.
    assert_eq!(
        commit(&mut client, &target, &[40..60, 0..20]).unwrap(),
        Outcome::Committed { rows: 40 }
    );
    let refused = commit(&mut client, &target, &[20..40, 40..60, 60..80]).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Database, "{refused}");
    assert_eq!(
        pg.int(
            "SELECT count(*) FROM generated_domains WHERE campaign_id = $1",
            id
        ),
        40,
        "nothing of the refused group"
    );
    assert_eq!(
        pg.int(
            "SELECT count(*) FROM generation_batches WHERE campaign_id = $1",
            id
        ),
        2,
        "a ledger row per cell, none of the refused group"
    );
    let committed = |starts: &[u64]| {
        pg.rt
            .block_on(ledger::committed(&pg.client, id, starts))
            .unwrap()
    };
    assert_eq!(committed(&[0, 40]).map(|c| c.rows), Some(40));
    assert_eq!(committed(&[20, 60]), None);
    // The refused group's cell 40..60 is another writer's: the group did
    // not land, though one of its cells is committed.
    assert_eq!(committed(&[20, 40, 60]), None);
    let (missing, rows) = pg
        .rt
        .block_on(ledger::missing(&pg.client, id, 0..100))
        .unwrap();
    assert_eq!((missing, rows), (vec![20..40, 60..100], 40));

    // `unique` mode: 10 of the next group's names are in the table already
    // (under another campaign); its first cell carries the shortfall.
    let other = Uuid::new_v4();
    for name in (60..70).map(|i| space.name(i)) {
        pg.sql.query(
            "INSERT INTO generated_domains (campaign_id, offset_index, domain_name) VALUES ($1, 0, $2)",
            &[&other, &name],
        );
    }
    pg.rt
        .block_on(ledger::ensure_unique_index(&pg.client, "generated_domains"))
        .unwrap();
    let unique = Target::unique("generated_domains", &domgen_pg::Provenance::none()).unwrap();
    assert_eq!(
        commit(&mut client, &unique, &[60..80, 20..40]).unwrap(),
        Outcome::Committed { rows: 30 }
    );
    let ledger_rows: Vec<(i64, i64)> = pg
        .sql
        .query(
            "SELECT batch_start, rows FROM generation_batches WHERE campaign_id = $1 ORDER BY batch_start",
            &[&id],
        )
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(ledger_rows, [(0, 20), (20, 20), (40, 20), (60, 10)]);
    assert_eq!(committed(&[60, 20]).map(|c| c.rows), Some(30));
}

/// With no subscriber installed the library writes nothing on standard
/// error: every feature above, run again alone in a child process with
/// nothing captured, leaves its stderr empty (libtest reports on stdout).
#[test]
fn the_library_writes_nothing_on_stderr_without_a_subscriber() {
    let test = "every_postgres_feature_of_the_cli_works_through_the_library";
    let out = std::process::Command::new(std::env::current_exe().expect("this test's binary"))
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env_remove("RUST_LOG")
        .output()
        .expect("this test's binary runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stderr, "", "the library wrote on stderr");
}
