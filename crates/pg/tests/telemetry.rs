//! What a host collects from a campaign's run, resume, a worker's take-over
//! of an expired lease and a refused commit: the `tracing` events, each
//! once and with its fields, and the metrics, which agree with the tables.
//!
//! The writers' events and metrics come from the runtime's threads and the
//! engine's, so the subscriber and the recorder are the process's global
//! ones, installed once; the tests take turns ([`Telemetry::begin`]), so
//! that what each reads (metrics are drained when read) is its own.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use domgen_engine::telemetry::{
    BATCHES_CLAIMED, BATCHES_COMMITTED, COMMIT_SECONDS, LEASES_REFUSED, LEASES_TAKEN_OVER,
    NAMES_GENERATED, ROWS_COMMITTED,
};
use domgen_engine::{CancelToken, GeneratorBuilder};
use domgen_pattern::{Space, Spec};
use domgen_pg::campaign::{self, CampaignOptions, Start};
use domgen_pg::workers::{self, Outcome, PlanOptions, WorkOptions};
use domgen_pg::{Connections, Provenance, Retry};
use domgen_test_support::{connect, runtime};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio_postgres::Client;
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use uuid::Uuid;

// A migrated database, as the other async tests make one.
mod common;
use common::{migrated, rows};

/// An event as a host's subscriber sees it: its level, message and
/// fields, with those of the spans it happened in (its own win).
#[derive(Clone, Debug)]
struct Seen {
    level: Level,
    message: String,
    fields: BTreeMap<String, String>,
}

impl Seen {
    fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("{self:?} has no field `{name}`"))
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// A layer that keeps every event of domgen's crates.
struct Collect(Arc<Mutex<Vec<Seen>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Collect {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("domgen") {
            return;
        }
        let mut fields = BTreeMap::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<Fields>() {
                    fields.extend(f.0.clone());
                }
            }
        }
        let mut own = Fields::default();
        event.record(&mut own);
        let message = own.0.remove("message").unwrap_or_default();
        fields.extend(own.0);
        lock(&self.0).push(Seen {
            level: *event.metadata().level(),
            message,
            fields,
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The process's subscriber and recorder, and the turn of the test that
/// reads them.
struct Telemetry {
    events: Arc<Mutex<Vec<Seen>>>,
    snapshotter: Snapshotter,
    turn: Mutex<()>,
}

/// A metric's value, drained from the recorder: `(name, campaign label)`.
type Key = (String, Option<String>);

/// What a test reads: its events and its metrics.
struct Turn {
    telemetry: &'static Telemetry,
    _turn: MutexGuard<'static, ()>,
}

impl Telemetry {
    fn get() -> &'static Telemetry {
        static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();
        TELEMETRY.get_or_init(|| {
            let events = Arc::new(Mutex::new(Vec::new()));
            let subscriber = tracing_subscriber::registry().with(Collect(Arc::clone(&events)));
            tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
            let recorder = DebuggingRecorder::new();
            let snapshotter = recorder.snapshotter();
            metrics::set_global_recorder(recorder).expect("the only recorder");
            domgen_engine::telemetry::describe();
            Telemetry {
                events,
                snapshotter,
                turn: Mutex::new(()),
            }
        })
    }

    /// Waits for this test's turn; the events and metrics before it are
    /// dropped.
    fn begin() -> Turn {
        let telemetry = Telemetry::get();
        let turn = lock(&telemetry.turn);
        let turn = Turn {
            telemetry,
            _turn: turn,
        };
        turn.take_events();
        turn.take_metrics();
        turn
    }
}

impl Turn {
    fn take_events(&self) -> Vec<Seen> {
        std::mem::take(&mut *lock(&self.telemetry.events))
    }

    /// Counters and histograms recorded since the last call.
    fn take_metrics(&self) -> Metrics {
        let mut metrics = Metrics::default();
        for (key, _, _, value) in self.telemetry.snapshotter.snapshot().into_vec() {
            let campaign = key
                .key()
                .labels()
                .find(|l| l.key() == "campaign")
                .map(|l| l.value().to_owned());
            let key = (key.key().name().to_owned(), campaign);
            match value {
                DebugValue::Counter(n) => {
                    *metrics.counters.entry(key).or_default() += n;
                }
                DebugValue::Histogram(values) => metrics
                    .histograms
                    .entry(key)
                    .or_default()
                    .extend(values.iter().map(|v| v.0)),
                DebugValue::Gauge(_) => {}
            }
        }
        metrics
    }
}

#[derive(Debug, Default)]
struct Metrics {
    counters: HashMap<Key, u64>,
    histograms: HashMap<Key, Vec<f64>>,
}

impl Metrics {
    fn counter(&self, name: &str, campaign: Option<Uuid>) -> u64 {
        let key = (name.to_owned(), campaign.map(|c| c.to_string()));
        self.counters.get(&key).copied().unwrap_or(0)
    }

    fn histogram(&self, name: &str, campaign: Uuid) -> &[f64] {
        let key = (name.to_owned(), Some(campaign.to_string()));
        self.histograms.get(&key).map_or(&[], Vec::as_slice)
    }
}

/// The events of `campaign` with `message`.
fn of<'a>(events: &'a [Seen], campaign: Uuid, message: &str) -> Vec<&'a Seen> {
    let id = campaign.to_string();
    events
        .iter()
        .filter(|e| e.message == message && e.fields.get("campaign") == Some(&id))
        .collect()
}

