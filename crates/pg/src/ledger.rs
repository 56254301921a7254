//! The ledger: what makes a campaign's writes exactly once.
//!
//! A campaign is registered once in `generation_campaigns` with its spec,
//! order, seed, positions, batch size and table ([`register_campaign`]).
//! Its batches sit on a grid fixed then (`first_position + k ×
//! batch_names`), and each batch commits in **one** transaction with its
//! row in `generation_batches` ([`commit_batch`]): a batch is either wholly
//! in the target table with its ledger row, or not at all. Both writers go
//! through that one function — `generate`'s batches insert their ledger row
//! as committed (the primary key `(campaign_id, batch_start)` refuses a
//! second commit), a worker's leased batch moves its row to committed only
//! while its lease holds.
//!
//! [`missing`] reads which positions a campaign still lacks (what a resume
//! writes), and [`reserve`] moves a spec's cursor in
//! `domain_generation_config_states` ([`ConfigState`]: domgen's own, or
//! the campaign service's for a config converted from it), so that
//! campaigns continuing one spec get disjoint positions.

use std::ops::Range;

use bytes::Bytes;
use domgen_engine::Encoder;
use domgen_pattern::{Order, Space, Spec};
use futures_util::SinkExt;
use tokio_postgres::Client;
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::copy::{CopyRows, HEADER, PieceFields, TRAILER};
use crate::error::Error;

/// Quotes a possibly schema-qualified table name, refusing anything but
/// plain identifiers.
pub fn quote_table(name: &str) -> Result<String, Error> {
    let parts: Vec<&str> = name.split('.').collect();
    let plain = |p: &&str| {
        !p.is_empty()
            && p.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if parts.len() > 2 || !parts.iter().all(plain) {
        return Err(Error::usage(format!(
            "table name `{name}` is not a plain identifier (letters, digits, `_`, optionally schema.table)"
        )));
    }
    Ok(parts
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join("."))
}

/// The columns of the target table that take the pieces each name was
/// built from ([`domgen_pattern::Space::pieces`]): its keyword (NULL for a
/// pattern without `{keyword}`), its pattern as written in the spec, and
/// its TLD without the leading dot. `None` writes no such column.
///
/// The default is the campaign service's columns, `source_keyword`,
/// `source_pattern` and `tld`; [`check_table`] keeps only the columns the
/// table has, so a table without them gets the three columns
/// `campaign_id`, `offset_index`, `domain_name` as before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// The keyword's column.
    pub keyword: Option<String>,
    /// The pattern's column.
    pub pattern: Option<String>,
    /// The TLD's column.
    pub tld: Option<String>,
}

impl Default for Provenance {
    fn default() -> Provenance {
        Provenance {
            keyword: Some("source_keyword".into()),
            pattern: Some("source_pattern".into()),
            tld: Some("tld".into()),
        }
    }
}

impl Provenance {
    /// No provenance: rows of three columns.
    pub fn none() -> Provenance {
        Provenance {
            keyword: None,
            pattern: None,
            tld: None,
        }
    }

    /// The pieces a row carries, in the encoder's terms.
    pub fn fields(&self) -> PieceFields {
        PieceFields {
            keyword: self.keyword.is_some(),
            pattern: self.pattern.is_some(),
            tld: self.tld.is_some(),
        }
    }

    /// The columns, in the order [`CopyRows`] writes them.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        [&self.keyword, &self.pattern, &self.tld]
            .into_iter()
            .filter_map(|c| c.as_deref())
    }

    /// Refuses a column named twice, one of the three base columns, or a
    /// name that is not a plain identifier.
    fn check(&self) -> Result<(), Error> {
        let mut seen: Vec<&str> = Vec::new();
        for column in self.columns() {
            let plain = column
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && column
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !plain {
                return Err(Error::usage(format!(
                    "provenance column `{column}` is not a plain identifier (letters, digits, `_`); fix `Provenance`"
                )));
            }
            if ["campaign_id", "offset_index", "domain_name"].contains(&column) {
                return Err(Error::usage(format!(
                    "provenance column `{column}` is one of the columns every row fills; map the pieces to other columns in `Provenance`"
                )));
            }
            if seen.contains(&column) {
                return Err(Error::usage(format!(
                    "provenance column `{column}` is named twice; give each piece its own column in `Provenance`"
                )));
            }
            seen.push(column);
        }
        Ok(())
    }
}

/// Refuses a table for the rows that does not exist, saying how to make
/// it, and reads in the catalog which of `provenance`'s columns it has:
/// the mapping returned keeps only those (a mapped column of a type other
/// than text is refused, saying so).
pub async fn check_table(
    client: &Client,
    table: &str,
    provenance: &Provenance,
) -> Result<Provenance, Error> {
    provenance.check()?;
    let quoted = quote_table(table)?;
    let exists: Option<String> = client
        .query_typed_one("SELECT to_regclass($1)::text", &[(&quoted, Type::TEXT)])
        .await?
        .get(0);
    if exists.is_none() {
        return Err(Error::usage(format!(
            "table {table} does not exist; migrate the database (`migrate::migrate`) or create it with columns campaign_id uuid, offset_index bigint, domain_name text"
        )));
    }
    let wanted: Vec<&str> = provenance.columns().collect();
    if wanted.is_empty() {
        return Ok(Provenance::none());
    }
    let found = client
        .query_typed(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typcategory = 'S'
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
                AND a.attname = ANY($2::text[])",
            &[(&quoted, Type::TEXT), (&wanted, Type::TEXT_ARRAY)],
        )
        .await?;
    let mut has = Vec::new();
    for row in &found {
        let (name, kind, text): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
        if !text {
            return Err(Error::usage(format!(
                "column {name} of table {table} is {kind}, but provenance columns take text; change its type, map the piece to another column, or switch provenance off"
            )));
        }
        has.push(name);
    }
    let keep = |column: &Option<String>| column.clone().filter(|c| has.contains(c));
    Ok(Provenance {
        keyword: keep(&provenance.keyword),
        pattern: keep(&provenance.pattern),
        tld: keep(&provenance.tld),
    })
}

