//! Migrations against a real server: applied once, checksummed, and the
//! memory-monitoring functions with the original's defects fixed.
//!
//! Every test migrates a database of its own (`fresh_database`).

use std::future::Future;

use domgen_pg::migrate::{self, MigrateErrorKind};

/// What a migration error says happened.
#[track_caller]
fn detail(error: &domgen_pg::Error) -> &MigrateErrorKind {
    error
        .migration()
        .unwrap_or_else(|| panic!("not a migration error: {error}"))
}
use domgen_test_support::{connect, fresh_database};
use tokio_postgres::Client;
use uuid::Uuid;

const MIB: i64 = 1024 * 1024;

/// Runs `f` on a runtime of its own; `fresh_database` is called outside it.
fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

async fn migrated(url: &str) -> Client {
    let mut client = connect(url).await;
    migrate::migrate(&mut client).await.expect("migrate");
    client
}

fn names(report: &migrate::Report) -> Vec<String> {
    report.applied().iter().map(ToString::to_string).collect()
}

#[test]
fn migrations_apply_once() {
    let url = fresh_database();
    block_on(async {
        let mut client = connect(&url).await;

        let error = migrate::check_migrated(&client).await.unwrap_err();
        assert!(
            matches!(detail(&error), MigrateErrorKind::NotMigrated { pending, .. } if pending.len() == 5),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("is not migrated"), "{message}");
        assert!(message.contains("run `domgen migrate`"), "{message}");
        let dbname: String = client
            .query_one("SELECT current_database()", &[])
            .await
            .unwrap()
            .get(0);
        assert!(message.contains(&format!("dbname={dbname} ")), "{message}");

        let first = migrate::migrate(&mut client).await.unwrap();
        assert_eq!(
            names(&first),
            [
                "V1__memory_monitoring",
                "V2__generation",
                "V3__workers",
                "V4__monitor",
                "V5__adaptive_batches"
            ]
        );
        assert_eq!(
            first.to_string(),
            "applied 5 migrations: V1__memory_monitoring, V2__generation, V3__workers, V4__monitor, V5__adaptive_batches"
        );

        let second = migrate::migrate(&mut client).await.unwrap();
        assert!(second.is_up_to_date(), "{second}");
        assert!(second.applied().is_empty());

        migrate::check_migrated(&client).await.unwrap();
        let history: i64 = client
            .query_one("SELECT count(*) FROM refinery_schema_history", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(history, 5);
    });
}

#[test]
fn concurrent_migrations_apply_each_migration_once() {
    let url = fresh_database();
    block_on(async {
        let mut a = connect(&url).await;
        let mut b = connect(&url).await;
        let (ra, rb) = tokio::join!(migrate::migrate(&mut a), migrate::migrate(&mut b));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.applied().len() + rb.applied().len(), 5, "{ra} / {rb}");
        migrate::check_migrated(&a).await.unwrap();
    });
}

