/*!
A PostgreSQL cluster in a local directory, run with the machine's own
`initdb` and `pg_ctl`: the server domgen runs for itself when it is given no
database, and the throwaway server of its tests.

The main types:

- [`LocalCluster`]: one cluster under one directory. [`init`](LocalCluster::init),
  [`start`](LocalCluster::start), [`stop`](LocalCluster::stop),
  [`status`](LocalCluster::status), all idempotent, and
  [`ensure_running`](LocalCluster::ensure_running), which does what is needed
  and returns the connection string of [`url`](LocalCluster::url).
- [`LocalClusterBuilder`]: where to look for the binaries and how long to wait
  for the server.
- [`Status`]: not initialised, stopped or running.
- [`ClusterError`], with its [`kind`](ClusterError::kind), a
  [`ClusterErrorKind`]. Its message says what to do next.

The crate starts processes and waits for them; it needs no async runtime.

# Layout and binaries

A [`LocalCluster`] lives in one directory, such as `./.domgen`:

```text
.domgen/
  pgdata/      the data directory (initdb), owned by the server's user
  socket/      the Unix socket directory, or a symlink to it (see below)
  server.log   the server's log, appended to at every start
```

It runs the machine's own binaries, `initdb`, `pg_ctl` and `postgres`,
taken together from the first directory on `PATH` that has all three,
else from the newest `/usr/lib/postgresql/<major>/bin`, where Debian and
Ubuntu put them. An existing cluster prefers the `bin` directory of its
own major version, so installing a newer PostgreSQL next to the old one
does not lock it out. With no binaries at all the error says how to
install them, or how to do without ([`ClusterErrorKind::BinariesNotFound`]).

# Example

A cluster is a value first: building one finds the binaries and creates
nothing, so its paths and connection string can be read before any server
runs.

```
use domgen_cluster::{LocalCluster, Status};

let dir = tempfile::tempdir()?;
let cluster = LocalCluster::new(dir.path().join(".domgen"))?;
assert_eq!(cluster.data_dir(), cluster.root().join("pgdata"));
assert_eq!(cluster.log_file(), cluster.root().join("server.log"));
assert!(cluster.url().ends_with(" port=5432 user=domgen dbname=domgen"));
assert_eq!(cluster.status()?, Status::NotInitialised);
assert!(!cluster.root().exists(), "nothing is created yet");
# Ok::<(), Box<dyn std::error::Error>>(())
```

Running it (initdb if needed, start if stopped; the database `domgen`
exists):

```no_run
use domgen_cluster::{LocalCluster, Status};

let cluster = LocalCluster::new(".domgen")?;
let url = cluster.ensure_running()?;
assert_eq!(cluster.status()?, Status::Running);
// tokio_postgres::connect(&url, tokio_postgres::NoTls) ...
cluster.stop()?;
# let _ = url;
Ok::<(), Box<dyn std::error::Error>>(())
```

# Decisions

**Unix socket only.** The server does not listen on TCP
(`listen_addresses = ''`) and trusts connections on its socket, whose
directory and file are `0700`: only the server's user (and root) can
connect. The socket directory is `<root>/socket` when its path is short
enough for a socket address (107 bytes with the socket's file name)
and valid UTF-8 (it goes into the connection string); otherwise it is
`/tmp/domgen-<hash of root>`, recorded as the symlink `<root>/socket`.
That directory must be a real directory owned by the server's user and
closed to others, or the start fails rather than use it.

**Atomic initialisation.** `initdb` runs into a fresh
`pgdata.init-<pid>-<n>`, the database `domgen` is created there with
`postgres --single` (no client program is needed), and the directory is
then renamed to `pgdata`. So `pgdata` either is a complete cluster or
does not exist; a crash halfway leaves a directory that a later `init`
removes, and two processes initialising at once both succeed with one
cluster.

**Idempotent start and stop.** [`LocalCluster::start`] reads
`postmaster.pid` itself rather than trust `pg_ctl status`, which takes
any live process with the recorded pid for the server. A pid file whose
process is gone is left to PostgreSQL, which removes it and checks that
no backend of the old server is still attached to its shared memory. A
pid file whose pid now belongs to another process (common after a
reboot or in a container, where pids are small and reused), or to a
zombie, would make PostgreSQL refuse to start forever; start removes
it, and the socket lock file of the same pid, once no `postgres` process
works in the data directory any more. A server another process is
starting at the same moment is waited for, not fought. Stop is
`pg_ctl stop -m fast`: open transactions roll back, which domgen's
batch ledger is built to survive.

**As root.** PostgreSQL refuses to run as root. When domgen runs as
root, the server runs as the owner of the existing data directory, else
as `postgres` if that user exists, else as `nobody`, through
`runuser -u USER --` (or `su`), and the directories the server writes
are handed to that user. The cluster stays where the user asked for it:
if that user cannot reach the root directory (say, a project under a
`0700` `/root`), the error names the directory that blocks it and the
ways out, rather than move the data somewhere unexpected.

**Settings** (`pgdata/domgen.conf`, rewritten at every start and
included at the end of `postgresql.conf`; `ALTER SYSTEM` still
overrides them). `fsync`, `full_page_writes` and `synchronous_commit`
keep their default, on: a committed batch survives a crash of the
machine, not only of the process. For bulk `COPY` ingest,
`max_wal_size = 4GB` and `checkpoint_timeout = 15min` make checkpoints,
and the full-page images that follow each one, rarer (PostgreSQL's
defaults are 1GB and 5min); the price is up to 4GB of WAL on disk under
heavy load and a longer recovery after a crash. `shared_buffers` stays
a modest 128MB: `COPY` writes through a small ring of buffers, so a
larger cache would not speed it up.

# Crate features

This crate has no optional features.
*/

