//! The connection layer: which database, how to reach it, and in what
//! state the work may use it.
//!
//! [`Database::resolve`] picks the database as the `domgen` command does:
//! a connection string given, else `DATABASE_URL`, else libpq's `PG*`
//! variables, else the local cluster under a directory (created and
//! started on demand). [`Database::open`] connects and makes sure the
//! schema is there: a local cluster is migrated on first use, any other
//! database must have been migrated already.
//!
//! Connection strings are libpq's, in both forms (`host=… sslmode=…` and
//! `postgresql://…?sslmode=…`), with libpq's TLS keys (`sslmode` from
//! `disable` to `verify-full`, `sslrootcert`, `sslcert`, `sslkey`), its
//! variables (`PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`,
//! `PGCONNECT_TIMEOUT`, `PGPASSFILE`, …) for what a string leaves unset,
//! and its password file (`~/.pgpass`). A connection gets production
//! defaults where the string says nothing: a 10 s connect timeout, TCP
//! keepalives after 30 s idle every 10 s, 3 probes, and a 60 s TCP user
//! timeout. See the README's "TLS and connection settings" for the table
//! of modes. Unix sockets never use TLS.
//!
//! [`Connections`] is where a run's connections come from: its own,
//! opened with a configuration, or borrowed from the host's pool.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};

use crate::conninfo;
use crate::error::{Error, ErrorKind};
use crate::tls::{SslMode, Tls};