/// Makes `domain_name` unique in `table` for `unique` mode, unless a
/// unique index on exactly that column exists. On a large table this
/// builds an index once; afterwards every insert pays for it.
pub async fn ensure_unique_index(client: &Client, table: &str) -> Result<(), Error> {
    let quoted = quote_table(table)?;
    let exists: bool = client
        .query_typed_one(
            "SELECT EXISTS (
                 SELECT 1 FROM pg_index i
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnkeyatts = 1
                    AND a.attname = 'domain_name' AND i.indpred IS NULL)",
            &[(&quoted, Type::TEXT)],
        )
        .await?
        .get(0);
    if !exists {
        // Citus: a unique index must include the distribution column, so a
        // name cannot be unique across campaigns there.
        if crate::citus::is_distributed(client, table).await? {
            return Err(Error::usage(format!(
                "`CampaignOptions::unique` is refused on table {table}: it is distributed by \
                 Citus (by campaign_id), and Citus allows a unique index only together with \
                 the distribution column, so a name cannot be kept unique across campaigns. \
                 Write without it, or into a table that is not distributed"
            )));
        }
        let name = format!("\"{}_domain_name_unique\"", table.replace('.', "_"));
        client
            .batch_execute(&format!(
                "CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {quoted} (domain_name)"
            ))
            .await?;
    }
    Ok(())
}

pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64, Error> {
    i64::try_from(v)
        .map_err(|_| Error::usage(format!("{what} {v} does not fit PostgreSQL's bigint")))
}

/// Which writer a campaign is registered for; the other refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// One `campaign::generate` (or `domgen generate`) call writes it, and a
    /// resume finishes it; its ledger rows appear as batches commit.
    Generate,
    /// Workers claim its batches under leases from a cursor
    /// (`generation_campaigns.next_start`).
    Workers,
}

/// What [`register_campaign`] stores.
#[derive(Clone, Copy, Debug)]
pub struct Registration<'a> {
    /// The campaign's id.
    pub campaign_id: Uuid,
    /// The spec, stored so that workers and resumes compile the same space.
    pub spec: &'a Spec,
    /// The spec compiled, with the campaign's positions selected.
    pub space: &'a Space,
    /// Names per batch: the grid of the ledger (a cell, when `adaptive`).
    pub batch_names: u64,
    /// Whether a commit groups a measured number of cells
    /// ([`crate::sizing`]); false when the batch size is pinned.
    pub adaptive: bool,
    /// The table the rows go to.
    pub table: &'a str,
    /// Who writes it.
    pub writer: Writer,
}

/// A campaign as stored in `generation_campaigns`.
#[derive(Clone, Debug)]
pub struct StoredCampaign {
    /// The spec it was registered with.
    pub spec: Spec,
    /// The compiled space's fingerprint.
    pub fingerprint: String,
    /// The order.
    pub order: Order,
    /// The seed of the order.
    pub seed: u64,
    /// The positions it covers.
    pub positions: Range<u64>,
    /// Names per batch: the ledger's grid (a cell, when `adaptive`).
    pub batch_names: u64,
    /// Whether a commit groups a measured number of cells.
    pub adaptive: bool,
    /// The table its rows go to.
    pub table: String,
    /// Who writes it.
    pub writer: Writer,
}

impl StoredCampaign {
    /// What differs between this stored campaign and `space`, `table` and
    /// (when given) `batch_names`: anything that would change which name
    /// sits at which position, or where it goes. Empty when nothing does.
    pub fn differences(&self, space: &Space, table: &str, batch_names: Option<u64>) -> Vec<String> {
        let mut differ = Vec::new();
        let fingerprint = space.fingerprint();
        if self.fingerprint != fingerprint {
            differ.push(format!(
                "the spec (fingerprint {fingerprint} now, {} stored: its names differ)",
                self.fingerprint
            ));
        }
        let filter = self.spec.filter.summary();
        if filter != space.filter_summary() {
            differ.push(format!(
                "the filter ({} now, {filter} stored)",
                space.filter_summary()
            ));
        }
        if self.order != space.order() {
            differ.push(format!(
                "the order ({} now, {} stored)",
                space.order(),
                self.order
            ));
        }
        // Sequential order ignores the seed and the order's version.
        if space.order() == Order::Shuffled && self.seed != space.seed() {
            differ.push(format!(
                "the seed ({} now, {} stored)",
                space.seed(),
                self.seed
            ));
        }
        if space.order() == Order::Shuffled && self.spec.shuffle_version != space.shuffle_version()
        {
            differ.push(format!(
                "the shuffled order's version ({} now, {} stored)",
                space.shuffle_version(),
                self.spec.shuffle_version
            ));
        }
        let positions = space.selection();
        if self.positions != positions {
            differ.push(format!(
                "the positions ({}..{} now, {}..{} stored: check `offset`/`limit`)",
                positions.start, positions.end, self.positions.start, self.positions.end
            ));
        }
        if let Some(batch_names) = batch_names
            && self.batch_names != batch_names
        {
            differ.push(format!(
                "the batch size ({batch_names} now, {} stored)",
                self.batch_names
            ));
        }
        if self.table != table {
            differ.push(format!("the table ({table} now, {} stored)", self.table));
        }
        differ
    }
}

