//! Least privilege against a real server: an owner role (no superuser)
//! owns the database and its schema and runs `migrate`; a worker role with
//! exactly the grants of `domgen::pg::migrate::grants` (the README's list)
//! runs every other command; a role missing one is told which grant.

use domgen_test_support::{fresh_database, with_setting};
use uuid::Uuid;

use crate::pg::{Checks, Sql};
use crate::util::{Dir, Domgen, Output, assert_contains};

/// Asserts that `domgen` exited 0 (it may have said things on stderr);
/// returns what it wrote to both.
#[track_caller]
fn ok(out: &Output) -> String {
    assert_eq!(out.code, Some(0), "{out}");
    format!("{}{}", out.stdout, out.stderr)
}

/// Asserts that `domgen` failed; returns its stderr.
#[track_caller]
fn refused(out: &Output) -> &str {
    assert_eq!(out.code, Some(1), "{out}");
    &out.stderr
}

/// A fresh database owned by a role of its own, which migrated it, and a
/// worker role granted what `grants` lists.
struct Roles {
    dir: Dir,
    admin: Sql,
    owner: String,
    worker: String,
    database: String,
    /// The connection strings of the owner and of the worker.
    as_owner: String,
    as_worker: String,
}

impl Roles {
    fn new() -> Roles {
        let url = fresh_database();
        let admin = Sql::connect(&url);
        let database = admin.text("SELECT current_database()", &[]);
        let (owner, worker) = (format!("{database}_owner"), format!("{database}_worker"));
        admin.execute(&format!(
            "CREATE ROLE {owner} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
             CREATE ROLE {worker} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
             ALTER DATABASE {database} OWNER TO {owner};
             ALTER SCHEMA public OWNER TO {owner};
             REVOKE ALL ON DATABASE {database} FROM PUBLIC;
             REVOKE ALL ON SCHEMA public FROM PUBLIC;"
        ));
        let roles = Roles {
            dir: Dir::new(),
            as_owner: with_setting(&url, "user", &owner),
            as_worker: with_setting(&url, "user", &worker),
            admin,
            owner,
            worker,
            database,
        };
        assert_contains(
            &ok(&roles
                .dir
                .run(["migrate", "--database-url", &roles.as_owner])),
            &["applied 5 migrations"],
        );
        Sql::connect(&roles.as_owner).execute(&domgen::pg::migrate::grants(
            &roles.worker,
            &roles.database,
            "public",
        ));
        roles
    }

    /// `domgen args` as the worker.
    fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--database-url", &self.as_worker]);
        self.dir.run(all)
    }
}

impl Drop for Roles {
    /// Best effort, for a `DATABASE_URL` server: the roles go, their
    /// objects pass to the test's user (the throwaway cluster goes whole).
    fn drop(&mut self) {
        let (owner, worker) = (&self.owner, &self.worker);
        let admin = &self.admin;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            admin.execute(&format!(
                "DROP OWNED BY {worker}; DROP ROLE {worker};
                 REASSIGN OWNED BY {owner} TO current_user; DROP OWNED BY {owner}; DROP ROLE {owner}"
            ));
        }));
    }
}

#[test]
fn a_worker_role_with_the_listed_grants_runs_every_command_but_migrate() {
    let roles = Roles::new();
    // `migrate` is the owner's: it creates tables.
    assert_contains(
        refused(&roles.run(&["migrate"])),
        &[
            "permission denied for schema public",
            "`domgen migrate` runs as the schema's owner",
        ],
    );

    let id = Uuid::new_v4().to_string();
    let generate = ["generate", "--pattern", "{alnum:2}{digit:1}.com"];
    let mut args = generate.to_vec();
    args.extend(["--batch-size", "500", "--no-progress", "--campaign-id", &id]);
    assert_contains(&ok(&roles.run(&args)), &["memory_allocations:"]);
    args.push("--resume");
    assert_contains(&ok(&roles.run(&args)), &["already complete"]);
    let total = 36 * 36 * 10;
    roles
        .admin
        .assert_exactly_once("generated_domains", id.parse().unwrap(), total);

    let continued = [
        "generate",
        "--pattern",
        "c{alpha:2}.org",
        "--continue",
        "--limit",
        "300",
        "--no-progress",
    ];
    assert_contains(&ok(&roles.run(&continued)), &["reserved positions 0..300"]);

    // --unique needs its unique index, which only the owner may create.
    let unique = [
        "generate",
        "--pattern",
        "c{alpha:2}.org",
        "--unique",
        "--no-progress",
    ];
    assert_contains(
        refused(&roles.run(&unique)),
        &[
            "must be owner of table generated_domains",
            "have the owner run `CREATE UNIQUE INDEX \"generated_domains_domain_name_unique\" ON generated_domains (domain_name)` once",
        ],
    );
    Sql::connect(&roles.as_owner).execute(
        "CREATE UNIQUE INDEX \"generated_domains_domain_name_unique\" ON generated_domains (domain_name)",
    );
    assert_contains(
        &ok(&roles.run(&unique)),
        &["300 names were already present"],
    );

    let planned = Uuid::new_v4().to_string();
    let plan = [
        "plan",
        "--pattern",
        "w{alnum:2}.net",
        "--batch-size",
        "200",
        "--campaign-id",
        &planned,
    ];
    ok(&roles.run(&plan));
    ok(&roles.run(&["worker", "--campaign-id", &planned, "--no-progress"]));
    assert_contains(
        &ok(&roles.run(&["status", "--campaign-id", &planned])),
        &["1296 of 1296 rows (100.0%), complete"],
    );

    let monitored = ok(&roles.run(&[
        "generate",
        "--pattern",
        "{alnum:4}.com",
        "--out",
        "/dev/null",
        "--no-progress",
        "--monitor",
        "--monitor-interval",
        "100ms",
    ]));
    assert_contains(&monitored, &[" 0 dropped", "0 write errors"]);
    let run = monitored
        .lines()
        .find_map(|l| l.strip_prefix("monitor: run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in\n{monitored}"))
        .to_owned();
    let csv = ok(&roles.run(&["report", "--run", &run, "--format", "csv"]));
    assert!(csv.lines().count() >= 3, "{csv}");
}

#[test]
fn a_missing_grant_is_named() {
    let roles = Roles::new();
    roles.admin.execute(&format!(
        "REVOKE UPDATE ON generation_runs FROM {}",
        roles.worker
    ));
    let out = roles.run(&["generate", "--pattern", "x{digit:2}.com", "--no-progress"]);
    assert_contains(
        refused(&out),
        &[
            "permission denied for table generation_runs",
            "run `GRANT SELECT, INSERT, UPDATE ON generation_runs TO <role>`",
            "README.md's \"Least privilege\"",
        ],
    );

    roles.admin.execute(&format!(
        "REVOKE SELECT ON refinery_schema_history FROM {}",
        roles.worker
    ));
    let out = roles.run(&["status", "--campaign-id", &Uuid::new_v4().to_string()]);
    assert_contains(
        refused(&out),
        &["run `GRANT SELECT ON refinery_schema_history TO <role>`"],
    );
}

/// The README's snippet is what `grants` prints, so what the test above
/// grants is what the README tells.
#[test]
fn the_readme_lists_the_grants() {
    let readme = include_str!("../README.md");
    let sql = domgen::pg::migrate::grants("domgen_worker", "domgen", "public");
    assert!(
        readme.contains(&sql),
        "README.md's \"Least privilege\" should contain exactly:\n{sql}"
    );
}
