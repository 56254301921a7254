//! domgen-pg through a real PgBouncer (the machine's, 1.18 on Debian) in
//! transaction pooling with two server connections, which the clients
//! share: every statement outside a transaction must be one round trip, and
//! no state may outlive a transaction. Without pgbouncer these tests fail,
//! never skip.

use std::sync::Arc;

use domgen_engine::GeneratorBuilder;
use domgen_pattern::Spec;
use domgen_pg::campaign::{self, CampaignOptions, Start};
use domgen_pg::{Database, migrate};
use domgen_test_support::{PoolMode, Sql, connect, fresh_database, pgbouncer, runtime};
use uuid::Uuid;

/// The oracle of the other tests: tokio-postgres's named statements (a
/// prepare, then a bind in a later round trip) do break behind this
/// PgBouncer, so the harness really hands one client's round trips to
/// different server connections.
#[test]
fn the_harness_splits_a_named_statement_from_its_prepare() {
    let url = fresh_database();
    let bouncer = pgbouncer(&url, PoolMode::Transaction, 2);
    runtime().block_on(async {
        let a = connect(&bouncer.url).await;
        let b = connect(&bouncer.url).await;
        // A warms both server connections, so that the prepare lands on
        // the one released last.
        let c = connect(&bouncer.url).await;
        c.batch_execute("BEGIN").await.unwrap();
        a.batch_execute("SELECT 1").await.unwrap();
        c.batch_execute("COMMIT").await.unwrap();
        let statement = a.prepare("SELECT 1").await.unwrap();
        // PgBouncer hands out the connection released last: b's open
        // transaction takes the one that holds the statement.
        b.batch_execute("BEGIN").await.unwrap();
        let error = a.query(&statement, &[]).await.unwrap_err();
        b.batch_execute("COMMIT").await.unwrap();
        let message = error.as_db_error().map(|e| e.message().to_owned());
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains("does not exist")),
            "expected \"prepared statement … does not exist\", got: {error:?}"
        );
    });
}

/// Regression test for "prepared statement s3 does not exist" behind
/// PgBouncer's transaction pooling: migrations (two at once, one waiting
/// for the other's lock), a campaign over two connections and a `unique`
/// campaign (its staging table in each batch's transaction), with more
/// clients than server connections.
#[test]
fn prepared_statement_does_not_exist_behind_transaction_pooling() {
    let url = fresh_database();
    let bouncer = pgbouncer(&url, PoolMode::Transaction, 2);
    let db = Database::resolve(Some(&bouncer.url), "/nonexistent".as_ref()).unwrap();
    let rt = runtime();
    rt.block_on(async {
        let mut one = db.connect().await.unwrap();
        let mut two = db.connect().await.unwrap();
        let (first, second) = tokio::join!(migrate::migrate(&mut one), migrate::migrate(&mut two));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(
            first.applied().len() + second.applied().len(),
            5,
            "{first} / {second}"
        );
        migrate::check_migrated(&one).await.unwrap();
        drop(db.open().await.unwrap());
    });
    let generator = Arc::new(
        GeneratorBuilder::new()
            .threads(2)
            .batch_names(997)
            .build()
            .unwrap(),
    );
    // The unique campaign first: its unique index on domain_name would
    // refuse the other's names if they repeated its own.
    let campaigns = [
        (true, "p{alpha:3}.com", 26 * 26 * 26_u64),
        (false, "q{alnum:2}{digit:1}.net", 36 * 36 * 10),
    ];
    for (unique, pattern, total) in campaigns {
        let spec = Spec {
            patterns: vec![pattern.into()],
            ..Spec::default()
        };
        let id = Uuid::new_v4();
        let options = CampaignOptions {
            campaign_id: id,
            table: "generated_domains".into(),
            start: Start::New,
            connections: 3,
            unique,
            retry: domgen_pg::Retry::default(),
            provenance: domgen_pg::Provenance::default(),
        };
        let report = rt
            .block_on(campaign::generate(
                db.connections(),
                spec,
                options,
                generator.clone(),
                None,
            ))
            .unwrap();
        assert_eq!(report.rows_total, total, "unique={unique}: {report}");
        let expected = i64::try_from(total).unwrap();
        let sql = Sql::connect(&url);
        let counts = sql.query(
            "SELECT count(*), count(DISTINCT offset_index) FROM generated_domains
              WHERE campaign_id = $1",
            &[&id],
        );
        let (rows, offsets): (i64, i64) = (counts[0].get(0), counts[0].get(1));
        assert_eq!((rows, offsets), (expected, expected), "unique={unique}");
    }
}