#![deny(missing_docs)]

use std::env;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// The superuser `initdb` creates, and the user [`LocalCluster::url`]
/// connects as.
pub const USER: &str = "domgen";

/// The database [`LocalCluster::init`] creates.
pub const DATABASE: &str = "domgen";

/// The server's port. With a Unix socket only, it just names the socket
/// file (`.s.PGSQL.5432`).
pub const PORT: u16 = 5432;

const DATA_DIR: &str = "pgdata";
const SOCKET_DIR: &str = "socket";
const LOG_FILE: &str = "server.log";
const SETTINGS_FILE: &str = "domgen.conf";
const INIT_PREFIX: &str = "pgdata.init-";
const BINARIES: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
const DEBIAN_VERSIONS_DIR: &str = "/usr/lib/postgresql";
/// `sun_path` holds 108 bytes, the terminating NUL included.
const MAX_SOCKET_PATH: usize = 107;
/// How many lines of `server.log` a start error shows.
const LOG_TAIL_LINES: usize = 20;
const POLL: Duration = Duration::from_millis(100);
/// The way out that errors about users and permissions end with. The
/// `domgen` command says `pass --database-url` instead.
const ELSEWHERE: &str = "give a connection string (a database URL) to use another server";

/// The state of a [`LocalCluster`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// There is no data directory yet: [`LocalCluster::init`] makes one.
    NotInitialised,
    /// The cluster exists and no server runs on it.
    Stopped,
    /// A server runs on the cluster (or is starting or stopping).
    Running,
}

/// Settings for a [`LocalCluster`]: where to look for the binaries and how
/// long to wait for the server.
#[derive(Clone, Debug)]
pub struct LocalClusterBuilder {
    search_path: Option<OsString>,
    versions_dir: Option<PathBuf>,
    timeout: Duration,
}

impl Default for LocalClusterBuilder {
    fn default() -> LocalClusterBuilder {
        LocalClusterBuilder::new()
    }
}

impl LocalClusterBuilder {
    /// The defaults: search `PATH`, then `/usr/lib/postgresql/*/bin`; wait
    /// up to 60 seconds for the server to start or stop.
    pub fn new() -> LocalClusterBuilder {
        LocalClusterBuilder {
            search_path: None,
            versions_dir: Some(PathBuf::from(DEBIAN_VERSIONS_DIR)),
            timeout: Duration::from_secs(60),
        }
    }

    /// Search this `PATH`-like list of directories for the binaries
    /// instead of the environment's `PATH`. Relative entries are ignored.
    pub fn search_path(&mut self, path: impl Into<OsString>) -> &mut LocalClusterBuilder {
        self.search_path = Some(path.into());
        self
    }

    /// The directory that holds one `<major version>/bin` per installed
    /// PostgreSQL, searched after `PATH` (default `/usr/lib/postgresql`);
    /// `None` searches `PATH` only.
    pub fn versions_dir(&mut self, dir: Option<PathBuf>) -> &mut LocalClusterBuilder {
        self.versions_dir = dir;
        self
    }

    /// How long to wait for the server to start or stop (at least one
    /// second is used).
    pub fn timeout(&mut self, timeout: Duration) -> &mut LocalClusterBuilder {
        self.timeout = timeout.max(Duration::from_secs(1));
        self
    }

    /// A cluster in `root`, which need not exist yet.
    ///
    /// This finds the binaries and, when the process runs as root, the
    /// user the server will run as; it creates nothing.
    pub fn build(&self, root: impl AsRef<Path>) -> Result<LocalCluster, ClusterError> {
        let root = resolve(root.as_ref())?;
        let data = root.join(DATA_DIR);
        let search_path = self.search_path.clone().or_else(|| env::var_os("PATH"));
        let bin = find_bin_dir(search_path.as_deref(), self.versions_dir.as_deref(), &data)?;
        let uid = effective_uid()?;
        let runner = if uid == 0 {
            choose_runner(&data)?
        } else {
            Runner::Direct
        };
        let socket = socket_dir(&root);
        Ok(LocalCluster {
            root,
            data,
            socket,
            bin,
            runner,
            uid,
            timeout: self.timeout,
        })
    }
}

/// A PostgreSQL cluster in a local directory, run with the machine's
/// binaries: see the [crate documentation](crate).
#[derive(Clone, Debug)]
pub struct LocalCluster {
    root: PathBuf,
    data: PathBuf,
    socket: PathBuf,
    bin: PathBuf,
    runner: Runner,
    /// The effective uid of this process.
    uid: u32,
    timeout: Duration,
}

impl LocalCluster {
    /// A cluster in `root` with the default settings of
    /// [`LocalClusterBuilder`].
    pub fn new(root: impl AsRef<Path>) -> Result<LocalCluster, ClusterError> {
        LocalClusterBuilder::new().build(root)
    }

