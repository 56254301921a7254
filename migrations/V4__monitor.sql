-- V4: the memory monitor (domgen-monitor).
--
-- V1's names and functions stay as they are; this adds what a sampler needs
-- on top of them:
-- * memory_metrics gets the run a sample belongs to and the figures
--   record_memory_metrics has no parameter for (RSS, peak heap, the
--   engine's batches in flight and arena resets), and sampled_at, the time
--   the sample was taken (a sample kept while the database was unreachable
--   is written later than it was taken);
-- * record_memory_sample wraps record_memory_metrics (so state, advice and
--   alerts happen exactly as V1 specifies) and returns the state, which the
--   monitor's pressure callbacks act on. The monitor passes its configured
--   maximum heap as heap_size_bytes, so utilisation and state measure the
--   live heap against that budget (75 % warning, 90 % critical), not
--   against the allocator's retained bytes as V1's note has it; gc_count is
--   the engine's arena resets, as V1's note says;
-- * report_memory_leak wraps detect_memory_leak (severity and alert as V1
--   specifies) and sets the leak type to the rule that fired, with its
--   evidence in operation_context.

ALTER TABLE memory_metrics
    ADD COLUMN IF NOT EXISTS run_id UUID,
    ADD COLUMN IF NOT EXISTS rss_bytes BIGINT,
    ADD COLUMN IF NOT EXISTS peak_heap_bytes BIGINT,
    ADD COLUMN IF NOT EXISTS batches_in_flight BIGINT,
    ADD COLUMN IF NOT EXISTS arena_resets BIGINT,
    ADD COLUMN IF NOT EXISTS sampled_at TIMESTAMPTZ;

CREATE INDEX IF NOT EXISTS idx_memory_metrics_run ON memory_metrics (run_id, sampled_at)
    WHERE run_id IS NOT NULL;

ALTER TABLE memory_leak_detection
    ADD COLUMN IF NOT EXISTS run_id UUID;

CREATE OR REPLACE FUNCTION record_memory_sample(
    p_service_name VARCHAR(100),
    p_process_id VARCHAR(50),
    p_heap_size_bytes BIGINT,
    p_heap_used_bytes BIGINT,
    p_threads INTEGER,
    p_run_id UUID,
    p_rss_bytes BIGINT,
    p_peak_heap_bytes BIGINT,
    p_batches_in_flight BIGINT,
    p_arena_resets BIGINT,
    p_sampled_at TIMESTAMPTZ
) RETURNS TABLE (metric_id UUID, memory_state VARCHAR(50))
LANGUAGE plpgsql
AS $$
DECLARE
    v_id UUID;
BEGIN
    v_id := record_memory_metrics(p_service_name, p_process_id, p_heap_size_bytes,
                                  p_heap_used_bytes, COALESCE(p_arena_resets, 0), 0,
                                  p_threads, 0);
    RETURN QUERY
    UPDATE memory_metrics m
       SET run_id = p_run_id,
           rss_bytes = p_rss_bytes,
           peak_heap_bytes = p_peak_heap_bytes,
           batches_in_flight = p_batches_in_flight,
           arena_resets = p_arena_resets,
           sampled_at = p_sampled_at
     WHERE m.id = v_id
    RETURNING m.id, m.memory_state;
END;
$$;

CREATE OR REPLACE FUNCTION report_memory_leak(
    p_service_name VARCHAR(100),
    p_operation_id VARCHAR(255),
    p_leaked_bytes BIGINT,
    p_leak_type VARCHAR(50),
    p_leak_source VARCHAR(255),
    p_run_id UUID,
    p_evidence JSONB
) RETURNS UUID
LANGUAGE plpgsql
AS $$
DECLARE
    v_id UUID;
BEGIN
    v_id := detect_memory_leak(p_service_name, p_operation_id, p_leaked_bytes, p_leak_source);
    UPDATE memory_leak_detection
       SET leak_type = p_leak_type,
           run_id = p_run_id,
           operation_context = operation_context || COALESCE(p_evidence, '{}'::jsonb)
     WHERE id = v_id;
    RETURN v_id;
END;
$$;
