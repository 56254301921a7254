/*!
domgen's PostgreSQL side: campaigns written exactly once, by one call or by
a fleet of workers, and read back.

It is built in layers, each using only the ones before it:

- **connection** ([`Database`], [`Connections`], [`connect()`],
  [`SslMode`]): which database (a connection string, `DATABASE_URL`,
  libpq's `PG*` variables, or the local cluster of [`domgen_cluster`]),
  read with libpq's semantics ([`Database::parse`]: every `sslmode` up to
  `verify-full`, `sslrootcert`, `sslcert`/`sslkey`, `.pgpass`, timeouts
  and keepalives), and [`Database::open`], which migrates the local
  cluster on first use and checks that any other database is migrated.
- **schema** ([`migrate`]): the numbered SQL migrations, checksummed and
  applied under a lock; on Citus, [`citus::distribute`] places the tables
  (distributed by `campaign_id` and co-located, or reference tables).
- **encoding** ([`copy`]): names as binary COPY rows, written by the
  engine's workers straight into their buffers. No I/O.
- **ledger** ([`ledger`]): registering a campaign, the one transaction that
  commits a batch's rows with its ledger row ([`ledger::commit_batch`]),
  the positions a resume writes, and the cursor that `continue` moves.
- **sizing** ([`sizing`]): how many names a commit carries, from the
  target table's shape (row triggers, indexes) and then from measured
  rows/s; the ledger's grid is a cell that commits group.
- **writers** ([`campaign`], [`workers`], [`monitor`]): a campaign written
  by one call ([`campaign::generate`], or [`campaign::prepare`] and
  [`campaign::Prepared::run`]); by many worker processes under leases
  ([`workers::plan`], [`workers::work`]); and the memory monitor's samples
  ([`monitor::PgRecorder`]).
- **readers** ([`read`]): a worker campaign's status, a campaign's rows, a
  run's `memory_allocations` row, a monitored run's samples and leaks.

Every fallible call returns [`Error`], whose [`ErrorKind`] says whose move
it is (the caller's request, the connection, the database, the engine) and
whose source is the error that caused it.

# Example

What `domgen generate` does, as a host service does it: resolve the
database, open it, write a campaign.

```no_run
use std::sync::Arc;

use domgen_engine::GeneratorBuilder;
use domgen_pattern::{Space, Spec};
use domgen_pg::Database;
use domgen_pg::campaign::{self, CampaignOptions, Start};

let rt = tokio::runtime::Runtime::new()?;
let db = Database::resolve(None, ".domgen".as_ref())?;
let spec = Spec {
    patterns: vec!["shop{alpha:2}.com".into()],
    ..Spec::default()
};
let options = CampaignOptions {
    campaign_id: uuid::Uuid::new_v4(),
    table: "generated_domains".into(),
    start: Start::New,
    connections: 2,
    unique: false,
    retry: domgen_pg::Retry::default(),
    // source_keyword, source_pattern, tld: filled where the table has them.
    provenance: domgen_pg::Provenance::default(),
};
let generator = Arc::new(GeneratorBuilder::new().build()?);
rt.block_on(async {
    drop(db.open().await?); // migrates the local cluster on first use
    let report = campaign::generate(db.connections(), spec, options, generator, None).await?;
    assert_eq!(report.rows_total, 26 * 26);
    Ok::<(), domgen_pg::Error>(())
})?;
# Ok::<(), Box<dyn std::error::Error>>(())
```

# Telemetry

Runs, claims, commits, refusals, take-overs, retries and reconnections are
reported as [`tracing`] events (a span per campaign run and per worker)
and through the [`metrics`] facade, with the metric names of
[`domgen_engine::telemetry`]; nothing is recorded or printed unless the
host installs a recorder or a subscriber.

# Crate features

This crate has no optional features.
*/

#![deny(missing_docs)]

pub mod campaign;
pub mod citus;
mod connect;
mod conninfo;
pub mod copy;
mod error;
pub mod ledger;
pub mod migrate;
pub mod monitor;
pub mod read;
mod retry;
pub mod sizing;
mod telemetry;
mod tls;
pub mod workers;

pub use crate::connect::{Connections, Database, connect};
pub use crate::error::{Error, ErrorKind};
pub use crate::ledger::Provenance;
pub use crate::retry::Retry;
pub use crate::tls::SslMode;
