/*!
Citus: domgen's tables distributed over a cluster's worker nodes.

[`distribute`] runs on a Citus coordinator after [`migrate`](crate::migrate::migrate)
and places each of domgen's tables (see [`Placement`]):

| table | placement | why |
|---|---|---|
| `generation_campaigns` | distributed by `campaign_id` | the anchor of the co-location group |
| `generation_batches` | distributed by `campaign_id`, co-located | a batch's ledger row and its rows are on one shard group, so its commit touches one worker node (Citus still commits it in two phases), and the claims and the fence are router statements |
| `generated_domains` | distributed by `campaign_id`, co-located | the bulk: COPY routes each row to its campaign's shard |
| `domain_generation_config_states` | reference | one row per spec, shared by all campaigns, no `campaign_id` |
| `generation_runs` | reference | one row per run; keyed by `run_id`, so it cannot be distributed by `campaign_id` without a wider key |
| `memory_metrics`, `memory_allocations`, `memory_leak_detection`, `memory_optimization_recommendations`, `system_alerts` | local (coordinator) | no `campaign_id` to distribute by (`memory_allocations.campaign_id` is NULL for runs that are not campaigns), written per sample by the monitor's functions and joined with nothing distributed: replicating every sample to every node would cost a two-phase commit and buy nothing |
| `refinery_schema_history` | local (coordinator) | read by the schema check of every command, which connects to the coordinator |

Tables the caller names (a `--table` of `generate`) are distributed by
`campaign_id` and co-located with `generation_campaigns`, so that a batch's
rows commit with its ledger row on one node. A table whose primary key,
unique index or exclusion constraint leaves out `campaign_id` is refused
with the index named: Citus can only enforce uniqueness within a shard.
For the same reason `unique` mode (a unique index on `domain_name` alone)
is refused on a distributed table ([`is_distributed`]).

A table already placed as planned is left alone, so a second call changes
nothing and its [`Report`] says so; a table placed otherwise (distributed
by another column, a reference table that should be distributed) is
refused, not moved.

```no_run
# async fn example() -> Result<(), Box<dyn std::error::Error>> {
let (mut client, connection) =
    tokio_postgres::connect("host=coordinator dbname=domgen", tokio_postgres::NoTls).await?;
tokio::spawn(connection);

domgen_pg::migrate::migrate(&mut client).await?;
let report = domgen_pg::citus::distribute(&client, &["my_domains"]).await?;
println!("{report}");
# Ok(())
# }
```
*/

use std::fmt;

use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::error::Error;
use crate::ledger::quote_table;

/// The distribution column of every distributed table.
pub const DISTRIBUTION_COLUMN: &str = "campaign_id";

/// The table the others are co-located with.
const ANCHOR: &str = "generation_campaigns";

/// Where a table lives on a Citus cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// Sharded by `campaign_id`, co-located with `generation_campaigns`.
    Distributed,
    /// Copied whole to every node.
    Reference,
    /// A plain table on the coordinator.
    Local,
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Placement::Distributed => {
                "distributed by campaign_id, co-located with generation_campaigns"
            }
            Placement::Reference => "a reference table",
            Placement::Local => "a local table on the coordinator",
        })
    }
}

/// domgen's tables in the order they are placed (the anchor first, then
/// the tables co-located with it).
const PLAN: &[(&str, Placement)] = &[
    (ANCHOR, Placement::Distributed),
    ("generation_batches", Placement::Distributed),
    ("generated_domains", Placement::Distributed),
    ("domain_generation_config_states", Placement::Reference),
    ("generation_runs", Placement::Reference),
    ("memory_metrics", Placement::Local),
    ("memory_allocations", Placement::Local),
    ("memory_leak_detection", Placement::Local),
    ("memory_optimization_recommendations", Placement::Local),
    ("system_alerts", Placement::Local),
    ("refinery_schema_history", Placement::Local),
];

/// One table's placement and whether this call made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    name: String,
    placement: Placement,
    changed: bool,
}

impl Table {
    /// The table, as named.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it lives now.
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// Whether this call placed it (false: it was placed so already, or
    /// it stays local).
    pub fn changed(&self) -> bool {
        self.changed
    }
}

/// What one call of [`distribute`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    tables: Vec<Table>,
}

impl Report {
    /// Every table domgen knows of (and those the caller named), with its
    /// placement.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// Whether nothing was changed: every table was placed already.
    pub fn is_unchanged(&self) -> bool {
        !self.tables.iter().any(Table::changed)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for table in &self.tables {
            let when = match (table.changed, table.placement) {
                (true, _) => "now",
                (false, Placement::Local) => "stays",
                (false, _) => "already",
            };
            writeln!(f, "{}: {when} {}", table.name, table.placement)?;
        }
        if self.is_unchanged() {
            f.write_str("nothing to distribute: every table is placed already")
        } else {
            let n = self.tables.iter().filter(|t| t.changed).count();
            write!(
                f,
                "distributed: {n} table{} placed",
                if n == 1 { "" } else { "s" }
            )
        }
    }
}