#[test]
fn every_table_and_function_exists() {
    let url = fresh_database();
    block_on(async {
        let client = migrated(&url).await;
        for table in [
            "memory_metrics",
            "memory_allocations",
            "memory_leak_detection",
            "memory_optimization_recommendations",
            "system_alerts",
            "generated_domains",
            "domain_generation_config_states",
            "generation_campaigns",
            "generation_batches",
            "generation_runs",
        ] {
            let exists: bool = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
                .await
                .unwrap()
                .get(0);
            assert!(exists, "table {table} is missing");
        }
        for function in [
            "record_memory_metrics(varchar, varchar, bigint, bigint, bigint, bigint, integer, bigint)",
            "check_memory_optimization_opportunities(varchar, numeric, bigint)",
            "detect_memory_leak(varchar, varchar, bigint, varchar, text)",
        ] {
            let exists: bool = client
                .query_one("SELECT to_regprocedure($1) IS NOT NULL", &[&function])
                .await
                .unwrap()
                .get(0);
            assert!(exists, "function {function} is missing");
        }

        let columns = |table: &'static str| {
            let client = &client;
            async move {
                client
                    .query(
                        "SELECT column_name::text FROM information_schema.columns \
                         WHERE table_name = $1 ORDER BY ordinal_position",
                        &[&table],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| row.get::<_, String>(0))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            columns("system_alerts").await,
            [
                "id",
                "alert_type",
                "severity",
                "message",
                "context",
                "created_at"
            ]
        );
        assert_eq!(
            columns("generated_domains").await,
            ["campaign_id", "offset_index", "domain_name"]
        );
        assert_eq!(
            columns("generation_batches").await,
            [
                "campaign_id",
                "batch_start",
                "batch_end",
                "status",
                "worker_id",
                "lease_token",
                "lease_expires_at",
                "rows",
                "committed_at"
            ]
        );

        let indexes = |table: &'static str| {
            let client = &client;
            async move {
                client
                    .query(
                        "SELECT indexname::text FROM pg_indexes WHERE tablename = $1 ORDER BY 1",
                        &[&table],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| row.get::<_, String>(0))
                    .collect::<Vec<_>>()
            }
        };
        // Ingest speed: no key, no index unless the operator adds one.
        assert!(indexes("generated_domains").await.is_empty());
        assert!(
            indexes("generation_runs")
                .await
                .contains(&"idx_generation_runs_campaign".to_owned())
        );
    });
}

/// One sample: the stored utilisation (as text, NULL for unknown), state,
/// free bytes, and the alert raised for it.
struct Sample {
    pct: Option<String>,
    state: String,
    free: i64,
    alert: Option<String>,
}

