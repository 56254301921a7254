//! The `domgen` command: arguments in, one library call per command, its
//! outcome printed.

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::Failure;

// The command line as clap reads it.
mod cli;
// `migrate`, `db`, and opening the database for every command.
mod db_cmd;
// Exit codes.
mod failure;
// The library's words turned into flags.
mod flags;
// `generate`, into PostgreSQL or a file.
mod generate_cmd;
// `generate --monitor`, `monitor`, `report`.
mod monitor_cmd;
// `report`'s pictures.
mod plot;
// `check`, `count`.
mod spec_cmd;
// `-v`/`-q`, and `--metrics-addr`.
mod telemetry;
// Progress bars and Ctrl-C.
mod term;
// `plan`, `worker`, `status`.
mod workers_cmd;

#[global_allocator]
static ALLOC: domgen::alloc::CountingAlloc = domgen::alloc::CountingAlloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::show_events(cli.verbose, cli.quiet);
    if cli.quiet {
        term::be_quiet();
    }
    let result = match cli.command {
        Command::Check { spec, show } => spec_cmd::check(&spec, show),
        Command::Count { spec } => spec_cmd::count(&spec),
        Command::Generate {
            spec,
            out: Some(out),
            run,
            db,
        } => generate_cmd::to_file(&spec, &out, &run, &db.conn),
        Command::Generate {
            spec,
            out: None,
            run,
            db,
        } => generate_cmd::to_pg(&spec, &run, &db),
        Command::Plan { spec, args } => workers_cmd::plan(&spec, &args),
        Command::Worker { args } => workers_cmd::worker(&args, cli.verbose > 0),
        Command::Status { args } => workers_cmd::status(&args),
        Command::Monitor(cmd) => monitor_cmd::monitor(&cmd),
        Command::Report(cmd) => monitor_cmd::report(&cmd),
        Command::Migrate {
            conn,
            distribute,
            tables,
        } => db_cmd::migrate(&conn, distribute, &tables),
        Command::Db { action } => db_cmd::db(&action),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Interrupted) => ExitCode::from(130),
        Err(Failure::Run(e)) => {
            if failure::is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", failure::chain(&e));
            ExitCode::from(1)
        }
    }
}
