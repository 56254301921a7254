//! Campaigns against a real server: exactly once, resume, refusals, the
//! memory_allocations row.

// The figures in memory_allocations come from the counting allocator.
#[global_allocator]
static ALLOC: domgen_alloc::CountingAlloc = domgen_alloc::CountingAlloc;

use std::collections::HashSet;

use domgen_engine::{CancelToken, GeneratorBuilder};
use domgen_pattern::{DomainflowConfig, Filter, Order, Space, Spec, WordList};
use domgen_pg::ErrorKind;
use domgen_pg::campaign::{self, CampaignOptions, Start};
use domgen_pg::{Connections, ledger};
use domgen_test_support::fresh_database;
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

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

struct Db {
    rt: tokio::runtime::Runtime,
    config: tokio_postgres::Config,
    client: Client,
}

impl Db {
    fn new() -> Db {
        let url = fresh_database();
        let config: tokio_postgres::Config = url.parse().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async {
            let (mut client, connection) =
                tokio_postgres::connect(&url, NoTls).await.expect("connect");
            tokio::spawn(connection);
            domgen_pg::migrate::migrate(&mut client)
                .await
                .expect("migrate");
            client
        });
        Db { rt, config, client }
    }

    fn run(
        &mut self,
        spec: &Spec,
        options: &CampaignOptions,
        batch: u64,
        cut_after: Option<usize>,
    ) -> Result<campaign::CampaignReport, domgen_pg::Error> {
        let space = Space::compile(spec).unwrap();
        let generator = GeneratorBuilder::new()
            .threads(2)
            .batch_names(batch)
            .build()
            .unwrap();
        let handle = self.rt.handle().clone();
        let prepared = self.rt.block_on(campaign::prepare(
            &self.client,
            spec,
            space,
            &generator,
            options,
        ))?;
        // Cut after `cut_after` batches, as a crash between commits would.
        let cancel = CancelToken::new();
        let mut seen = 0;
        prepared.run(
            &handle,
            &Connections::from(self.config.clone()),
            &generator,
            Some(&cancel),
            &mut |_| {
                seen += 1;
                if Some(seen) == cut_after {
                    cancel.cancel();
                }
            },
        )
    }

    fn query_i64(&self, sql: &str, id: Uuid) -> i64 {
        self.rt
            .block_on(self.client.query_one(sql, &[&id]))
            .unwrap()
            .get(0)
    }

    /// Every position exactly once, each with the right name.
    fn assert_exactly_once(&self, spec: &Spec, id: Uuid) {
        let space = Space::compile(spec).unwrap();
        let rows = self
            .rt
            .block_on(self.client.query(
                "SELECT offset_index, domain_name FROM generated_domains WHERE campaign_id = $1 ORDER BY offset_index",
                &[&id],
            ))
            .unwrap();
        assert_eq!(rows.len() as u64, space.len(), "row count");
        let mut names = HashSet::new();
        for (i, row) in rows.iter().enumerate() {
            let position: i64 = row.get(0);
            let name: String = row.get(1);
            assert_eq!(
                position,
                i64::try_from(i).unwrap(),
                "positions are 0..n, each once"
            );
            assert_eq!(
                name,
                space.name(space.index_at(u64::try_from(position).unwrap()))
            );
            names.insert(name);
        }
        assert_eq!(names.len(), rows.len(), "distinct names");
    }
}

fn options(id: Uuid, resume: bool) -> CampaignOptions {
    CampaignOptions {
        campaign_id: id,
        table: "generated_domains".into(),
        start: if resume { Start::Resume } else { Start::New },
        connections: 2,
        unique: false,
        retry: domgen_pg::Retry::default(),
        provenance: domgen_pg::Provenance::default(),
    }
}