impl StoredCampaign {
    /// Puts `space` in the version of the shuffled order this campaign was
    /// started with, so that a campaign resumed or planned again by a
    /// release whose default order is newer goes on in its own order:
    /// one campaign never mixes orders.
    pub fn keep_order(&self, space: &mut Space) -> Result<(), Error> {
        if self.order != Order::Shuffled {
            return Ok(());
        }
        space.set_shuffle_version(self.spec.shuffle_version).map_err(|e| {
            Error::usage(format!(
                "the campaign was started in shuffled order version {}, which this domgen does not know; run the domgen that started it, or a newer one",
                self.spec.shuffle_version
            ))
            .because(e)
        })
    }
}

/// Lists `differ` in a sentence: "a, b differ" or "a differs".
pub(crate) fn differ_sentence(differ: &[String]) -> String {
    format!(
        "{} differ{}",
        differ.join(", "),
        if differ.len() == 1 { "s" } else { "" }
    )
}

/// What [`register_campaign`] found.
#[derive(Clone, Debug)]
pub struct Registered {
    /// Whether this call stored it; false when it existed already.
    pub created: bool,
    /// The campaign as stored (as given, when created).
    pub stored: StoredCampaign,
}

/// Registers a campaign, unless one with its id exists already: then the
/// stored campaign is returned for the caller to compare
/// ([`StoredCampaign::differences`]) — the row is never changed. The
/// table must exist; the positions must fit the COPY encoding.
pub async fn register_campaign(
    client: &Client,
    registration: &Registration<'_>,
) -> Result<Registered, Error> {
    let Registration {
        campaign_id,
        spec,
        space,
        batch_names,
        adaptive,
        table,
        writer,
    } = *registration;
    if batch_names == 0 {
        return Err(Error::usage(
            "batch size 0: a batch needs at least one name (`batch_names` ≥ 1)",
        ));
    }
    let positions = space.selection();
    CopyRows::new(campaign_id)
        .check_positions(&positions)
        .map_err(Error::usage)?;
    check_table(client, table, &Provenance::none()).await?;
    let mut spec_json = serde_json::to_value(spec)
        .map_err(|e| Error::usage(format!("the spec cannot be stored: {e}")).because(e))?;
    // The order the space is in, which a continued campaign may have
    // taken from the cursor it continues rather than from the spec.
    spec_json["shuffle_version"] = space.shuffle_version().into();
    let fingerprint = space.fingerprint();
    let inserted = client
        .execute_typed(
            "INSERT INTO generation_campaigns
               (campaign_id, fingerprint, spec, order_kind, seed, first_position, end_position,
                batch_names, target_table, next_start, adaptive)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $10::boolean THEN $6::bigint END, $11)
             ON CONFLICT (campaign_id) DO NOTHING",
            &[
                (&campaign_id, Type::UUID),
                (&fingerprint, Type::TEXT),
                (&spec_json, Type::JSONB),
                (&order_kind(space), Type::TEXT),
                (&to_i64(space.seed(), "seed")?, Type::INT8),
                (&to_i64(positions.start, "offset")?, Type::INT8),
                (&to_i64(positions.end, "end position")?, Type::INT8),
                (&to_i64(batch_names, "batch size")?, Type::INT8),
                (&table, Type::TEXT),
                (&(writer == Writer::Workers), Type::BOOL),
                (&adaptive, Type::BOOL),
            ],
        )
        .await?;
    if inserted == 1 {
        return Ok(Registered {
            created: true,
            stored: StoredCampaign {
                spec: Spec {
                    shuffle_version: space.shuffle_version(),
                    ..spec.clone()
                },
                fingerprint,
                order: space.order(),
                seed: space.seed(),
                positions,
                batch_names,
                adaptive,
                table: table.to_owned(),
                writer,
            },
        });
    }
    let stored = stored_campaign(client, campaign_id).await?.ok_or_else(|| {
        Error::database(format!(
            "campaign {campaign_id} vanished while it was registered"
        ))
    })?;
    Ok(Registered {
        created: false,
        stored,
    })
}

