//! Workers against a real server: planning, claims, the lease fence,
//! takeover, release, status, and a campaign of more than 10^9 positions.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domgen_engine::GeneratorBuilder;
use domgen_pattern::{Space, Spec, WordList};
use domgen_pg::ErrorKind;
use domgen_pg::campaign::{self, CampaignOptions, Start};
use domgen_pg::read;
use domgen_pg::workers::{self, Outcome, PlanOptions, WorkEvent, WorkOptions};
use domgen_test_support::{connect, runtime};

use tokio_postgres::Client;
use uuid::Uuid;

// A migrated database, as the other async tests make one.
mod common;
use common::{migrated, rows};

fn spec() -> Spec {
    Spec {
        keywords: WordList::inline(["shop", "café"]),
        tlds: WordList::inline(["com", "co.uk"]),
        patterns: vec!["{keyword}-{alnum:1-2}.{tld}".into()],
        ..Spec::default()
    }
}

fn options(id: Uuid, batch: u64) -> PlanOptions {
    PlanOptions {
        campaign_id: id,
        batch_names: Some(batch),
        table: "generated_domains".into(),
    }
}

async fn count(client: &Client, sql: &str, id: Uuid) -> i64 {
    client.query_one(sql, &[&id]).await.unwrap().get(0)
}

/// Every position of the campaign once, each with its name.
async fn assert_exactly_once(client: &Client, space: &Space, id: Uuid) {
    let rows = client
        .query(
            "SELECT offset_index, domain_name FROM generated_domains WHERE campaign_id = $1 ORDER BY offset_index",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, space.len(), "row count");
    let mut names = HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let position: i64 = row.get(0);
        assert_eq!(position, i64::try_from(i).unwrap(), "each position once");
        let name: String = row.get(1);
        assert_eq!(
            name,
            space.name(space.index_at(u64::try_from(position).unwrap()))
        );
        names.insert(name);
    }
    assert_eq!(names.len(), rows.len(), "distinct names");
}

#[test]
fn plan_is_idempotent_and_refuses_a_different_spec() {
    runtime().block_on(async {
        let (_url, client) = migrated().await;
        let id = Uuid::new_v4();
        let first = workers::plan(&client, &spec(), &options(id, 100))
            .await
            .unwrap();
        assert!(first.created);
        assert_eq!(first.positions, 0..2 * 2 * (36 + 36 * 36));
        assert_eq!(first.batches, 2 * 2 * (36 + 36 * 36) / 100 + 1);
        let again = workers::plan(&client, &spec(), &options(id, 100))
            .await
            .unwrap();
        assert!(!again.created);
        assert_eq!(again.positions, first.positions);

        let mut other = spec();
        other.patterns = vec!["{keyword}-{alnum:1-3}.{tld}".into()];
        let error = workers::plan(&client, &other, &options(id, 100))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Usage);
        let message = error.to_string();
        assert!(
            message.contains(&format!("campaign {id} is planned already")),
            "{message}"
        );
        assert!(message.contains("the spec (fingerprint"), "{message}");
        let error = workers::plan(&client, &spec(), &options(id, 99))
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the batch size (99 now, 100 stored)"),
            "{error}"
        );
        let error = workers::plan(&client, &spec(), &options(Uuid::new_v4(), 0))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("batch size 0"), "{error}");
        assert_eq!(
            count(
                &client,
                "SELECT count(*) FROM generation_batches WHERE campaign_id = $1",
                id
            )
            .await,
            0,
            "the ledger is lazy"
        );
    });
}

#[test]
fn generate_refuses_a_planned_campaign_and_workers_a_generated_one() {
    let rt = runtime();
    let (url, client) = rt.block_on(migrated());
    let id = Uuid::new_v4();
    rt.block_on(workers::plan(&client, &spec(), &options(id, 100)))
        .unwrap();
    let space = Space::compile(&spec()).unwrap();
    let generator = GeneratorBuilder::new().threads(1).build().unwrap();
    let config: tokio_postgres::Config = url.parse().unwrap();
    let campaign_options = CampaignOptions {
        campaign_id: id,
        table: "generated_domains".into(),
        start: Start::Resume,
        connections: 1,
        unique: false,
        retry: domgen_pg::Retry::default(),
        provenance: domgen_pg::Provenance::default(),
    };
    let error = rt
        .block_on(campaign::prepare(
            &client,
            &spec(),
            space.clone(),
            &generator,
            &campaign_options,
        ))
        .unwrap_err();
    assert!(
        error.to_string().contains("was planned for workers"),
        "{error}"
    );

    let generated = Uuid::new_v4();
    let campaign_options = CampaignOptions {
        campaign_id: generated,
        start: Start::New,
        ..campaign_options
    };
    rt.block_on(campaign::prepare(
        &client,
        &spec(),
        space,
        &generator,
        &campaign_options,
    ))
    .unwrap()
    .run(rt.handle(), &config.into(), &generator, None, &mut |_| {})
    .unwrap();
    let error = rt.block_on(workers::load(&client, generated)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("was started by `campaign::generate`"),
        "{error}"
    );
    let error = rt.block_on(workers::claim(
        &client,
        Uuid::new_v4(),
        "w",
        Duration::from_secs(5),
    ));
    assert!(
        matches!(error, Ok(None)),
        "an unknown campaign has nothing to claim"
    );
    let error = rt
        .block_on(workers::load(&client, Uuid::nil()))
        .unwrap_err();
    assert!(error.to_string().contains("is not planned"), "{error}");
}

