//! A synchronous client for the checks.

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row};

/// Connects to `url` without TLS, for async tests; the connection runs
/// on a task of the caller's runtime.
///
/// # Panics
///
/// When the connection fails.
pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("test connection: {e}");
        }
    });
    client
}

/// A runtime for async tests: two workers, timers and I/O.
///
/// # Panics
///
/// When the runtime cannot start.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the test runtime starts")
}

/// A `tokio-postgres` client on a runtime of its own, for synchronous
/// tests. Every method panics on an error, naming the statement.
///
/// It connects without TLS: the test servers are local. It must not be
/// created or used inside an async runtime (its own would nest); async
/// tests call the client with `.await` instead.
pub struct Sql {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl Sql {
    /// Connects to `url`.
    ///
    /// # Panics
    ///
    /// When the connection fails.
    pub fn connect(url: &str) -> Sql {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let client = rt.block_on(connect(url));
        Sql { rt, client }
    }

    /// The rows of a query.
    pub fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<Row> {
        self.rt
            .block_on(self.client.query(sql, params))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }

    /// A query's single `bigint` value.
    pub fn int(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> i64 {
        self.query(sql, params)[0].get(0)
    }

    /// A query's single `text` value.
    pub fn text(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> String {
        self.query(sql, params)[0].get(0)
    }

    /// Runs statements (separated by `;`) without parameters.
    pub fn execute(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    /// Runs `f` with the client, to its end: what needs the async client,
    /// such as domgen-pg's `migrate(&mut client)`.
    pub fn with_client<T>(&mut self, f: impl AsyncFnOnce(&mut Client) -> T) -> T {
        self.rt.block_on(f(&mut self.client))
    }
}
