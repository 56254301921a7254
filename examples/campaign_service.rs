//! How the campaign service runs generation campaigns through domgen's
//! library: async calls over the service's connection pool, each returning
//! the run report — a new campaign, campaigns that continue one spec where
//! the last one stopped (`--continue`), and a resume (`--resume`).
//!
//! ```sh
//! DATABASE_URL='host=/path/to/socket user=me dbname=campaigns' cargo run --release --example campaign_service
//! ```
//!
//! Without DATABASE_URL (or libpq's PG* variables) it uses domgen's local
//! cluster under ./.domgen, created, started and migrated on demand.

use std::sync::Arc;

use domgen::engine::GeneratorBuilder;
use domgen::pg::Database;
use domgen::pg::campaign::{self, CampaignOptions, Start};
use domgen::{Order, Spec, WordList};

// The service installs the counting allocator in its binary, so every run's
// memory figures land in memory_allocations.
#[global_allocator]
static ALLOC: domgen::alloc::CountingAlloc = domgen::alloc::CountingAlloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // As `domgen` resolves it: DATABASE_URL, PG*, else the local cluster.
    let db = Database::resolve(None, ".domgen".as_ref())?;
    // Migrates the local cluster on first use; checks any other database.
    drop(db.open().await?);

    // The service's pool: a run takes a control connection and
    // `connections` COPY connections from it, and gives them back.
    let manager = deadpool_postgres::Manager::new(db.config().clone(), tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(4)
        .build()?;

    let spec = Spec {
        keywords: WordList::inline(["shop", "cloud", "café"]),
        tlds: WordList::inline(["com", "net", "co.uk"]),
        patterns: vec![
            "{keyword}.{tld}".into(),
            "{keyword}-{random:3}.{tld}".into(),
        ],
        order: Order::Shuffled,
        seed: 42,
        limit: Some(100_000),
        ..Spec::default()
    };
    // One generator (its worker threads) serves every campaign of the service.
    let generator = Arc::new(GeneratorBuilder::new().memory_budget(64 << 20).build()?);
    let run = |campaign_id, start| {
        let options = CampaignOptions {
            campaign_id,
            table: "generated_domains".into(),
            start,
            connections: 2,
            unique: false,
            retry: domgen::pg::Retry::default(),
            provenance: domgen::pg::Provenance::default(),
        };
        campaign::generate(
            pool.clone(),
            spec.clone(),
            options,
            Arc::clone(&generator),
            None,
        )
    };

    // Two campaigns of the same spec: each takes the next 100,000 positions
    // of its shuffled order that no campaign took before (`--continue`), so
    // they never share a name, however often the service is restarted.
    for _ in 0..2 {
        let id = uuid::Uuid::new_v4();
        let report = run(id, Start::Continue).await?;
        println!(
            "campaign {id}: positions {}..{}: {report}",
            report.positions.start, report.positions.end
        );
        println!(
            "  peak live heap {} bytes, {} bytes allocated",
            report.report.peak_live_bytes.unwrap_or(0),
            report.report.allocated_bytes.unwrap_or(0)
        );
        // After a crash or a cancelled run, the same call with
        // `Start::Resume` writes exactly the batches not yet committed
        // (`--resume`); here there are none left.
        let resumed = run(id, Start::Resume).await?;
        println!("  resumed: {resumed}");
    }
    Ok(())
}
