//! The server the PostgreSQL tests run against.
//!
//! [`database_url`] is `DATABASE_URL` when it is set. Otherwise the first
//! call starts one throwaway [`LocalCluster`] for the test process, in a
//! fresh directory `/tmp/domgen-test-*` (mode 0755, so that the server's
//! user can reach it when the tests run as root). Without a server the
//! tests panic, never skip.
//!
//! A value in a static is never dropped, so the cluster is stopped by a
//! watcher: a small `sh` child that waits for end-of-file on its standard
//! input, a pipe whose writing end only this process holds. Whenever the
//! process ends, by returning, panicking or being killed, the kernel closes
//! the pipe, and the watcher stops the server (SIGINT, the fast shutdown of
//! `pg_ctl stop -m fast`) and removes the directory. It runs in a session
//! of its own (`setsid`) and ignores SIGINT, SIGTERM and SIGHUP, so neither
//! a Ctrl-C nor a test runner's kill of the process group takes it down
//! with the tests. Whatever still escapes it (a killed watcher, a reboot
//! without a clean /tmp) is cleaned up at the next start: a test directory
//! whose process is gone has its server stopped and is removed.
//!
//! [`fresh_database`] creates a database of its own for each test, named
//! `domgen_test_<unix time>_<pid>_<n>`. Those on the throwaway cluster go
//! with it; on a `DATABASE_URL` server, the first call of each process
//! drops the test databases more than a day old.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use domgen_cluster::LocalCluster;

const TEST_DIR_PREFIX: &str = "domgen-test-";
const TEST_DB_PREFIX: &str = "domgen_test_";
/// Test databases older than this are dropped from a `DATABASE_URL` server.
const OLD_TEST_DB: Duration = Duration::from_secs(24 * 60 * 60);

struct Server {
    url: String,
    /// Held open until the process ends; see the module documentation.
    _watcher: Option<ChildStdin>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// The connection string of the server the tests use: `DATABASE_URL`, or
/// a throwaway cluster started on first use.
///
/// # Panics
///
/// When no server can be had: the tests fail rather than skip.
pub fn database_url() -> String {
    match SERVER.get_or_init(server) {
        Ok(server) => server.url.clone(),
        Err(why) => panic!(
            "the PostgreSQL tests need a server, and none could be had: {why}\n\
             Set DATABASE_URL to a server's connection string, or install PostgreSQL's \
             server programs (apt-get install postgresql) so that the tests can start a \
             throwaway cluster."
        ),
    }
}

/// The connection string of a new, empty database on the test server, a
/// different one at every call.
///
/// It can be called from synchronous and asynchronous tests alike (it
/// does its work on a thread of its own).
///
/// # Panics
///
/// When there is no server, or the database cannot be created.
pub fn fresh_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static SWEPT: OnceLock<()> = OnceLock::new();
    let base = database_url();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    let name = format!(
        "{TEST_DB_PREFIX}{now}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let sweep = SWEPT.set(()).is_ok();
    let (url, db) = (base.clone(), name.clone());
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to the test server {url}: {e}"));
            tokio::spawn(connection);
            if sweep {
                drop_old_test_databases(&client, now).await;
            }
            client
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .await
                .unwrap_or_else(|e| panic!("cannot create the test database {db}: {e}"));
        });
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    with_dbname(&base, &name)
}

/// `url` with its database replaced: a later `dbname` wins, in libpq and
/// tokio-postgres alike, in both forms of connection string.
pub fn with_dbname(url: &str, dbname: &str) -> String {
    with_setting(url, "dbname", dbname)
}

/// `url` with one more `key=value` setting, in either form of connection
/// string (a later one wins).
pub fn with_setting(url: &str, key: &str, value: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{key}={value}")
    } else {
        format!("{url} {key}={value}")
    }
}

/// Best effort: a database still in use, or one we may not drop, stays.
async fn drop_old_test_databases(client: &tokio_postgres::Client, now: u64) {
    let Ok(rows) = client
        .query(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
            &[&TEST_DB_PREFIX],
        )
        .await
    else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let created = name
            .strip_prefix(TEST_DB_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|t| t.parse::<u64>().ok());
        if created.is_some_and(|t| now.saturating_sub(t) > OLD_TEST_DB.as_secs()) {
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                .await;
        }
    }
}