/// A database to work in, and how messages name it (host, port, user and
/// database: never its password).
#[derive(Clone)]
pub struct Database {
    config: Config,
    tls: Tls,
    shown: String,
    local: bool,
    /// Why a password file was passed over, told when the login fails.
    pgpass_ignored: Option<String>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The configuration's Debug would show its password.
        f.debug_struct("Database")
            .field("shown", &self.shown)
            .field("sslmode", &self.tls.mode())
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Database {
    /// The database to use: the connection string `url` if given, else
    /// `DATABASE_URL`, else libpq's `PG*` variables when `PGHOST`,
    /// `PGPORT`, `PGUSER`, `PGPASSWORD` or `PGDATABASE` is set, else the
    /// local cluster under `local_dir`, which is created and started if it
    /// is not running. A string is read as [`Database::parse`] reads it.
    pub fn resolve(url: Option<&str>, local_dir: &Path) -> Result<Database, Error> {
        let url = url
            .map(str::to_owned)
            .or_else(|| std::env::var("DATABASE_URL").ok());
        if let Some(url) = url {
            return Database::parse(&url);
        }
        let names = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"];
        if names
            .iter()
            .any(|n| std::env::var(n).is_ok_and(|v| !v.is_empty()))
        {
            return Database::parse("");
        }
        Database::local(local_dir)
    }

    /// Reads a libpq connection string (key=value or `postgresql://` URL)
    /// as libpq does, taking what it leaves unset from the process's
    /// environment (`PGHOST`, `PGSSLMODE`, `PGPASSFILE`, …, `HOME` for
    /// `~/.pgpass` and `~/.postgresql/`), and reads its certificate files.
    /// An empty string is the environment alone.
    pub fn parse(s: &str) -> Result<Database, Error> {
        Database::parse_with_env(s, |name| std::env::var(name).ok())
    }

    /// [`Database::parse`] with `env` in place of the process's
    /// environment: for a host that keeps its settings elsewhere, and for
    /// tests.
    pub fn parse_with_env(
        s: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Database, Error> {
        let info = conninfo::parse(s, &env)
            .map_err(|e| e.context("see the README's \"TLS and connection settings\"".into()))?;
        let tls = Tls::new(&info.tls)?;
        Ok(Database {
            shown: describe(&info.config),
            config: info.config,
            tls,
            local: false,
            pgpass_ignored: info.pgpass_ignored,
        })
    }

    /// The server `config` names, with TLS as its `sslmode` asks
    /// (`disable`, `prefer` or `require`: what a `Config` can say; no
    /// certificate checks, no environment, no defaults).
    pub fn from_config(config: Config) -> Database {
        Database {
            shown: describe(&config),
            tls: Tls::for_mode(mode_of(&config)),
            config,
            local: false,
            pgpass_ignored: None,
        }
    }

    /// The local cluster under `dir` (see [`domgen_cluster`]), created and
    /// started if it is not running.
    pub fn local(dir: &Path) -> Result<Database, Error> {
        let cluster = domgen_cluster::LocalCluster::new(dir).map_err(cluster_error)?;
        let url = cluster.ensure_running().map_err(cluster_error)?;
        let config: Config = url.parse().map_err(|e| {
            Error::new(
                ErrorKind::Connection,
                format!("the local cluster's connection string `{url}` is not valid: {e}"),
            )
            .because(e)
        })?;
        let shown = if dir.is_relative() {
            format!("./{}", dir.display())
        } else {
            dir.display().to_string()
        };
        Ok(Database {
            shown: format!("the local cluster under {shown} (psql \"{url}\")"),
            tls: Tls::for_mode(mode_of(&config)),
            config,
            local: true,
            pgpass_ignored: None,
        })
    }

    /// Bounds each connection attempt to `limit` when the settings give
    /// no `connect_timeout`.
    pub(crate) fn limit_connect(&mut self, limit: std::time::Duration) {
        if self.config.get_connect_timeout().is_none() {
            self.config.connect_timeout(limit);
        }
    }

    /// The connection's configuration, for tokio-postgres. Its `sslmode`
    /// is only what tokio-postgres can do (`disable`, `prefer`,
    /// `require`): a connection opened with it alone does not check the
    /// server's certificate. Connect through [`Database::connect`] or
    /// [`Database::connections`] for the rest of the TLS settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// libpq's `sslmode` of its connections.
    pub fn ssl_mode(&self) -> SslMode {
        self.tls.mode()
    }

    /// Whether it is the local cluster, which domgen migrates itself.
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// Where its connections come from: opened with its configuration.
    pub fn connections(&self) -> Connections {
        Connections::Database(Box::new(self.clone()))
    }

    /// Connects, with TLS as its settings ask. The connection's task runs
    /// on the current tokio runtime and ends when the client is dropped.
    pub async fn connect(&self) -> Result<Client, Error> {
        self.connect_with_task().await.map(|(client, _task)| client)
    }

    /// Whether the database answers now: a new connection runs `SELECT 1`,
    /// all within `limit` (a health check). The connection is closed
    /// whatever happens, also when the server fell silent halfway, so that
    /// checks repeated against a silent server leave no sockets behind.
    pub async fn ping(&self, limit: std::time::Duration) -> Result<(), Error> {
        let mut task = None;
        let answer = tokio::time::timeout(limit, async {
            let (client, connection) = self.connect_with_task().await?;
            task = Some(connection);
            client.simple_query("SELECT 1").await.map_err(Error::db)
        })
        .await;
        if let Some(task) = task {
            task.abort();
        }
        match answer {
            Ok(answered) => answered.map(drop),
            Err(_) => Err(Error::new(
                ErrorKind::Connection,
                format!("{self} did not answer within {limit:?}"),
            )),
        }
    }

    pub(crate) async fn connect_with_task(&self) -> Result<(Client, JoinHandle<()>), Error> {
        open(&self.config, &self.tls)
            .await
            .map_err(|e| self.connect_error(e))
    }

    /// The error for a failed connection: our words for a refused
    /// certificate, and hints where a missing setting may be the cause.
    fn connect_error(&self, e: tokio_postgres::Error) -> Error {
        if let Some(why) = crate::tls::refusal(&e) {
            return Error::connect_because(&self.shown, &why, e);
        }
        let said = crate::error::reason(&e);
        let mut error = Error::connect(&self.shown, e);
        if said.contains("certificate") && !self.tls.has_client_certificate() {
            error = error.context(
                "the server wants a client certificate: give it with sslcert and sslkey \
                 (or PGSSLCERT and PGSSLKEY)"
                    .into(),
            );
        }
        if let Some(why) = &self.pgpass_ignored {
            if said.contains("password") {
                error = error.context(why.clone());
            }
        }
        error
    }

    /// Connects and makes sure domgen's schema is there: the local cluster
    /// is migrated on first use; any other database must be migrated
    /// already ([`crate::migrate::migrate`]), or this says so.
    pub async fn open(&self) -> Result<Client, Error> {
        let mut client = self.connect().await?;
        if self.local {
            crate::migrate::migrate(&mut client).await?;
        }
        crate::migrate::check_migrated(&client).await?;
        Ok(client)
    }
}

fn cluster_error(e: domgen_cluster::ClusterError) -> Error {
    Error::new(ErrorKind::Connection, e.to_string()).because(e)
}

/// libpq's mode for what a tokio-postgres `Config` says.
fn mode_of(config: &Config) -> SslMode {
    match config.get_ssl_mode() {
        tokio_postgres::config::SslMode::Disable => SslMode::Disable,
        tokio_postgres::config::SslMode::Require => SslMode::Require,
        _ => SslMode::Prefer,
    }
}

impl FromStr for Database {
    type Err = Error;

    /// [`Database::parse`].
    fn from_str(s: &str) -> Result<Database, Error> {
        Database::parse(s)
    }
}

/// host, port, user and database: what a message may show.
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(h) => h.clone(),
            Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    format!(
        "host={} port={} user={} dbname={}",
        hosts.join(","),
        config.get_ports().first().copied().unwrap_or(5432),
        config.get_user().unwrap_or("?"),
        config.get_dbname().unwrap_or("?"),
    )
}

/// Where a run's connections come from: the control connection that
/// registers and records the run, and the ones that COPY batches.
#[derive(Clone)]
pub enum Connections {
    /// Open them as this database's are opened ([`Database::connect`]:
    /// TLS as its settings ask); they are closed when the run ends.
    Database(Box<Database>),
    /// Take them from the host's pool; they go back to it when the run
    /// ends. The pool must allow all of a run's connections at once, or
    /// the run waits for the pool's timeout.
    Pool(deadpool_postgres::Pool),
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A configuration's Debug would show its password.
        match self {
            Connections::Database(db) => write!(f, "Connections::Database({db})"),
            Connections::Pool(pool) => write!(f, "Connections::Pool({:?})", pool.status()),
        }
    }
}

