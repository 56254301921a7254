//! The campaign service's own `generated_domains` (`SERVICE_SCHEMA`: a
//! uuid key, a foreign key to its campaigns, 25 indexes, per-row counter
//! and audit triggers), loaded before domgen's migration as the service's
//! database has it. A campaign with default options and one written by two
//! workers land every position once, with the keyword, pattern and TLD it
//! was built from, counted once by the counters trigger and audited once;
//! two campaigns continuing the service's own config offset take the next
//! positions, disjoint, and advance its row; a campaign the service does
//! not have is refused by the foreign key, and nothing is written.

use std::ops::Range;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use domgen_engine::{Generator, GeneratorBuilder};
use domgen_pattern::{DomainflowConfig, Order, Space, Spec, WordList};
use domgen_pg::campaign::{self, CampaignOptions, CampaignReport, Start};
use domgen_pg::workers::{self, PlanOptions, WorkOptions};
use domgen_pg::{Database, Provenance, Retry};
use domgen_test_support::{SERVICE_SCHEMA, Sql, fresh_database, service_campaign};
use uuid::Uuid;

/// A database as the service has it, migrated by domgen on top.
struct Service {
    rt: tokio::runtime::Runtime,
    db: Database,
    sql: Sql,
    /// Default settings: all cores, the default memory budget and the
    /// batch size derived from it, as the service builds its generator.
    generator: Arc<Generator>,
}

impl Service {
    fn new() -> Service {
        let url = fresh_database();
        let mut sql = Sql::connect(&url);
        sql.execute(SERVICE_SCHEMA);
        sql.with_client(async |client| domgen_pg::migrate::migrate(client).await.unwrap());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Service {
            rt,
            db: Database::from_config(url.parse().unwrap()),
            sql,
            generator: Arc::new(GeneratorBuilder::new().build().unwrap()),
        }
    }

    /// A new campaign of the service's, for the foreign key.
    fn campaign(&self) -> Uuid {
        let id = Uuid::new_v4();
        self.sql.execute(&service_campaign(id));
        id
    }

    fn generate(
        &self,
        spec: &Spec,
        options: CampaignOptions,
    ) -> Result<CampaignReport, domgen_pg::Error> {
        self.rt.block_on(campaign::generate(
            self.db.connections(),
            spec.clone(),
            options,
            Arc::clone(&self.generator),
            None,
        ))
    }

    /// Campaign `id` holds exactly `positions` of `spec`, each once, with
    /// its name and the pieces the space built it from; the counters
    /// trigger counted each row once, and the audit trigger recorded each
    /// row once, as it was inserted.
    fn assert_campaign(&self, id: Uuid, spec: &Spec, positions: Range<u64>) {
        let expected = i64::try_from(positions.end - positions.start).unwrap();
        let row = &self.sql.query(
            "SELECT count(*), count(DISTINCT offset_index), count(DISTINCT domain_name)
               FROM generated_domains WHERE campaign_id = $1",
            &[&id],
        )[0];
        let counts: [i64; 3] = [row.get(0), row.get(1), row.get(2)];
        assert_eq!(
            counts, [expected; 3],
            "campaign {id}: rows, distinct offsets, distinct names"
        );

        let rows = self.sql.query(
            "SELECT offset_index, domain_name, source_keyword, source_pattern, tld::text
               FROM generated_domains WHERE campaign_id = $1 ORDER BY offset_index",
            &[&id],
        );
        let space = Space::compile(spec).unwrap();
        for (row, position) in rows.iter().zip(positions) {
            let index = space.index_at(position);
            let pieces = space.pieces(index);
            let name: String = row.get(1);
            assert_eq!(row.get::<_, i64>(0), i64::try_from(position).unwrap());
            assert_eq!(name, space.name(index));
            let got: (Option<String>, String, String) = (row.get(2), row.get(3), row.get(4));
            let want = (
                pieces.keyword.map(str::to_owned),
                pieces.pattern_text.to_owned(),
                pieces.tld.to_owned(),
            );
            assert_eq!(got, want, "keyword, pattern and TLD of {name}");
        }

        let counters = self.sql.query(
            "SELECT total_domains, pending_domains FROM campaign_domain_counters WHERE campaign_id = $1",
            &[&id],
        );
        let counters: Vec<(i64, i64)> = counters.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(
            counters,
            [(expected, expected)],
            "campaign {id}: one counters row, counting every row once"
        );

        let audited = &self.sql.query(
            "SELECT count(*),
                    count(*) FILTER (WHERE a.operation = 'INSERT'
                                       AND a.new_row->>'domain_name' = d.domain_name
                                       AND (a.new_row->>'offset_index')::bigint = d.offset_index)
               FROM generated_domains_audit a LEFT JOIN generated_domains d ON d.id = a.row_id
              WHERE a.campaign_id = $1",
            &[&id],
        )[0];
        assert_eq!(
            [audited.get::<_, i64>(0), audited.get(1)],
            [expected; 2],
            "campaign {id}: audit entries, and those that match their row"
        );
    }
}

