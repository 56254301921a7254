//! A worker holds a claimed batch within its memory budget: the engine
//! renders the batch in chunks the budget allows, straight into the
//! batch's open COPY, so a batch far larger than the budget is never in
//! memory whole. One test in a binary of its own, so that the process's
//! peak heap is the worker's.

#[global_allocator]
static ALLOC: domgen_alloc::CountingAlloc = domgen_alloc::CountingAlloc;

use std::sync::Arc;
use std::time::Duration;

use domgen_engine::GeneratorBuilder;
use domgen_pattern::Spec;
use domgen_pg::workers::{self, PlanOptions, WorkOptions};
use domgen_pg::{Database, Retry};
use domgen_test_support::{Sql, fresh_database};
use uuid::Uuid;

#[test]
fn a_batch_larger_than_the_budget_is_streamed_not_held() {
    const BUDGET: u64 = 4 << 20;
    let url = fresh_database();
    let mut sql = Sql::connect(&url);
    sql.with_client(async |client| domgen_pg::migrate::migrate(client).await.unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = Database::from_config(url.parse().unwrap());
    let client = rt.block_on(db.open()).unwrap();
    // 36⁴ = 1,679,616 names in one batch: about 60 MiB of COPY rows.
    let spec = Spec {
        patterns: vec!["{alnum:4}-stream.com".into()],
        ..Spec::default()
    };
    let id = Uuid::new_v4();
    let planned = rt
        .block_on(workers::plan(
            &client,
            &spec,
            &PlanOptions {
                campaign_id: id,
                batch_names: Some(36u64.pow(4)),
                table: "generated_domains".into(),
            },
        ))
        .unwrap();
    assert_eq!(planned.positions, 0..36u64.pow(4));
    let generator = Arc::new(
        GeneratorBuilder::new()
            .memory_budget(BUDGET)
            .threads(2)
            .build()
            .unwrap(),
    );
    domgen_alloc::reset_peak();
    let before = domgen_alloc::stats()
        .expect("the counting allocator")
        .live_bytes;
    let report = rt
        .block_on(workers::work(
            db.connections(),
            WorkOptions {
                campaign_id: id,
                worker_id: "streamer".into(),
                lease: Duration::from_secs(30),
                connections: 1,
                max_batches: None,
                retry: Retry::default(),
                provenance: domgen_pg::Provenance::default(),
            },
            generator,
            None,
            |_| {},
        ))
        .unwrap();
    let peak = domgen_alloc::stats().unwrap().peak_live_bytes - before;
    assert_eq!((report.batches, report.rows), (1, 36u64.pow(4)));
    assert!(report.complete);
    let rows = sql.int(
        "SELECT count(DISTINCT offset_index) FROM generated_domains WHERE campaign_id = $1",
        &[&id],
    );
    assert_eq!(rows, 36i64.pow(4));
    // The budget, the channel's chunks and the connection's buffers: far
    // below the batch's ~60 MiB.
    eprintln!(
        "peak heap while working: {:.1} MiB",
        peak as f64 / (1 << 20) as f64
    );
    assert!(
        peak < 4 * BUDGET,
        "the worker's heap peaked at {peak} bytes with a budget of {BUDGET}"
    );
}
