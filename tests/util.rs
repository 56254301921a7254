//! Helpers that run the real `domgen` binary in a fresh temporary directory;
//! those not bound to the binary are in `domgen-test-support`.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

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
            .env_remove("DATABASE_URL");
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