/// Three keywords (one Unicode), a multi-label TLD, and a pattern without
/// a keyword and a literal TLD, shuffled: [`TOTAL`] names.
fn spec() -> Spec {
    Spec {
        keywords: WordList::inline(["shop", "café", "data"]),
        tlds: WordList::inline(["com", "co.uk", "io"]),
        patterns: vec![
            "{keyword}-{alpha:1}{digit:1}.{tld}".into(),
            "x{alnum:2}.net".into(),
        ],
        order: Order::Shuffled,
        seed: 5,
        ..Spec::default()
    }
}

/// A few thousand rows: the triggers make each one slow.
const TOTAL: u64 = 3 * 26 * 10 * 3 + 36 * 36;

fn options(campaign_id: Uuid) -> CampaignOptions {
    CampaignOptions {
        campaign_id,
        table: "generated_domains".into(),
        start: Start::New,
        connections: 2,
        unique: false,
        retry: Retry::default(),
        provenance: Provenance::default(),
    }
}

#[test]
fn a_campaign_with_default_options_lands_every_position_once_counted_and_audited() {
    let service = Service::new();
    let id = service.campaign();
    let started = Instant::now();
    let report = service.generate(&spec(), options(id)).unwrap();
    // What the note quotes: the triggers' cost at the default batch size.
    eprintln!(
        "{} rows in {} batches of up to {} names: {:.2} s",
        report.report.names,
        report.report.batches,
        report.report.batch_names,
        started.elapsed().as_secs_f64()
    );
    assert_eq!((report.rows_total, report.positions), (TOTAL, 0..TOTAL));
    assert_eq!(report.provenance, Provenance::default());
    service.assert_campaign(id, &spec(), 0..TOTAL);
    // The service's columns took their defaults.
    let defaults = service.sql.int(
        "SELECT count(*) FROM generated_domains
          WHERE campaign_id = $1 AND status = 'pending' AND dns_status = 'pending'
            AND metadata = '{}' AND created_at IS NOT NULL",
        &[&id],
    );
    assert_eq!(defaults, i64::try_from(TOTAL).unwrap());
}

/// Two workers, each in a thread of its own, commit batches whose rows
/// update the campaign's one counters row: each waits for the other's
/// commit, and every row is counted once. The plan measures the batch
/// size (the table has row triggers): the grid is cells of 100, and each
/// worker leases runs of them.
#[test]
fn two_workers_land_every_position_once_and_count_each_row_once() {
    let service = Service::new();
    let id = service.campaign();
    let planned = service
        .rt
        .block_on(async {
            let client = service.db.connect().await.unwrap();
            workers::plan(
                &client,
                &spec(),
                &PlanOptions {
                    campaign_id: id,
                    batch_names: None,
                    table: "generated_domains".into(),
                },
            )
            .await
        })
        .unwrap();
    assert_eq!(
        (
            planned.batch_names,
            planned.sizing.adaptive,
            planned.sizing.start_names()
        ),
        (100, true, 1_000),
        "{planned}"
    );
    let work = |name: &str| {
        service.rt.block_on(workers::work(
            service.db.connections(),
            WorkOptions {
                campaign_id: id,
                worker_id: name.into(),
                lease: Duration::from_secs(60),
                connections: 2,
                max_batches: None,
                retry: Retry::default(),
                provenance: Provenance::default(),
            },
            Arc::clone(&service.generator),
            None,
            |_| {},
        ))
    };
    let reports = thread::scope(|s| {
        let a = s.spawn(|| work("a"));
        let b = s.spawn(|| work("b"));
        [a.join().unwrap().unwrap(), b.join().unwrap().unwrap()]
    });
    assert!(reports.iter().all(|r| r.complete), "{reports:?}");
    assert_eq!(reports[0].rows + reports[1].rows, TOTAL);
    assert!(
        reports
            .iter()
            .all(|r| r.sizing.adaptive && r.sizing.cell == 100),
        "{reports:?}"
    );
    // Leases are runs of whole cells (the campaign's last may be short).
    let cells = service.sql.int(
        "SELECT coalesce(sum((batch_end - batch_start + 99) / 100), 0)::bigint
           FROM generation_batches WHERE campaign_id = $1 AND status = 'committed'",
        &[&id],
    );
    assert_eq!(cells, i64::try_from(planned.batches).unwrap());
    service.assert_campaign(id, &spec(), 0..TOTAL);
}

/// `{36 chars:3}shop.com` as the service's generator config.
fn service_config() -> DomainflowConfig {
    DomainflowConfig {
        pattern_type: "prefix_variable".into(),
        prefix_variable_length: Some(3),
        character_set: "0123456789abcdefghijklmnopqrstuvwxyz".into(),
        constant_string: "shop".into(),
        tld: ".com".into(),
        ..DomainflowConfig::default()
    }
}