/// The one event of `campaign` with `message`.
fn once<'a>(events: &'a [Seen], campaign: Uuid, message: &str) -> &'a Seen {
    match of(events, campaign, message)[..] {
        [one] => one,
        ref other => panic!(
            "{message:?} of campaign {campaign}: {} events, not one: {other:#?}\nall: {events:#?}",
            other.len()
        ),
    }
}

async fn count(client: &Client, sql: &str, id: Uuid) -> u64 {
    let n: i64 = client.query_one(sql, &[&id]).await.unwrap().get(0);
    u64::try_from(n).unwrap()
}

async fn rows_of(client: &Client, id: Uuid) -> u64 {
    count(
        client,
        "SELECT count(*) FROM generated_domains WHERE campaign_id = $1",
        id,
    )
    .await
}

async fn ledger_batches(client: &Client, id: Uuid) -> u64 {
    count(
        client,
        "SELECT count(*) FROM generation_batches WHERE campaign_id = $1 AND status = 'committed'",
        id,
    )
    .await
}

/// 676 names.
fn spec() -> Spec {
    Spec {
        patterns: vec!["shop{alpha:2}.com".into()],
        ..Spec::default()
    }
}

fn campaign_options(id: Uuid, start: Start) -> CampaignOptions {
    CampaignOptions {
        campaign_id: id,
        table: "generated_domains".into(),
        start,
        connections: 2,
        unique: false,
        retry: Retry::default(),
        provenance: Provenance::default(),
    }
}

/// Runs the campaign `id` in batches of `batch`, cancelled after `cut_after`
/// batches when given.
fn run_campaign(
    rt: &tokio::runtime::Runtime,
    url: &str,
    client: &Client,
    id: Uuid,
    start: Start,
    batch: u64,
    cut_after: Option<usize>,
) -> campaign::CampaignReport {
    let spec = spec();
    let generator = GeneratorBuilder::new()
        .threads(2)
        .batch_names(batch)
        .build()
        .unwrap();
    let space = Space::compile(&spec).unwrap();
    let options = campaign_options(id, start);
    let prepared = rt
        .block_on(campaign::prepare(
            client, &spec, space, &generator, &options,
        ))
        .unwrap();
    let cancel = CancelToken::new();
    let mut seen = 0;
    let config: tokio_postgres::Config = url.parse().unwrap();
    prepared
        .run(
            rt.handle(),
            &Connections::from(config),
            &generator,
            Some(&cancel),
            &mut |_| {
                seen += 1;
                if Some(seen) == cut_after {
                    cancel.cancel();
                }
            },
        )
        .unwrap()
}