/// Reads a campaign's row, if it exists.
pub async fn stored_campaign(
    client: &Client,
    campaign_id: Uuid,
) -> Result<Option<StoredCampaign>, Error> {
    let row = client
        .query_typed_opt(
            "SELECT fingerprint, order_kind, seed, first_position, end_position, batch_names,
                    target_table, next_start IS NOT NULL, spec, adaptive
               FROM generation_campaigns WHERE campaign_id = $1",
            &[(&campaign_id, Type::UUID)],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let corrupt = |what: &str| {
        Error::database(format!(
            "campaign {campaign_id}: {what} in generation_campaigns is corrupt"
        ))
    };
    let unsigned =
        |i: usize, what: &str| u64::try_from(row.get::<_, i64>(i)).map_err(|_| corrupt(what));
    let (order, version) =
        parse_order_kind(row.get(1)).ok_or_else(|| corrupt("the order (order_kind)"))?;
    let mut spec: Spec = serde_json::from_value(row.get(8))
        .map_err(|e| corrupt(&format!("the stored spec ({e})")))?;
    if let Some(version) = version {
        spec.shuffle_version = version;
    }
    Ok(Some(StoredCampaign {
        spec,
        fingerprint: row.get(0),
        order,
        seed: unsigned(2, "the seed")?,
        positions: unsigned(3, "first_position")?..unsigned(4, "end_position")?,
        batch_names: unsigned(5, "batch_names")?,
        adaptive: row.get(9),
        table: row.get(6),
        writer: if row.get::<_, bool>(7) {
            Writer::Workers
        } else {
            Writer::Generate
        },
    }))
}

/// A campaign's `order_kind`: `sequential`, `shuffled` for version 1 of
/// the shuffled order (as releases before versions wrote it), and
/// `shuffled-v<version>` for later versions, which a release that does not
/// know versions refuses to read rather than work in its own order.
fn order_kind(space: &Space) -> String {
    match (space.order(), space.shuffle_version()) {
        (Order::Sequential, _) => "sequential".to_owned(),
        (Order::Shuffled, 1) => "shuffled".to_owned(),
        (Order::Shuffled, version) => format!("shuffled-v{version}"),
    }
}

/// The order, and the shuffled order's version, of an `order_kind`.
fn parse_order_kind(kind: &str) -> Option<(Order, Option<u8>)> {
    match kind {
        "sequential" => Some((Order::Sequential, None)),
        "shuffled" => Some((Order::Shuffled, Some(1))),
        _ => {
            let version = kind.strip_prefix("shuffled-v")?.parse().ok()?;
            Some((Order::Shuffled, Some(version)))
        }
    }
}

/// The positions of `selection` that have no committed batch in the
/// campaign's ledger, in order, and the rows committed so far.
pub async fn missing(
    client: &Client,
    campaign_id: Uuid,
    selection: Range<u64>,
) -> Result<(Vec<Range<u64>>, u64), Error> {
    let committed = client
        .query_typed(
            "SELECT batch_start, batch_end FROM generation_batches
             WHERE campaign_id = $1 AND status = 'committed' ORDER BY batch_start",
            &[(&campaign_id, Type::UUID)],
        )
        .await?;
    let mut missing = Vec::new();
    let mut at = selection.start;
    let mut committed_rows = 0;
    for row in committed {
        let (start, end): (i64, i64) = (row.get(0), row.get(1));
        let (Ok(start), Ok(end)) = (u64::try_from(start), u64::try_from(end)) else {
            return Err(Error::database(format!(
                "campaign {campaign_id}: a ledger row in generation_batches has negative positions {start}..{end}"
            )));
        };
        if start > at {
            missing.push(at..start);
        }
        committed_rows += end - start;
        at = at.max(end);
    }
    if at < selection.end {
        missing.push(at..selection.end);
    }
    Ok((missing, committed_rows))
}

/// The key of domgen's own cursor for a space in
/// `domain_generation_config_states`.
/// `domgen:<fingerprint>:sequential`, `domgen:<fingerprint>:shuffled:<seed>`
/// for version 1 of the shuffled order (the key of the releases before
/// versions), `domgen:<fingerprint>:shuffled-v<version>:<seed>` for later
/// versions.
pub fn cursor_key(space: &Space) -> String {
    match (space.order(), space.shuffle_version()) {
        (Order::Sequential, _) => format!("domgen:{}:sequential", space.fingerprint()),
        (Order::Shuffled, 1) => {
            format!("domgen:{}:shuffled:{}", space.fingerprint(), space.seed())
        }
        (Order::Shuffled, version) => format!(
            "domgen:{}:shuffled-v{version}:{}",
            space.fingerprint(),
            space.seed()
        ),
    }
}

/// A row of `domain_generation_config_states`: the cursor [`reserve`]
/// moves, and what its `config_details` holds when [`reserve`] creates it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigState {
    /// The row's key, `config_hash`.
    pub config_hash: String,
    /// The key in a `config_hash` column too narrow for `config_hash` (the
    /// campaign service's is `varchar(64)`): domgen's own shuffled key with
    /// its seed in hex, `domgen:<fingerprint>:s<seed>` (57 characters) for
    /// version 1 of the order, `…:s<version><seed>` for later ones. Only
    /// where the full key cannot be stored, so a cursor stored under the
    /// full key stays where it is.
    pub compact_hash: Option<String>,
    /// `config_details` of a row created here.
    pub config_details: serde_json::Value,
}

impl ConfigState {
    /// domgen's own cursor for `space`, keyed by [`cursor_key`]: the
    /// compiled space's fingerprint with the order (and the seed and the
    /// order's version when shuffled), so two specs share a cursor exactly
    /// when they put the same name at every position.
    pub fn domgen(space: &Space) -> ConfigState {
        ConfigState {
            config_hash: cursor_key(space),
            compact_hash: match (space.order(), space.shuffle_version()) {
                (Order::Sequential, _) => None,
                (Order::Shuffled, 1) => Some(format!(
                    "domgen:{}:s{:016x}",
                    space.fingerprint(),
                    space.seed()
                )),
                (Order::Shuffled, version) => Some(format!(
                    "domgen:{}:s{version}{:016x}",
                    space.fingerprint(),
                    space.seed()
                )),
            },
            config_details: serde_json::json!({
                "fingerprint": space.fingerprint(),
                "order": space.order().to_string(),
                "seed": space.seed().to_string(),
                "shuffle_version": space.shuffle_version(),
                "total": space.total(),
                "patterns": space.patterns().map(|p| p.text.to_owned()).collect::<Vec<_>>(),
            }),
        }
    }

