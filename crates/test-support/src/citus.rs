//! A throwaway 3-node Citus cluster, for the tests of domgen on Citus.
//!
//! [`citus_cluster`] starts, on first use, a coordinator and two workers:
//! three [`LocalCluster`]s in fresh `/tmp/domgen-test-*` directories, each
//! also listening on a free loopback TCP port (Citus's nodes talk to each
//! other over TCP) with `shared_preload_libraries = 'citus'`. Those
//! settings go into `postgresql.auto.conf`, which PostgreSQL reads after
//! the cluster's own settings. `initdb --auth=trust` trusts loopback TCP
//! as it trusts the socket. As for the other throwaway clusters, the
//! servers run as an unprivileged user when the tests run as root, and a
//! watcher stops each one and removes its directory when the test process
//! ends.
//!
//! [`CitusCluster::fresh_database`] makes a database of a test's own:
//! created on every node (Citus does not propagate `CREATE DATABASE` by
//! default), `CREATE EXTENSION citus` in each, and on the coordinator
//! `citus_set_coordinator_host` and `citus_add_node` for both workers.
//! `CREATE EXTENSION citus` turns `ssl` on with a self-signed X.509 v1
//! certificate (done once per node when it starts, see `turn_on_tls`), so
//! clients that default to `sslmode=prefer` (domgen, libpq)
//! talk TLS to these nodes.
//!
//! Citus must be installed for the PostgreSQL the clusters use
//! (`citus.so` in its lib directory); `scripts/test-citus` builds it from
//! its source when it is not. Without it the tests fail, never skip.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ChildStdin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

use domgen_cluster::{DATABASE, LocalCluster, USER};

use crate::bouncer::free_port;
use crate::server::{test_dir, watch};
use crate::sql::Sql;
use crate::wait::wait_until;

/// The loopback address the nodes listen on and know each other by.
const HOST: &str = "127.0.0.1";

/// A running coordinator and two workers; stopped when the test process
/// ends.
pub struct CitusCluster {
    /// The coordinator's TCP port.
    pub coordinator: u16,
    /// The workers' TCP ports.
    pub workers: [u16; 2],
    nodes: Vec<Node>,
}

struct Node {
    cluster: LocalCluster,
    _watcher: ChildStdin,
}

static CITUS: OnceLock<Result<CitusCluster, String>> = OnceLock::new();

/// The process's Citus cluster, started on first use.
///
/// # Panics
///
/// When Citus is not installed or a node does not start: the tests fail
/// rather than skip.
pub fn citus_cluster() -> &'static CitusCluster {
    match CITUS.get_or_init(start) {
        Ok(cluster) => cluster,
        Err(why) => panic!("the Citus tests need a Citus cluster, and none could be had: {why}"),
    }
}

impl CitusCluster {
    /// The connection string of database `dbname` on the node at `port`,
    /// over loopback TCP.
    pub fn url(&self, port: u16, dbname: &str) -> String {
        format!("host={HOST} port={port} user={USER} dbname={dbname}")
    }

    /// The connection string, on the coordinator, of a new database with
    /// Citus and both workers, a different one at every call.
    ///
    /// It can be called from synchronous and asynchronous tests alike (it
    /// does its work on a thread of its own).
    ///
    /// # Panics
    ///
    /// When the database cannot be made.
    pub fn fresh_database(&self) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "domgen_citus_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let nodes = [self.coordinator, self.workers[0], self.workers[1]];
        let urls: Vec<(String, String)> = nodes
            .iter()
            .map(|&port| (self.url(port, DATABASE), self.url(port, &name)))
            .collect();
        let coordinator = urls[0].1.clone();
        let (c, [w1, w2]) = (self.coordinator, self.workers);
        let db = name.clone();
        thread::spawn(move || {
            for (maintenance, _) in &urls {
                Sql::connect(maintenance).execute(&format!("CREATE DATABASE {db}"));
            }
            // TLS is already on (see `turn_on_tls`), so these do not touch
            // the nodes' certificates.
            for (_, url) in &urls {
                Sql::connect(url).execute("CREATE EXTENSION citus");
            }
            // `citus_add_node` creates or alters the connecting role on the
            // worker, and roles belong to the whole node, not to a
            // database: two tests adding their workers at once fail with
            // "tuple concurrently updated" on the worker ("failure on
            // connection marked as essential" on the coordinator).
            static ADDING_NODES: Mutex<()> = Mutex::new(());
            let _one_at_a_time = ADDING_NODES.lock().unwrap_or_else(PoisonError::into_inner);
            Sql::connect(&urls[0].1).execute(&format!(
                "SELECT citus_set_coordinator_host('{HOST}', {c});
                 SELECT citus_add_node('{HOST}', {w1});
                 SELECT citus_add_node('{HOST}', {w2});"
            ));
        })
        .join()
        .unwrap_or_else(|panic| {
            for node in &self.nodes {
                let log = node.cluster.log_file();
                let text = fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                eprintln!("--- the last lines of {}:", log.display());
                tail.iter().rev().for_each(|line| eprintln!("{line}"));
            }
            std::panic::resume_unwind(panic)
        });
        coordinator
    }
}

