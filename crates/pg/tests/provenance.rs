//! Provenance columns: each row's keyword, pattern and TLD in a table shaped
//! like the campaign service's, checked for every row against the space's
//! own pieces; a custom column mapping (through `unique` mode's staging); a
//! table without the columns; a worker writing the same.

use std::sync::Arc;
use std::time::Duration;

use domgen_engine::GeneratorBuilder;
use domgen_pattern::{Order, Space, Spec, WordList};
use domgen_pg::campaign::{self, CampaignOptions, CampaignReport, Start};
use domgen_pg::workers::{self, PlanOptions, WorkOptions};
use domgen_pg::{Database, Provenance};
use domgen_test_support::{Sql, fresh_database};
use uuid::Uuid;

/// A table as the campaign service has it: a uuid key with a default, the
/// provenance columns, and columns domgen leaves to their defaults.
const SERVICE_TABLE: &str = "
    CREATE TABLE service_domains (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        campaign_id uuid NOT NULL,
        offset_index bigint NOT NULL,
        domain_name text NOT NULL,
        source_keyword text,
        source_pattern text,
        tld varchar(63),
        status text NOT NULL DEFAULT 'generated',
        created_at timestamptz NOT NULL DEFAULT now()
    );";

struct Pg {
    rt: tokio::runtime::Runtime,
    db: Database,
    sql: Sql,
}

impl Pg {
    fn new(fixture: &str) -> Pg {
        let url = fresh_database();
        let mut sql = Sql::connect(&url);
        sql.with_client(async |client| domgen_pg::migrate::migrate(client).await.unwrap());
        sql.execute(fixture);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Pg {
            rt,
            db: Database::from_config(url.parse().unwrap()),
            sql,
        }
    }

    fn generate(&self, spec: &Spec, options: CampaignOptions) -> Result<CampaignReport, String> {
        let generator = GeneratorBuilder::new()
            .threads(2)
            .batch_names(37)
            .build()
            .unwrap();
        self.rt
            .block_on(campaign::generate(
                self.db.connections(),
                spec.clone(),
                options,
                Arc::new(generator),
                None,
            ))
            .map_err(|e| e.to_string())
    }

    /// Every row of the campaign in `table`, by position, exactly once,
    /// with the name and the pieces the space puts there; `columns` are
    /// the keyword, pattern and TLD columns that must be filled (the
    /// others, when the table has them, must be NULL: `absent`).
    fn assert_rows(
        &self,
        table: &str,
        campaign_id: Uuid,
        spec: &Spec,
        columns: [Option<&str>; 3],
        absent: &[&str],
    ) {
        let select = columns.map(|c| c.map_or("NULL::text".to_owned(), |c| format!("{c}::text")));
        let rows = self.sql.query(
            &format!(
                "SELECT offset_index, domain_name, {}, {}, {} FROM {table}
                  WHERE campaign_id = $1 ORDER BY offset_index",
                select[0], select[1], select[2]
            ),
            &[&campaign_id],
        );
        let space = Space::compile(spec).unwrap();
        assert_eq!(rows.len() as u64, space.len(), "rows in {table}");
        for (row, position) in rows.iter().zip(space.selection()) {
            let index = space.index_at(position);
            let pieces = space.pieces(index);
            let name: String = row.get(1);
            assert_eq!(row.get::<_, i64>(0), i64::try_from(position).unwrap());
            assert_eq!(name, space.name(index));
            let (keyword, pattern, tld): (Option<String>, Option<String>, Option<String>) =
                (row.get(2), row.get(3), row.get(4));
            let expect = |filled: bool, value: Option<&str>| {
                filled.then_some(value).flatten().map(str::to_owned)
            };
            assert_eq!(
                keyword,
                expect(columns[0].is_some(), pieces.keyword),
                "{name}"
            );
            assert_eq!(
                pattern,
                expect(columns[1].is_some(), Some(pieces.pattern_text)),
                "{name}"
            );
            assert_eq!(
                tld,
                expect(columns[2].is_some(), Some(pieces.tld)),
                "{name}"
            );
            // And what the spec says, without the space: the TLD ends the
            // name, and only the pattern with {keyword} has a keyword.
            if let Some(tld) = &tld {
                assert!(name.ends_with(&format!(".{tld}")), "{name} / {tld}");
            }
            if columns[0].is_some() {
                let with_keyword = pieces.pattern_text.contains("{keyword}");
                assert_eq!(keyword.is_some(), with_keyword, "{name}");
            }
        }
        for column in absent {
            let filled = self.sql.int(
                &format!(
                    "SELECT count(*) FROM {table} WHERE campaign_id = $1 AND {column} IS NOT NULL"
                ),
                &[&campaign_id],
            );
            assert_eq!(filled, 0, "{table}.{column} must be left alone");
        }
    }
}