    /// The cursor a campaign continuing `spec` moves (`space` is `spec`
    /// compiled): for a spec converted from a campaign-service config
    /// ([`Spec::from_domainflow`](domgen_pattern::Spec::from_domainflow)),
    /// the service's own row for that config, keyed by its `config_hash`
    /// and created, if the service has none yet, with the hashed document
    /// as `config_details` ([`Spec::service_key`]); for any other spec,
    /// [`ConfigState::domgen`].
    ///
    /// The service's `last_offset` means "offsets 0..last_offset of this
    /// config were issued", and the converted spec's position `o` is the
    /// service's offset `o`, so both writers taking turns on this row
    /// neither repeat nor skip a name. Refused, with the reason, where the
    /// service's hash cannot tell this config from one making other names
    /// (an unsorted charset, a legacy `variable_length`), or where the
    /// spec's positions are not the service's offsets (shuffled, edited).
    pub fn for_spec(spec: &Spec, space: &Space) -> Result<ConfigState, Error> {
        let Some(key) = spec.service_key()? else {
            return Ok(ConfigState::domgen(space));
        };
        let config_details = serde_json::from_str(&key.document).map_err(|e| {
            Error::usage(format!(
                "the campaign service's config document `{}` is not JSON ({e}); this is a bug in domgen",
                key.document
            ))
        })?;
        Ok(ConfigState {
            config_hash: key.hash,
            compact_hash: None,
            config_details,
        })
    }
}

/// Reserves the next `limit` positions (all that are left when `None`) of
/// `space` in its order for a new campaign, from the cursor `state` in
/// `domain_generation_config_states` (created at 0 if missing), so that
/// campaigns continuing one spec get disjoint positions — as the campaign
/// service does to avoid duplicates across campaigns, and with the
/// service's own row for a converted config ([`ConfigState::for_spec`]).
///
/// The row is locked while the cursor moves, so concurrent reservations
/// are disjoint; the cursor never moves backwards; an exhausted spec is
/// refused with its numbers, never wrapped around.
pub async fn reserve(
    client: &Client,
    state: &ConfigState,
    space: &Space,
    limit: Option<u64>,
) -> Result<Range<u64>, Error> {
    let key = state_key(client, state).await?;
    let key = &key;
    let total = to_i64(space.total(), "the space's size")?;
    let want = to_i64(limit.unwrap_or(space.total()), "the limit")?;
    client
        .execute_typed(
            "INSERT INTO domain_generation_config_states (config_hash, last_offset, config_details)
             VALUES ($1, 0, $2) ON CONFLICT (config_hash) DO NOTHING",
            &[(key, Type::TEXT), (&state.config_details, Type::JSONB)],
        )
        .await?;
    let row = client
        .query_typed_one(
            "WITH current AS (
                 SELECT last_offset FROM domain_generation_config_states WHERE config_hash = $1 FOR UPDATE
             )
             UPDATE domain_generation_config_states AS s
                SET last_offset = GREATEST(current.last_offset, LEAST(current.last_offset + $2, $3)),
                    updated_at = now()
               FROM current
              WHERE s.config_hash = $1
          RETURNING current.last_offset, s.last_offset",
            &[(key, Type::TEXT), (&want, Type::INT8), (&total, Type::INT8)],
        )
        .await?;
    let (from, to): (i64, i64) = (row.get(0), row.get(1));
    let (from, to) = (
        u64::try_from(from).unwrap_or(0),
        u64::try_from(to).unwrap_or(0),
    );
    if from >= space.total() {
        return Err(Error::usage(format!(
            "this spec is exhausted: all {} names were issued to earlier campaigns (cursor {from} of {}); change the spec, or select positions with `offset`/`limit` without `Start::Continue` to write names again",
            space.total(),
            space.total()
        )));
    }
    Ok(from..to)
}

/// Whether the cursor `state` exists in `domain_generation_config_states`.
pub async fn cursor_exists(client: &Client, state: &ConfigState) -> Result<bool, Error> {
    let key = state_key(client, state).await?;
    Ok(client
        .query_typed_opt(
            "SELECT 1 FROM domain_generation_config_states WHERE config_hash = $1",
            &[(&key, Type::TEXT)],
        )
        .await?
        .is_some())
}

/// The key `state` has in this database's `domain_generation_config_states`:
/// its `config_hash`, or its compact form where the column is too narrow
/// for that (refused, saying so, where neither fits).
async fn state_key(client: &Client, state: &ConfigState) -> Result<String, Error> {
    // varchar(n) and char(n) keep n + 4 in atttypmod; text keeps -1.
    let width: Option<i32> = client
        .query_typed_opt(
            "SELECT atttypmod - 4 FROM pg_attribute
              WHERE attrelid = to_regclass('domain_generation_config_states')
                AND attname = 'config_hash' AND atttypmod > 4",
            &[],
        )
        .await?
        .map(|row| row.get(0));
    let Some(width) = width.and_then(|w| usize::try_from(w).ok()) else {
        return Ok(state.config_hash.clone());
    };
    let fits = |key: &String| key.chars().count() <= width;
    if fits(&state.config_hash) {
        return Ok(state.config_hash.clone());
    }
    match &state.compact_hash {
        Some(compact) if fits(compact) => Ok(compact.clone()),
        _ => Err(Error::usage(format!(
            "the cursor key `{}` has {} characters, but domain_generation_config_states.config_hash holds {width}; widen the column (ALTER TABLE domain_generation_config_states ALTER COLUMN config_hash TYPE text)",
            state.config_hash,
            state.config_hash.chars().count()
        ))),
    }
}

/// Where a batch's rows go, and how.
#[derive(Clone, Debug)]
pub struct Target {
    /// COPY into the table, or into the staging table in `unique` mode.
    copy: String,
    /// `unique` mode: creates the staging table in the batch's transaction.
    staging: Option<&'static str>,
    /// `unique` mode: from the staging table into the table, skipping
    /// names present.
    insert: Option<String>,
    /// The pieces the rows carry.
    provenance: Provenance,
}

/// The staging table of `unique` mode. It lives in the batch's
/// transaction, not in the session: behind PgBouncer's transaction pooling
/// the next transaction may run on another server connection.
const STAGING: &str = "pg_temp.domgen_staging";