#[test]
fn a_campaign_writes_every_position_once_and_records_its_run() {
    let mut db = Db::new();
    for order in [Order::Sequential, Order::Shuffled] {
        let id = Uuid::new_v4();
        let s = spec(order, 11);
        let report = db.run(&s, &options(id, false), 500, None).unwrap();
        assert!(!report.already_complete);
        assert_eq!(report.rows_total, Space::compile(&s).unwrap().len());
        db.assert_exactly_once(&s, id);
        let batches = db.query_i64("SELECT count(*) FROM generation_batches WHERE campaign_id = $1 AND status = 'committed'", id);
        assert_eq!(u64::try_from(batches).unwrap(), report.report.batches);
        let allocations = db.rt.block_on(db.client.query_one(
            "SELECT operation_id, operation_type, allocated_bytes, peak_bytes, allocation_pattern->>'names', cleanup_successful
             FROM memory_allocations WHERE campaign_id = $1",
            &[&id],
        )).unwrap();
        assert_eq!(allocations.get::<_, String>(0), report.run_id.to_string());
        assert_eq!(allocations.get::<_, String>(1), "domain_generation");
        assert_eq!(
            allocations.get::<_, Option<String>>(4),
            Some(report.report.names.to_string())
        );
        let status: String = db
            .rt
            .block_on(db.client.query_one(
                "SELECT status FROM generation_runs WHERE run_id = $1",
                &[&report.run_id],
            ))
            .unwrap()
            .get(0);
        assert_eq!(status, "complete");
    }
}

#[test]
fn resume_after_an_interruption_writes_exactly_the_missing_batches() {
    let mut db = Db::new();
    for order in [Order::Sequential, Order::Shuffled] {
        let id = Uuid::new_v4();
        let s = spec(order, 5);
        // Interrupt after the first batches, as a crash between commits would.
        let space = Space::compile(&s).unwrap();
        let first = db.run(&s, &options(id, false), 300, Some(3)).unwrap();
        assert!(first.report.stopped_early);
        assert!(first.rows_total < space.len());
        // Without `Start::Resume` the campaign is refused; with it, it finishes.
        let err = db.run(&s, &options(id, false), 300, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert!(err.to_string().contains("`Start::Resume`"), "{err}");
        let second = db.run(&s, &options(id, true), 999, None).unwrap();
        assert_eq!(second.rows_before, first.rows_total);
        assert_eq!(second.rows_total, space.len());
        db.assert_exactly_once(&s, id);
        // A finished campaign writes nothing and says so.
        let third = db.run(&s, &options(id, true), 300, None).unwrap();
        assert!(third.already_complete);
        assert_eq!(third.report.names, 0);
        assert!(third.to_string().contains("already complete"));
        db.assert_exactly_once(&s, id);
    }
}

#[test]
fn resume_refuses_a_different_spec_order_or_seed() {
    let mut db = Db::new();
    let id = Uuid::new_v4();
    let s = spec(Order::Shuffled, 1);
    db.run(&s, &options(id, false), 400, None).unwrap();
    let err = db
        .run(&spec(Order::Shuffled, 2), &options(id, true), 400, None)
        .unwrap_err();
    assert!(
        err.to_string().contains("the seed (2 now, 1 stored)"),
        "{err}"
    );
    let err = db
        .run(&spec(Order::Sequential, 1), &options(id, true), 400, None)
        .unwrap_err();
    assert!(err.to_string().contains("the order"), "{err}");
    let mut other = spec(Order::Shuffled, 1);
    other.keywords = WordList::inline(["shop"]);
    let err = db.run(&other, &options(id, true), 400, None).unwrap_err();
    assert!(err.to_string().contains("the spec"), "{err}");
    let limited = Spec {
        limit: Some(10),
        ..spec(Order::Shuffled, 1)
    };
    let err = db.run(&limited, &options(id, true), 400, None).unwrap_err();
    assert!(err.to_string().contains("the positions"), "{err}");
}

/// An ASCII spec with a filter of every kind (filters do not cover
/// patterns with Unicode words).
fn filtered(order: Order, max_length: usize) -> Spec {
    Spec {
        keywords: WordList::inline(["shop", "cafe", "data"]),
        filter: Filter {
            max_length: Some(max_length),
            exclude: vec![WordList::inline(["a-"])],
            exclude_regex: vec!["[0-9]{2}\\.".into()],
            exclude_names: vec![WordList::inline(["shop-zz.com", "xab1.net"])],
            ..Filter::default()
        },
        ..spec(order, 3)
    }
}

#[test]
fn a_filtered_campaign_resumes_exactly_once_and_refuses_another_filter() {
    let mut db = Db::new();
    for order in [Order::Sequential, Order::Shuffled] {
        let id = Uuid::new_v4();
        let s = filtered(order, 6);
        let space = Space::compile(&s).unwrap();
        let unfiltered: u64 = space.patterns().map(|p| p.unfiltered).sum();
        assert!(space.total() < unfiltered, "the filter leaves names out");
        let first = db.run(&s, &options(id, false), 300, Some(2)).unwrap();
        assert!(first.rows_total < space.len());
        let err = db
            .run(&filtered(order, 7), &options(id, true), 300, None)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("the filter (max_length 7, 1 excluded words, exclude_regex `[0-9]{2}\\.`, 2 excluded names now, max_length 6,"),
            "{text}"
        );
        let second = db.run(&s, &options(id, true), 300, None).unwrap();
        assert_eq!(second.rows_total, space.len());
        db.assert_exactly_once(&s, id);
    }
}