/// Places domgen's tables on the Citus cluster whose coordinator `client`
/// is connected to, and then `tables` (the caller's tables for the rows,
/// `schema.table` or `table`), distributed by `campaign_id` and co-located
/// with `generation_campaigns`. See the [module documentation](self).
///
/// # Errors
///
/// Of kind `Usage`: the server has no Citus, or is a Citus worker rather
/// than the coordinator; a table does not exist, has no `campaign_id` of
/// type `uuid`, has a unique index or primary key without `campaign_id`,
/// or is placed otherwise already. Of kind `Database`: the database is not
/// migrated, or Citus refused a table (the message says which, and why).
pub async fn distribute(client: &Client, tables: &[&str]) -> Result<Report, Error> {
    require_coordinator(client).await?;
    crate::migrate::check_migrated(client).await?;
    let mut plan: Vec<(String, Placement)> = PLAN
        .iter()
        .map(|&(name, placement)| (name.to_owned(), placement))
        .collect();
    for &table in tables {
        quote_table(table)?;
        if let Some((_, placement)) = plan.iter().find(|(name, _)| name == table) {
            if *placement != Placement::Distributed {
                return Err(Error::usage(format!(
                    "table {table} is one of domgen's own and stays {placement}; name a table for the rows"
                )));
            }
            continue;
        }
        plan.push((table.to_owned(), Placement::Distributed));
    }

    let mut report = Report { tables: Vec::new() };
    for (name, wanted) in plan {
        let quoted = quote_table(&name)?;
        let current = placement_of(client, &quoted).await?;
        let changed = match (wanted, current) {
            (Placement::Local, _) => false,
            (wanted, Some(current)) if current.matches(wanted) => false,
            (wanted, Some(current)) => {
                return Err(Error::usage(format!(
                    "table {name} is {current} already, and domgen needs it {wanted}: \
                     undistribute it first (SELECT undistribute_table('{name}')) or \
                     leave it out"
                )));
            }
            (Placement::Distributed, None) => {
                check_distributable(client, &name, &quoted).await?;
                let colocate = if name == ANCHOR { "none" } else { ANCHOR };
                client
                    .execute_typed(
                        "SELECT create_distributed_table($1::text::regclass, $2, colocate_with => $3)",
                        &[
                            (&quoted, Type::TEXT),
                            (&DISTRIBUTION_COLUMN, Type::TEXT),
                            (&colocate, Type::TEXT),
                        ],
                    )
                    .await
                    .map_err(|e| Error::db(e).context(format!("distributing {name}")))?;
                true
            }
            (Placement::Reference, None) => {
                client
                    .execute_typed(
                        "SELECT create_reference_table($1::text::regclass)",
                        &[(&quoted, Type::TEXT)],
                    )
                    .await
                    .map_err(|e| {
                        Error::db(e).context(format!("making {name} a reference table"))
                    })?;
                true
            }
        };
        report.tables.push(Table {
            name,
            placement: wanted,
            changed,
        });
    }
    Ok(report)
}

/// Whether `table` (as `schema.table` or `table`) is a distributed table
/// of Citus, which cannot have a unique index without its distribution
/// column. False on a server without Citus.
pub async fn is_distributed(client: &Client, table: &str) -> Result<bool, Error> {
    let quoted = quote_table(table)?;
    let citus: bool = client
        .query_typed_one(
            "SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !citus {
        return Ok(false);
    }
    Ok(matches!(
        placement_of(client, &quoted).await?,
        Some(Current::Distributed { .. })
    ))
}

/// A table's placement as Citus records it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Current {
    Distributed {
        column: String,
        colocated: bool,
    },
    Reference,
    /// A Citus-managed local table, or a single-shard table.
    Other,
}

impl Current {
    fn matches(&self, wanted: Placement) -> bool {
        match (self, wanted) {
            (Current::Distributed { column, colocated }, Placement::Distributed) => {
                column == DISTRIBUTION_COLUMN && *colocated
            }
            (Current::Reference, Placement::Reference) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Current::Distributed { column, colocated } => {
                write!(f, "distributed by {column}")?;
                if !colocated {
                    f.write_str(" (not co-located with generation_campaigns)")?;
                }
                Ok(())
            }
            Current::Reference => f.write_str("a reference table"),
            Current::Other => f.write_str("in Citus's metadata (not distributed by a column)"),
        }
    }
}