#[test]
fn a_run_tells_its_start_each_commit_and_its_end_and_its_metrics_match_the_tables() {
    let turn = Telemetry::begin();
    let rt = runtime();
    let (url, client) = rt.block_on(migrated());
    let id = Uuid::new_v4();
    let report = run_campaign(&rt, &url, &client, id, Start::New, 100, None);
    let (events, metrics) = (turn.take_events(), turn.take_metrics());

    let rows = rt.block_on(rows_of(&client, id));
    let batches = rt.block_on(ledger_batches(&client, id));
    assert_eq!((rows, batches), (676, 7));
    assert_eq!(report.report.batches, batches);

    let started = once(&events, id, "campaign run started");
    assert_eq!(started.level, Level::INFO);
    assert_eq!(
        (
            started.field("start"),
            started.field("end"),
            started.field("rows_before"),
            started.field("missing"),
            started.field("order"),
        ),
        ("0", "676", "0", "676", "Sequential")
    );
    assert_eq!(started.field("run"), report.run_id.to_string());
    let finished = once(&events, id, "campaign run finished");
    assert_eq!(finished.level, Level::INFO);
    assert_eq!(
        (
            finished.field("rows"),
            finished.field("batches"),
            finished.field("rows_total"),
            finished.field("reconnects"),
            finished.field("stopped_early"),
        ),
        ("676", "7", "676", "0", "false")
    );
    // Each batch once, at debug, with its positions and rows.
    let mut committed: Vec<(u64, u64, u64)> = of(&events, id, "batch committed")
        .iter()
        .map(|e| {
            assert_eq!(e.level, Level::DEBUG);
            assert!(e.field("seconds").parse::<f64>().unwrap() >= 0.0);
            let n = |f: &str| e.field(f).parse::<u64>().unwrap();
            (n("start"), n("end"), n("rows"))
        })
        .collect();
    committed.sort_unstable();
    let expected: Vec<(u64, u64, u64)> = (0..7)
        .map(|i| {
            (
                i * 100,
                (i * 100 + 100).min(676),
                (i * 100 + 100).min(676) - i * 100,
            )
        })
        .collect();
    assert_eq!(committed, expected);
    let warnings: Vec<&Seen> = events.iter().filter(|e| e.level <= Level::WARN).collect();
    assert!(warnings.is_empty(), "{warnings:#?}");

    assert_eq!(metrics.counter(ROWS_COMMITTED, Some(id)), rows);
    assert_eq!(metrics.counter(BATCHES_COMMITTED, Some(id)), batches);
    let seconds = metrics.histogram(COMMIT_SECONDS, id);
    assert_eq!(seconds.len() as u64, batches);
    assert!(seconds.iter().all(|s| *s >= 0.0), "{seconds:?}");
    // The engine's count, per batch: the generator's warm-up is not a run.
    assert_eq!(metrics.counter(NAMES_GENERATED, None), 676);
    assert_eq!(metrics.counter(LEASES_REFUSED, Some(id)), 0);
}

