//! The harness itself: a database of each test's own on the shared server,
//! callable from async tests, and connection strings with a setting
//! replaced.

use std::str::FromStr;

use domgen_test_support::{Sql, database_url, fresh_database, with_dbname, with_setting};

/// The one text value `sql` returns.
fn text(url: &str, sql: &str) -> String {
    Sql::connect(url).text(sql, &[])
}

fn execute(url: &str, sql: &str) {
    Sql::connect(url).execute(sql);
}

#[test]
fn the_harness_gives_each_test_a_database_of_its_own() {
    let a = fresh_database();
    let b = fresh_database();
    assert_ne!(a, b);
    let name_a = text(&a, "SELECT current_database()::text");
    let name_b = text(&b, "SELECT current_database()::text");
    assert_ne!(name_a, name_b);
    assert!(name_a.starts_with("domgen_test_"), "{name_a}");
    execute(&a, "CREATE TABLE only_in_a (x int)");
    assert_eq!(
        text(
            &b,
            "SELECT count(*)::text FROM pg_class WHERE relname = 'only_in_a'"
        ),
        "0"
    );
    // Both on the server of database_url().
    let both =
        format!("SELECT count(*)::text FROM pg_database WHERE datname IN ('{name_a}', '{name_b}')");
    assert_eq!(text(&database_url(), &both), "2");
}

#[test]
fn the_harness_can_be_called_from_async_tests() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = runtime.block_on(async { fresh_database() });
    assert_eq!(text(&url, "SELECT 'up'::text"), "up");
}

#[test]
fn a_later_dbname_wins_in_both_forms_of_connection_string() {
    for url in [
        "host=/run/x user=u dbname=a",
        "postgresql://u@localhost/a",
        "postgres://u@localhost:5433/a?sslmode=disable",
    ] {
        let with = with_dbname(url, "b");
        let config = tokio_postgres::Config::from_str(&with).unwrap();
        assert_eq!(config.get_dbname(), Some("b"), "{with}");
    }
}

#[test]
fn a_setting_is_added_to_both_forms_of_connection_string() {
    assert_eq!(
        with_setting("host=/run/x dbname=a", "password", "pw"),
        "host=/run/x dbname=a password=pw"
    );
    assert_eq!(
        with_setting("postgres://u@h/a?sslmode=disable", "password", "pw"),
        "postgres://u@h/a?sslmode=disable&password=pw"
    );
    assert_eq!(
        with_setting("postgres://u@h/a", "password", "pw"),
        "postgres://u@h/a?password=pw"
    );
}