async fn record(client: &Client, service: &str, size: i64, used: i64) -> Sample {
    let id: Uuid = client
        .query_one(
            "SELECT record_memory_metrics($1, 'pid-1', $2, $3)",
            &[&service, &size, &used],
        )
        .await
        .unwrap_or_else(|e| panic!("record_memory_metrics({size}, {used}): {e:?}"))
        .get(0);
    let row = client
        .query_one(
            "SELECT memory_utilization_pct::text, memory_state, heap_free_bytes \
             FROM memory_metrics WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let alerts = client
        .query(
            "SELECT severity, alert_type, context->>'service_name' FROM system_alerts \
             WHERE context->>'metric_id' = $1::uuid::text",
            &[&id],
        )
        .await
        .unwrap();
    assert!(alerts.len() <= 1);
    if let Some(alert) = alerts.first() {
        assert_eq!(alert.get::<_, String>(1), "memory_utilization");
        assert_eq!(alert.get::<_, String>(2), service);
    }
    Sample {
        pct: row.get(0),
        state: row.get(1),
        free: row.get(2),
        alert: alerts.first().map(|a| a.get(0)),
    }
}

/// Heap size, heap used, utilisation, state, free bytes, alert severity.
type Case = (
    i64,
    i64,
    Option<&'static str>,
    &'static str,
    i64,
    Option<&'static str>,
);

#[test]
fn record_memory_metrics_classifies_without_sql_errors() {
    let url = fresh_database();
    block_on(async {
        let client = migrated(&url).await;
        let cases: &[Case] = &[
            (1000, 0, Some("0.00"), "normal", 1000, None),
            (1000, 599, Some("59.90"), "normal", 401, None),
            (1000, 600, Some("60.00"), "elevated", 400, None),
            (1000, 749, Some("74.90"), "elevated", 251, None),
            (1000, 750, Some("75.00"), "warning", 250, Some("warning")),
            (10000, 8999, Some("89.99"), "warning", 1001, Some("warning")),
            (1000, 900, Some("90.00"), "critical", 100, Some("critical")),
            (1000, 1000, Some("100.00"), "critical", 0, Some("critical")),
            // Live bytes ahead of the reserved bytes: clamped, not an overflow.
            (1000, 5000, Some("100.00"), "critical", 0, Some("critical")),
            (1, i64::MAX, Some("100.00"), "critical", 0, Some("critical")),
            (
                i64::MAX,
                i64::MAX,
                Some("100.00"),
                "critical",
                0,
                Some("critical"),
            ),
            (i64::MAX, 0, Some("0.00"), "normal", i64::MAX, None),
            // No heap reported: no utilisation, no division by zero.
            (0, 0, None, "unknown", 0, None),
            (0, 10, None, "unknown", 0, None),
        ];
        for (i, &(size, used, pct, state, free, alert)) in cases.iter().enumerate() {
            let service = format!("svc-{i}");
            let sample = record(&client, &service, size, used).await;
            let case = format!("heap size {size}, used {used}");
            assert_eq!(sample.pct.as_deref(), pct, "{case}");
            assert_eq!(sample.state, state, "{case}");
            assert_eq!(sample.free, free, "{case}");
            assert_eq!(sample.alert.as_deref(), alert, "{case}");
        }
        let alerts: i64 = client
            .query_one("SELECT count(*) FROM system_alerts", &[])
            .await
            .unwrap()
            .get(0);
        let expected = cases.iter().filter(|c| c.5.is_some()).count();
        assert_eq!(usize::try_from(alerts).unwrap(), expected);

        let error = client
            .query_one("SELECT record_memory_metrics('svc', 'pid', 100, -1)", &[])
            .await
            .unwrap_err();
        let db = error.as_db_error().expect("a server error");
        assert!(db.message().contains("must not be negative"), "{db}");
    });
}

async fn recommendations(client: &Client, service: &str) -> Vec<(String, i64, i64, i64, String)> {
    client
        .query(
            "SELECT recommendation_type, current_usage_bytes, recommended_limit_bytes, \
                    estimated_savings_bytes, implementation_priority \
             FROM memory_optimization_recommendations WHERE service_name = $1 ORDER BY created_at",
            &[&service],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

#[test]
fn optimization_recommendations() {
    let url = fresh_database();
    block_on(async {
        let client = migrated(&url).await;

        // High average: increase to 1.5 x used, priority high.
        record(&client, "hot", 1000, 800).await;
        let increase = (
            "increase_heap_size".to_owned(),
            800,
            1200,
            0,
            "high".to_owned(),
        );
        assert_eq!(
            recommendations(&client, "hot").await,
            vec![increase.clone()]
        );
        // No second one while an unimplemented one from the last day exists.
        record(&client, "hot", 1000, 950).await;
        assert_eq!(
            recommendations(&client, "hot").await,
            vec![increase.clone()]
        );
        // A day later, advice again.
        client
            .execute(
                "UPDATE memory_optimization_recommendations \
                 SET created_at = now() - interval '25 hours' WHERE service_name = 'hot'",
                &[],
            )
            .await
            .unwrap();
        record(&client, "hot", 1000, 900).await;
        assert_eq!(recommendations(&client, "hot").await.len(), 2);
        // An implemented recommendation does not block new advice either.
        client
            .execute(
                "UPDATE memory_optimization_recommendations SET implemented = true, \
                 implemented_at = now() WHERE service_name = 'hot'",
                &[],
            )
            .await
            .unwrap();
        record(&client, "hot", 1000, 900).await;
        assert_eq!(recommendations(&client, "hot").await.len(), 3);

        // Low average: reduce to 0.6 x used, saving 0.4 x used, priority medium.
        record(&client, "cold", 10_000, 1000).await;
        assert_eq!(
            recommendations(&client, "cold").await,
            [(
                "reduce_heap_size".to_owned(),
                1000,
                600,
                400,
                "medium".to_owned()
            )]
        );

        // The average decides, not the last sample: 20 % and 40 % average 30 %.
        record(&client, "mid", 1000, 200).await;
        client
            .execute(
                "DELETE FROM memory_optimization_recommendations WHERE service_name = 'mid'",
                &[],
            )
            .await
            .unwrap();
        record(&client, "mid", 1000, 400).await;
        assert!(recommendations(&client, "mid").await.is_empty());

        // Samples older than an hour do not count.
        record(&client, "old", 1000, 900).await;
        client
            .execute(
                "DELETE FROM memory_optimization_recommendations WHERE service_name = 'old'",
                &[],
            )
            .await
            .unwrap();
        client
            .execute(
                "UPDATE memory_metrics SET recorded_at = now() - interval '2 hours' \
                 WHERE service_name = 'old'",
                &[],
            )
            .await
            .unwrap();
        record(&client, "old", 1000, 500).await;
        assert!(recommendations(&client, "old").await.is_empty());

        // Only heap-size-0 samples: no utilisation, no advice.
        record(&client, "blind", 0, 0).await;
        assert!(recommendations(&client, "blind").await.is_empty());

        // Called directly for a service without samples: nothing.
        client
            .execute(
                "SELECT check_memory_optimization_opportunities('nobody', 99.0, 1000)",
                &[],
            )
            .await
            .unwrap();
        assert!(recommendations(&client, "nobody").await.is_empty());
    });
}

#[test]
fn detect_memory_leak_severities() {
    let url = fresh_database();
    block_on(async {
        let client = migrated(&url).await;
        let cases: &[(i64, &str)] = &[
            (0, "low"),
            (MIB - 1, "low"),
            (MIB, "medium"),
            (10 * MIB - 1, "medium"),
            (10 * MIB, "high"),
            (100 * MIB - 1, "high"),
            (100 * MIB, "critical"),
            (i64::MAX, "critical"),
        ];
        for &(bytes, severity) in cases {
            let operation = format!("op-{bytes}");
            let id: Uuid = client
                .query_one(
                    "SELECT detect_memory_leak('domgen', $1, $2, 'arena', 'trace')",
                    &[&operation, &bytes],
                )
                .await
                .unwrap()
                .get(0);
            let row = client
                .query_one(
                    "SELECT severity, leak_type, detection_method, leaked_bytes, stack_trace, \
                            operation_context->>'operation_id', resolved \
                     FROM memory_leak_detection WHERE id = $1",
                    &[&id],
                )
                .await
                .unwrap();
            assert_eq!(row.get::<_, String>(0), severity, "{bytes} bytes");
            assert_eq!(row.get::<_, String>(1), "operation_leak");
            assert_eq!(row.get::<_, String>(2), "automatic");
            assert_eq!(row.get::<_, i64>(3), bytes);
            assert_eq!(row.get::<_, String>(4), "trace");
            assert_eq!(row.get::<_, String>(5), operation);
            assert!(!row.get::<_, bool>(6));

            let alerts = client
                .query(
                    "SELECT severity, alert_type, (context->>'leaked_bytes')::bigint \
                     FROM system_alerts WHERE context->>'leak_id' = $1::uuid::text",
                    &[&id],
                )
                .await
                .unwrap();
            if matches!(severity, "high" | "critical") {
                assert_eq!(alerts.len(), 1, "{bytes} bytes");
                assert_eq!(alerts[0].get::<_, String>(0), severity);
                assert_eq!(alerts[0].get::<_, String>(1), "memory_leak_detected");
                assert_eq!(alerts[0].get::<_, i64>(2), bytes);
            } else {
                assert!(alerts.is_empty(), "{bytes} bytes");
            }
        }

        // The stack trace is optional.
        client
            .query_one("SELECT detect_memory_leak('domgen', 'op', 1, 'arena')", &[])
            .await
            .unwrap();
    });
}

#[test]
fn edited_migration_is_an_error() {
    let url = fresh_database();
    block_on(async {
        let mut client = migrated(&url).await;
        // What an edited V1__memory_monitoring.sql looks like to refinery.
        client
            .execute(
                "UPDATE refinery_schema_history SET checksum = '12345' WHERE version = 1",
                &[],
            )
            .await
            .unwrap();

        let error = migrate::migrate(&mut client).await.unwrap_err();
        match detail(&error) {
            MigrateErrorKind::Edited { applied, embedded } => {
                assert_eq!(applied.checksum(), 12345);
                assert_eq!(embedded.to_string(), "V1__memory_monitoring");
                assert_ne!(embedded.checksum(), 12345);
            }
            other => panic!("expected Edited, got {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains("V1__memory_monitoring"), "{message}");
        assert!(
            message.contains("must not change once applied"),
            "{message}"
        );
        assert!(message.contains("new migration"), "{message}");

        let error = migrate::check_migrated(&client).await.unwrap_err();
        assert!(
            matches!(detail(&error), MigrateErrorKind::Edited { .. }),
            "{error:?}"
        );
    });
}

#[test]
fn migration_from_a_newer_domgen_is_an_error() {
    let url = fresh_database();
    block_on(async {
        let mut client = migrated(&url).await;
        client
            .execute(
                "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
                 VALUES (99, 'from_the_future', '2030-01-01T00:00:00Z', '1')",
                &[],
            )
            .await
            .unwrap();
        let error = migrate::migrate(&mut client).await.unwrap_err();
        assert!(
            matches!(detail(&error), MigrateErrorKind::NewerDatabase { migration } if migration.version() == 99),
            "{error:?}"
        );
        assert!(error.to_string().contains("upgrade domgen"), "{error}");
        let error = migrate::check_migrated(&client).await.unwrap_err();
        assert!(
            matches!(detail(&error), MigrateErrorKind::NewerDatabase { .. }),
            "{error:?}"
        );
    });
}

/// Refinery panics on a checksum it cannot parse; we say what is wrong.
#[test]
fn damaged_history_is_an_error_not_a_panic() {
    let url = fresh_database();
    block_on(async {
        let mut client = migrated(&url).await;
        client
            .execute(
                "UPDATE refinery_schema_history SET checksum = 'abc' WHERE version = 2",
                &[],
            )
            .await
            .unwrap();
        let error = migrate::migrate(&mut client).await.unwrap_err();
        assert!(
            matches!(detail(&error), MigrateErrorKind::CorruptHistory { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("\"abc\""), "{error}");
        // The migration lock was released despite the error (asked from
        // another session: advisory locks are re-entrant within one).
        let other = connect(&url).await;
        let free: bool = other
            .query_one(
                "SELECT pg_try_advisory_lock($1)",
                &[&0x646f_6d67_656e_6d69_i64],
            )
            .await
            .unwrap()
            .get(0);
        assert!(free);
    });
}

#[test]
fn dropped_table_is_reported() {
    let url = fresh_database();
    block_on(async {
        let client = migrated(&url).await;
        client
            .batch_execute("DROP TABLE generation_runs")
            .await
            .unwrap();
        let error = migrate::check_migrated(&client).await.unwrap_err();
        match detail(&error) {
            MigrateErrorKind::MissingTables { tables, .. } => {
                assert_eq!(tables, &["generation_runs"])
            }
            other => panic!("expected MissingTables, got {other:?}"),
        }
        assert!(error.to_string().contains("generation_runs"), "{error}");
    });
}

/// A migration whose SQL fails is rolled back and leaves the earlier
/// migrations applied.
#[test]
fn failing_migration_is_rolled_back() {
    let url = fresh_database();
    block_on(async {
        let mut client = connect(&url).await;
        // Something in the way of V2 (which creates its own tables without
        // IF NOT EXISTS).
        client
            .batch_execute("CREATE TABLE generation_campaigns (x int)")
            .await
            .unwrap();

        let error = migrate::migrate(&mut client).await.unwrap_err();
        let MigrateErrorKind::Failed { migration, .. } = detail(&error) else {
            panic!("expected Failed, got {error:?}");
        };
        assert_eq!(migration.to_string(), "V2__generation");
        let message = error.to_string();
        assert!(
            message.contains("migration V2__generation failed"),
            "{message}"
        );
        assert!(message.contains("already exists"), "{message}");
        assert!(message.contains("run `domgen migrate` again"), "{message}");
        assert!(std::error::Error::source(&error).is_some());

        // V1 stays applied, V2 left nothing behind.
        let error = migrate::check_migrated(&client).await.unwrap_err();
        match detail(&error) {
            MigrateErrorKind::NotMigrated { pending, .. } => {
                let pending: Vec<String> = pending.iter().map(ToString::to_string).collect();
                assert_eq!(
                    pending,
                    [
                        "V2__generation",
                        "V3__workers",
                        "V4__monitor",
                        "V5__adaptive_batches"
                    ]
                );
            }
            other => panic!("expected NotMigrated, got {other:?}"),
        }
        let batches: bool = client
            .query_one("SELECT to_regclass('generation_batches') IS NULL", &[])
            .await
            .unwrap()
            .get(0);
        assert!(batches);

        client
            .batch_execute("DROP TABLE generation_campaigns")
            .await
            .unwrap();
        let report = migrate::migrate(&mut client).await.unwrap();
        assert_eq!(
            names(&report),
            [
                "V2__generation",
                "V3__workers",
                "V4__monitor",
                "V5__adaptive_batches"
            ]
        );
        migrate::check_migrated(&client).await.unwrap();
    });
}

/// A campaign-service database already has `generated_domains` (with more
/// columns) and `domain_generation_config_states`: migrating adopts them.
#[test]
fn existing_campaign_service_tables_are_adopted() {
    let url = fresh_database();
    block_on(async {
        let mut client = connect(&url).await;
        client
            .batch_execute(
                "CREATE TABLE generated_domains (
                     id uuid DEFAULT gen_random_uuid() NOT NULL,
                     campaign_id uuid NOT NULL,
                     domain_name text NOT NULL,
                     offset_index bigint DEFAULT 0 NOT NULL,
                     lead_score numeric(5,2) DEFAULT 0.0
                 );
                 CREATE TABLE domain_generation_config_states (
                     config_hash text NOT NULL,
                     last_offset bigint NOT NULL,
                     config_details jsonb NOT NULL,
                     updated_at timestamptz DEFAULT now() NOT NULL
                 );
                 INSERT INTO domain_generation_config_states VALUES ('h', 42, '{}', now());",
            )
            .await
            .unwrap();
        let report = migrate::migrate(&mut client).await.unwrap();
        assert_eq!(report.applied().len(), 5);
        migrate::check_migrated(&client).await.unwrap();
        let last: i64 = client
            .query_one(
                "SELECT last_offset FROM domain_generation_config_states WHERE config_hash = 'h'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(last, 42);
    });
}

/// The ledger's checks keep a row consistent with its status.
#[test]
fn batch_ledger_rejects_inconsistent_rows() {
    let url = fresh_database();
    block_on(async {
        let client = migrated(&url).await;
        let campaign = Uuid::new_v4();
        client
            .execute(
                "INSERT INTO generation_campaigns (campaign_id, fingerprint, spec, order_kind, \
                 seed, first_position, end_position, batch_names, target_table) \
                 VALUES ($1, 'f', '{}', 'sequential', 0, 0, 100, 10, 'generated_domains')",
                &[&campaign],
            )
            .await
            .unwrap();
        let insert = |sql: &'static str| {
            let client = &client;
            async move {
                client
                    .execute(
                        &format!(
                            "INSERT INTO generation_batches (campaign_id, batch_start, batch_end, \
                             status, lease_token, lease_expires_at, rows, committed_at) \
                             VALUES ($1, {sql})"
                        ),
                        &[&campaign],
                    )
                    .await
            }
        };
        insert("0, 10, 'pending', NULL, NULL, NULL, NULL")
            .await
            .unwrap();
        insert("10, 20, 'leased', gen_random_uuid(), now(), NULL, NULL")
            .await
            .unwrap();
        insert("20, 30, 'committed', NULL, NULL, 10, now()")
            .await
            .unwrap();
        for bad in [
            "30, 40, 'done', NULL, NULL, NULL, NULL",
            "30, 30, 'pending', NULL, NULL, NULL, NULL",
            "30, 40, 'leased', NULL, NULL, NULL, NULL",
            "30, 40, 'committed', NULL, NULL, NULL, now()",
            "30, 40, 'committed', NULL, NULL, -1, now()",
            "0, 10, 'pending', NULL, NULL, NULL, NULL",
        ] {
            assert!(insert(bad).await.is_err(), "accepted {bad}");
        }
    });
}