#[test]
fn a_resume_tells_what_it_finds_and_finishes_the_count() {
    let turn = Telemetry::begin();
    let rt = runtime();
    let (url, client) = rt.block_on(migrated());
    let id = Uuid::new_v4();
    // Batches of 10 (68 in all), so that the few in flight when the run
    // is cancelled leave most of them to the resume.
    let first = run_campaign(&rt, &url, &client, id, Start::New, 10, Some(2));
    assert!(first.report.stopped_early);
    let before = rt.block_on(rows_of(&client, id));
    assert_eq!(before, first.rows_total);
    assert!(before > 0 && before < 676, "{before}");
    let first_events = turn.take_events();
    let interrupted = once(&first_events, id, "campaign run finished");
    assert_eq!(interrupted.field("stopped_early"), "true");
    assert!(of(&first_events, id, "resuming campaign").is_empty());

    let second = run_campaign(&rt, &url, &client, id, Start::Resume, 10, None);
    let (events, metrics) = (turn.take_events(), turn.take_metrics());
    assert_eq!(second.rows_before, before);
    let resumed = once(&events, id, "resuming campaign");
    assert_eq!(resumed.level, Level::INFO);
    assert_eq!(resumed.field("rows_before"), before.to_string());
    assert_eq!(resumed.field("missing"), (676 - before).to_string());
    let started = once(&events, id, "campaign run started");
    assert_eq!(
        (started.field("rows_before"), started.field("missing")),
        (&*before.to_string(), &*(676 - before).to_string())
    );
    let finished = once(&events, id, "campaign run finished");
    assert_eq!(
        (finished.field("rows"), finished.field("rows_total")),
        (&*(676 - before).to_string(), "676")
    );
    // The counters, read once after both runs, are the table's rows and
    // the ledger's batches.
    let rows = rt.block_on(rows_of(&client, id));
    let batches = rt.block_on(ledger_batches(&client, id));
    assert_eq!((rows, batches), (676, 68));
    assert_eq!(metrics.counter(ROWS_COMMITTED, Some(id)), rows);
    assert_eq!(metrics.counter(BATCHES_COMMITTED, Some(id)), batches);
    assert_eq!(
        first.report.batches + second.report.batches,
        batches,
        "no batch committed twice"
    );
    assert_eq!(
        of(&events, id, "batch committed").len() as u64,
        second.report.batches
    );
}

fn plan_options(id: Uuid, batch: u64) -> PlanOptions {
    PlanOptions {
        campaign_id: id,
        batch_names: Some(batch),
        table: "generated_domains".into(),
    }
}

/// The target of rows of three columns, as `CopyRows::new` encodes them.
fn three_columns() -> domgen_pg::ledger::Target {
    domgen_pg::ledger::Target::table("generated_domains", &Provenance::none()).unwrap()
}

/// A worker finds a batch whose lease expired and takes it over: one
/// warning naming both workers and the batch, and the campaign's counts.
#[test]
fn a_worker_taking_over_an_expired_lease_says_so_once() {
    let turn = Telemetry::begin();
    let rt = runtime();
    let (url, client) = rt.block_on(migrated());
    let id = Uuid::new_v4();
    rt.block_on(workers::plan(&client, &spec(), &plan_options(id, 200)))
        .unwrap();
    let stalled = rt
        .block_on(workers::claim(
            &client,
            id,
            "stalled",
            Duration::from_secs(1),
        ))
        .unwrap()
        .unwrap();
    assert_eq!(stalled.positions, 0..200);
    // The lease (1 s) expiring is what is under test: time must pass.
    std::thread::sleep(Duration::from_millis(1300));
    turn.take_events();
    turn.take_metrics();

    let config: tokio_postgres::Config = url.parse().unwrap();
    let generator = Arc::new(GeneratorBuilder::new().threads(2).build().unwrap());
    let report = rt
        .block_on(workers::work(
            config,
            WorkOptions {
                campaign_id: id,
                worker_id: "taker".into(),
                lease: Duration::from_secs(10),
                connections: 1,
                max_batches: None,
                retry: Retry::default(),
                provenance: Provenance::default(),
            },
            generator,
            None,
            |_| {},
        ))
        .unwrap();
    assert!(report.complete);
    let (events, metrics) = (turn.take_events(), turn.take_metrics());

    let taken = once(&events, id, "took over an expired lease");
    assert_eq!(taken.level, Level::WARN);
    assert_eq!(
        (
            taken.field("worker"),
            taken.field("from"),
            taken.field("start"),
            taken.field("end"),
        ),
        ("taker", "stalled", "0", "200")
    );
    let started = once(&events, id, "worker started");
    assert_eq!(
        (
            started.field("worker"),
            started.field("start"),
            started.field("end")
        ),
        ("taker", "0", "676")
    );
    let finished = once(&events, id, "worker finished");
    assert_eq!(
        (
            finished.field("batches"),
            finished.field("rows"),
            finished.field("refused"),
            finished.field("complete"),
        ),
        ("4", "676", "0", "true")
    );
    // The other three batches were new, claimed at debug.
    assert_eq!(of(&events, id, "batch claimed").len(), 3);
    assert_eq!(of(&events, id, "batch committed").len(), 4);
    assert!(
        of(
            &events,
            id,
            "commit refused: the lease was lost, nothing written"
        )
        .is_empty()
    );

    assert_eq!(metrics.counter(LEASES_TAKEN_OVER, Some(id)), 1);
    assert_eq!(metrics.counter(BATCHES_CLAIMED, Some(id)), 4);
    assert_eq!(
        metrics.counter(ROWS_COMMITTED, Some(id)),
        rt.block_on(rows_of(&client, id))
    );
    assert_eq!(
        metrics.counter(BATCHES_COMMITTED, Some(id)),
        rt.block_on(ledger_batches(&client, id))
    );
    assert_eq!(metrics.histogram(COMMIT_SECONDS, id).len(), 4);
    assert_eq!(metrics.counter(LEASES_REFUSED, Some(id)), 0);
}

