//! The campaign service's schema, for the tests and benches that write into
//! its trigger-heavy `generated_domains`.

/// The campaign service's tables, as its database holds them before
/// domgen's first migration: `lead_generation_campaigns`; its
/// `generated_domains`, with a uuid key, a foreign key to the campaign, 25
/// secondary indexes and two per-row triggers (per-campaign counters, an
/// audit table); and its `domain_generation_config_states`. The file,
/// `crates/test-support/sql/service-schema.sql`, says why each part is
/// there; benches load it with `psql -f`.
///
/// Load it into a fresh database before migrating, as the service's
/// tables exist before domgen's:
///
/// ```no_run
/// use domgen_test_support::{SERVICE_SCHEMA, Sql, fresh_database, service_campaign};
///
/// let url = fresh_database();
/// let sql = Sql::connect(&url);
/// sql.execute(SERVICE_SCHEMA);
/// // ... migrate (domgen_pg::migrate::migrate, or `domgen migrate`) ...
/// sql.execute(&service_campaign("0f6f1c1e-2d5f-4a7e-9d3c-5b1a2c3d4e5f"));
/// ```
pub const SERVICE_SCHEMA: &str = include_str!("../sql/service-schema.sql");

/// The statement that creates campaign `id` (a uuid) in
/// `lead_generation_campaigns`, as the service does before generating its
/// domains: every row of its `generated_domains` must reference one.
pub fn service_campaign(id: impl std::fmt::Display) -> String {
    let id = id.to_string().replace('\'', "''");
    format!(
        "INSERT INTO lead_generation_campaigns (id, name, status) VALUES ('{id}', 'campaign {id}', 'running')"
    )
}