#[test]
fn a_look_alike_campaign_resumes_exactly_once() {
    let mut db = Db::new();
    for order in [Order::Sequential, Order::Shuffled] {
        let id = Uuid::new_v4();
        let s = Spec {
            keywords: WordList::inline(["paypal", "bank-1"]),
            tlds: WordList::inline(["com", "net"]),
            patterns: vec![
                "{typo}.{tld}".into(),
                "{typo:omission,repetition}-login.{tld}".into(),
            ],
            typo_algorithms: vec![
                domgen_pattern::TypoAlgorithm::Homoglyph,
                domgen_pattern::TypoAlgorithm::Addition,
            ],
            order,
            seed: 5,
            ..Spec::default()
        };
        let space = Space::compile(&s).unwrap();
        let first = db.run(&s, &options(id, false), 200, Some(3)).unwrap();
        assert!(first.rows_total < space.len());
        let second = db.run(&s, &options(id, true), 200, None).unwrap();
        assert_eq!(second.rows_total, space.len());
        db.assert_exactly_once(&s, id);
    }
}

#[test]
fn resume_of_a_campaign_never_started_simply_starts_it() {
    let mut db = Db::new();
    let id = Uuid::new_v4();
    let s = spec(Order::Sequential, 0);
    let report = db.run(&s, &options(id, true), 1000, None).unwrap();
    assert_eq!(report.rows_before, 0);
    db.assert_exactly_once(&s, id);
}

#[test]
fn a_batch_cannot_commit_twice() {
    let mut db = Db::new();
    let id = Uuid::new_v4();
    let s = spec(Order::Sequential, 0);
    db.run(&s, &options(id, false), 1000, None).unwrap();
    // Replay the first batch's commit, as a worker that lost its lease would.
    let space = Space::compile(&s).unwrap();
    let handle = db.rt.handle().clone();
    let rows_before = db.query_i64(
        "SELECT count(*) FROM generated_domains WHERE campaign_id = $1",
        id,
    );
    let result = {
        let mut sink = db
            .rt
            .block_on(campaign::PgSink::connect(
                handle,
                &Connections::from(db.config.clone()),
                1,
                id,
                domgen_pg::ledger::Target::table(
                    "generated_domains",
                    &domgen_pg::Provenance::none(),
                )
                .unwrap(),
                domgen_pg::Retry::default(),
                domgen_pg::sizing::Sizing::pinned(1000, "the first run's batches"),
            ))
            .unwrap();
        let mut bytes = Vec::new();
        domgen_engine::Encoder::encode(
            &domgen_pg::copy::CopyRows::new(id),
            &space,
            0..1000,
            &mut bytes,
        );
        domgen_engine::Sink::write_batch(&mut sink, 0..1000, &bytes).unwrap();
        // The commit's outcome arrives when the sink settles.
        let finished = domgen_engine::Sink::finish(&mut sink);
        sink.close().unwrap();
        finished
    };
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Database);
    assert_eq!(
        db.query_i64(
            "SELECT count(*) FROM generated_domains WHERE campaign_id = $1",
            id
        ),
        rows_before
    );
}

#[test]
fn a_missing_table_is_named() {
    let mut db = Db::new();
    let opts = CampaignOptions {
        table: "no_such_table".into(),
        ..options(Uuid::new_v4(), false)
    };
    let err = db
        .run(&spec(Order::Sequential, 0), &opts, 100, None)
        .unwrap_err();
    assert!(
        err.to_string().contains("no_such_table does not exist"),
        "{err}"
    );
    let opts = CampaignOptions {
        table: "x; drop table y".into(),
        ..options(Uuid::new_v4(), false)
    };
    let err = db
        .run(&spec(Order::Sequential, 0), &opts, 100, None)
        .unwrap_err();
    assert!(err.to_string().contains("not a plain identifier"), "{err}");
}