/// `None`: a plain table Citus does not know.
async fn placement_of(client: &Client, quoted: &str) -> Result<Option<Current>, Error> {
    let row = client
        .query_typed_opt(
            "SELECT p.partmethod::text, p.repmodel::text,
                    column_to_column_name(p.logicalrelid, p.partkey),
                    p.colocationid = (SELECT colocationid FROM pg_dist_partition
                                       WHERE logicalrelid = to_regclass($2))
               FROM pg_dist_partition p
              WHERE p.logicalrelid = to_regclass($1)",
            &[(&quoted, Type::TEXT), (&ANCHOR, Type::TEXT)],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (method, model): (String, String) = (row.get(0), row.get(1));
    Ok(Some(match (method.as_str(), model.as_str()) {
        ("h", _) => Current::Distributed {
            column: row.get::<_, Option<String>>(2).unwrap_or_default(),
            colocated: row.get::<_, Option<bool>>(3).unwrap_or(false),
        },
        ("n", "t") => Current::Reference,
        _ => Current::Other,
    }))
}

/// Refuses a table Citus could not distribute by `campaign_id`, saying why.
async fn check_distributable(client: &Client, name: &str, quoted: &str) -> Result<(), Error> {
    let exists: bool = client
        .query_typed_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[(&quoted, Type::TEXT)],
        )
        .await?
        .get(0);
    if !exists {
        return Err(Error::usage(format!(
            "table {name} does not exist; create it with columns campaign_id uuid, offset_index bigint, domain_name text"
        )));
    }
    let column: Option<String> = client
        .query_typed_opt(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
              WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped",
            &[(&quoted, Type::TEXT), (&DISTRIBUTION_COLUMN, Type::TEXT)],
        )
        .await?
        .map(|row| row.get(0));
    match column.as_deref() {
        Some("uuid") => {}
        Some(other) => {
            return Err(Error::usage(format!(
                "table {name} cannot be distributed by campaign_id: its campaign_id is {other}, \
                 and co-location with generation_campaigns needs uuid"
            )));
        }
        None => {
            return Err(Error::usage(format!(
                "table {name} cannot be distributed by campaign_id: it has no such column"
            )));
        }
    }
    // Citus enforces uniqueness per shard, so every unique index (and
    // exclusion constraint) must have the distribution column as a key.
    let rows = client
        .query_typed(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid)
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = to_regclass($1) AND (i.indisunique OR i.indisexclusion)
                AND NOT EXISTS (
                    SELECT 1 FROM pg_attribute a
                     WHERE a.attrelid = i.indrelid AND a.attname = $2
                       AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]))
              ORDER BY c.relname",
            &[(&quoted, Type::TEXT), (&DISTRIBUTION_COLUMN, Type::TEXT)],
        )
        .await?;
    if let Some(row) = rows.first() {
        let (index, definition): (String, String) = (row.get(0), row.get(1));
        return Err(Error::usage(format!(
            "table {name} cannot be distributed by campaign_id: its unique index {index} \
             ({definition}) does not include campaign_id, and Citus can only enforce \
             uniqueness within a shard. Drop it, or make campaign_id one of its columns"
        )));
    }
    Ok(())
}

/// Refuses a server without Citus, and a Citus worker node: what
/// [`distribute`] checks first, for a caller that wants to know before it
/// migrates.
///
/// # Errors
///
/// Of kind `Usage` when the database has no `citus` extension or the
/// server is not the coordinator.
pub async fn require_coordinator(client: &Client) -> Result<(), Error> {
    let version: Option<String> = client
        .query_typed_opt(
            "SELECT extversion FROM pg_extension WHERE extname = 'citus'",
            &[],
        )
        .await?
        .map(|row| row.get(0));
    if version.is_none() {
        return Err(Error::usage(
            "this database has no Citus: distributing needs a Citus coordinator (a server \
             with shared_preload_libraries = 'citus', CREATE EXTENSION citus in this \
             database, and its workers added with citus_add_node); on plain PostgreSQL, \
             migrate without distributing",
        ));
    }
    let coordinator: bool = client
        .query_typed_one("SELECT citus_is_coordinator()", &[])
        .await?
        .get(0);
    if !coordinator {
        return Err(Error::usage(
            "this server is a Citus worker node: distribute on the coordinator",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_says_what_changed() {
        let table = |name: &str, placement, changed| Table {
            name: name.to_owned(),
            placement,
            changed,
        };
        let first = Report {
            tables: vec![
                table("generation_campaigns", Placement::Distributed, true),
                table("generation_runs", Placement::Reference, true),
                table("system_alerts", Placement::Local, false),
            ],
        };
        assert_eq!(
            first.to_string(),
            "generation_campaigns: now distributed by campaign_id, co-located with generation_campaigns\n\
             generation_runs: now a reference table\n\
             system_alerts: stays a local table on the coordinator\n\
             distributed: 2 tables placed"
        );
        let again = Report {
            tables: vec![table("generation_runs", Placement::Reference, false)],
        };
        assert!(again.is_unchanged());
        assert_eq!(
            again.to_string(),
            "generation_runs: already a reference table\n\
             nothing to distribute: every table is placed already"
        );
    }

    /// Every table the migrations create has a placement.
    #[test]
    fn every_table_is_planned() {
        for table in crate::migrate::tables() {
            assert!(
                PLAN.iter().any(|(name, _)| name == table),
                "{table} has no placement"
            );
        }
    }
}