/// Creates [`STAGING`] in the current transaction. `IF NOT EXISTS`: a
/// server connection may still hold the session-long staging table of an
/// older domgen, which empties on commit just as well.
const STAGING_CREATE: &str = "CREATE TEMP TABLE IF NOT EXISTS domgen_staging (campaign_id uuid, offset_index bigint, domain_name text) ON COMMIT DROP";

/// The staging table of `unique` mode for rows with pieces: a table of its
/// own, since an older domgen's [`STAGING`] may lack their columns.
const STAGING_PIECES: &str = "pg_temp.domgen_staging_pieces";

const STAGING_PIECES_CREATE: &str = "CREATE TEMP TABLE IF NOT EXISTS domgen_staging_pieces (campaign_id uuid, offset_index bigint, domain_name text, keyword text, pattern text, tld text) ON COMMIT DROP";

impl Target {
    /// Rows COPYed straight into `table`: columns `campaign_id`,
    /// `offset_index`, `domain_name` and the columns of `provenance`, as
    /// [`check_table`] returned it (others take their defaults).
    pub fn table(table: &str, provenance: &Provenance) -> Result<Target, Error> {
        provenance.check()?;
        Ok(Target {
            copy: format!(
                "COPY {} (campaign_id, offset_index, domain_name{}) FROM STDIN (FORMAT binary)",
                quote_table(table)?,
                quoted_columns(provenance.columns())
            ),
            staging: None,
            insert: None,
            provenance: provenance.clone(),
        })
    }

    /// Rows COPYed into a staging table, then inserted into `table` with
    /// `ON CONFLICT (domain_name) DO NOTHING`: names the table has already
    /// are skipped. The table needs a unique index on `domain_name`
    /// ([`ensure_unique_index`]); the staging table is created in each
    /// batch's transaction and dropped at its commit.
    pub fn unique(table: &str, provenance: &Provenance) -> Result<Target, Error> {
        provenance.check()?;
        let quoted = quote_table(table)?;
        if provenance.fields().is_empty() {
            return Ok(Target {
                copy: format!(
                    "COPY {STAGING} (campaign_id, offset_index, domain_name) FROM STDIN (FORMAT binary)"
                ),
                staging: Some(STAGING_CREATE),
                insert: Some(format!(
                    "INSERT INTO {quoted} (campaign_id, offset_index, domain_name)
                     SELECT campaign_id, offset_index, domain_name FROM {STAGING}
                     ON CONFLICT (domain_name) DO NOTHING"
                )),
                provenance: Provenance::none(),
            });
        }
        // The staging table's own names for the pieces present.
        let staged = Provenance {
            keyword: provenance.keyword.as_ref().map(|_| "keyword".into()),
            pattern: provenance.pattern.as_ref().map(|_| "pattern".into()),
            tld: provenance.tld.as_ref().map(|_| "tld".into()),
        };
        Ok(Target {
            copy: format!(
                "COPY {STAGING_PIECES} (campaign_id, offset_index, domain_name{}) FROM STDIN (FORMAT binary)",
                quoted_columns(staged.columns())
            ),
            staging: Some(STAGING_PIECES_CREATE),
            insert: Some(format!(
                "INSERT INTO {quoted} (campaign_id, offset_index, domain_name{})
                 SELECT campaign_id, offset_index, domain_name{} FROM {STAGING_PIECES}
                 ON CONFLICT (domain_name) DO NOTHING",
                quoted_columns(provenance.columns()),
                quoted_columns(staged.columns())
            )),
            provenance: provenance.clone(),
        })
    }

    /// The columns the pieces go to.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// The encoder of this target's rows for `campaign_id` over `space`.
    pub fn encoder(&self, campaign_id: Uuid, space: &Space) -> CopyRows {
        CopyRows::new(campaign_id).with_pieces(self.provenance.fields(), space)
    }
}

/// `, "a", "b"`: columns appended to a column list.
fn quoted_columns<'a>(columns: impl Iterator<Item = &'a str>) -> String {
    columns.map(|c| format!(", \"{c}\"")).collect()
}

/// How a batch comes to be committed in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Nobody holds it: its ledger row is inserted as committed, and the
    /// primary key refuses a batch committed before.
    Unclaimed,
    /// A worker holds it under the lease with this token: its `leased`
    /// row moves to `committed` only if the lease still holds (same token,
    /// not expired by the database's clock).
    Leased(Uuid),
}

/// One batch of a campaign, ready to commit.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// The campaign.
    pub campaign_id: Uuid,
    /// The batch's positions: cells of the campaign's grid, in any order,
    /// for an [`Claim::Unclaimed`] batch (each gets its own ledger row, so
    /// two writers that group cells differently still cannot both commit
    /// one); the lease's one range for a [`Claim::Leased`] batch.
    pub positions: &'a [Range<u64>],
    /// How it is held.
    pub claim: Claim,
    /// Its rows as binary COPY streams, each whole (header, rows,
    /// trailer) as [`CopyRows`] encodes them; they are sent as one COPY.
    pub chunks: &'a [Bytes],
}

/// What became of a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The rows and the ledger row are committed.
    Committed {
        /// Rows the table gained (fewer than the batch's positions in
        /// `unique` mode, when names were present already).
        rows: u64,
    },
    /// The lease was lost before the commit (expired by the database's
    /// clock, or taken over): nothing was written.
    Refused,
}