    /// The cluster's directory, absolute.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The data directory, `<root>/pgdata`.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The directory of the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket
    }

    /// The server's log, `<root>/server.log`.
    pub fn log_file(&self) -> PathBuf {
        self.root.join(LOG_FILE)
    }

    /// The directory the binaries were taken from.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The user the server runs as when this process runs as root; `None`
    /// when it runs as this process's user.
    pub fn server_user(&self) -> Option<&str> {
        match &self.runner {
            Runner::Direct => None,
            Runner::As { account, .. } => Some(&account.name),
        }
    }

    /// A libpq / tokio-postgres connection string for the database
    /// `domgen` over the cluster's socket, such as
    /// `host=/work/.domgen/socket port=5432 user=domgen dbname=domgen`.
    ///
    /// It is valid once [`init`](Self::init) and [`start`](Self::start)
    /// have succeeded; [`ensure_running`](Self::ensure_running) does both.
    pub fn url(&self) -> String {
        format!(
            "host={} port={PORT} user={USER} dbname={DATABASE}",
            conninfo_quote(&self.socket.to_string_lossy())
        )
    }

    /// Whether the cluster exists and a server runs on it.
    pub fn status(&self) -> Result<Status, ClusterError> {
        self.check_owner()?;
        if !self.initialised()? {
            return Ok(Status::NotInitialised);
        }
        Ok(match self.postmaster()? {
            Postmaster::Starting | Postmaster::Ready | Postmaster::Stopping => Status::Running,
            Postmaster::Absent | Postmaster::Dead | Postmaster::Stale(_) => Status::Stopped,
        })
    }

    /// Creates the cluster, with its database `domgen`, unless it exists.
    pub fn init(&self) -> Result<(), ClusterError> {
        self.check_owner()?;
        if self.initialised()? {
            return Ok(());
        }
        self.create_root()?;
        self.check_reachable()?;
        self.remove_abandoned_inits();

        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp_name = format!("{INIT_PREFIX}{}-{n}", std::process::id());
        let tmp = self.root.join(&tmp_name);
        let _cleanup = RemoveOnDrop(&tmp);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .map_err(|e| ClusterError::io(format!("cannot create {}", tmp.display()), e))?;
        self.give(&tmp)?;

        let mut initdb = self.command(self.bin.join("initdb"));
        initdb
            .args(["-D", &tmp_name])
            .args(["--auth=trust", "--username", USER])
            .args(["--encoding=UTF8", "--locale=C"]);
        self.run(initdb, "initdb", ClusterErrorKind::Init)?;
        self.configure(&tmp)?;
        self.create_database(&tmp_name)?;

        match fs::rename(&tmp, &self.data) {
            Ok(()) => Ok(()),
            // Another process initialised the cluster first; ours goes.
            Err(_) if self.initialised()? => Ok(()),
            Err(e) => Err(ClusterError::io(
                format!(
                    "cannot move the new cluster to {} (if that directory exists and is not a \
                     PostgreSQL cluster, move it away)",
                    self.data.display()
                ),
                e,
            )),
        }
    }

    /// Starts the server unless it runs already, and waits until it
    /// accepts connections.
    ///
    /// A stale `postmaster.pid` does not stop it (see the
    /// [crate documentation](crate)). When the server does not start, the
    /// error shows the end of `server.log`.
    pub fn start(&self) -> Result<(), ClusterError> {
        self.check_owner()?;
        if !self.initialised()? {
            return Err(ClusterError::new(
                ClusterErrorKind::NotInitialised,
                format!(
                    "there is no cluster in {} to start: initialise it first",
                    self.data.display()
                ),
            ));
        }
        self.check_reachable()?;
        let deadline = Instant::now() + self.timeout;
        if self.settle(deadline)? == Status::Running {
            return Ok(());
        }
        self.prepare_socket_dir()?;
        self.write_settings(&self.data)?;
        self.prepare_log()?;

        let mut pg_ctl = self.command(self.bin.join("pg_ctl"));
        pg_ctl
            .args(["start", "-w", "-t", &self.timeout_secs()])
            .args(["-D", DATA_DIR, "-l", LOG_FILE]);
        let out = pg_ctl
            .output()
            .map_err(|e| ClusterError::io("cannot run pg_ctl".to_owned(), e))?;
        if out.status.success() {
            return Ok(());
        }
        // Another process may have started the server at the same moment:
        // its server is as good as ours.
        if self.settle(deadline)? == Status::Running {
            return Ok(());
        }
        Err(ClusterError::new(
            ClusterErrorKind::Start,
            format!(
                "the PostgreSQL server for {} did not start: {}\nlast lines of {}:\n{}",
                self.data.display(),
                String::from_utf8_lossy(&out.stderr).trim(),
                self.log_file().display(),
                self.log_tail()
            ),
        ))
    }

    /// Stops the server (fast shutdown: open transactions roll back) if it
    /// runs, and waits until it has.
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.check_owner()?;
        if !self.initialised()? || !self.serving()? {
            return Ok(());
        }
        self.check_reachable()?;
        let mut pg_ctl = self.command(self.bin.join("pg_ctl"));
        pg_ctl
            .args(["stop", "-w", "-m", "fast", "-t", &self.timeout_secs()])
            .args(["-D", DATA_DIR]);
        let out = pg_ctl
            .output()
            .map_err(|e| ClusterError::io("cannot run pg_ctl".to_owned(), e))?;
        // Someone else may have stopped it meanwhile.
        if out.status.success() || !self.serving()? {
            return Ok(());
        }
        Err(ClusterError::new(
            ClusterErrorKind::Stop,
            format!(
                "the PostgreSQL server for {} did not stop: {}",
                self.data.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ))
    }

    /// Initialises the cluster if needed, starts the server if needed, and
    /// returns the connection string of [`url`](Self::url): what
    /// `domgen generate` calls when it is given no database.
    pub fn ensure_running(&self) -> Result<String, ClusterError> {
        self.init()?;
        self.start()?;
        Ok(self.url())
    }

    fn timeout_secs(&self) -> String {
        self.timeout.as_secs().max(1).to_string()
    }

    fn initialised(&self) -> Result<bool, ClusterError> {
        let version = self.data.join("PG_VERSION");
        version
            .try_exists()
            .map_err(|e| ClusterError::io(format!("cannot read {}", version.display()), e))
    }

    /// Whether a server runs (or starts or stops) on the data directory.
    fn serving(&self) -> Result<bool, ClusterError> {
        Ok(matches!(
            self.postmaster()?,
            Postmaster::Starting | Postmaster::Ready | Postmaster::Stopping
        ))
    }

    /// Without root, the server runs as this process's user, so it cannot
    /// use a cluster that belongs to someone else.
    fn check_owner(&self) -> Result<(), ClusterError> {
        let Runner::Direct = self.runner else {
            return Ok(());
        };
        match fs::metadata(&self.data) {
            Ok(meta) if meta.uid() != self.uid => Err(ClusterError::new(
                ClusterErrorKind::Access,
                format!(
                    "the cluster in {} belongs to {}, and its server can only run as that user: \
                     run domgen as that user (or as root, which runs the server as the owner), \
                     or {ELSEWHERE}",
                    self.data.display(),
                    user_label(meta.uid())
                ),
            )),
            _ => Ok(()),
        }
    }

    fn create_root(&self) -> Result<(), ClusterError> {
        if self.root.is_dir() {
            return Ok(());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.root)
            .map_err(|e| ClusterError::io(format!("cannot create {}", self.root.display()), e))?;
        if let Runner::As { .. } = self.runner {
            // A restrictive umask must not lock out the server's user from
            // the directory we have just made for it.
            fs::set_permissions(&self.root, fs::Permissions::from_mode(0o755)).map_err(|e| {
                ClusterError::io(format!("cannot set the mode of {}", self.root.display()), e)
            })?;
        }
        Ok(())
    }

    /// As root, checks that the server's user can reach the root directory.
    fn check_reachable(&self) -> Result<(), ClusterError> {
        let Runner::As { account, .. } = &self.runner else {
            return Ok(());
        };
        let mut test = self.command(find_program("test").unwrap_or_else(|| "test".into()));
        test.arg("-x")
            .arg(&self.root)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let status = test.status().map_err(|e| {
            ClusterError::io(format!("cannot run a program as {}", account.name), e)
        })?;
        if status.success() {
            return Ok(());
        }
        let blocker = self
            .root
            .ancestors()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .find_map(|dir| {
                let meta = fs::metadata(dir).ok()?;
                (!searchable_by(&meta, account)).then(|| (dir.to_path_buf(), meta))
            });
        let (what, dir) = match &blocker {
            Some((dir, meta)) => (
                format!(
                    "{} (mode {:04o}, owner {}) does not let it through",
                    dir.display(),
                    meta.mode() & 0o7777,
                    user_label(meta.uid())
                ),
                dir.as_path(),
            ),
            None => (
                format!("it cannot reach {}", self.root.display()),
                self.root.as_path(),
            ),
        };
        Err(ClusterError::new(
            ClusterErrorKind::Access,
            format!(
                "domgen runs as root, so its PostgreSQL server runs as user {name}, which must \
                 reach {root}, but {what}. Make the directory searchable (chmod o+x {dir}), \
                 keep the cluster in a directory {name} can reach, run domgen as an \
                 unprivileged user, or {ELSEWHERE}",
                name = account.name,
                root = self.root.display(),
                dir = dir.display(),
            ),
        ))
    }

    /// Removes what initialisations of processes that are gone left behind.
    fn remove_abandoned_inits(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix(INIT_PREFIX))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            if pid.is_some_and(|pid| !process_exists(pid)) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Adds domgen's settings to a new cluster.
    fn configure(&self, data: &Path) -> Result<(), ClusterError> {
        let conf = data.join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| {
                f.write_all(
                    format!(
                        "\n# Added by domgen: its settings, rewritten at every start.\n\
                         include = '{SETTINGS_FILE}'\n"
                    )
                    .as_bytes(),
                )
            })
            .map_err(|e| ClusterError::io(format!("cannot write {}", conf.display()), e))?;
        self.write_settings(data)
    }

    fn write_settings(&self, data: &Path) -> Result<(), ClusterError> {
        let path = data.join(SETTINGS_FILE);
        let text = self.settings();
        if fs::read_to_string(&path).is_ok_and(|old| old == text) {
            return Ok(());
        }
        fs::write(&path, text)
            .map_err(|e| ClusterError::io(format!("cannot write {}", path.display()), e))?;
        self.give(&path)
    }

    fn settings(&self) -> String {
        // unix_socket_directories is a list: double quotes keep one
        // directory whole, whatever it contains.
        let socket = format!("\"{}\"", self.socket.to_string_lossy().replace('"', "\"\""));
        format!(
            "# domgen's settings for this cluster. domgen rewrites this file at every start:\n\
             # put your own settings in postgresql.auto.conf (ALTER SYSTEM), read after it.\n\
             \n\
             # A Unix socket only, which only the server's user (and root) can use:\n\
             # connections on it are trusted.\n\
             listen_addresses = ''\n\
             port = {PORT}\n\
             unix_socket_directories = {}\n\
             unix_socket_permissions = 0700\n\
             \n\
             # Bulk COPY: rarer checkpoints, so fewer full-page images in the WAL,\n\
             # for up to max_wal_size of WAL on disk and a longer crash recovery.\n\
             max_wal_size = '4GB'\n\
             checkpoint_timeout = '15min'\n\
             # COPY writes through a small ring of buffers; a larger cache would not help.\n\
             shared_buffers = '128MB'\n\
             \n\
             # fsync, full_page_writes and synchronous_commit keep their default, on:\n\
             # a committed batch survives a crash of the machine.\n",
            conf_quote(&socket)
        )
    }

    /// Creates the database `domgen` in a new cluster with the server in
    /// single-user mode, so no client program is needed.
    fn create_database(&self, data: &str) -> Result<(), ClusterError> {
        let mut postgres = self.command(self.bin.join("postgres"));
        postgres
            .arg("--single")
            .arg("-D")
            .arg(data)
            .arg("postgres")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = postgres
            .spawn()
            .map_err(|e| ClusterError::io("cannot run postgres --single".to_owned(), e))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A failure here shows in the output below.
            let _ = stdin.write_all(format!("CREATE DATABASE {DATABASE};\n").as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|e| ClusterError::io("cannot run postgres --single".to_owned(), e))?;
        // Single-user mode reports a failed command on stderr, not in its
        // exit status.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let failed = stderr
            .lines()
            .any(|l| l.contains("ERROR:") || l.contains("FATAL:") || l.contains("PANIC:"));
        if out.status.success() && !failed {
            return Ok(());
        }
        Err(ClusterError::new(
            ClusterErrorKind::Init,
            format!(
                "creating the database {DATABASE} with postgres --single failed ({}): {}",
                out.status,
                stderr.trim()
            ),
        ))
    }

    fn prepare_socket_dir(&self) -> Result<(), ClusterError> {
        let record = self.root.join(SOCKET_DIR);
        let in_root = self.socket == record;
        let record_meta = fs::symlink_metadata(&record).ok();
        if in_root {
            if record_meta.is_some_and(|m| m.file_type().is_symlink()) {
                remove(&record, false)?;
            }
        } else if fs::read_link(&record).ok().as_deref() != Some(self.socket.as_path()) {
            match record_meta {
                Some(m) if m.is_dir() => remove(&record, true)?,
                Some(_) => remove(&record, false)?,
                None => {}
            }
            std::os::unix::fs::symlink(&self.socket, &record).map_err(|e| {
                ClusterError::io(format!("cannot create the symlink {}", record.display()), e)
            })?;
        }

        match fs::DirBuilder::new().mode(0o700).create(&self.socket) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(ClusterError::io(
                    format!("cannot create {}", self.socket.display()),
                    e,
                ));
            }
        }
        if let Runner::As { account, .. } = &self.runner {
            std::os::unix::fs::lchown(&self.socket, Some(account.uid), Some(account.gid)).map_err(
                |e| ClusterError::io(format!("cannot chown {}", self.socket.display()), e),
            )?;
        }
        if in_root {
            return Ok(());
        }
        // A shared directory such as /tmp: the name is predictable, so
        // anyone could have made it first.
        let meta = fs::symlink_metadata(&self.socket)
            .map_err(|e| ClusterError::io(format!("cannot read {}", self.socket.display()), e))?;
        let owner = self.server_uid();
        if meta.is_dir() && meta.uid() == owner && meta.mode() & 0o077 == 0 {
            return Ok(());
        }
        Err(ClusterError::new(
            ClusterErrorKind::Access,
            format!(
                "the socket directory {} is not a directory owned by {} and closed to others \
                 (mode {:04o}, owner {}); remove it and try again",
                self.socket.display(),
                user_label(owner),
                meta.mode() & 0o7777,
                user_label(meta.uid())
            ),
        ))
    }

    fn prepare_log(&self) -> Result<(), ClusterError> {
        let log = self.log_file();
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log)
            .map_err(|e| ClusterError::io(format!("cannot create {}", log.display()), e))?;
        self.give(&log)
    }

    /// The last lines of `server.log`.
    fn log_tail(&self) -> String {
        let read = || -> io::Result<String> {
            let mut file = fs::File::open(self.log_file())?;
            let len = file.metadata()?.len();
            file.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        match read() {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
            }
            Err(e) => format!("(cannot read it: {e})"),
        }
    }

    /// Hands a file or directory the server writes to the server's user.
    fn give(&self, path: &Path) -> Result<(), ClusterError> {
        if let Runner::As { account, .. } = &self.runner {
            std::os::unix::fs::chown(path, Some(account.uid), Some(account.gid))
                .map_err(|e| ClusterError::io(format!("cannot chown {}", path.display()), e))?;
        }
        Ok(())
    }

    fn server_uid(&self) -> u32 {
        match &self.runner {
            Runner::Direct => self.uid,
            Runner::As { account, .. } => account.uid,
        }
    }

    /// A command that runs `program` as the server's user, in the root
    /// directory, without the caller's libpq environment (`PGPORT` would
    /// move the server's socket, for one).
    ///
    /// Paths inside the root are given relative to it: pg_ctl runs the
    /// server through `sh -c` with its paths in double quotes, unescaped.
    fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = match &self.runner {
            Runner::Direct => Command::new(program),
            Runner::As {
                account,
                via: Via::Runuser(runuser),
            } => {
                let mut cmd = Command::new(runuser);
                cmd.args(["-u", &account.name, "--"]).arg(program);
                cmd
            }
            Runner::As {
                account,
                via: Via::Su(su),
            } => {
                // The user's shell may be nologin; sh only hands over.
                let mut cmd = Command::new(su);
                cmd.args(["-s", "/bin/sh", "-c", "exec \"$0\" \"$@\"", "--"])
                    .arg(&account.name)
                    .arg(program);
                cmd
            }
        };
        cmd.current_dir(&self.root).stdin(Stdio::null());
        for (key, _) in env::vars_os() {
            if key.as_bytes().starts_with(b"PG") {
                cmd.env_remove(key);
            }
        }
        cmd
    }

    fn run(
        &self,
        mut cmd: Command,
        what: &str,
        kind: ClusterErrorKind,
    ) -> Result<(), ClusterError> {
        let out = cmd
            .output()
            .map_err(|e| ClusterError::io(format!("cannot run {what}"), e))?;
        if out.status.success() {
            return Ok(());
        }
        Err(ClusterError::new(
            kind,
            format!(
                "{what} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ))
    }

    /// What `postmaster.pid` says, checked against the running processes.
    fn postmaster(&self) -> Result<Postmaster, ClusterError> {
        let path = self.data.join("postmaster.pid");
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Postmaster::Absent),
            Err(e) => {
                return Err(ClusterError::io(
                    format!("cannot read {}", path.display()),
                    e,
                ));
            }
        };
        let lines: Vec<&str> = text.lines().collect();
        let Some(pid) = lines.first().and_then(|l| l.trim().parse::<u32>().ok()) else {
            // The server fills the file right after creating it: an empty
            // one is either being written or garbage.
            let young = fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age < Duration::from_secs(5));
            return Ok(if young {
                Postmaster::Starting
            } else {
                Postmaster::Stale(None)
            });
        };
        Ok(match probe(pid, &self.data) {
            Probe::Gone => Postmaster::Dead,
            Probe::Other => Postmaster::Stale(Some(pid)),
            Probe::Server => match lines.get(7).map(|l| l.trim()) {
                Some("ready") => Postmaster::Ready,
                Some("stopping") => Postmaster::Stopping,
                _ => Postmaster::Starting,
            },
        })
    }

    /// Waits until no server is starting or stopping, clears a stale pid
    /// file, and says whether a server runs.
    fn settle(&self, deadline: Instant) -> Result<Status, ClusterError> {
        loop {
            match self.postmaster()? {
                Postmaster::Ready => return Ok(Status::Running),
                Postmaster::Absent => return Ok(Status::Stopped),
                // PostgreSQL removes a dead server's files itself, after
                // checking that none of its processes is left.
                Postmaster::Dead => {
                    self.wait_for_leftovers(deadline)?;
                    return Ok(Status::Stopped);
                }
                Postmaster::Stale(pid) => {
                    self.wait_for_leftovers(deadline)?;
                    self.remove_lock_files(pid)?;
                    return Ok(Status::Stopped);
                }
                Postmaster::Starting | Postmaster::Stopping => {
                    if Instant::now() >= deadline {
                        return Err(ClusterError::new(
                            ClusterErrorKind::Start,
                            format!(
                                "the PostgreSQL server for {} is still starting or stopping \
                                 after {} s; see {}",
                                self.data.display(),
                                self.timeout.as_secs(),
                                self.log_file().display()
                            ),
                        ));
                    }
                    thread::sleep(POLL);
                }
            }
        }
    }

    /// Waits for the processes of a server that crashed to go.
    fn wait_for_leftovers(&self, deadline: Instant) -> Result<(), ClusterError> {
        loop {
            let left = server_processes(&self.data);
            if left.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let pids: Vec<String> = left.iter().map(u32::to_string).collect();
                return Err(ClusterError::new(
                    ClusterErrorKind::Start,
                    format!(
                        "postgres processes {} still work in {} without their server; \
                         stop them (kill {}) and try again",
                        pids.join(", "),
                        self.data.display(),
                        pids.join(" ")
                    ),
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// Removes a stale `postmaster.pid`, and the socket lock file if the
    /// same process wrote it.
    fn remove_lock_files(&self, pid: Option<u32>) -> Result<(), ClusterError> {
        let lock = self.socket.join(format!(".s.PGSQL.{PORT}.lock"));
        let lock_pid = fs::read_to_string(&lock)
            .ok()
            .and_then(|t| t.lines().next()?.trim().parse::<u32>().ok());
        if pid.is_some() && lock_pid == pid {
            remove_if_exists(&lock)?;
        }
        remove_if_exists(&self.data.join("postmaster.pid"))
    }
}

/// What `postmaster.pid` says about the server.
enum Postmaster {
    /// No pid file: no server.
    Absent,
    /// Its process is gone.
    Dead,
    /// Its pid belongs to another process now, or the file is garbage.
    Stale(Option<u32>),
    Starting,
    Ready,
    Stopping,
}

enum Probe {
    Gone,
    /// A live process (or a zombie) that is not this cluster's server.
    Other,
    /// This cluster's server, or a process we cannot look into.
    Server,
}

/// Whether `pid` is a server of the data directory `data`: a `postgres`
/// process working in it.
fn probe(pid: u32, data: &Path) -> Probe {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let procfs = Path::new("/proc/self").exists();
    let data = fs::canonicalize(data);
    let (true, Ok(data)) = (procfs, data) else {
        // Nothing to look into: trust a live pid.
        return if process_exists(pid) {
            Probe::Server
        } else {
            Probe::Gone
        };
    };
    match is_server_process(&proc, &data) {
        Some(true) => Probe::Server,
        // A zombie has no cwd; PostgreSQL would take it for a live server.
        Some(false) => Probe::Other,
        None if !proc.exists() => Probe::Gone,
        None => Probe::Server,
    }
}

/// Whether the process of the `/proc` entry `proc` is a `postgres` working
/// in `data` (canonical); `None` when it cannot be looked into (gone, or
/// not ours to look at).
fn is_server_process(proc: &Path, data: &Path) -> Option<bool> {
    let cwd = match fs::read_link(proc.join("cwd")) {
        Ok(cwd) => cwd,
        Err(e) if e.kind() == io::ErrorKind::NotFound && proc.exists() => return Some(false),
        Err(_) => return None,
    };
    let exe = fs::read_link(proc.join("exe")).ok()?;
    let postgres = exe
        .file_name()
        .is_some_and(|name| name.as_bytes().starts_with(b"postgres"));
    Some(cwd == data && postgres)
}

/// The `postgres` processes working in `data` (Linux only; empty elsewhere).
fn server_processes(data: &Path) -> Vec<u32> {
    let (Ok(data), Ok(entries)) = (fs::canonicalize(data), fs::read_dir("/proc")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            is_server_process(&PathBuf::from(format!("/proc/{pid}")), &data) == Some(true)
        })
        .collect()
}

fn process_exists(pid: u32) -> bool {
    if Path::new("/proc/self").exists() {
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    Command::new("ps")
        .args(["-p", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// How the server's programs run: as this process's user, or, when this
/// process is root, as an unprivileged user.
#[derive(Clone, Debug)]
enum Runner {
    Direct,
    As { account: Account, via: Via },
}

#[derive(Clone, Debug)]
enum Via {
    Runuser(PathBuf),
    Su(PathBuf),
}

#[derive(Clone, Debug)]
struct Account {
    name: String,
    uid: u32,
    gid: u32,
}

fn choose_runner(data: &Path) -> Result<Runner, ClusterError> {
    let account = match fs::metadata(data) {
        // The cluster's server must run as the cluster's owner.
        Ok(meta) if meta.uid() != 0 => find_account(|a| a.uid == meta.uid()).ok_or_else(|| {
            ClusterError::new(
                ClusterErrorKind::Access,
                format!(
                    "the cluster in {} belongs to uid {}, which has no entry in \
                     /etc/passwd, so domgen cannot run its server as that user; run domgen \
                     as that user, or {ELSEWHERE}",
                    data.display(),
                    meta.uid()
                ),
            )
        })?,
        _ => find_account(|a| a.name == "postgres")
            .or_else(|| find_account(|a| a.name == "nobody"))
            .ok_or_else(|| {
                ClusterError::new(
                    ClusterErrorKind::Access,
                    format!(
                        "domgen runs as root, which PostgreSQL refuses to run as, and there is \
                         neither a user postgres nor a user nobody to run it as instead: create \
                         one (useradd --system postgres), run domgen as an unprivileged user, \
                         or {ELSEWHERE}"
                    ),
                )
            })?,
    };
    let via = if let Some(runuser) = find_program("runuser") {
        Via::Runuser(runuser)
    } else if let Some(su) = find_program("su") {
        Via::Su(su)
    } else {
        return Err(ClusterError::new(
            ClusterErrorKind::Access,
            format!(
                "domgen runs as root and must run PostgreSQL as user {}, but neither runuser \
                 nor su was found; install util-linux, run domgen as an unprivileged user, or \
                 {ELSEWHERE}",
                account.name
            ),
        ));
    };
    Ok(Runner::As { account, via })
}

fn find_account(pred: impl Fn(&Account) -> bool) -> Option<Account> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd
        .lines()
        .filter_map(parse_passwd_line)
        .find(|a| pred(a))
}

fn parse_passwd_line(line: &str) -> Option<Account> {
    let mut fields = line.split(':');
    let name = fields.next()?;
    let _password = fields.next()?;
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    Some(Account {
        name: name.to_owned(),
        uid,
        gid,
    })
}

/// A user's name and uid for messages.
fn user_label(uid: u32) -> String {
    match find_account(|a| a.uid == uid) {
        Some(a) => format!("user {} (uid {uid})", a.name),
        None => format!("uid {uid}"),
    }
}

/// Whether the mode bits let `account` search a directory (ACLs and
/// supplementary groups aside: this only names the likely culprit).
fn searchable_by(meta: &fs::Metadata, account: &Account) -> bool {
    let bit = if meta.uid() == account.uid {
        0o100
    } else if meta.gid() == account.gid {
        0o010
    } else {
        0o001
    };
    meta.mode() & bit != 0
}

fn effective_uid() -> Result<u32, ClusterError> {
    // /proc/self belongs to the process's effective user.
    if let Ok(meta) = fs::metadata("/proc/self") {
        return Ok(meta.uid());
    }
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| ClusterError::io("cannot run id -u".to_owned(), e))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| ClusterError::new(ClusterErrorKind::Io, "cannot read the user id from id -u"))
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

fn has_binaries(dir: &Path) -> bool {
    BINARIES.iter().all(|b| is_executable(&dir.join(b)))
}

/// The directory with all of initdb, pg_ctl and postgres (one directory,
/// so that they are of one version).
fn find_bin_dir(
    search_path: Option<&OsStr>,
    versions_dir: Option<&Path>,
    data: &Path,
) -> Result<PathBuf, ClusterError> {
    if let Some(versions) = versions_dir {
        // An existing cluster runs only with its own major version.
        if let Ok(version) = fs::read_to_string(data.join("PG_VERSION")) {
            let dir = versions.join(version.trim()).join("bin");
            if has_binaries(&dir) {
                return Ok(dir);
            }
        }
    }
    if let Some(path) = search_path {
        if let Some(dir) = env::split_paths(path).find(|d| d.is_absolute() && has_binaries(d)) {
            return Ok(dir);
        }
    }
    if let Some(versions) = versions_dir {
        let newest = fs::read_dir(versions)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let version = parse_version(e.file_name().to_str()?)?;
                let dir = e.path().join("bin");
                has_binaries(&dir).then_some((version, dir))
            })
            .max_by(|a, b| a.0.cmp(&b.0));
        if let Some((_, dir)) = newest {
            return Ok(dir);
        }
    }
    let searched = match versions_dir {
        Some(v) => format!("on PATH or in {}/*/bin", v.display()),
        None => "on PATH".to_owned(),
    };
    Err(ClusterError::new(
        ClusterErrorKind::BinariesNotFound,
        format!(
            "PostgreSQL's server programs (initdb, pg_ctl, postgres) were not found {searched}, \
             and domgen needs them to run its own local database. Install them (Debian, \
             Ubuntu: apt-get install postgresql), or give a connection string (a database \
             URL) to use a server you have, or write to a file instead"
        ),
    ))
}

/// `15`, `9.6`: a directory named after a PostgreSQL version.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// The socket directory: `<root>/socket` if a socket path in it fits in a
/// socket address and it can go into a connection string, else a short
/// directory under /tmp named after the root.
fn socket_dir(root: &Path) -> PathBuf {
    let inside = root.join(SOCKET_DIR);
    let socket_file = format!(".s.PGSQL.{PORT}");
    let fits = inside.as_os_str().len() + 1 + socket_file.len() <= MAX_SOCKET_PATH;
    if fits && inside.to_str().is_some() {
        inside
    } else {
        PathBuf::from(format!(
            "/tmp/domgen-{:016x}",
            fnv1a(root.as_os_str().as_bytes())
        ))
    }
}

/// FNV-1a: a hash that stays the same across Rust releases, so the socket
/// directory's name does too.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `root` made absolute, with the part that exists canonicalised, so that
/// the socket directory does not depend on how the root was spelled.
fn resolve(root: &Path) -> Result<PathBuf, ClusterError> {
    let absolute = std::path::absolute(root)
        .map_err(|e| ClusterError::io(format!("cannot make {} absolute", root.display()), e))?;
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        if let Ok(mut path) = fs::canonicalize(existing) {
            path.extend(missing.iter().rev());
            return Ok(path);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name);
                existing = parent;
            }
            _ => return Ok(absolute),
        }
    }
}