#[test]
fn concurrent_reservations_are_disjoint_and_exhaustion_is_refused() {
    let db = Db::new();
    let s = Spec {
        patterns: vec!["r{alpha:2}{digit:1}.com".into()],
        ..Spec::default()
    };
    let space = Space::compile(&s).unwrap();
    let total = space.total();
    // Eight reservations of 1000 from four connections at once.
    let config = db.config.clone();
    let ranges: Vec<std::ops::Range<u64>> = db.rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (client, connection) = config.connect(NoTls).await.unwrap();
            tokio::spawn(connection);
            let space = space.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..2 {
                    got.push(
                        ledger::reserve(
                            &client,
                            &ledger::ConfigState::domgen(&space),
                            &space,
                            Some(1000),
                        )
                        .await,
                    );
                }
                got
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.into_iter().filter_map(Result::ok).collect()
    });
    // 6760 names: six full reservations, one of 760, one refused.
    let mut sorted = ranges.clone();
    sorted.sort_by_key(|r| r.start);
    assert_eq!(sorted.len(), 7, "{sorted:?}");
    let mut at = 0;
    for r in &sorted {
        assert_eq!(r.start, at, "disjoint and contiguous: {sorted:?}");
        at = r.end;
    }
    assert_eq!(at, total);
    let err = db
        .rt
        .block_on(ledger::reserve(
            &db.client,
            &ledger::ConfigState::domgen(&space),
            &space,
            Some(1),
        ))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("all {total} names were issued")),
        "{err}"
    );
    // Another order or seed is another cursor.
    let shuffled = Space::compile(&Spec {
        order: Order::Shuffled,
        seed: 3,
        ..s
    })
    .unwrap();
    assert_eq!(
        db.rt
            .block_on(ledger::reserve(
                &db.client,
                &ledger::ConfigState::domgen(&shuffled),
                &shuffled,
                Some(5)
            ))
            .unwrap(),
        0..5
    );
}

/// A campaign-service config: `{36 chars:3}shop.com`, charset sorted.
fn service_config(charset: &str) -> DomainflowConfig {
    DomainflowConfig {
        pattern_type: "prefix_variable".into(),
        prefix_variable_length: Some(3),
        character_set: charset.into(),
        constant_string: "shop".into(),
        tld: ".com".into(),
        ..DomainflowConfig::default()
    }
}

/// The service's config_hash of `service_config(SORTED)`, hashed with
/// Python from the document written by hand:
/// `{"patternType":"prefix_variable","prefixVariableLength":3,"suffixVariableLength":0,"characterSet":"0123456789abcdefghijklmnopqrstuvwxyz","constantString":"shop","tld":".com"}`
const SERVICE_HASH: &str = "282826370ebe4c826687599f126c5f663f2f9107507a923a41cfc93d1af75c7c";
const SORTED: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

fn continue_options(id: Uuid) -> CampaignOptions {
    CampaignOptions {
        start: Start::Continue,
        ..options(id, false)
    }
}