impl From<Config> for Database {
    /// [`Database::from_config`].
    fn from(config: Config) -> Database {
        Database::from_config(config)
    }
}

impl From<Config> for Connections {
    /// Opened with `config`, TLS as its `sslmode` asks
    /// ([`Database::from_config`]).
    fn from(config: Config) -> Connections {
        Connections::Database(Box::new(Database::from_config(config)))
    }
}

impl From<Database> for Connections {
    fn from(db: Database) -> Connections {
        Connections::Database(Box::new(db))
    }
}

impl From<deadpool_postgres::Pool> for Connections {
    fn from(pool: deadpool_postgres::Pool) -> Connections {
        Connections::Pool(pool)
    }
}

impl Connections {
    /// Opens a connection named `name` in `pg_stat_activity`: in the
    /// startup packet for our own connections, which PgBouncer carries to
    /// whichever server connection it lends (a session `SET` would name
    /// another client's under transaction pooling); with `set_config` for a
    /// pooled one, already open.
    pub(crate) async fn open_named(&self, name: Option<&str>) -> Result<Connection, Error> {
        match self {
            Connections::Database(db) => {
                let (client, task) = match name {
                    None => db.connect_with_task().await?,
                    Some(name) => {
                        let mut named = db.as_ref().clone();
                        named.config.application_name(name);
                        named.connect_with_task().await?
                    }
                };
                Ok(Connection::Own { client, task })
            }
            Connections::Pool(pool) => {
                let object = pool.get().await.map_err(Error::pool)?;
                if let Some(name) = name {
                    object
                        .execute_typed(
                            "SELECT set_config('application_name', $1, false)",
                            &[(&name, tokio_postgres::types::Type::TEXT)],
                        )
                        .await?;
                }
                Ok(Connection::Pooled(object))
            }
        }
    }
}