fn spec() -> Spec {
    Spec {
        keywords: WordList::inline(["shop", "café", "data"]),
        tlds: WordList::inline(["com", "co.uk", "io"]),
        patterns: vec!["{keyword}-{alpha:1}.{tld}".into(), "x{digit:2}.net".into()],
        order: Order::Shuffled,
        seed: 11,
        ..Spec::default()
    }
}

fn options(campaign_id: Uuid, table: &str) -> CampaignOptions {
    CampaignOptions {
        campaign_id,
        table: table.into(),
        start: Start::New,
        connections: 2,
        unique: false,
        retry: domgen_pg::Retry::default(),
        provenance: Provenance::default(),
    }
}

const SERVICE_COLUMNS: [Option<&str>; 3] =
    [Some("source_keyword"), Some("source_pattern"), Some("tld")];

#[test]
fn the_service_table_gets_every_rows_keyword_pattern_and_tld() {
    let pg = Pg::new(SERVICE_TABLE);
    let id = Uuid::new_v4();
    let report = pg
        .generate(&spec(), options(id, "service_domains"))
        .unwrap();
    assert_eq!(report.provenance, Provenance::default());
    assert_eq!(report.rows_total, 3 * 26 * 3 + 100);
    assert!(report.report.batches > 2, "{report}");
    pg.assert_rows("service_domains", id, &spec(), SERVICE_COLUMNS, &[]);
    // The other columns took their defaults.
    let defaults = pg.sql.int(
        "SELECT count(DISTINCT id) FROM service_domains
          WHERE campaign_id = $1 AND status = 'generated' AND created_at IS NOT NULL",
        &[&id],
    );
    assert_eq!(defaults, 334);
    // The NULL keyword is the pattern without one.
    let nulls = pg.sql.int(
        "SELECT count(*) FROM service_domains
          WHERE campaign_id = $1 AND source_keyword IS NULL AND source_pattern = 'x{digit:2}.net' AND tld = 'net'",
        &[&id],
    );
    assert_eq!(nulls, 100);
}

/// Other column names, through `unique` mode's staging table: the
/// service's own columns stay NULL.
#[test]
fn a_custom_mapping_fills_its_columns() {
    let pg = Pg::new(&format!(
        "{SERVICE_TABLE}
         ALTER TABLE service_domains ADD COLUMN kw text, ADD COLUMN pat text, ADD COLUMN suffix text;"
    ));
    let id = Uuid::new_v4();
    let mapping = Provenance {
        keyword: Some("kw".into()),
        pattern: Some("pat".into()),
        tld: Some("suffix".into()),
    };
    for unique in [false, true] {
        let id = if unique { Uuid::new_v4() } else { id };
        let spec = Spec {
            keywords: WordList::inline(if unique { ["other"] } else { ["shop"] }),
            ..spec()
        };
        let spec = Spec {
            patterns: if unique {
                vec!["{keyword}-{alpha:1}.{tld}".into()]
            } else {
                spec.patterns.clone()
            },
            ..spec
        };
        let report = pg
            .generate(
                &spec,
                CampaignOptions {
                    unique,
                    provenance: mapping.clone(),
                    ..options(id, "service_domains")
                },
            )
            .unwrap();
        assert_eq!(report.provenance, mapping);
        pg.assert_rows(
            "service_domains",
            id,
            &spec,
            [Some("kw"), Some("pat"), Some("suffix")],
            &["source_keyword", "source_pattern", "tld"],
        );
    }

    // A mapped column that is not text is refused, by name.
    let pg = Pg::new(
        "CREATE TABLE numbered (campaign_id uuid, offset_index bigint, domain_name text, tld integer);",
    );
    let error = pg
        .generate(&spec(), options(Uuid::new_v4(), "numbered"))
        .unwrap_err();
    assert!(
        error.contains("column tld of table numbered is integer"),
        "{error}"
    );
    let error = pg
        .generate(
            &spec(),
            CampaignOptions {
                provenance: Provenance {
                    tld: Some("source_keyword".into()),
                    ..Provenance::default()
                },
                ..options(Uuid::new_v4(), "numbered")
            },
        )
        .unwrap_err();
    assert!(error.contains("`source_keyword` is named twice"), "{error}");
}

