-- The campaign service's tables that domgen writes into, as its database
-- holds them before domgen's first `migrate`: written for domgen's tests
-- and benches to stand in for the service's schema, which is not ours to
-- copy. What matters is what each part costs a row and what it checks:
--
-- - `generated_domains` is trigger-heavy: a uuid key made by a default, a
--   foreign key to the campaign, 25 secondary indexes (two of them
--   UNIQUE, partial and expression ones among them) and two per-row
--   triggers. A COPY into it pays all of that per row, so rows/s here is
--   not the bare heap's.
-- - The counters trigger upserts and then UPDATEs one row per campaign for
--   every name. A batch of n rows in one transaction updates that row n
--   times, each update visiting the versions the earlier ones left, so a
--   batch costs about n²: the shape that punishes large batches.
-- - The audit trigger writes each new row as JSONB into another table: a
--   second insert, with its own index, per name.
-- - `domain_generation_config_states` is the service's own (config_hash
--   varchar(64), no check on last_offset): domgen's V2 creates both tables
--   IF NOT EXISTS and must leave them as they are, and `Start::Continue`
--   on a converted config reads and advances the service's rows here.
--
-- Load it before `domgen migrate`, as the service's database has these
-- tables already. The names are ours; only the shapes matter.

-- The campaigns the domains belong to: every domain row needs one.
CREATE TABLE lead_generation_campaigns (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    status text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'running', 'paused', 'completed', 'failed')),
    target_domains bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The names. domgen fills campaign_id, offset_index, domain_name and the
-- provenance columns (source_keyword, source_pattern, tld); the service's
-- validation pipeline fills the rest later, so they start at defaults.
CREATE TABLE generated_domains (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id uuid NOT NULL REFERENCES lead_generation_campaigns (id) ON DELETE CASCADE,
    offset_index bigint NOT NULL CHECK (offset_index >= 0),
    domain_name text NOT NULL,
    source_keyword text,
    source_pattern text,
    tld varchar(63),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'validating', 'valid', 'invalid', 'error')),
    dns_status text NOT NULL DEFAULT 'pending',
    dns_ip inet,
    dns_checked_at timestamptz,
    http_status text NOT NULL DEFAULT 'pending',
    http_status_code integer,
    http_title text,
    http_checked_at timestamptz,
    lead_score numeric(5, 2) NOT NULL DEFAULT 0,
    validation_attempts integer NOT NULL DEFAULT 0,
    is_parked boolean,
    metadata jsonb NOT NULL DEFAULT '{}',
    generated_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- 25 secondary indexes, as the service grew them for its queries. Every
-- one is maintained on every insert.
-- One name and one position per campaign.
CREATE UNIQUE INDEX generated_domains_campaign_name_key ON generated_domains (campaign_id, domain_name);
CREATE UNIQUE INDEX generated_domains_campaign_offset_key ON generated_domains (campaign_id, offset_index);
-- Lookups and listings.
CREATE INDEX idx_generated_domains_campaign ON generated_domains (campaign_id);
CREATE INDEX idx_generated_domains_name ON generated_domains (domain_name);
CREATE INDEX idx_generated_domains_name_lower ON generated_domains (lower(domain_name));
CREATE INDEX idx_generated_domains_name_prefix ON generated_domains (campaign_id, lower(domain_name) text_pattern_ops);
CREATE INDEX idx_generated_domains_label ON generated_domains (split_part(domain_name, '.', 1));
CREATE INDEX idx_generated_domains_status ON generated_domains (status);
CREATE INDEX idx_generated_domains_campaign_status ON generated_domains (campaign_id, status);
CREATE INDEX idx_generated_domains_campaign_status_offset ON generated_domains (campaign_id, status, offset_index);
CREATE INDEX idx_generated_domains_dns_status ON generated_domains (dns_status);
CREATE INDEX idx_generated_domains_campaign_dns ON generated_domains (campaign_id, dns_status);
CREATE INDEX idx_generated_domains_http_status ON generated_domains (http_status);
CREATE INDEX idx_generated_domains_campaign_http ON generated_domains (campaign_id, http_status);
CREATE INDEX idx_generated_domains_tld ON generated_domains (tld);
CREATE INDEX idx_generated_domains_campaign_tld ON generated_domains (campaign_id, tld);
CREATE INDEX idx_generated_domains_keyword ON generated_domains (source_keyword);
CREATE INDEX idx_generated_domains_pattern ON generated_domains (source_pattern);
CREATE INDEX idx_generated_domains_generated_at ON generated_domains (generated_at);
CREATE INDEX idx_generated_domains_campaign_created ON generated_domains (campaign_id, created_at DESC);
-- The validation queues and the results pages: partial, small while the
-- work is done, but each insert still tests their predicates.
CREATE INDEX idx_generated_domains_dns_queue ON generated_domains (campaign_id, offset_index)
    WHERE dns_status = 'pending';