#[test]
fn claims_and_commits_write_every_position_exactly_once() {
    runtime().block_on(async {
        let (_url, mut client) = migrated().await;
        let id = Uuid::new_v4();
        let planned = workers::plan(&client, &spec(), &options(id, 1000))
            .await
            .unwrap();
        let campaign = workers::load(&client, id).await.unwrap();
        let lease = Duration::from_secs(30);
        let mut starts = Vec::new();
        while let Some(held) = workers::claim(&client, id, "w1", lease).await.unwrap() {
            starts.push(held.positions.start);
            let chunks = rows(&campaign.space, id, held.positions.clone());
            let outcome = workers::commit(&mut client, &held, &three_columns(), chunks)
                .await
                .unwrap();
            assert_eq!(
                outcome,
                Outcome::Committed {
                    rows: held.positions.end - held.positions.start
                }
            );
            // Committed once: the same lease cannot commit again.
            let chunks = rows(&campaign.space, id, held.positions.clone());
            let again = workers::commit(&mut client, &held, &three_columns(), chunks)
                .await
                .unwrap();
            assert_eq!(again, Outcome::Refused);
        }
        assert_eq!(starts.len() as u64, planned.batches);
        assert!(workers::is_complete(&client, id).await.unwrap());
        assert_exactly_once(&client, &campaign.space, id).await;
        let status = read::status(&client, id).await.unwrap();
        assert_eq!(
            (status.done, status.leased, status.pending),
            (planned.batches, 0, 0)
        );
        assert_eq!(status.rows, planned.positions.end);
        assert!(status.complete);
        assert_eq!(status.workers, ["w1"]);
    });
}

