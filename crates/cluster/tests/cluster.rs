//! The local cluster against the machine's PostgreSQL binaries: init,
//! start, status, url and stop, their idempotency, stale pid files, long
//! and odd paths, running as root, and the missing-binaries error.
//!
//! Every test runs its own cluster in its own directory under /tmp, and
//! stops it when it ends, passed or failed.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command};
use std::str::FromStr;
use std::thread;
use std::time::Duration;

use domgen_cluster::{ClusterErrorKind, LocalCluster, LocalClusterBuilder, Status};
use domgen_test_support::{Sql, wait_for};
use tempfile::TempDir;

/// A directory under /tmp that the server's user can reach when the tests
/// run as root.
fn reachable_dir() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("domgen-cluster-test-")
        .tempdir_in("/tmp")
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Stops the cluster when the test ends (declare it after the `TempDir`,
/// so that it drops first).
struct StopOnDrop<'a>(&'a LocalCluster);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}

/// Kills the process when the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn is_root() -> bool {
    fs::metadata("/proc/self").unwrap().uid() == 0
}

/// The one text value `sql` returns.
fn text(url: &str, sql: &str) -> String {
    Sql::connect(url).text(sql, &[])
}

fn execute(url: &str, sql: &str) {
    Sql::connect(url).execute(sql);
}

fn postmaster_pid(cluster: &LocalCluster) -> u32 {
    let text = fs::read_to_string(cluster.data_dir().join("postmaster.pid")).unwrap();
    text.lines().next().unwrap().trim().parse().unwrap()
}

fn wait_until_gone(pid: u32) {
    wait_for(
        &format!("process {pid} to exit"),
        Duration::from_secs(30),
        || !Path::new(&format!("/proc/{pid}")).exists(),
    );
}

#[test]
fn lifecycle_is_idempotent_and_status_follows_it() {
    let dir = reachable_dir();
    let root = dir.path().join(".domgen");
    let cluster = LocalCluster::new(&root).unwrap();
    let _stop = StopOnDrop(&cluster);
    assert!(!root.exists(), "new() creates nothing");
    assert_eq!(cluster.status().unwrap(), Status::NotInitialised);
    cluster.stop().unwrap();

    cluster.init().unwrap();
    assert_eq!(cluster.status().unwrap(), Status::Stopped);
    cluster.init().unwrap();
    assert_eq!(cluster.status().unwrap(), Status::Stopped);

    cluster.start().unwrap();
    assert_eq!(cluster.status().unwrap(), Status::Running);
    cluster.start().unwrap();
    assert_eq!(cluster.status().unwrap(), Status::Running);
    let other = LocalCluster::new(&root).unwrap();
    assert_eq!(other.status().unwrap(), Status::Running);
    assert_eq!(other.url(), cluster.url());

    let url = cluster.url();
    assert_eq!(
        url,
        format!(
            "host={} port=5432 user=domgen dbname=domgen",
            root.join("socket").display()
        )
    );
    assert_eq!(text(&url, "SELECT current_database()::text"), "domgen");
    assert_eq!(text(&url, "SELECT current_user::text"), "domgen");
    assert_eq!(text(&url, "SHOW listen_addresses"), "");
    assert_eq!(text(&url, "SHOW fsync"), "on");
    assert_eq!(text(&url, "SHOW synchronous_commit"), "on");
    assert_eq!(text(&url, "SHOW full_page_writes"), "on");
    assert_eq!(text(&url, "SHOW max_wal_size"), "4GB");
    assert_eq!(text(&url, "SHOW server_encoding"), "UTF8");
    execute(
        &url,
        "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)",
    );

    cluster.stop().unwrap();
    assert_eq!(cluster.status().unwrap(), Status::Stopped);
    cluster.stop().unwrap();
    assert_eq!(cluster.status().unwrap(), Status::Stopped);

    assert_eq!(cluster.ensure_running().unwrap(), url);
    assert_eq!(text(&url, "SELECT x::text FROM kept"), "7");
    let log = fs::read_to_string(cluster.log_file()).unwrap();
    assert!(log.contains("ready to accept connections"), "{log}");
}

#[test]
fn ensure_running_from_nothing_answers_select_1() {
    let dir = reachable_dir();
    let cluster = LocalCluster::new(dir.path().join(".domgen")).unwrap();
    let _stop = StopOnDrop(&cluster);
    let url = cluster.ensure_running().unwrap();
    let one: i32 = Sql::connect(&url).query("SELECT 1", &[])[0].get(0);
    assert_eq!(one, 1);
    assert_eq!(cluster.ensure_running().unwrap(), url);
}

#[test]
fn start_before_init_is_an_error() {
    let dir = reachable_dir();
    let cluster = LocalCluster::new(dir.path().join(".domgen")).unwrap();
    let err = cluster.start().unwrap_err();
    assert_eq!(err.kind(), ClusterErrorKind::NotInitialised, "{err}");
}