/// The migrated `generated_domains` has none of the columns: rows of three
/// columns, as before; a table with only some gets those.
#[test]
fn a_table_without_the_columns_gets_three() {
    let pg = Pg::new(
        "CREATE TABLE only_tld (campaign_id uuid, offset_index bigint, domain_name text, tld text);",
    );
    let id = Uuid::new_v4();
    let report = pg
        .generate(&spec(), options(id, "generated_domains"))
        .unwrap();
    assert_eq!(report.provenance, Provenance::none());
    pg.assert_rows("generated_domains", id, &spec(), [None; 3], &[]);

    let report = pg.generate(&spec(), options(id, "only_tld")).unwrap_err();
    assert!(report.contains("already exists"), "{report}");
    let id = Uuid::new_v4();
    let report = pg.generate(&spec(), options(id, "only_tld")).unwrap();
    assert_eq!(
        report.provenance,
        Provenance {
            tld: Some("tld".into()),
            ..Provenance::none()
        }
    );
    pg.assert_rows("only_tld", id, &spec(), [None, None, Some("tld")], &[]);

    // Switched off, the service's table gets three columns too.
    let pg = Pg::new(SERVICE_TABLE);
    let id = Uuid::new_v4();
    let report = pg
        .generate(
            &spec(),
            CampaignOptions {
                provenance: Provenance::none(),
                ..options(id, "service_domains")
            },
        )
        .unwrap();
    assert_eq!(report.provenance, Provenance::none());
    pg.assert_rows(
        "service_domains",
        id,
        &spec(),
        [None; 3],
        &["source_keyword", "source_pattern", "tld"],
    );
}

/// `workers::work` writes the same columns as `campaign::generate`.
#[test]
fn a_worker_writes_the_same_columns() {
    let pg = Pg::new(SERVICE_TABLE);
    let id = Uuid::new_v4();
    let planned = pg
        .rt
        .block_on(async {
            let client = pg.db.connect().await.unwrap();
            workers::plan(
                &client,
                &spec(),
                &PlanOptions {
                    campaign_id: id,
                    batch_names: Some(50),
                    table: "service_domains".into(),
                },
            )
            .await
        })
        .unwrap();
    let generator = GeneratorBuilder::new()
        .threads(2)
        .batch_names(20)
        .build()
        .unwrap();
    let report = pg
        .rt
        .block_on(workers::work(
            pg.db.connections(),
            WorkOptions {
                campaign_id: id,
                worker_id: "provenance".into(),
                lease: Duration::from_secs(60),
                connections: 2,
                max_batches: None,
                retry: domgen_pg::Retry::default(),
                provenance: Provenance::default(),
            },
            Arc::new(generator),
            None,
            |_| {},
        ))
        .unwrap();
    assert!(report.complete, "{report}");
    assert_eq!((report.batches, report.rows), (planned.batches, 334));
    pg.assert_rows("service_domains", id, &spec(), SERVICE_COLUMNS, &[]);
}
