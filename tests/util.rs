//! Helpers that run the real `domgen` binary in a fresh temporary directory;
//! those not bound to the binary are in `domgen-test-support`.

use std::ffi::OsStr;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use domgen_test_support::{Dir, Output, assert_contains, capture, external};

/// The `domgen` binary that Cargo built for these tests.
pub const DOMGEN: &str = env!("CARGO_BIN_EXE_domgen");

/// `domgen` run in a [`Dir`].
pub trait Domgen {
    /// A `domgen` command with `args`, run in this directory, without the
    /// caller's `DATABASE_URL`.
    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>;

    /// Runs `domgen` with `args` in this directory and captures its output.
    fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        capture(self.command(args))
    }
}

impl Domgen for Dir {
    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(DOMGEN);
        cmd.args(args)
            .current_dir(self.path())
            .stdin(Stdio::null())
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG");
        cmd
    }
}

/// Runs `domgen args` in a fresh directory holding `files` (name, contents).
pub fn domgen(files: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = Dir::new();
    for (name, contents) in files {
        dir.create(name, contents);
    }
    dir.run(args)
}

/// `domgen worker` on campaign `id` as `name`, one rendering thread and one
/// connection, output piped; `extra` adds flags (a `--lease-seconds`, say).
pub fn spawn_worker(dir: &Dir, url: &str, id: uuid::Uuid, name: &str, extra: &[&str]) -> Child {
    let id = id.to_string();
    let mut args = vec![
        "worker",
        "--database-url",
        url,
        "--campaign-id",
        &id,
        "--worker-id",
        name,
        "--threads",
        "1",
        "--connections",
        "1",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    dir.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start domgen worker")
}

/// Waits for `child` (`what` names it) to end within `limit`, and takes
/// its output; kills it and fails with its stderr if it does not.
pub fn finish(child: Child, what: &str, limit: Duration) -> std::process::Output {
    let mut child = child;
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{what} did not end within {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}
