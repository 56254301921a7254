//! `domgen migrate` and `domgen db`, and opening the database for every
//! command that needs one.

use std::path::Path;

use anyhow::Context;
use domgen::cluster::{LocalCluster, Status};
use domgen::pg::Database;

use crate::cli::{ConnArgs, DbAction};
use crate::failure::Failure;

/// The local cluster's directory, relative to where domgen runs.
pub(crate) const LOCAL_CLUSTER: &str = ".domgen";

/// A runtime for the clients' connection tasks.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("domgen-pg")
        .enable_all()
        .build()
        .context("cannot start the PostgreSQL client's runtime")?)
}

/// The database the flags name, opened ([`Database::open`]: the local
/// cluster migrated on first use, any other checked for the schema).
pub(crate) fn open(
    conn: &ConnArgs,
) -> Result<(tokio::runtime::Runtime, Database, tokio_postgres::Client), Failure> {
    let db = conn.database()?;
    let rt = runtime()?;
    let client = rt.block_on(db.open())?;
    Ok((rt, db, client))
}

/// `domgen migrate [--distribute [--table NAME]…]`.
pub(crate) fn migrate(conn: &ConnArgs, distribute: bool, tables: &[String]) -> Result<(), Failure> {
    let db = conn.database()?;
    let rt = runtime()?;
    let mut client = rt.block_on(db.connect())?;
    // Refused before anything changes.
    if distribute {
        rt.block_on(domgen::pg::citus::require_coordinator(&client))?;
    }
    let report = rt
        .block_on(domgen::pg::migrate::migrate(&mut client))
        .map_err(|e| Failure::Run(anyhow::anyhow!("migrating {db}: {e}")))?;
    println!("{report}");
    if distribute {
        let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
        let report = rt
            .block_on(domgen::pg::citus::distribute(&client, &tables))
            .map_err(|e| Failure::pg(e, None, format!("distributing the tables of {db}")))?;
        println!("{report}");
    }
    Ok(())
}

/// `domgen db start|stop|status|url`.
pub(crate) fn db(action: &DbAction) -> Result<(), Failure> {
    let cluster = LocalCluster::new(LOCAL_CLUSTER).map_err(|e| Failure::Run(e.into()))?;
    match action {
        DbAction::Start => {
            let db = Database::local(Path::new(LOCAL_CLUSTER))?;
            let rt = runtime()?;
            let mut client = rt.block_on(db.connect())?;
            rt.block_on(domgen::pg::migrate::migrate(&mut client))
                .map_err(|e| Failure::Run(e.into()))?;
            println!("running: psql \"{}\"", cluster.url());
        }
        DbAction::Stop => {
            cluster.stop().map_err(|e| Failure::Run(e.into()))?;
            println!("stopped");
        }
        DbAction::Status => {
            let status = cluster.status().map_err(|e| Failure::Run(e.into()))?;
            println!(
                "{}",
                match status {
                    Status::NotInitialised => "not initialised (domgen db start creates it)",
                    Status::Stopped => "stopped",
                    Status::Running => "running",
                }
            );
        }
        DbAction::Url => println!("{}", cluster.url()),
    }
    Ok(())
}