/// The service issued offsets 0..1000 of a config; two campaigns continue
/// it at once, 700 names each: they take 1000..1700 and 1700..2400 between
/// them, and the service's row (its `varchar(64)` key) ends at 2400.
#[test]
fn two_campaigns_continue_the_services_config_offset_disjointly() {
    let service = Service::new();
    let mut spec = Spec::from_domainflow(&service_config()).unwrap();
    spec.limit = Some(700);
    let key = spec.service_key().unwrap().expect("a converted config");
    service.sql.query(
        "INSERT INTO domain_generation_config_states (config_hash, last_offset, config_details, updated_at)
         VALUES ($1, 1000, $2::text::jsonb, now())",
        &[&key.hash, &key.document],
    );
    let ids = [service.campaign(), service.campaign()];
    let continued = |id: Uuid| {
        service
            .generate(
                &spec,
                CampaignOptions {
                    start: Start::Continue,
                    ..options(id)
                },
            )
            .unwrap()
            .positions
    };
    let mut taken = thread::scope(|s| {
        let handles = ids.map(|id| (id, s.spawn(move || continued(id))));
        handles.map(|(id, handle)| (handle.join().unwrap(), id))
    });
    taken.sort_by_key(|(positions, _)| positions.start);
    assert_eq!(
        [taken[0].0.clone(), taken[1].0.clone()],
        [1000..1700, 1700..2400]
    );
    for (positions, id) in taken {
        service.assert_campaign(id, &spec, positions);
    }
    let states = service.sql.query(
        "SELECT config_hash::text, last_offset FROM domain_generation_config_states",
        &[],
    );
    let states: Vec<(String, i64)> = states.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        states,
        [(key.hash, 2400)],
        "the service's row advanced past both, and no row of domgen's own"
    );
}

/// Rows of a campaign missing from `lead_generation_campaigns` break the
/// foreign key: the run ends at once with the constraint's name, as the
/// database's error (not the engine's, whose sink it came through), and
/// nothing is written.
#[test]
fn a_campaign_the_service_does_not_have_is_refused_by_the_foreign_key() {
    let service = Service::new();
    let id = Uuid::new_v4();
    let started = Instant::now();
    let error = service.generate(&spec(), options(id)).unwrap_err();
    // A constraint is not transient: taken for one, the batch would be
    // tried again for `Retry::default()`'s 300 s.
    assert!(started.elapsed() < Duration::from_secs(60), "{error}");
    assert_eq!(error.kind(), domgen_pg::ErrorKind::Database, "{error}");
    let message = error.to_string();
    assert!(
        message.contains(r#"violates foreign key constraint "generated_domains_campaign_id_fkey""#)
            && message.contains(&format!("0 rows of {TOTAL} were committed")),
        "{message}"
    );
    let written = service.sql.int(
        "SELECT (SELECT count(*) FROM generated_domains)
              + (SELECT count(*) FROM campaign_domain_counters)
              + (SELECT count(*) FROM generated_domains_audit)
              + (SELECT count(*) FROM generation_batches WHERE status = 'committed')",
        &[],
    );
    assert_eq!(written, 0);
}

/// domgen's own cursor for a shuffled spec whose seed has 16 digits or
/// more is a key of over 64 characters, more than the service's
/// `varchar(64)` `config_hash` holds: there it goes under its compact
/// form (the seed in hex), and two campaigns continuing the spec still
/// take disjoint positions.
#[test]
fn a_long_cursor_key_is_kept_compact_in_the_services_varchar_column() {
    let service = Service::new();
    let spec = Spec {
        seed: 1_000_000_000_000_007,
        limit: Some(900),
        ..spec()
    };
    let space = domgen_pattern::Space::compile(&spec).unwrap();
    let state = domgen_pg::ledger::ConfigState::domgen(&space);
    assert!(state.config_hash.len() > 64, "{}", state.config_hash);
    let compact = state.compact_hash.clone().expect("a shuffled spec's");
    assert_eq!(compact.len(), 58, "{compact}");
    assert!(compact.starts_with(&format!("domgen:{}:s2", space.fingerprint())));
    let mut taken: Vec<Range<u64>> = (0..2)
        .map(|_| {
            let id = service.campaign();
            let positions = service
                .generate(
                    &spec,
                    CampaignOptions {
                        start: Start::Continue,
                        ..options(id)
                    },
                )
                .unwrap()
                .positions;
            service.assert_campaign(id, &spec, positions.clone());
            positions
        })
        .collect();
    taken.sort_by_key(|p| p.start);
    assert_eq!(taken, [0..900, 900..1800]);
    let cursor = service.sql.int(
        "SELECT last_offset FROM domain_generation_config_states WHERE config_hash = $1",
        &[&compact],
    );
    assert_eq!(cursor, 1800);
}
