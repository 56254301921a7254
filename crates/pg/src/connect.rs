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
//! TLS is as the connection string's `sslmode` asks: `disable` connects in
//! plain text; `prefer` (libpq's and tokio-postgres's default) and
//! `require` use TLS (rustls) when the server offers it — `require` refuses
//! a server that does not. As libpq does for these modes, the server's
//! certificate is not verified: they protect against eavesdropping, not
//! against an impostor. Unix sockets never use TLS.
//!
//! [`Connections`] is where a run's connections come from: its own,
//! opened with a configuration, or borrowed from the host's pool.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};

use crate::error::{Error, ErrorKind};

/// A database to work in, and how messages name it (host, port, user and
/// database: never its password).
#[derive(Clone)]
pub struct Database {
    config: Config,
    shown: String,
    local: bool,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The configuration's Debug would show its password.
        f.debug_struct("Database")
            .field("shown", &self.shown)
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
    /// `DATABASE_URL`, else libpq's `PG*` variables (`PGHOST`, `PGPORT`,
    /// `PGUSER`, `PGPASSWORD`, `PGDATABASE`), else the local cluster under
    /// `local_dir`, which is created and started if it is not running.
    pub fn resolve(url: Option<&str>, local_dir: &Path) -> Result<Database, Error> {
        let url = url
            .map(str::to_owned)
            .or_else(|| std::env::var("DATABASE_URL").ok());
        if let Some(url) = url {
            let config: Config = url.parse().map_err(|e| {
                Error::usage(format!("the database URL is not valid: {e}")).because(e)
            })?;
            return Ok(Database::from_config(config));
        }
        if let Some(config) = libpq_env() {
            return Ok(Database::from_config(config));
        }
        Database::local(local_dir)
    }

    /// The server `config` names.
    pub fn from_config(config: Config) -> Database {
        Database {
            shown: describe(&config),
            config,
            local: false,
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
            config,
            local: true,
        })
    }

    /// The connection's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether it is the local cluster, which domgen migrates itself.
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// Where its connections come from: opened with its configuration.
    pub fn connections(&self) -> Connections {
        Connections::Config(Box::new(self.config.clone()))
    }

    /// Connects, with TLS as the configuration asks. The connection's task
    /// runs on the current tokio runtime and ends when the client is
    /// dropped.
    pub async fn connect(&self) -> Result<Client, Error> {
        connect(&self.config)
            .await
            .map(|(client, _task)| client)
            .map_err(|e| Error::connect(&self.shown, e))
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

/// libpq's connection variables, when any is set.
fn libpq_env() -> Option<Config> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let names = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"];
    if names.iter().all(|n| var(n).is_none()) {
        return None;
    }
    let mut config = Config::new();
    config.host(var("PGHOST").as_deref().unwrap_or("localhost"));
    if let Some(port) = var("PGPORT").and_then(|p| p.parse().ok()) {
        config.port(port);
    }
    let user = var("PGUSER")
        .or_else(|| var("USER"))
        .unwrap_or_else(|| "postgres".into());
    config.user(&user);
    if let Some(password) = var("PGPASSWORD") {
        config.password(password);
    }
    config.dbname(var("PGDATABASE").as_deref().unwrap_or(&user));
    Some(config)
}

/// host, port, user and database: what a message may show.
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
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
    /// Open them with this configuration (TLS as its `sslmode` asks, see
    /// [`connect()`]); they are closed when the run ends.
    Config(Box<Config>),
    /// Take them from the host's pool; they go back to it when the run
    /// ends. The pool must allow all of a run's connections at once, or
    /// the run waits for the pool's timeout.
    Pool(deadpool_postgres::Pool),
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A configuration's Debug would show its password.
        match self {
            Connections::Config(_) => f.write_str("Connections::Config(..)"),
            Connections::Pool(pool) => write!(f, "Connections::Pool({:?})", pool.status()),
        }
    }
}

impl From<Config> for Connections {
    fn from(config: Config) -> Connections {
        Connections::Config(Box::new(config))
    }
}

impl From<deadpool_postgres::Pool> for Connections {
    fn from(pool: deadpool_postgres::Pool) -> Connections {
        Connections::Pool(pool)
    }
}

impl Connections {
    pub(crate) async fn open(&self) -> Result<Connection, Error> {
        match self {
            Connections::Config(config) => {
                let (client, task) = connect(config)
                    .await
                    .map_err(|e| Error::connect(&describe(config), e))?;
                Ok(Connection::Own { client, task })
            }
            Connections::Pool(pool) => pool
                .get()
                .await
                .map(Connection::Pooled)
                .map_err(Error::pool),
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
/// is dropped).
pub async fn connect(config: &Config) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
    if config.get_ssl_mode() == SslMode::Disable {
        let (client, connection) = config.connect(NoTls).await?;
        return Ok((client, spawn(connection)));
    }
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_config());
    let (client, connection) = config.connect(tls).await?;
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

fn client_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Unverified(algorithms)))
        .with_no_client_auth()
}

/// Accepts any certificate (libpq's `prefer`/`require`), but still checks
/// that the handshake is signed by the certificate's key.
#[derive(Debug)]
struct Unverified(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