fn start() -> Result<CitusCluster, String> {
    let (coordinator, c) = start_node()?;
    let (w1, n1) = start_node()?;
    let (w2, n2) = start_node()?;
    Ok(CitusCluster {
        coordinator,
        workers: [w1, w2],
        nodes: vec![c, n1, n2],
    })
}

/// Starts one node; returns its port.
fn start_node() -> Result<(u16, Node), String> {
    let dir = test_dir();
    let cluster = LocalCluster::new(&dir).map_err(|e| e.to_string())?;
    check_citus_installed(cluster.bin_dir())?;
    // Watch before starting, so that a failed start is cleaned up too.
    let watcher = watch(&dir, cluster.data_dir())
        .map_err(|e| format!("cannot start the cleanup watcher: {e}"))?;
    cluster.init().map_err(|e| e.to_string())?;
    let port = free_port();
    write_node_settings(cluster.data_dir(), port)?;
    cluster
        .start()
        .map_err(|e| format!("the Citus node on port {port} did not start: {e}"))?;
    turn_on_tls(&cluster, port)?;
    Ok((
        port,
        Node {
            cluster,
            _watcher: watcher,
        },
    ))
}

/// Has Citus turn TLS on, once, before any test makes a database.
///
/// A node's first `CREATE EXTENSION citus` writes a self-signed certificate
/// and its key, sets `ssl = on` and signals the postmaster to reload,
/// without waiting. Tests making their databases at once would each still
/// see `ssl` off and each write a pair: the files could end as one test's
/// key and another's certificate, which the postmaster refuses to load,
/// and the coordinator's connections to the node, which require TLS, would
/// fail. So the maintenance database gets the extension first, and the
/// node is used only once a client has completed a TLS handshake with it.
fn turn_on_tls(cluster: &LocalCluster, port: u16) -> Result<(), String> {
    let url = format!("host={HOST} port={port} user={USER} dbname={DATABASE}");
    Sql::connect(&url).execute("CREATE EXTENSION IF NOT EXISTS citus");
    let psql = real_bin_dir(cluster.bin_dir()).join("psql");
    let mut last = String::new();
    let handshake = || {
        let out = std::process::Command::new(&psql)
            .args([
                "-XAtc",
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            ])
            .arg(format!("{url} sslmode=require"))
            .output();
        last = match out {
            Ok(out) if out.status.success() && out.stdout.starts_with(b"t") => return true,
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => format!("cannot run {}: {e}", psql.display()),
        };
        false
    };
    if wait_until(Duration::from_secs(30), handshake) {
        return Ok(());
    }
    Err(format!(
        "the Citus node on port {port} did not accept TLS within 30 s of \
         CREATE EXTENSION citus; psql sslmode=require said: {}",
        last.trim()
    ))
}

/// Writes the node's settings into `postgresql.auto.conf`, owned as the
/// data directory is (by the server's user).
fn write_node_settings(data: &Path, port: u16) -> Result<(), String> {
    let path = data.join("postgresql.auto.conf");
    fs::write(
        &path,
        format!(
            "# A Citus node of domgen's tests: loopback TCP, Citus loaded.\n\
             listen_addresses = '{HOST}'\n\
             port = {port}\n\
             shared_preload_libraries = 'citus'\n\
             # Tests in parallel, each with a database of its own: Citus's\n\
             # maintenance daemon per database and the connections between nodes.\n\
             max_connections = 300\n"
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let owner = fs::metadata(data).map_err(|e| format!("cannot stat {}: {e}", data.display()))?;
    std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid()))
        .map_err(|e| format!("cannot chown {}: {e}", path.display()))
}

/// The directory the server's binary really is in, followed through
/// symbolic links (`/usr/local/bin/postgres` to `/usr/lib/postgresql/15/bin`).
fn real_bin_dir(bin: &Path) -> PathBuf {
    fs::canonicalize(bin.join("postgres"))
        .ok()
        .and_then(|postgres| postgres.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| bin.to_path_buf())
}

/// Citus's library next to the server's (Debian: `/usr/lib/postgresql/15/lib`),
/// the server's binary followed through symbolic links (`/usr/local/bin/postgres`).
fn check_citus_installed(bin: &Path) -> Result<(), String> {
    let lib: PathBuf = real_bin_dir(bin)
        .parent()
        .map(|p| p.join("lib").join("citus.so"))
        .unwrap_or_default();
    if lib.exists() {
        return Ok(());
    }
    Err(format!(
        "Citus is not installed for the PostgreSQL in {} ({} is missing): run \
         scripts/test-citus, which builds and installs it from its source \
         (CITUS_SRC, default ../shared/citus/citus-13.2.2.tar.gz)",
        bin.display(),
        lib.display()
    ))
}
