//! PgBouncer in front of the test server, for the tests of pooling.
//!
//! [`pgbouncer`] starts the machine's `pgbouncer` (Debian's is 1.18: no
//! prepared statements in transaction mode) on a free loopback TCP port,
//! in front of the server of a connection string — the throwaway clusters
//! listen on a Unix socket only, which PgBouncer reaches as `host=/dir`.
//! Every database name is passed through (`* =`), and PgBouncer logs in to
//! the server as the connection string's user, whatever user a client
//! names (`auth_type = any`).
//!
//! PgBouncer refuses to run as root; when the tests do, it is started with
//! `-u postgres` (the user the throwaway clusters run as), else `nobody`.
//! It is stopped like the throwaway clusters: a watcher that waits for the
//! end of this process sends it SIGTERM and removes its directory. Without
//! `pgbouncer` the tests fail, never skip.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::server::spawn_watcher;

/// PgBouncer's `pool_mode`: when a server connection goes back to the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    /// When the client disconnects.
    Session,
    /// At the end of each transaction (and of each statement outside one).
    Transaction,
}

impl PoolMode {
    fn name(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        }
    }
}

/// A running PgBouncer; stopped when the test process ends.
pub struct Bouncer {
    /// The connection string of the same database, user and settings
    /// through PgBouncer.
    pub url: String,
    /// The loopback port it listens on.
    pub port: u16,
    _watcher: ChildStdin,
}

/// Starts PgBouncer in `mode` in front of the server of `url`, with at
/// most `pool_size` server connections per database and user
/// (`default_pool_size`).
///
/// # Panics
///
/// When `pgbouncer` is missing or does not start: the tests fail rather
/// than skip.
pub fn pgbouncer(url: &str, mode: PoolMode, pool_size: u32) -> Bouncer {
    let server = Settings::parse(url);
    let dir = tempfile::Builder::new()
        .prefix("domgen-test-bouncer-")
        .tempdir_in("/tmp")
        .expect("a directory in /tmp")
        .keep();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod 0755");
    let port = free_port();
    let mut target = format!("host={} port={}", server.host, server.port);
    target.push_str(&format!(" user={}", server.user));
    if let Some(password) = &server.password {
        target.push_str(&format!(" password={password}"));
    }
    let config = dir.join("pgbouncer.ini");
    fs::write(
        &config,
        format!(
            "[databases]\n\
             * = {target}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = any\n\
             pool_mode = {mode}\n\
             default_pool_size = {pool_size}\n\
             max_client_conn = 500\n\
             ignore_startup_parameters = extra_float_digits,options\n",
            mode = mode.name()
        ),
    )
    .expect("pgbouncer.ini");
    let log_path = dir.join("pgbouncer.log");
    let log = fs::File::create(&log_path).expect("pgbouncer.log");
    let mut command = Command::new(program());
    if fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        let user = if Command::new("id")
            .arg("postgres")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            "postgres"
        } else {
            "nobody"
        };
        command.args(["-u", user]);
    }
    let mut child = command
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("the log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start pgbouncer ({e}): the PgBouncer tests need it \
                 (apt-get install pgbouncer; scripts/test installs it)"
            )
        });
    let watcher = spawn_watcher(
        r#"
        trap '' INT TERM HUP
        cat >/dev/null
        kill -TERM "$1" 2>/dev/null
        sleep 0.5
        rm -rf "$2"
        "#,
        &[child.id().to_string().as_ref(), dir.as_os_str()],
    )
    .expect("the pgbouncer watcher");
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let exited = child.try_wait().expect("try_wait on pgbouncer");
        if exited.is_some() || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "pgbouncer did not start listening on port {port} ({}); its log:\n{}",
                exited.map_or("still running".to_owned(), |s| s.to_string()),
                fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    // Reaps it when the watcher has stopped it, if this process lives on.
    thread::spawn(move || child.wait());
    Bouncer {
        url: format!(
            "host=127.0.0.1 port={port} user={} dbname={}",
            server.user, server.dbname
        ),
        port,
        _watcher: watcher,
    }
}

/// `pgbouncer` on PATH, or where Debian puts it (`/usr/sbin`, off a
/// normal user's PATH).
fn program() -> String {
    let on_path = Command::new("sh")
        .args(["-c", "command -v pgbouncer"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    on_path
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/sbin/pgbouncer".to_owned())
}

/// A port nobody listens on now (the kernel's pick).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// What PgBouncer needs of a connection string.
struct Settings {
    host: String,
    port: String,
    user: String,
    password: Option<String>,
    dbname: String,
}

impl Settings {
    /// Parses `key=value …` or `postgres://user:password@host:port/dbname`
    /// (without percent-encoding or quoting, which the test servers'
    /// strings do not use).
    fn parse(url: &str) -> Settings {
        let mut s = Settings {
            host: "/var/run/postgresql".to_owned(),
            port: "5432".to_owned(),
            user: std::env::var("USER").unwrap_or_else(|_| "postgres".to_owned()),
            password: None,
            dbname: String::new(),
        };
        if let Some(rest) = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
        {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (credentials, address) = match authority.rsplit_once('@') {
                Some((c, a)) => (Some(c), a),
                None => (None, authority),
            };
            if let Some(credentials) = credentials {
                let (user, password) = match credentials.split_once(':') {
                    Some((u, p)) => (u, Some(p.to_owned())),
                    None => (credentials, None),
                };
                s.user = user.to_owned();
                s.password = password;
            }
            let (host, port) = address.rsplit_once(':').unwrap_or((address, "5432"));
            if !host.is_empty() {
                s.host = host.to_owned();
            }
            s.port = port.to_owned();
            s.dbname = path.split('?').next().unwrap_or("").to_owned();
        } else {
            for pair in url.split_whitespace() {
                let Some((key, value)) = pair.split_once('=') else {
                    continue;
                };
                let value = value.trim_matches('\'').to_owned();
                match key {
                    "host" => s.host = value,
                    "port" => s.port = value,
                    "user" => s.user = value,
                    "password" => s.password = Some(value),
                    "dbname" => s.dbname = value,
                    _ => {}
                }
            }
        }
        if s.dbname.is_empty() {
            s.dbname.clone_from(&s.user);
        }
        s
    }
}