/// The ledger rows of an unclaimed batch's cells: `$1` the campaign, then
/// each cell's start and end. Rows written by a multi-row `VALUES` (not
/// `unnest`), which Citus routes to the campaign's shard like one row.
fn ledger_insert(cells: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO generation_batches (campaign_id, batch_start, batch_end, status, rows, committed_at) VALUES ",
    );
    for i in 0..cells {
        let (start, end) = (2 * i + 2, 2 * i + 3);
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "($1, ${start}, ${end}, 'committed', ${end} - ${start}, statement_timestamp())"
        ));
    }
    sql
}

const LEDGER_ROWS: &str =
    "UPDATE generation_batches SET rows = $3 WHERE campaign_id = $1 AND batch_start = $2";

const LEDGER_FENCED: &str = "UPDATE generation_batches
    SET status = 'committed', rows = $4, committed_at = statement_timestamp(), lease_expires_at = NULL
  WHERE campaign_id = $1 AND batch_start = $2 AND lease_token = $3
    AND status = 'leased' AND lease_expires_at > statement_timestamp()";

/// Commits a batch: its rows into `target` and its ledger rows, in one
/// transaction. The only place either is written.
///
/// The server must take exactly one row per position: a COPY that took
/// another count is an error, and nothing is committed. An
/// [`Claim::Unclaimed`] batch with a cell committed before fails on the
/// ledger's primary key, before any row is sent; a [`Claim::Leased`] batch
/// whose lease no longer holds is rolled back, rows and all, and the
/// outcome is [`Outcome::Refused`]. (The fenced update runs after the
/// COPY, so the row is locked only from then to the commit: a renewal in
/// flight is not held up for the whole COPY.)
pub async fn commit_batch(
    client: &mut Client,
    target: &Target,
    batch: &Batch<'_>,
) -> Result<Outcome, Error> {
    let chunks = futures_util::stream::iter(batch.chunks.iter().cloned().map(Ok));
    commit_stream(
        client,
        target,
        batch.campaign_id,
        batch.positions,
        batch.claim,
        chunks,
    )
    .await
}

/// [`commit_batch`] for rows that arrive while the COPY runs: each item of
/// `chunks` is a whole binary COPY stream ([`CopyRows`]), and an error
/// from it aborts the COPY and the transaction. So a batch need not be
/// held in memory whole before its commit.
pub async fn commit_stream(
    client: &mut Client,
    target: &Target,
    campaign_id: Uuid,
    positions: &[Range<u64>],
    claim: Claim,
    chunks: impl futures_util::Stream<Item = Result<Bytes, Error>>,
) -> Result<Outcome, Error> {
    use futures_util::StreamExt;
    let what = Cells(positions);
    let names: u64 = positions.iter().map(|p| p.end - p.start).sum();
    let mut bounds = Vec::with_capacity(2 * positions.len());
    for cell in positions {
        if cell.is_empty() {
            return Err(Error::usage(format!(
                "{what}: an empty range has no rows to commit"
            )));
        }
        bounds.push(to_i64(cell.start, "batch start")?);
        bounds.push(to_i64(cell.end, "batch end")?);
    }
    let lease = match claim {
        Claim::Leased(token) => match positions {
            [one] => Some((token, one.start)),
            _ => {
                return Err(Error::usage(format!(
                    "{what}: a leased batch is the lease's one range"
                )));
            }
        },
        Claim::Unclaimed if positions.is_empty() => {
            return Err(Error::usage("a batch needs at least one cell of positions"));
        }
        Claim::Unclaimed => None,
    };
    // Every statement of the transaction runs on one server connection,
    // also behind a transaction-pooling PgBouncer. The COPY's named
    // statement is closed as soon as `copy_in` returns, so before COMMIT.
    let tx = client.transaction().await?;
    if lease.is_none() {
        let mut params: Vec<(&(dyn tokio_postgres::types::ToSql + Sync), Type)> =
            Vec::with_capacity(bounds.len() + 1);
        params.push((&campaign_id, Type::UUID));
        params.extend(bounds.iter().map(|b| (b as _, Type::INT8)));
        tx.execute_typed(&ledger_insert(positions.len()), &params)
            .await?;
    }
    if let Some(create) = target.staging {
        tx.batch_execute(create).await?;
    }
    let sink = tx.copy_in::<_, Bytes>(target.copy.as_str()).await?;
    futures_util::pin_mut!(sink);
    futures_util::pin_mut!(chunks);
    sink.send(Bytes::from_static(HEADER)).await?;
    let mut i = 0;
    while let Some(chunk) = chunks.next().await {
        // Each chunk must be a whole COPY stream; the rows between their
        // headers and trailers are sent as one stream.
        let chunk = chunk?;
        if chunk.len() < HEADER.len() + TRAILER.len()
            || !chunk.starts_with(HEADER)
            || !chunk.ends_with(TRAILER)
        {
            return Err(Error::usage(format!(
                "{what}: chunk {i} ({} bytes) is not a binary COPY stream with its header and trailer; encode chunks with CopyRows",
                chunk.len()
            )));
        }
        sink.send(chunk.slice(HEADER.len()..chunk.len() - TRAILER.len()))
            .await?;
        i += 1;
    }
    sink.send(Bytes::from_static(TRAILER)).await?;
    let copied = sink.as_mut().finish().await?;
    if copied != names {
        return Err(Error::database(format!(
            "{what}: the server's COPY took {copied} rows, expected {names}; nothing was committed"
        )));
    }
    let rows = match &target.insert {
        None => names,
        Some(insert) => tx.execute_typed(insert.as_str(), &[]).await?,
    };
    match lease {
        None if rows != names => {
            // Which names were present is not known per cell: the cells
            // taken first in the batch carry its shortfall, so the
            // ledger's rows still add up to the table's.
            let mut short = names - rows;
            for cell in positions {
                if short == 0 {
                    break;
                }
                let cut = short.min(cell.end - cell.start);
                short -= cut;
                tx.execute_typed(
                    LEDGER_ROWS,
                    &[
                        (&campaign_id, Type::UUID),
                        (&to_i64(cell.start, "batch start")?, Type::INT8),
                        (&to_i64(cell.end - cell.start - cut, "rows")?, Type::INT8),
                    ],
                )
                .await?;
            }
        }
        None => {}
        Some((token, start)) => {
            let updated = tx
                .execute_typed(
                    LEDGER_FENCED,
                    &[
                        (&campaign_id, Type::UUID),
                        (&to_i64(start, "batch start")?, Type::INT8),
                        (&token, Type::UUID),
                        (&to_i64(rows, "rows")?, Type::INT8),
                    ],
                )
                .await?;
            if updated != 1 {
                tx.rollback().await?;
                return Ok(Outcome::Refused);
            }
        }
    }
    tx.commit().await?;
    Ok(Outcome::Committed { rows })
}