#[test]
fn no_binaries_is_an_error_that_says_what_to_do() {
    let dir = reachable_dir();
    let empty = dir.path().join("empty-bin");
    fs::create_dir(&empty).unwrap();
    for path in ["".into(), empty.into_os_string()] {
        let err = LocalClusterBuilder::new()
            .search_path(path)
            .versions_dir(None)
            .build(dir.path().join(".domgen"))
            .unwrap_err();
        assert_eq!(err.kind(), ClusterErrorKind::BinariesNotFound, "{err}");
        let message = err.to_string();
        for advice in [
            "apt-get install postgresql",
            "a connection string (a database URL)",
            "write to a file instead",
        ] {
            assert!(
                message.contains(advice),
                "{advice:?} missing from: {message}"
            );
        }
    }
}

#[test]
fn binaries_are_found_outside_path_in_the_versions_dir() {
    let dir = reachable_dir();
    let cluster = LocalClusterBuilder::new()
        .search_path("")
        .build(dir.path().join(".domgen"))
        .unwrap();
    assert!(
        cluster.bin_dir().starts_with("/usr/lib/postgresql"),
        "{}",
        cluster.bin_dir().display()
    );
}

#[test]
fn a_failed_start_shows_the_end_of_the_server_log() {
    let dir = reachable_dir();
    let cluster = LocalCluster::new(dir.path().join(".domgen")).unwrap();
    let _stop = StopOnDrop(&cluster);
    cluster.init().unwrap();
    let auto = cluster.data_dir().join("postgresql.auto.conf");
    let mut conf = fs::read_to_string(&auto).unwrap();
    conf.push_str("shared_buffers = 'plenty'\n");
    fs::write(&auto, conf).unwrap();

    let err = cluster.start().unwrap_err();
    assert_eq!(err.kind(), ClusterErrorKind::Start, "{err}");
    let message = err.to_string();
    assert!(message.contains("server.log"), "{message}");
    assert!(
        message.contains("\"shared_buffers\": \"plenty\""),
        "{message}"
    );
    assert_eq!(cluster.status().unwrap(), Status::Stopped);
}

#[test]
fn start_recovers_after_the_server_was_killed() {
    let dir = reachable_dir();
    let cluster = LocalCluster::new(dir.path().join(".domgen")).unwrap();
    let _stop = StopOnDrop(&cluster);
    let url = cluster.ensure_running().unwrap();
    execute(
        &url,
        "CREATE TABLE committed (x int); INSERT INTO committed VALUES (1)",
    );

    let pid = postmaster_pid(&cluster);
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_until_gone(pid);
    assert!(cluster.data_dir().join("postmaster.pid").exists());
    assert_eq!(cluster.status().unwrap(), Status::Stopped);

    cluster.start().unwrap();
    assert_eq!(cluster.status().unwrap(), Status::Running);
    assert_ne!(postmaster_pid(&cluster), pid);
    assert_eq!(text(&url, "SELECT count(*)::text FROM committed"), "1");
}

/// After a reboot, or in a container, the pid in a stale `postmaster.pid`
/// often belongs to another live process; PostgreSQL then refuses to start
/// ("lock file already exists"), and `pg_ctl stop` would signal that
/// process.
#[test]
fn a_pid_file_whose_pid_was_reused_does_not_wedge_start() {
    let dir = reachable_dir();
    let cluster = LocalCluster::new(dir.path().join(".domgen")).unwrap();
    let _stop = StopOnDrop(&cluster);
    let url = cluster.ensure_running().unwrap();
    cluster.stop().unwrap();

    let mut other = KillOnDrop(Command::new("sleep").arg("600").spawn().unwrap());
    let pid = other.0.id();
    let pid_file = format!(
        "{pid}\n{}\n1700000000\n5432\n{}\n\n  5432001         0\nready   \n",
        cluster.data_dir().display(),
        cluster.socket_dir().display()
    );
    fs::write(cluster.data_dir().join("postmaster.pid"), pid_file).unwrap();
    fs::write(
        cluster.socket_dir().join(".s.PGSQL.5432.lock"),
        format!(
            "{pid}\n{}\n1700000000\n5432\n",
            cluster.data_dir().display()
        ),
    )
    .unwrap();

    assert_eq!(cluster.status().unwrap(), Status::Stopped);
    cluster.stop().unwrap();
    assert!(
        other.0.try_wait().unwrap().is_none(),
        "stop() signalled a process that is not the server"
    );

    cluster.start().unwrap();
    assert_eq!(cluster.status().unwrap(), Status::Running);
    assert_ne!(postmaster_pid(&cluster), pid);
    assert_eq!(text(&url, "SELECT 'up'::text"), "up");
    assert!(other.0.try_wait().unwrap().is_none());
}

