/*!
The helpers domgen's tests share, in one copy.

- [`database_url`] and [`fresh_database`]: the PostgreSQL server the tests
  run against, `DATABASE_URL` or a throwaway [`LocalCluster`] started on
  first use and stopped when the test process ends, and a new database on
  it for each test. Without a server the tests fail, never skip.
  [`own_cluster`] starts an [`OwnCluster`] a test may stop and start.
- [`Sql`]: a synchronous client for the checks, and [`connect`] for async
  tests, over `tokio-postgres` without TLS (the test servers are local).
- [`Dir`], [`Output`], [`capture`], [`assert_contains`] and [`external`]:
  running programs in a fresh temporary directory and asserting on what
  they wrote.
- [`citus_cluster`]: a throwaway 3-node Citus cluster (coordinator and two
  workers on loopback TCP), stopped when the test process ends, and
  [`CitusCluster::fresh_database`] with Citus and the workers in it.
- [`pgbouncer`]: PgBouncer in front of the test server, in session or
  transaction [`PoolMode`], stopped when the test process ends.
- [`wait_until`] and [`wait_for`]: polling for a condition with a deadline,
  in place of sleeping and hoping.
- [`SERVICE_SCHEMA`] and [`service_campaign`]: the campaign service's
  tables (a `generated_domains` with 25 indexes, a foreign key and per-row
  counter and audit triggers; its `domain_generation_config_states`), to
  load before migrating, and a campaign row for its foreign key.

Migrating a database is domgen-pg's job, and this crate does not depend on
domgen-pg (domgen-pg's tests depend on this crate): a test crate migrates
with [`Sql::with_client`].

# Example

```
use std::time::{Duration, Instant};

use domgen_test_support::{Dir, assert_contains, wait_for};

let dir = Dir::new();
dir.create("spec/words.txt", "shop\ndata\n");
assert_contains(&dir.read("spec/words.txt"), &["shop", "data"]);

let start = Instant::now();
wait_for("a tenth of a second to pass", Duration::from_secs(5), || {
    start.elapsed() >= Duration::from_millis(100)
});
# Ok::<(), Box<dyn std::error::Error>>(())
```

# Crate features

This crate has no optional features.

[`LocalCluster`]: domgen_cluster::LocalCluster
*/

#![deny(missing_docs)]

mod bouncer;
mod citus;
mod dir;
mod proxy;
mod server;
mod service;
mod sql;
mod wait;

pub use crate::bouncer::{Bouncer, PoolMode, pgbouncer};
pub use crate::citus::{CitusCluster, citus_cluster};
pub use crate::dir::{Dir, Output, assert_contains, capture, external};
pub use crate::proxy::Proxy;
pub use crate::server::{
    OwnCluster, database_url, fresh_database, own_cluster, with_dbname, with_setting,
};
pub use crate::service::{SERVICE_SCHEMA, service_campaign};
pub use crate::sql::{Sql, connect, runtime};
pub use crate::wait::{wait_for, wait_until};