/// Names a batch's cells in messages: `batch 0..100`, or
/// `batch of 3 cells 0..100, 200..300, …`.
struct Cells<'a>(&'a [Range<u64>]);

impl std::fmt::Display for Cells<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            [one] => write!(f, "batch {}..{}", one.start, one.end),
            cells => {
                write!(f, "batch of {} cells", cells.len())?;
                for (i, cell) in cells.iter().take(3).enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{}..{}", cell.start, cell.end)?;
                }
                if cells.len() > 3 {
                    f.write_str(", …")?;
                }
                Ok(())
            }
        }
    }
}

/// A committed batch's ledger entry, as [`committed`] reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Rows the batch put in the table.
    pub rows: u64,
    /// The lease it was committed under (`None` for `generate`'s batches).
    pub lease_token: Option<Uuid>,
}

/// Whether the batch of `campaign_id` whose cells start at `starts` is
/// committed, and how: what a writer asks after a connection was lost
/// during its commit, to learn whether the commit landed. A batch's cells
/// commit together, so its own commit put in all of them or none: only
/// all of them committed is an answer (the rows are their sum). Some but
/// not all were committed by another writer grouping the cells otherwise,
/// and this batch did not land: `None`, and its retry meets theirs on the
/// primary key.
pub async fn committed(
    client: &Client,
    campaign_id: Uuid,
    starts: &[u64],
) -> Result<Option<Committed>, Error> {
    let starts = starts
        .iter()
        .map(|&s| to_i64(s, "batch start"))
        .collect::<Result<Vec<i64>, Error>>()?;
    let row = client
        .query_typed_one(
            "SELECT count(*), sum(rows)::int8, max(lease_token::text)::uuid FROM generation_batches
             WHERE campaign_id = $1 AND batch_start = ANY($2) AND status = 'committed'",
            &[(&campaign_id, Type::UUID), (&starts, Type::INT8_ARRAY)],
        )
        .await?;
    if row.get::<_, i64>(0) < i64::try_from(starts.len()).unwrap_or(i64::MAX) {
        return Ok(None);
    }
    Ok(Some(Committed {
        rows: u64::try_from(row.get::<_, Option<i64>>(1).unwrap_or(0)).unwrap_or(0),
        lease_token: row.get(2),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(order: Order, seed: u64, version: u8) -> Space {
        Space::compile(&Spec {
            patterns: vec!["shop{digit:2}.com".into()],
            order,
            seed,
            shuffle_version: version,
            ..Spec::default()
        })
        .unwrap()
    }

    /// Cursors and campaigns stored by releases before order versions
    /// are found under the keys and `order_kind` those releases wrote.
    #[test]
    fn version_1_keeps_the_keys_of_the_releases_before_versions() {
        let v1 = space(Order::Shuffled, 1_000_000_000_000_007, 1);
        let fp = v1.fingerprint();
        let state = ConfigState::domgen(&v1);
        assert_eq!(
            state.config_hash,
            format!("domgen:{fp}:shuffled:1000000000000007")
        );
        assert_eq!(
            state.compact_hash.as_deref(),
            Some(&*format!("domgen:{fp}:s00038d7ea4c68007"))
        );
        assert_eq!(state.compact_hash.unwrap().len(), 57);
        assert_eq!(order_kind(&v1), "shuffled");
        let v2 = space(Order::Shuffled, 1_000_000_000_000_007, 2);
        let state = ConfigState::domgen(&v2);
        assert_eq!(
            state.config_hash,
            format!("domgen:{fp}:shuffled-v2:1000000000000007")
        );
        assert_eq!(
            state.compact_hash.as_deref(),
            Some(&*format!("domgen:{fp}:s200038d7ea4c68007"))
        );
        assert_eq!(order_kind(&v2), "shuffled-v2");
        let sequential = space(Order::Sequential, 5, 2);
        assert_eq!(cursor_key(&sequential), format!("domgen:{fp}:sequential"));
        assert_eq!(order_kind(&sequential), "sequential");
    }

    #[test]
    fn order_kinds_read_back_as_written() {
        assert_eq!(
            parse_order_kind("sequential"),
            Some((Order::Sequential, None))
        );
        assert_eq!(
            parse_order_kind("shuffled"),
            Some((Order::Shuffled, Some(1)))
        );
        assert_eq!(
            parse_order_kind("shuffled-v2"),
            Some((Order::Shuffled, Some(2)))
        );
        for bad in ["", "shuffled-v", "shuffled-vx", "shuffled-2", "random"] {
            assert_eq!(parse_order_kind(bad), None, "{bad}");
        }
    }
}
