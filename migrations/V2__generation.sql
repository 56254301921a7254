-- V2: generation.
--
-- generated_domains and domain_generation_config_states use IF NOT EXISTS
-- because the campaign service's database already has them (with more
-- columns); domgen writes into those as they are. The generation_* tables
-- are domgen's own.
--
-- Citus: every key and the one foreign key below include campaign_id, the
-- natural distribution column, so the campaign tables can be distributed
-- and co-located by it.

-- The names. Deliberately without key or index: COPY into a bare heap is the
-- fastest ingest, and exactly-once delivery comes from the batch ledger, not
-- from a constraint. A key on (campaign_id, offset_index) or a unique
-- domain_name is the operator's choice (see the README for the measured
-- cost); opt-in uniqueness across campaigns stages and uses ON CONFLICT.
CREATE TABLE IF NOT EXISTS generated_domains (
    campaign_id UUID NOT NULL,
    offset_index BIGINT NOT NULL,
    domain_name TEXT NOT NULL
);

-- Spec fingerprint -> the next unreserved position of that spec, so that a
-- new campaign over the same spec continues where the last one stopped.
CREATE TABLE IF NOT EXISTS domain_generation_config_states (
    config_hash TEXT PRIMARY KEY,
    last_offset BIGINT NOT NULL CONSTRAINT domain_generation_config_states_last_offset_check CHECK (last_offset >= 0),
    config_details JSONB NOT NULL DEFAULT '{}',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per campaign: what it generates (the spec, its fingerprint, order
-- and seed), which positions [first_position, end_position) and where to.
-- A resume compares its arguments with this row.
CREATE TABLE generation_campaigns (
    campaign_id UUID PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    spec JSONB NOT NULL,
    order_kind TEXT NOT NULL,
    seed BIGINT NOT NULL,
    first_position BIGINT NOT NULL,
    end_position BIGINT NOT NULL,
    batch_names BIGINT NOT NULL,
    target_table TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT generation_campaigns_range_check
        CHECK (first_position >= 0 AND end_position >= first_position),
    CONSTRAINT generation_campaigns_batch_names_check CHECK (batch_names > 0)
);

-- The batch ledger: one row per batch of a campaign, positions
-- [batch_start, batch_end). A batch's rows and its move to 'committed' are
-- one transaction, so after a crash the batches not committed are exactly
-- the ones to write again. The checks keep a row's fields consistent with
-- its status.
CREATE TABLE generation_batches (
    campaign_id UUID NOT NULL REFERENCES generation_campaigns (campaign_id) ON DELETE CASCADE,
    batch_start BIGINT NOT NULL,
    batch_end BIGINT NOT NULL,
    status TEXT NOT NULL CONSTRAINT generation_batches_status_check
        CHECK (status IN ('pending', 'leased', 'committed')),
    worker_id TEXT,
    lease_token UUID,
    lease_expires_at TIMESTAMPTZ,
    rows BIGINT,
    committed_at TIMESTAMPTZ,
    PRIMARY KEY (campaign_id, batch_start),
    CONSTRAINT generation_batches_range_check CHECK (batch_start >= 0 AND batch_end > batch_start),
    CONSTRAINT generation_batches_rows_check CHECK (rows >= 0),
    CONSTRAINT generation_batches_lease_check
        CHECK (status <> 'leased' OR (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT generation_batches_committed_check
        CHECK (status <> 'committed' OR (rows IS NOT NULL AND committed_at IS NOT NULL))
);

-- One row per `domgen generate` invocation (a resume is a new run of the same
-- campaign). No foreign key: on Citus this small table is best kept local or
-- as a reference table, and neither may reference a distributed table.
CREATE TABLE generation_runs (
    run_id UUID PRIMARY KEY,
    campaign_id UUID NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    status TEXT NOT NULL,
    positions_written BIGINT NOT NULL DEFAULT 0,
    report JSONB,
    CONSTRAINT generation_runs_positions_written_check CHECK (positions_written >= 0)
);

CREATE INDEX idx_generation_runs_campaign ON generation_runs (campaign_id);