#[test]
fn a_long_root_gets_a_short_socket_dir_recorded_as_a_symlink() {
    let dir = reachable_dir();
    let root = dir.path().join("d".repeat(90)).join(".domgen");
    let cluster = LocalCluster::new(&root).unwrap();
    let socket = cluster.socket_dir().to_path_buf();
    assert!(
        socket.to_string_lossy().starts_with("/tmp/domgen-"),
        "{}",
        socket.display()
    );
    {
        let _stop = StopOnDrop(&cluster);
        let url = cluster.ensure_running().unwrap();
        assert!(
            url.contains(&format!("host={} ", socket.display())),
            "{url}"
        );
        assert_eq!(text(&url, "SELECT 'up'::text"), "up");
        assert_eq!(fs::read_link(root.join("socket")).unwrap(), socket);
        let meta = fs::symlink_metadata(&socket).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o700);
    }
    let _ = fs::remove_dir_all(&socket);
}

#[test]
fn a_root_with_spaces_and_quotes_works() {
    let dir = reachable_dir();
    let root = dir.path().join("it's a \"dir\"").join(".domgen");
    let cluster = LocalCluster::new(&root).unwrap();
    let _stop = StopOnDrop(&cluster);
    let url = cluster.ensure_running().unwrap();
    let config = tokio_postgres::Config::from_str(&url).unwrap();
    assert_eq!(
        config.get_hosts(),
        &[tokio_postgres::config::Host::Unix(root.join("socket"))]
    );
    assert_eq!(text(&url, "SELECT 'up'::text"), "up");
}

#[test]
fn concurrent_ensure_running_makes_one_cluster() {
    let dir = reachable_dir();
    let root = dir.path().join(".domgen");
    let urls: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| LocalCluster::new(&root).unwrap().ensure_running().unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let cluster = LocalCluster::new(&root).unwrap();
    let _stop = StopOnDrop(&cluster);
    assert!(urls.iter().all(|u| *u == urls[0]));
    assert_eq!(text(&urls[0], "SELECT 'up'::text"), "up");
    let leftovers: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pgdata."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_abandoned_initialisation_is_removed() {
    let dir = reachable_dir();
    let root = dir.path().join(".domgen");
    // pid_max is at most 2^22: no process has this pid.
    let abandoned = root.join("pgdata.init-999999999-0");
    fs::create_dir_all(&abandoned).unwrap();
    fs::write(abandoned.join("PG_VERSION"), "15\n").unwrap();
    let cluster = LocalCluster::new(&root).unwrap();
    cluster.init().unwrap();
    assert!(!abandoned.exists());
    assert_eq!(cluster.status().unwrap(), Status::Stopped);
}

#[test]
fn as_root_the_server_runs_as_an_unprivileged_user() {
    if !is_root() {
        eprintln!("not root: the server runs as this user, nothing to check");
        return;
    }
    let dir = reachable_dir();
    let cluster = LocalCluster::new(dir.path().join(".domgen")).unwrap();
    let _stop = StopOnDrop(&cluster);
    let user = cluster.server_user().expect("as root, a server user");
    let url = cluster.ensure_running().unwrap();
    assert_eq!(text(&url, "SELECT 'up'::text"), "up");
    let owner = fs::metadata(cluster.data_dir()).unwrap().uid();
    let server = fs::metadata(format!("/proc/{}", postmaster_pid(&cluster)))
        .unwrap()
        .uid();
    assert_ne!(owner, 0);
    assert_eq!(
        server, owner,
        "the server runs as the data directory's owner"
    );
    assert!(["postgres", "nobody"].contains(&user), "{user}");
    // A second handle keeps to the owner of the existing cluster.
    let again = LocalCluster::new(cluster.root()).unwrap();
    assert_eq!(again.server_user(), Some(user));
}

#[test]
fn as_root_an_unreachable_root_is_an_error_naming_the_directory() {
    if !is_root() {
        eprintln!("not root: the server runs as this user, nothing to check");
        return;
    }
    let closed = tempfile::Builder::new()
        .prefix("domgen-closed-")
        .tempdir_in("/tmp")
        .unwrap();
    fs::set_permissions(closed.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let cluster = LocalCluster::new(closed.path().join(".domgen")).unwrap();
    let _stop = StopOnDrop(&cluster);
    let err = cluster.ensure_running().unwrap_err();
    assert_eq!(err.kind(), ClusterErrorKind::Access, "{err}");
    let message = err.to_string();
    let culprit = closed.path().display().to_string();
    assert!(
        message.contains(&format!("chmod o+x {culprit}")),
        "{message}"
    );
    assert!(
        message.contains("a connection string (a database URL)"),
        "{message}"
    );
    assert_eq!(cluster.status().unwrap(), Status::NotInitialised);
}
