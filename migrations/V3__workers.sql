-- V3: generation workers.
--
-- A campaign planned for workers (`domgen plan`) keeps a cursor,
-- next_start: the first position no batch was cut for yet. A worker takes
-- its next batch [next_start, next_start + batch_names) by moving the
-- cursor and inserting that batch's leased ledger row in one statement, so
-- the ledger is written lazily, one row per batch taken: planning a
-- campaign of 10^9 positions writes one row, not millions (a ledger made up
-- front with generate_series took 5.1 s and 514 MB of server memory for
-- 4.35M rows). next_start is NULL for a campaign written by `generate`;
-- that is how each side refuses the other's campaigns.
--
-- Citus: both statements filter on campaign_id, the distribution column of
-- generation_campaigns and generation_batches (co-located), so each runs on
-- one shard.
ALTER TABLE generation_campaigns ADD COLUMN next_start BIGINT;
ALTER TABLE generation_campaigns ADD CONSTRAINT generation_campaigns_next_start_check
    CHECK (next_start IS NULL OR (next_start >= first_position AND next_start <= end_position));

-- A worker stopped by Ctrl-C gives its batch back: 'released', taken again
-- before any new batch is cut.
ALTER TABLE generation_batches DROP CONSTRAINT generation_batches_status_check;
ALTER TABLE generation_batches ADD CONSTRAINT generation_batches_status_check
    CHECK (status IN ('pending', 'leased', 'released', 'committed'));

-- Claims look for a released or expired batch first; the open batches are
-- few (one per worker at most, plus those of dead workers), the committed
-- ones many, so the index holds only the open ones.
CREATE INDEX idx_generation_batches_open ON generation_batches (campaign_id, lease_expires_at)
    WHERE status IN ('leased', 'released');