#[test]
fn an_expired_lease_is_taken_over_and_the_late_commit_refused() {
    runtime().block_on(async {
        let (url, mut client) = migrated().await;
        let mut other = connect(&url).await;
        let id = Uuid::new_v4();
        workers::plan(&client, &spec(), &options(id, 1000)).await.unwrap();
        let campaign = workers::load(&client, id).await.unwrap();
        let stalled = workers::claim(&client, id, "stalled", Duration::from_secs(1)).await.unwrap().unwrap();
        assert_eq!(stalled.positions, 0..1000);
        // While the lease holds, the next claim gets the next batch.
        let next = workers::claim(&other, id, "taker", Duration::from_secs(30)).await.unwrap().unwrap();
        assert_eq!(next.positions, 1000..2000);
        let status = read::status(&client, id).await.unwrap();
        assert_eq!((status.leased, status.expired), (2, 0));
        // The lease (1 s) expiring is what is under test: time must pass.
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(!workers::renew(&client, &stalled, Duration::from_secs(30)).await.unwrap(), "an expired lease is not renewed");
        assert_eq!(read::status(&client, id).await.unwrap().expired, 1);
        let taken = workers::claim(&other, id, "taker", Duration::from_secs(30)).await.unwrap().unwrap();
        assert_eq!(taken.positions, 0..1000, "the expired batch is taken over first");
        assert_ne!(taken.token, stalled.token);

        // The stalled worker wakes and commits: refused, nothing written.
        let chunks = rows(&campaign.space, id, stalled.positions.clone());
        let late = workers::commit(&mut client, &stalled, &three_columns(), chunks).await.unwrap();
        assert_eq!(late, Outcome::Refused);
        assert_eq!(count(&client, "SELECT count(*) FROM generated_domains WHERE campaign_id = $1", id).await, 0);

        for held in [taken, next] {
            assert!(workers::renew(&other, &held, Duration::from_secs(30)).await.unwrap());
            let chunks = rows(&campaign.space, id, held.positions.clone());
            let outcome = workers::commit(&mut other, &held, &three_columns(), chunks).await.unwrap();
            assert!(matches!(outcome, Outcome::Committed { .. }));
        }
        let who: String = client
            .query_one("SELECT worker_id FROM generation_batches WHERE campaign_id = $1 AND batch_start = 0", &[&id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(who, "taker");
        assert_eq!(count(&client, "SELECT count(*) FROM generated_domains WHERE campaign_id = $1", id).await, 2000);
    });
}

/// The fence is judged at commit time by the database's clock: a lease
/// that expires while its rows are being sent is refused, even if no
/// other worker took it yet.
#[test]
fn a_lease_expired_without_takeover_is_refused() {
    runtime().block_on(async {
        let (_url, mut client) = migrated().await;
        let id = Uuid::new_v4();
        workers::plan(&client, &spec(), &options(id, 500))
            .await
            .unwrap();
        let campaign = workers::load(&client, id).await.unwrap();
        let held = workers::claim(&client, id, "slow", Duration::from_secs(1))
            .await
            .unwrap()
            .unwrap();
        // The lease (1 s) expiring is what is under test: time must pass.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let chunks = rows(&campaign.space, id, held.positions.clone());
        assert_eq!(
            workers::commit(&mut client, &held, &three_columns(), chunks)
                .await
                .unwrap(),
            Outcome::Refused
        );
        assert_eq!(
            count(
                &client,
                "SELECT count(*) FROM generated_domains WHERE campaign_id = $1",
                id
            )
            .await,
            0
        );
    });
}

#[test]
fn a_released_batch_is_claimed_again_before_new_ones() {
    runtime().block_on(async {
        let (_url, mut client) = migrated().await;
        let id = Uuid::new_v4();
        workers::plan(&client, &spec(), &options(id, 1000))
            .await
            .unwrap();
        let campaign = workers::load(&client, id).await.unwrap();
        let first = workers::claim(&client, id, "a", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert!(workers::release(&client, &first).await.unwrap());
        assert!(
            !workers::release(&client, &first).await.unwrap(),
            "released once"
        );
        let chunks = rows(&campaign.space, id, first.positions.clone());
        assert_eq!(
            workers::commit(&mut client, &first, &three_columns(), chunks)
                .await
                .unwrap(),
            Outcome::Refused
        );
        let status = read::status(&client, id).await.unwrap();
        assert_eq!((status.done, status.leased), (0, 0));
        let again = workers::claim(&client, id, "b", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.positions, first.positions);
    });
}

/// Embedded workers (the library call) on two connections each, two at
/// once on one campaign: every position once; then the campaign is
/// complete and a new worker finds nothing to do.
#[test]
fn embedded_workers_finish_a_campaign() {
    let rt = runtime();
    let (url, client) = rt.block_on(migrated());
    let id = Uuid::new_v4();
    rt.block_on(workers::plan(&client, &spec(), &options(id, 300)))
        .unwrap();
    let config: tokio_postgres::Config = url.parse().unwrap();
    let generator = Arc::new(GeneratorBuilder::new().threads(2).build().unwrap());
    let events = Arc::new(Mutex::new(Vec::new()));
    let run = |name: &str| {
        let events = Arc::clone(&events);
        workers::work(
            config.clone(),
            WorkOptions {
                campaign_id: id,
                worker_id: name.into(),
                lease: Duration::from_secs(10),
                connections: 2,
                max_batches: None,
                retry: domgen_pg::Retry::default(),
                provenance: domgen_pg::Provenance::default(),
            },
            Arc::clone(&generator),
            None,
            move |e: &WorkEvent| events.lock().unwrap().push(e.clone()),
        )
    };
    let (a, b) = rt.block_on(async { tokio::join!(run("a"), run("b")) });
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.complete && b.complete);
    let campaign = rt.block_on(workers::load(&client, id)).unwrap();
    assert_eq!(a.rows + b.rows, campaign.space.len());
    assert_eq!(a.batches + b.batches, campaign.space.len().div_ceil(300));
    let committed = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, WorkEvent::Committed(_)))
        .count();
    assert_eq!(committed as u64, a.batches + b.batches);
    rt.block_on(assert_exactly_once(&client, &campaign.space, id));
    let idle = rt.block_on(run("late")).unwrap();
    assert_eq!((idle.batches, idle.complete), (0, true));
}