/// How long [`Connection::close`] waits for the server to see a
/// connection out.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// An open connection: our own, or one borrowed from a pool.
pub(crate) enum Connection {
    Own {
        client: Client,
        task: JoinHandle<()>,
    },
    Pooled(deadpool_postgres::Object),
}

impl Connection {
    pub(crate) fn client(&mut self) -> &mut Client {
        match self {
            Connection::Own { client, .. } => client,
            Connection::Pooled(object) => object,
        }
    }

    /// The client, for statements that need no transaction.
    pub(crate) fn shared(&self) -> &Client {
        match self {
            Connection::Own { client, .. } => client,
            Connection::Pooled(object) => object,
        }
    }

    /// Lets go of a connection taken for lost without waiting for it: our
    /// own's task is stopped (a connection cut without a word would keep it
    /// waiting), a pooled one is dropped from its pool.
    pub(crate) fn abandon(self) {
        match self {
            Connection::Own { task, .. } => task.abort(),
            Connection::Pooled(object) => drop(deadpool_postgres::Object::take(object)),
        }
    }

    /// Closes our own connection and waits for its task, so that its
    /// buffers are freed before a run's heap is measured; a pooled one
    /// goes back to its pool. A connection cut without a word would never
    /// end its task: it is stopped after [`CLOSE_WAIT`].
    pub(crate) async fn close(self) {
        if let Connection::Own { client, mut task } = self {
            drop(client);
            if tokio::time::timeout(CLOSE_WAIT, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

/// Connects with `config` and spawns the connection's task on the current
/// tokio runtime; returns the client and the task (it ends when the client
/// is dropped). TLS is as the config's `sslmode` asks, without certificate
/// checks; [`Database`] has libpq's other TLS settings.
pub async fn connect(config: &Config) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    open(config, &Tls::for_mode(mode_of(config))).await
}

/// libpq's ladder of attempts for `tls`'s mode.
async fn open(
    config: &Config,
    tls: &Tls,
) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    let hosts = config.get_hosts();
    let sockets_only = config.get_hostaddrs().is_empty()
        && !hosts.is_empty()
        && hosts.iter().all(|h| matches!(h, Host::Unix(_)));
    if sockets_only {
        // libpq ignores sslmode on Unix sockets; a server refuses TLS there.
        return plain(config).await;
    }
    match tls.mode() {
        SslMode::Disable => plain(config).await,
        // The server refused plain text (hostssl only): try TLS.
        SslMode::Allow => match plain(config).await {
            Err(e) if e.as_db_error().is_some() => {
                encrypted(config, tls, tokio_postgres::config::SslMode::Require).await
            }
            outcome => outcome,
        },
        // As libpq: a failed TLS handshake falls back to plain text.
        SslMode::Prefer => {
            match encrypted(config, tls, tokio_postgres::config::SslMode::Prefer).await {
                Err(e) if crate::tls::handshake_error(&e).is_some() => plain(config).await,
                outcome => outcome,
            }
        }
        _ => encrypted(config, tls, tokio_postgres::config::SslMode::Require).await,
    }
}

async fn plain(config: &Config) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    let mut config = config.clone();
    config.ssl_mode(tokio_postgres::config::SslMode::Disable);
    let (client, connection) = config.connect(NoTls).await?;
    Ok((client, spawn(connection)))
}

async fn encrypted(
    config: &Config,
    tls: &Tls,
    mode: tokio_postgres::config::SslMode,
) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    let mut config = config.clone();
    config.ssl_mode(mode);
    let (client, connection) = config.connect(tls.connector()).await?;
    Ok((client, spawn(connection)))
}

fn spawn<F>(connection: F) -> JoinHandle<()>
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        // The client's calls report a broken connection themselves.
        let _ = connection.await;
    })
}
