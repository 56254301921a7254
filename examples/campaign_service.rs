//! How the campaign service runs a generation campaign through domgen's
//! library: an async call over the service's connection pool, returning the
//! run report.
//!
//! ```sh
//! DATABASE_URL='host=/path/to/socket user=me dbname=campaigns' cargo run --release --example campaign_service
//! ```
//!
//! Without DATABASE_URL it uses domgen's local cluster under ./.domgen
//! (created and started on demand).

use std::sync::Arc;

use domgen::engine::GeneratorBuilder;
use domgen::pg::campaign::{self, CampaignOptions};
use domgen::{Order, Spec, WordList};

// The service installs the counting allocator in its binary, so every run's
// memory figures land in memory_allocations.
#[global_allocator]
static ALLOC: domgen::alloc::CountingAlloc = domgen::alloc::CountingAlloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => domgen::cluster::LocalCluster::new(".domgen")?.ensure_running()?,
    };
    let config: tokio_postgres::Config = url.parse()?;

    // The service's pool: the run takes a control connection and
    // `connections` COPY connections from it, and gives them back.
    let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(4)
        .build()?;
    let mut client = pool.get().await?;
    domgen::pg::migrate::migrate(&mut client).await?;
    drop(client);

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
    let options = CampaignOptions {
        campaign_id: uuid::Uuid::new_v4(),
        table: "generated_domains".into(),
        resume: false,
        connections: 2,
        unique: false,
    };
    let report = campaign::generate(pool.clone(), spec, options.clone(), generator, None).await?;
    println!("campaign {}: {report}", options.campaign_id);
    println!(
        "peak live heap {} bytes, {} bytes allocated",
        report.report.peak_live_bytes.unwrap_or(0),
        report.report.allocated_bytes.unwrap_or(0)
    );
    Ok(())
}