/// A campaign of more than 10^9 positions plans in one row and well under
/// a second; workers write a slice of it; status counts it right.
#[test]
fn a_billion_positions_plan_quickly_and_a_slice_is_written() {
    let rt = runtime();
    let (url, client) = rt.block_on(migrated());
    let id = Uuid::new_v4();
    let big = Spec {
        patterns: vec!["{alnum:6}.com".into()],
        ..Spec::default()
    };
    let started = Instant::now();
    let planned = rt
        .block_on(workers::plan(&client, &big, &options(id, 50_000)))
        .unwrap();
    let took = started.elapsed();
    assert_eq!(planned.positions, 0..36u64.pow(6));
    assert!(planned.positions.end > 1_000_000_000);
    assert!(took < Duration::from_secs(1), "planning took {took:?}");
    assert_eq!(
        rt.block_on(count(
            &client,
            "SELECT count(*) FROM generation_batches WHERE campaign_id = $1",
            id
        )),
        0
    );
    let config: tokio_postgres::Config = url.parse().unwrap();
    let generator = Arc::new(GeneratorBuilder::new().threads(2).build().unwrap());
    let report = rt
        .block_on(workers::work(
            config,
            WorkOptions {
                campaign_id: id,
                worker_id: "slice".into(),
                lease: Duration::from_secs(30),
                connections: 2,
                max_batches: Some(4),
                retry: domgen_pg::Retry::default(),
                provenance: domgen_pg::Provenance::default(),
            },
            generator,
            None,
            |_: &WorkEvent| {},
        ))
        .unwrap();
    assert_eq!(
        (report.batches, report.rows, report.complete),
        (4, 200_000, false)
    );
    let status = rt.block_on(read::status(&client, id)).unwrap();
    assert_eq!(status.done, 4);
    assert_eq!(status.rows, 200_000);
    assert_eq!(status.batches, 36u64.pow(6).div_ceil(50_000));
    assert_eq!(status.pending, status.batches - 4);
    let row = rt
        .block_on(client.query_one(
            "SELECT count(DISTINCT offset_index), min(offset_index), max(offset_index) FROM generated_domains WHERE campaign_id = $1",
            &[&id],
        ))
        .unwrap();
    let (distinct, min, max): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((distinct, min, max), (200_000, 0, 199_999));
}

/// A host that drops the `work` future (a timeout, a `select!`) leaves no
/// task behind renewing its lease: the batch it held expires and another
/// worker takes it over.
#[test]
fn a_dropped_work_future_stops_renewing_its_lease() {
    let rt = runtime();
    let (url, client) = rt.block_on(migrated());
    let id = Uuid::new_v4();
    let big = Spec {
        patterns: vec!["{alnum:6}.com".into()],
        ..Spec::default()
    };
    rt.block_on(workers::plan(&client, &big, &options(id, 5_000_000)))
        .unwrap();
    let config: tokio_postgres::Config = url.parse().unwrap();
    let generator = Arc::new(GeneratorBuilder::new().threads(1).build().unwrap());
    let (claimed_tx, mut claimed) = tokio::sync::mpsc::unbounded_channel();
    let held = rt.block_on(async {
        let work = workers::work(
            config,
            WorkOptions {
                campaign_id: id,
                worker_id: "dropped".into(),
                lease: Duration::from_secs(1),
                connections: 1,
                max_batches: None,
                retry: domgen_pg::Retry::default(),
                provenance: domgen_pg::Provenance::default(),
            },
            generator,
            None,
            move |e: &WorkEvent| {
                if let WorkEvent::Claimed(positions) = e {
                    let _ = claimed_tx.send(positions.clone());
                }
            },
        );
        tokio::select! {
            result = work => panic!("the work ended before it was dropped: {result:?}"),
            positions = claimed.recv() => positions.unwrap(),
        }
    });
    assert_eq!(held, 0..5_000_000);
    // Renewals came every third of a second while it lived; three leases'
    // worth of time later, the batch must have expired. The sleep is the
    // test: time passing with nobody renewing.
    std::thread::sleep(Duration::from_secs(3));
    let taken = rt
        .block_on(workers::claim(
            &client,
            id,
            "taker",
            Duration::from_secs(30),
        ))
        .unwrap()
        .expect("a batch to claim");
    assert_eq!(
        taken.positions, held,
        "the dropped worker's batch is taken over"
    );
    assert_eq!(
        rt.block_on(count(
            &client,
            "SELECT count(*) FROM generated_domains WHERE campaign_id = $1",
            id
        )),
        0
    );
}

/// The target of rows of three columns, as `CopyRows::new` encodes them.
fn three_columns() -> domgen_pg::ledger::Target {
    domgen_pg::ledger::Target::table("generated_domains", &domgen_pg::Provenance::none()).unwrap()
}
