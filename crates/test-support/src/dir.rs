//! Running programs in a fresh temporary directory, and what they wrote.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{self, Command, Stdio};

/// A fresh temporary directory, removed when dropped, to run programs in.
#[derive(Debug)]
pub struct Dir {
    root: tempfile::TempDir,
}

impl Default for Dir {
    fn default() -> Dir {
        Dir::new()
    }
}

impl Dir {
    /// A new, empty directory.
    pub fn new() -> Dir {
        let root = tempfile::Builder::new()
            .prefix("domgen-test-")
            .tempdir()
            .expect("cannot create a temporary directory");
        Dir { root }
    }

    /// A new, empty directory under `/tmp` that other users may traverse
    /// (mode 0755): a PostgreSQL server that runs as another user (when
    /// the tests run as root) must reach its data directory there.
    pub fn shared() -> Dir {
        let root = tempfile::Builder::new()
            .prefix("domgen-test-")
            .tempdir_in("/tmp")
            .expect("cannot create a temporary directory in /tmp");
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755))
            .expect("cannot chmod a temporary directory");
        Dir { root }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// Writes `contents` to `name` (relative to the directory), creating
    /// parent directories as needed.
    pub fn create(&self, name: &str, contents: &str) -> &Dir {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("cannot create a parent directory");
        }
        fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        self
    }

    /// The text of `name` (relative to the directory).
    pub fn read(&self, name: &str) -> String {
        let path = self.path().join(name);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }
}

/// Runs `cmd` to its end and captures its output.
pub fn capture(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    Output::new(shown, out)
}

/// What a run of a program left behind.
#[derive(Debug)]
pub struct Output {
    /// The command line, for failure messages.
    pub command: String,
    /// The exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    /// Everything written to standard output.
    pub stdout: String,
    /// Everything written to standard error.
    pub stderr: String,
}

impl Output {
    /// The output of the command shown as `command`.
    pub fn new(command: String, out: process::Output) -> Output {
        Output {
            command,
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Asserts that the run succeeded with nothing on stderr; returns stdout.
    #[track_caller]
    pub fn success(&self) -> &str {
        assert!(
            self.code == Some(0) && self.stderr.is_empty(),
            "expected success with a quiet stderr\n{self}"
        );
        &self.stdout
    }

    /// Asserts that the run was refused as a bad spec: exit code 2, nothing
    /// on stdout, a message on stderr that starts with `error:`. Returns stderr.
    #[track_caller]
    pub fn spec_error(&self) -> &str {
        assert!(
            self.code == Some(2) && self.stdout.is_empty() && self.stderr.starts_with("error: "),
            "expected a spec error (exit 2, empty stdout, `error: …` on stderr)\n{self}"
        );
        &self.stderr
    }

    /// The lines of stdout.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = |s: &str| -> String {
            if s.len() > 4000 {
                format!("{}… ({} bytes)", &s[..4000], s.len())
            } else {
                s.to_owned()
            }
        };
        write!(
            f,
            "command: {}\nexit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.code,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }
}

/// Asserts that `haystack` contains every one of `needles`.
#[track_caller]
pub fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "expected the message to contain {needle:?}, got:\n{haystack}"
        );
    }
}

/// Runs an external program, failing (never skipping) with `install` as the
/// remedy when it is missing.
#[track_caller]
pub fn external(program: &str, args: &[&str], install: &str) -> process::Output {
    match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{program}` is not installed; this test needs it: {install}")
        }
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}