fn server() -> Result<Server, String> {
    if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        return Ok(Server {
            url,
            _watcher: None,
        });
    }
    clean_up_after_dead_runs();
    let dir = tempfile::Builder::new()
        .prefix(TEST_DIR_PREFIX)
        .tempdir_in("/tmp")
        .map_err(|e| format!("cannot create a directory in /tmp: {e}"))?
        .keep();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot chmod {}: {e}", dir.display()))?;
    fs::write(dir.join("owner.pid"), std::process::id().to_string())
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let cluster = LocalCluster::new(&dir).map_err(|e| e.to_string())?;
    // Watch before starting, so that a failed start is cleaned up too.
    let watcher = watch(&dir, cluster.data_dir())
        .map_err(|e| format!("cannot start the cleanup watcher: {e}"))?;
    let url = cluster.ensure_running().map_err(|e| e.to_string())?;
    Ok(Server {
        url,
        _watcher: Some(watcher),
    })
}

/// A throwaway cluster of a test's own, which the test may stop and start
/// (the shared server must stay up for the others). Cleaned up like the
/// shared one when the process ends.
pub struct OwnCluster {
    /// The cluster.
    pub cluster: LocalCluster,
    /// Its connection string.
    pub url: String,
    _watcher: ChildStdin,
}

/// Starts an [`OwnCluster`].
///
/// # Panics
///
/// When no cluster can be started: the tests fail rather than skip.
pub fn own_cluster() -> OwnCluster {
    let dir = test_dir();
    let cluster = LocalCluster::new(&dir).unwrap_or_else(|e| {
        panic!("this test needs PostgreSQL's server programs for a cluster of its own: {e}")
    });
    let watcher = watch(&dir, cluster.data_dir()).expect("the cleanup watcher");
    let url = cluster
        .ensure_running()
        .unwrap_or_else(|e| panic!("cannot start a cluster of this test's own: {e}"));
    OwnCluster {
        cluster,
        url,
        _watcher: watcher,
    }
}

/// A fresh directory `/tmp/domgen-test-*` for a cluster of its own
/// (`<dir>/pgdata`), reachable by the server's user and marked with this
/// process's id, so that a later run cleans it up if its watcher is gone.
///
/// # Panics
///
/// When /tmp is not writable.
pub(crate) fn test_dir() -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(TEST_DIR_PREFIX)
        .tempdir_in("/tmp")
        .expect("a directory in /tmp")
        .keep();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod 0755");
    fs::write(dir.join("owner.pid"), std::process::id().to_string()).expect("owner.pid");
    dir
}

/// Starts the watcher that stops the server and removes `dir` once this
/// process has ended.
pub(crate) fn watch(dir: &Path, data: &Path) -> io::Result<ChildStdin> {
    const SCRIPT: &str = r#"
        trap '' INT TERM HUP
        cat >/dev/null
        pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null)
        if [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; then
            i=0
            while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 600 ]; do
                sleep 0.1
                i=$((i + 1))
            done
        fi
        rm -rf "$2"
    "#;
    spawn_watcher(SCRIPT, &[data.as_os_str(), dir.as_os_str()])
}

/// Starts `/bin/sh -c script` with `args` as `$1`, `$2`, …, as a watcher:
/// it must wait for end-of-file on its standard input (the returned pipe,
/// which only this process holds) and ignore SIGINT, SIGTERM and SIGHUP.
pub(crate) fn spawn_watcher(script: &str, args: &[&OsStr]) -> io::Result<ChildStdin> {
    // In a session of its own where setsid(1) exists, so that a kill of
    // the test process's group does not reach it either.
    let mut command = match ["/usr/bin/setsid", "/bin/setsid"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    {
        Some(setsid) => {
            let mut command = Command::new(setsid);
            command.arg("/bin/sh");
            command
        }
        None => Command::new("/bin/sh"),
    };
    let mut child = command
        .args(["-c", script, "domgen-test-watcher"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("the watcher has no stdin"))
}

/// Stops the servers and removes the directories of test processes that
/// are gone without their watcher (killed with SIGKILL, say).
fn clean_up_after_dead_runs() {
    let Ok(entries) = fs::read_dir("/tmp") else {
        return;
    };
    let me = fs::metadata("/proc/self").map(|m| m.uid()).ok();
    for entry in entries.flatten() {
        let dir = entry.path();
        let ours = entry
            .file_name()
            .to_string_lossy()
            .starts_with(TEST_DIR_PREFIX)
            && fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir() && Some(m.uid()) == me);
        let owner = fs::read_to_string(dir.join("owner.pid"))
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok());
        let Some(owner) = owner.filter(|_| ours) else {
            continue;
        };
        if Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let data = dir.join("pgdata");
        let server = fs::read_to_string(data.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
            // Only if that pid is still the server working in that directory.
            .filter(|pid| {
                let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok();
                cwd.is_some() && cwd == fs::canonicalize(&data).ok()
            });
        if let Some(pid) = server {
            let _ = Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
            for _ in 0..100 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