/// A value in a PostgreSQL configuration file.
fn conf_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// A value in a libpq keyword/value connection string.
fn conninfo_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\');
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// Removes a file or symlink, or an empty directory.
fn remove(path: &Path, dir: bool) -> Result<(), ClusterError> {
    let removed = if dir {
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    };
    removed.map_err(|e| ClusterError::io(format!("cannot remove {}", path.display()), e))
}

fn remove_if_exists(path: &Path) -> Result<(), ClusterError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ClusterError::io(
            format!("cannot remove {}", path.display()),
            e,
        )),
        _ => Ok(()),
    }
}

/// Removes a directory tree when dropped, if it is still there.
struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(self.0);
    }
}

/// An error of a [`LocalCluster`]. Its message says what to do.
#[derive(Debug)]
pub struct ClusterError {
    kind: ClusterErrorKind,
    message: String,
    source: Option<io::Error>,
}

/// The class of a [`ClusterError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClusterErrorKind {
    /// `initdb`, `pg_ctl` and `postgres` were not found together, on
    /// `PATH` or in `/usr/lib/postgresql/*/bin`.
    BinariesNotFound,
    /// [`LocalCluster::start`] was called before [`LocalCluster::init`].
    NotInitialised,
    /// A question of users and permissions: the cluster belongs to another
    /// user, the server's user cannot reach the root directory, there is no
    /// unprivileged user to run the server as, or the socket directory is
    /// not safe to use.
    Access,
    /// `initdb`, or creating the database `domgen`, failed.
    Init,
    /// The server did not start; the message ends with the end of
    /// `server.log`.
    Start,
    /// The server did not stop.
    Stop,
    /// A file operation failed, or a program could not be run.
    Io,
}

