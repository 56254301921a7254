//! Integration tests of the `domgen` binary: one test binary, its modules
//! listed here (as ripgrep's `tests/tests.rs` does).

// Helpers that run the built binary in a fresh temporary directory.
mod util;

// A naive enumerator, written without the library, used as the oracle.
mod naive;

// Bad specs: refused with exit code 2 and a message naming the value and place.
mod bad_spec;

// `check`, `count` and `generate`: output against the oracle, offset/limit,
// shuffled order, flags over file values, output files, broken pipes.
mod cli;

// Byte-for-byte agreement with maskprocessor (`mp64`) on the same masks.
mod maskprocessor;

// `generate` on the parallel engine: threads, batch sizes, reports,
// budgets, interruption.
mod engine;

// Into PostgreSQL: kill -9 then --resume, a terminated backend ridden
// through (or, with --reconnect-for 0, resumed), every position exactly
// once; migrations, connection errors, refusals, a custom table, the
// embedded local cluster.
mod pg;

// Into the campaign service's own trigger-heavy `generated_domains` (its
// schema loaded before `migrate`): kill -9 then --resume, every position
// once, counted and audited once by its triggers.
mod service_table;

// Workers as real processes on one campaign: SIGKILL, SIGSTOP past the
// lease (the late commit refused), Ctrl-C releasing its batch; every
// position exactly once.
mod workers;

// Through a real PgBouncer: transaction pooling with two shared server
// connections (generate killed and resumed, --continue, --unique, the
// monitor, three workers), and session pooling.
mod pgbouncer;

// Least privilege: the schema's owner migrates, a worker role with the
// README's grants runs every other command, a missing grant is named.
mod privileges;

// The memory monitor from the command line: `generate --monitor` records
// samples, `report` draws them (SVG and PNG checked by parsing) or prints
// them (json, csv).
mod monitor;

// Production conditions: the server crashes and restarts twice under
// `generate` (20M rows) and under workers (one also SIGKILLed); a proxy
// cuts a connection without a word. Every position exactly once, no
// --resume.
mod restart;

// What a host sees: `worker --metrics-addr` scraped while it runs (its
// counters against the ledger), `/healthz` while the server is stopped and
// after; `-v`, `-q` and the default on standard error.
mod telemetry;