/// A worker that wakes after its lease was taken over and commits: the
/// commit is refused, with one warning and one count.
#[test]
fn a_commit_refused_for_a_lost_lease_says_so_once() {
    let turn = Telemetry::begin();
    let rt = runtime();
    rt.block_on(async {
        let (url, mut client) = migrated().await;
        let mut other = connect(&url).await;
        let id = Uuid::new_v4();
        workers::plan(&client, &spec(), &plan_options(id, 300))
            .await
            .unwrap();
        let campaign = workers::load(&client, id).await.unwrap();
        let stalled = workers::claim(&client, id, "stalled", Duration::from_secs(1))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let taken = workers::claim(&other, id, "taker", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(taken.positions, stalled.positions);
        turn.take_events();
        turn.take_metrics();

        let chunks = rows(&campaign.space, id, stalled.positions.clone());
        let late = workers::commit(&mut client, &stalled, &three_columns(), chunks)
            .await
            .unwrap();
        assert_eq!(late, Outcome::Refused);
        let (events, metrics) = (turn.take_events(), turn.take_metrics());
        let refused = once(
            &events,
            id,
            "commit refused: the lease was lost, nothing written",
        );
        assert_eq!(refused.level, Level::WARN);
        assert_eq!((refused.field("start"), refused.field("end")), ("0", "300"));
        assert!(of(&events, id, "batch committed").is_empty());
        assert_eq!(metrics.counter(LEASES_REFUSED, Some(id)), 1);
        assert_eq!(metrics.counter(ROWS_COMMITTED, Some(id)), 0);
        assert_eq!(rows_of(&client, id).await, 0);

        // The worker holding the lease commits it: counted once.
        let chunks = rows(&campaign.space, id, taken.positions.clone());
        let outcome = workers::commit(&mut other, &taken, &three_columns(), chunks)
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Committed { rows: 300 });
        let (events, metrics) = (turn.take_events(), turn.take_metrics());
        let committed = once(&events, id, "batch committed");
        assert_eq!(
            (
                committed.field("start"),
                committed.field("end"),
                committed.field("rows")
            ),
            ("0", "300", "300")
        );
        assert_eq!(metrics.counter(ROWS_COMMITTED, Some(id)), 300);
        assert_eq!(metrics.counter(BATCHES_COMMITTED, Some(id)), 1);
        assert_eq!(metrics.counter(LEASES_REFUSED, Some(id)), 0);
    });
}