impl ClusterError {
    fn new(kind: ClusterErrorKind, message: impl Into<String>) -> ClusterError {
        ClusterError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    fn io(context: String, source: io::Error) -> ClusterError {
        ClusterError {
            kind: ClusterErrorKind::Io,
            message: format!("{context}: {source}"),
            source: Some(source),
        }
    }

    /// The class of this error.
    pub fn kind(&self) -> ClusterErrorKind {
        self.kind
    }
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ClusterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_roots_get_a_short_socket_dir_under_tmp() {
        let short = Path::new("/work/.domgen");
        assert_eq!(socket_dir(short), short.join("socket"));
        let long = PathBuf::from(format!("/{}", "d".repeat(100)));
        let dir = socket_dir(&long);
        assert!(dir.starts_with("/tmp"), "{}", dir.display());
        assert_eq!(dir, socket_dir(&long), "derived, so the same every time");
        assert_ne!(dir, socket_dir(&long.join("x")));
        // The longest root whose own socket directory still fits.
        let edge = PathBuf::from(format!("/{}", "e".repeat(MAX_SOCKET_PATH - 22)));
        let sock = socket_dir(&edge).join(".s.PGSQL.5432");
        assert_eq!(sock.as_os_str().len(), MAX_SOCKET_PATH);
        assert!(sock.starts_with(&edge));
        let over = PathBuf::from(format!("/{}", "e".repeat(MAX_SOCKET_PATH - 21)));
        assert!(socket_dir(&over).starts_with("/tmp"));
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn quoting() {
        assert_eq!(conninfo_quote("/tmp/x"), "/tmp/x");
        assert_eq!(conninfo_quote("/a b/it's"), r"'/a b/it\'s'");
        assert_eq!(conf_quote(r#""/a'b\c""#), r#"'"/a''b\\c"'"#);
    }

    #[test]
    fn versions_sort_as_numbers() {
        assert!(parse_version("10") > parse_version("9.6"));
        assert_eq!(parse_version("main"), None);
    }

    #[test]
    fn passwd_lines() {
        let a = parse_passwd_line("postgres:x:101:104:PostgreSQL,,,:/var/lib/postgresql:/bin/bash")
            .unwrap();
        assert_eq!((a.name.as_str(), a.uid, a.gid), ("postgres", 101, 104));
        assert!(parse_passwd_line("# comment").is_none());
    }
}