#[test]
fn continue_advances_the_campaign_services_own_offset() {
    let mut db = Db::new();
    // The row as the service writes it: 1000 names of this config issued.
    db.rt
        .block_on(db.client.execute(
            "INSERT INTO domain_generation_config_states (config_hash, last_offset, config_details, updated_at)
             VALUES ($1, 1000, $2::text::jsonb, now())",
            &[&SERVICE_HASH, &service_config(SORTED).service_document()],
        ))
        .unwrap();
    let mut spec = Spec::from_domainflow(&service_config(SORTED)).unwrap();
    spec.limit = Some(700);
    let space = Space::compile(&spec).unwrap();
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    for (id, from) in [(first, 1000), (second, 1700)] {
        let report = db.run(&spec, &continue_options(id), 256, None).unwrap();
        assert_eq!(report.positions, from..from + 700);
        let rows = db
            .rt
            .block_on(db.client.query(
                "SELECT offset_index, domain_name FROM generated_domains WHERE campaign_id = $1 ORDER BY offset_index",
                &[&id],
            ))
            .unwrap();
        let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let want: Vec<(i64, String)> = (from..from + 700)
            .map(|i| (i64::try_from(i).unwrap(), space.name(i)))
            .collect();
        assert_eq!(got, want);
    }
    // The service's offset 1000 is `0rsshop.com` (1000 = 0·36² + 27·36 + 28).
    assert_eq!(space.name(1000), "0rsshop.com");
    let states = db
        .rt
        .block_on(db.client.query(
            "SELECT config_hash, last_offset FROM domain_generation_config_states",
            &[],
        ))
        .unwrap();
    let states: Vec<(String, i64)> = states.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        states,
        [(SERVICE_HASH.to_owned(), 2400)],
        "the service's row advanced, and no row of domgen's own"
    );
    // The stored campaign keeps its converted spec: a resume (without the
    // limit, so the stored positions stand) finds it complete and moves no
    // cursor.
    let resumed = db
        .run(
            &Spec {
                limit: None,
                ..spec.clone()
            },
            &CampaignOptions {
                start: Start::Resume,
                ..options(first, true)
            },
            256,
            None,
        )
        .unwrap();
    assert!(resumed.already_complete);
    assert_eq!(resumed.positions, 1000..1700);
    let last: i64 = db
        .rt
        .block_on(db.client.query_one(
            "SELECT last_offset FROM domain_generation_config_states WHERE config_hash = $1",
            &[&SERVICE_HASH],
        ))
        .unwrap()
        .get(0);
    assert_eq!(last, 2400);
}

#[test]
fn continue_creates_the_services_row_as_the_service_would() {
    let mut db = Db::new();
    let mut spec = Spec::from_domainflow(&service_config(SORTED)).unwrap();
    spec.limit = Some(50);
    let report = db
        .run(&spec, &continue_options(Uuid::new_v4()), 256, None)
        .unwrap();
    assert_eq!(report.positions, 0..50);
    let row = db
        .rt
        .block_on(db.client.query_one(
            "SELECT last_offset, config_details::text FROM domain_generation_config_states WHERE config_hash = $1",
            &[&SERVICE_HASH],
        ))
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 50);
    let details: String = row.get(1);
    assert!(
        details.contains(r#""characterSet": "0123456789abcdefghijklmnopqrstuvwxyz""#)
            && details.contains(r#""prefixVariableLength": 3"#),
        "{details}"
    );
}

#[test]
fn continue_refuses_an_unsorted_charset_the_services_hash_cannot_tell_apart() {
    let mut db = Db::new();
    // Hashed as SORTED is, but its names come in another order.
    let unsorted = "abcdefghijklmnopqrstuvwxyz0123456789";
    let mut spec = Spec::from_domainflow(&service_config(unsorted)).unwrap();
    spec.limit = Some(10);
    assert_eq!(service_config(unsorted).service_hash(), SERVICE_HASH);
    let id = Uuid::new_v4();
    let err = db.run(&spec, &continue_options(id), 256, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage);
    let m = err.to_string();
    assert!(
        m.contains(&format!("`character_set`: `{unsorted}` is not sorted")),
        "{m}"
    );
    assert!(
        m.contains(&format!("give the charset sorted (`{SORTED}`")),
        "{m}"
    );
    let rows: i64 = db
        .rt
        .block_on(db.client.query_one(
            "SELECT (SELECT count(*) FROM domain_generation_config_states)
                  + (SELECT count(*) FROM generation_campaigns)",
            &[],
        ))
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "nothing reserved or registered");
    // Writing its positions without continuing anything is fine.
    let report = db.run(&spec, &options(id, false), 256, None).unwrap();
    assert_eq!(report.positions, 0..10);
}