CREATE INDEX idx_generated_domains_http_queue ON generated_domains (campaign_id, offset_index)
    WHERE dns_status = 'ok' AND http_status = 'pending';
CREATE INDEX idx_generated_domains_leads ON generated_domains (campaign_id, lead_score DESC)
    WHERE lead_score > 0;
CREATE INDEX idx_generated_domains_dns_checked ON generated_domains (dns_checked_at)
    WHERE dns_checked_at IS NOT NULL;
CREATE INDEX idx_generated_domains_metadata ON generated_domains USING gin (metadata);

-- One row per campaign, kept current by the trigger below so that the
-- service's dashboards need not count.
CREATE TABLE campaign_domain_counters (
    campaign_id uuid PRIMARY KEY REFERENCES lead_generation_campaigns (id) ON DELETE CASCADE,
    total_domains bigint NOT NULL DEFAULT 0,
    pending_domains bigint NOT NULL DEFAULT 0,
    valid_domains bigint NOT NULL DEFAULT 0,
    invalid_domains bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Per row: make sure the campaign's counters row exists, then count the
-- row in. The UPDATE of the one row per campaign is what makes a large
-- batch cost the square of its size.
CREATE FUNCTION generated_domains_count_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO campaign_domain_counters (campaign_id) VALUES (NEW.campaign_id)
        ON CONFLICT (campaign_id) DO NOTHING;
    UPDATE campaign_domain_counters
       SET total_domains = total_domains + 1,
           pending_domains = pending_domains + (NEW.status = 'pending')::int,
           valid_domains = valid_domains + (NEW.status = 'valid')::int,
           invalid_domains = invalid_domains + (NEW.status = 'invalid')::int,
           updated_at = now()
     WHERE campaign_id = NEW.campaign_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER generated_domains_counters AFTER INSERT ON generated_domains
    FOR EACH ROW EXECUTE FUNCTION generated_domains_count_insert();

-- Every new row as the service's auditors want it: the whole row as JSONB.
CREATE TABLE generated_domains_audit (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    operation text NOT NULL,
    row_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    new_row jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_generated_domains_audit_campaign ON generated_domains_audit (campaign_id, recorded_at);

CREATE FUNCTION generated_domains_audit_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO generated_domains_audit (operation, row_id, campaign_id, new_row)
    VALUES (TG_OP, NEW.id, NEW.campaign_id, to_jsonb(NEW));
    RETURN NULL;
END
$$;

CREATE TRIGGER generated_domains_audit AFTER INSERT ON generated_domains
    FOR EACH ROW EXECUTE FUNCTION generated_domains_audit_insert();

-- Each generator config's next offset, under the hash of its JSON: the
-- service's shape, which domgen's V2 finds and keeps.
CREATE TABLE domain_generation_config_states (
    config_hash varchar(64) PRIMARY KEY,
    last_offset bigint NOT NULL,
    config_details jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
);