#[test]
fn unique_mode_skips_names_already_present() {
    let mut db = Db::new();
    let first = Spec {
        patterns: vec!["u{alpha:2}.com".into()],
        ..Spec::default()
    };
    // Overlaps the first campaign in 26 × 26 names, and repeats itself.
    let second = Spec {
        patterns: vec![
            "u{alpha:2}.com".into(),
            "u{vowel:2}.com".into(),
            "v{digit:1}.com".into(),
        ],
        ..Spec::default()
    };
    let a = Uuid::new_v4();
    let b = Uuid::new_v4();
    let unique = |id| CampaignOptions {
        unique: true,
        retry: domgen_pg::Retry::default(),
        provenance: domgen_pg::Provenance::default(),
        ..options(id, false)
    };
    let ra = db.run(&first, &unique(a), 100, None).unwrap();
    assert_eq!(ra.already_present, 0);
    let rb = db.run(&second, &unique(b), 100, None).unwrap();
    assert_eq!(rb.already_present, 676 + 25);
    assert_eq!(rb.report.names, 10);
    assert!(
        rb.to_string().contains("701 names were already present"),
        "{rb}"
    );
    let (rows, distinct): (i64, i64) = {
        let row = db
            .rt
            .block_on(db.client.query_one(
                "SELECT count(*), count(DISTINCT domain_name) FROM generated_domains",
                &[],
            ))
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((rows, distinct), (676 + 10, 676 + 10));
    // The ledger counts the rows each batch really added.
    let ledger = db.query_i64(
        "SELECT sum(rows)::bigint FROM generation_batches WHERE campaign_id = $1",
        b,
    );
    assert_eq!(ledger, 10);
}

/// The host service's call over its own pool: the campaign completes, a
/// second call finds it complete, `unique` mode runs on the pooled
/// connections again (its staging table lives in each batch's
/// transaction), and every connection goes back to the pool.
#[test]
fn the_async_call_runs_over_a_hosts_pool() {
    let db = Db::new();
    let pool =
        deadpool_postgres::Pool::builder(deadpool_postgres::Manager::new(db.config.clone(), NoTls))
            .max_size(3)
            .build()
            .unwrap();
    let generator = std::sync::Arc::new(
        GeneratorBuilder::new()
            .threads(2)
            .batch_names(400)
            .build()
            .unwrap(),
    );
    let call = |spec: &Spec, options: CampaignOptions| {
        db.rt.block_on(campaign::generate(
            pool.clone(),
            spec.clone(),
            options,
            std::sync::Arc::clone(&generator),
            None,
        ))
    };
    let id = Uuid::new_v4();
    let s = spec(Order::Shuffled, 9);
    let report = call(&s, options(id, false)).unwrap();
    assert!(!report.already_complete);
    db.assert_exactly_once(&s, id);
    let again = call(&s, options(id, true)).unwrap();
    assert!(again.already_complete, "{again}");
    assert_eq!(again.report.names, 0);

    // Unique mode twice over the same pooled connections: the second
    // campaign of the same spec finds every name present.
    let unique = |id| CampaignOptions {
        unique: true,
        retry: domgen_pg::Retry::default(),
        provenance: domgen_pg::Provenance::default(),
        table: "pooled_names".into(),
        ..options(id, false)
    };
    db.rt
        .block_on(db.client.batch_execute(
            "CREATE TABLE pooled_names (campaign_id uuid, offset_index bigint, domain_name text)",
        ))
        .unwrap();
    let first = call(&s, unique(Uuid::new_v4())).unwrap();
    assert_eq!(first.already_present, 0);
    let second = call(&s, unique(Uuid::new_v4())).unwrap();
    assert_eq!(second.already_present, report.rows_total);
    assert_eq!(second.report.names, 0);

    let status = pool.status();
    assert!(status.size >= 2 && status.size <= 3, "{status:?}");
    assert_eq!(status.available, status.size, "every connection returned");
}

/// The names a campaign wrote, by position.
fn written(db: &Db, id: Uuid) -> Vec<(u64, String)> {
    db.rt
        .block_on(db.client.query(
            "SELECT offset_index, domain_name FROM generated_domains WHERE campaign_id = $1 ORDER BY offset_index",
            &[&id],
        ))
        .unwrap()
        .iter()
        .map(|row| (u64::try_from(row.get::<_, i64>(0)).unwrap(), row.get(1)))
        .collect()
}

/// A campaign keeps the shuffled order it was started in: one stored
/// before order versions existed (its spec has no `shuffle_version`) is
/// resumed in version 1 by a release whose default is 2, and a spec whose
/// campaigns were continued in version 1 goes on in version 1 — the
/// positions of two orders are not disjoint, so switching would repeat
/// names. A spec without such a cursor continues in the latest order.
#[test]
fn a_campaign_keeps_the_shuffled_order_it_was_started_in() {
    let mut db = Db::new();
    let v1 = Spec {
        shuffle_version: 1,
        ..spec(Order::Shuffled, 9)
    };
    let latest = spec(Order::Shuffled, 9);
    assert_eq!(latest.shuffle_version, domgen_pattern::LATEST_SHUFFLE);
    assert_ne!(
        Space::compile(&v1).unwrap().index_at(0),
        Space::compile(&latest).unwrap().index_at(0)
    );

    // Resume: cut after a few batches, the stored spec made pre-version.
    let id = Uuid::new_v4();
    let first = db.run(&v1, &options(id, false), 300, Some(3)).unwrap();
    assert!(first.report.stopped_early);
    db.rt
        .block_on(db.client.execute(
            "UPDATE generation_campaigns SET spec = spec - 'shuffle_version' WHERE campaign_id = $1",
            &[&id],
        ))
        .unwrap();
    db.run(&latest, &options(id, true), 300, None).unwrap();
    db.assert_exactly_once(&v1, id);

    // Continue: a version 1 cursor exists, so the latest spec stays in it.
    let limited = |spec: &Spec| Spec {
        limit: Some(100),
        ..spec.clone()
    };
    let continued = |db: &mut Db, spec: &Spec| {
        let id = Uuid::new_v4();
        let report = db
            .run(
                &limited(spec),
                &CampaignOptions {
                    start: Start::Continue,
                    ..options(id, false)
                },
                50,
                None,
            )
            .unwrap();
        (id, report.positions)
    };
    let (_, positions) = continued(&mut db, &v1);
    assert_eq!(positions, 0..100);
    let (id, positions) = continued(&mut db, &latest);
    assert_eq!(positions, 100..200);
    let space = Space::compile(&v1).unwrap();
    let expected: Vec<(u64, String)> = (100..200)
        .map(|p| (p, space.name(space.index_at(p))))
        .collect();
    assert_eq!(written(&db, id), expected);
    let stored = db
        .rt
        .block_on(ledger::stored_campaign(&db.client, id))
        .unwrap()
        .unwrap();
    assert_eq!(stored.spec.shuffle_version, 1);

    // Another seed has no version 1 cursor: the latest order, its own key.
    let other = spec(Order::Shuffled, 10);
    let (id, positions) = continued(&mut db, &other);
    assert_eq!(positions, 0..100);
    let space = Space::compile(&other).unwrap();
    let expected: Vec<(u64, String)> = (0..100)
        .map(|p| (p, space.name(space.index_at(p))))
        .collect();
    assert_eq!(written(&db, id), expected);
    let key = format!(
        "domgen:{}:shuffled-v{}:10",
        space.fingerprint(),
        domgen_pattern::LATEST_SHUFFLE
    );
    let cursor: i64 = db
        .rt
        .block_on(db.client.query_one(
            "SELECT last_offset FROM domain_generation_config_states WHERE config_hash = $1",
            &[&key],
        ))
        .unwrap()
        .get(0);
    assert_eq!(cursor, 100);
    let order_kind = |db: &Db, id: Uuid| -> String {
        db.rt
            .block_on(db.client.query_one(
                "SELECT order_kind FROM generation_campaigns WHERE campaign_id = $1",
                &[&id],
            ))
            .unwrap()
            .get(0)
    };
    assert_eq!(order_kind(&db, id), "shuffled-v2");

    // Asking version 1 of a spec continued in version 2 goes on in 2.
    let (id, positions) = continued(
        &mut db,
        &Spec {
            shuffle_version: 1,
            ..other.clone()
        },
    );
    assert_eq!(positions, 100..200);
    let expected: Vec<(u64, String)> = (100..200)
        .map(|p| (p, space.name(space.index_at(p))))
        .collect();
    assert_eq!(written(&db, id), expected);
    assert_eq!(order_kind(&db, id), "shuffled-v2");

    // Cursors of two versions: their names may overlap; refused.
    let v1_key = format!("domgen:{}:shuffled:10", space.fingerprint());
    db.rt
        .block_on(db.client.execute(
            "INSERT INTO domain_generation_config_states (config_hash, last_offset, config_details) VALUES ($1, 50, '{}')",
            &[&v1_key],
        ))
        .unwrap();
    let err = db
        .run(
            &limited(&other),
            &CampaignOptions {
                start: Start::Continue,
                ..options(Uuid::new_v4(), false)
            },
            50,
            None,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("several shuffled order versions")
            && err.to_string().contains(&v1_key),
        "{err}"
    );
}
