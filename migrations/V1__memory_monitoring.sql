-- V1: memory monitoring.
--
-- The memory-monitoring schema of the plan domgen grew from, with table,
-- column and function names and signatures unchanged, so a service that
-- already reads these tables keeps working. Its defects are fixed:
--
-- * A heap size of 0 no longer divides by zero. Such a sample is recorded
--   with memory_utilization_pct NULL and memory_state 'unknown': a process
--   that reports no heap has no utilisation, and a NULL (unlike a 0) stays
--   out of the hourly average that drives the recommendations, so it cannot
--   provoke a 'reduce_heap_size' advice.
-- * Utilisation is clamped to [0, 100] and so always fits decimal(5,2);
--   heap_used > heap_size (a live count that ran ahead of the reserved
--   count between two reads) records 100 % and a heap_free_bytes of 0
--   instead of failing with "numeric field overflow".
-- * Negative byte counts are refused with a message naming the values.
-- * The alerts go to system_alerts, which the original referenced but never
--   created.
-- * Two concurrent samples of one service can no longer both insert a
--   recommendation (a per-service transaction lock).
--
-- The vocabulary is Go's. For domgen, a Rust process using the domgen-alloc
-- counting allocator: heap_used_bytes is the allocator's live bytes,
-- heap_size_bytes the bytes it holds from the operating system (live plus
-- retained), goroutines_count the number of threads, gc_count the number of
-- arena resets, gc_duration_ms the time spent in them and stack_size_bytes
-- the threads' reserved stacks.
--
-- Tables use IF NOT EXISTS because a campaign-service database may already
-- have them from the original plan: `domgen migrate` then adopts them and
-- replaces the functions with the fixed ones. No foreign keys cross tables,
-- which keeps the schema usable on Citus.

CREATE TABLE IF NOT EXISTS memory_metrics (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    service_name VARCHAR(100) NOT NULL,
    process_id VARCHAR(50) NOT NULL,
    heap_size_bytes BIGINT NOT NULL,
    heap_used_bytes BIGINT NOT NULL,
    heap_free_bytes BIGINT NOT NULL,
    gc_count BIGINT DEFAULT 0,
    gc_duration_ms BIGINT DEFAULT 0,
    goroutines_count INTEGER DEFAULT 0,
    stack_size_bytes BIGINT DEFAULT 0,
    memory_utilization_pct DECIMAL(5,2) DEFAULT 0,
    memory_state VARCHAR(50) DEFAULT 'normal',
    recorded_at TIMESTAMPTZ DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_memory_metrics_service ON memory_metrics (service_name);
CREATE INDEX IF NOT EXISTS idx_memory_metrics_recorded ON memory_metrics (recorded_at);
CREATE INDEX IF NOT EXISTS idx_memory_metrics_state ON memory_metrics (memory_state);
CREATE INDEX IF NOT EXISTS idx_memory_metrics_utilization ON memory_metrics (memory_utilization_pct);

-- One row per operation (for domgen: per generation run, DESIGN.md §6).
CREATE TABLE IF NOT EXISTS memory_allocations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    operation_id VARCHAR(255) NOT NULL,
    operation_type VARCHAR(100) NOT NULL,
    campaign_id UUID,
    -- NULL means "unavailable": the process did not install domgen's
    -- counting allocator, and a zero would be a lie.
    allocated_bytes BIGINT,
    peak_bytes BIGINT,
    duration_ms INTEGER NOT NULL,
    allocation_pattern JSONB DEFAULT '{}',
    cleanup_successful BOOLEAN DEFAULT true,
    memory_leaked_bytes BIGINT DEFAULT 0,
    created_at TIMESTAMPTZ DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_memory_allocations_operation ON memory_allocations (operation_id);
CREATE INDEX IF NOT EXISTS idx_memory_allocations_type ON memory_allocations (operation_type);
CREATE INDEX IF NOT EXISTS idx_memory_allocations_campaign ON memory_allocations (campaign_id);
CREATE INDEX IF NOT EXISTS idx_memory_allocations_created ON memory_allocations (created_at);

CREATE TABLE IF NOT EXISTS memory_leak_detection (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    service_name VARCHAR(100) NOT NULL,
    leak_type VARCHAR(50) NOT NULL,
    leak_source VARCHAR(255) NOT NULL,
    leaked_bytes BIGINT NOT NULL,
    detection_method VARCHAR(100) NOT NULL,
    stack_trace TEXT,
    operation_context JSONB DEFAULT '{}',
    severity VARCHAR(20) DEFAULT 'medium',
    resolved BOOLEAN DEFAULT false,
    resolved_at TIMESTAMPTZ,
    detected_at TIMESTAMPTZ DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_memory_leak_service ON memory_leak_detection (service_name);
CREATE INDEX IF NOT EXISTS idx_memory_leak_type ON memory_leak_detection (leak_type);
CREATE INDEX IF NOT EXISTS idx_memory_leak_severity ON memory_leak_detection (severity);
CREATE INDEX IF NOT EXISTS idx_memory_leak_resolved ON memory_leak_detection (resolved);

CREATE TABLE IF NOT EXISTS memory_optimization_recommendations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    recommendation_type VARCHAR(100) NOT NULL,
    service_name VARCHAR(100) NOT NULL,
    current_usage_bytes BIGINT NOT NULL,
    recommended_limit_bytes BIGINT NOT NULL,
    optimization_strategy JSONB NOT NULL,
    estimated_savings_bytes BIGINT DEFAULT 0,
    implementation_priority VARCHAR(20) DEFAULT 'medium',
    implemented BOOLEAN DEFAULT false,
    implemented_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_memory_optimization_service ON memory_optimization_recommendations (service_name);
CREATE INDEX IF NOT EXISTS idx_memory_optimization_priority ON memory_optimization_recommendations (implementation_priority);
CREATE INDEX IF NOT EXISTS idx_memory_optimization_implemented ON memory_optimization_recommendations (implemented);

-- The table the original functions wrote their alerts to without creating.
CREATE TABLE IF NOT EXISTS system_alerts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    alert_type VARCHAR(100) NOT NULL,
    severity VARCHAR(20) NOT NULL,
    message TEXT NOT NULL,
    context JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_system_alerts_type ON system_alerts (alert_type);
CREATE INDEX IF NOT EXISTS idx_system_alerts_severity ON system_alerts (severity);
CREATE INDEX IF NOT EXISTS idx_system_alerts_created ON system_alerts (created_at);

-- Records one sample and returns its id. Derives heap_free_bytes and the
-- utilisation, classifies it (critical >= 90 %, warning >= 75 %,
-- elevated >= 60 %, else normal; 'unknown' for a heap size of 0), asks
-- check_memory_optimization_opportunities for advice and raises a
-- system_alerts row for warning and critical.
CREATE OR REPLACE FUNCTION record_memory_metrics(
    p_service_name VARCHAR(100),
    p_process_id VARCHAR(50),
    p_heap_size_bytes BIGINT,
    p_heap_used_bytes BIGINT,
    p_gc_count BIGINT DEFAULT 0,
    p_gc_duration_ms BIGINT DEFAULT 0,
    p_goroutines_count INTEGER DEFAULT 0,
    p_stack_size_bytes BIGINT DEFAULT 0
) RETURNS UUID
LANGUAGE plpgsql
AS $$
DECLARE
    v_metric_id UUID;
    v_heap_free_bytes BIGINT;
    v_utilization_pct DECIMAL(5,2);
    v_memory_state VARCHAR(50);
BEGIN
    IF p_heap_size_bytes < 0 OR p_heap_used_bytes < 0 THEN
        RAISE EXCEPTION 'record_memory_metrics: byte counts must not be negative (heap_size_bytes %, heap_used_bytes %)',
            p_heap_size_bytes, p_heap_used_bytes
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Both counts are >= 0 here, so the difference cannot overflow.
    v_heap_free_bytes := GREATEST(p_heap_size_bytes - p_heap_used_bytes, 0);

    IF p_heap_size_bytes = 0 THEN
        v_utilization_pct := NULL;
        v_memory_state := 'unknown';
    ELSE
        -- Rounded before the comparisons, as the original's decimal(5,2)
        -- variable did, and clamped so it always fits decimal(5,2).
        v_utilization_pct := LEAST(round(p_heap_used_bytes::numeric * 100 / p_heap_size_bytes, 2), 100);
        v_memory_state := CASE
            WHEN v_utilization_pct >= 90 THEN 'critical'
            WHEN v_utilization_pct >= 75 THEN 'warning'
            WHEN v_utilization_pct >= 60 THEN 'elevated'
            ELSE 'normal'
        END;
    END IF;

    INSERT INTO memory_metrics
        (service_name, process_id, heap_size_bytes, heap_used_bytes, heap_free_bytes,
         gc_count, gc_duration_ms, goroutines_count, stack_size_bytes,
         memory_utilization_pct, memory_state)
    VALUES
        (p_service_name, p_process_id, p_heap_size_bytes, p_heap_used_bytes, v_heap_free_bytes,
         p_gc_count, p_gc_duration_ms, p_goroutines_count, p_stack_size_bytes,
         v_utilization_pct, v_memory_state)
    RETURNING id INTO v_metric_id;

    PERFORM check_memory_optimization_opportunities(p_service_name, v_utilization_pct, p_heap_used_bytes);

    IF v_memory_state IN ('critical', 'warning') THEN
        INSERT INTO system_alerts (alert_type, severity, message, context, created_at)
        VALUES (
            'memory_utilization',
            v_memory_state,
            format('Memory utilization %s%% for service %s', v_utilization_pct, p_service_name),
            jsonb_build_object(
                'service_name', p_service_name,
                'process_id', p_process_id,
                'metric_id', v_metric_id,
                'utilization_pct', v_utilization_pct,
                'heap_size_bytes', p_heap_size_bytes,
                'heap_used_bytes', p_heap_used_bytes,
                'memory_state', v_memory_state
            ),
            now()
        );
    END IF;

    RETURN v_metric_id;
END;
$$;

-- Advises on the service's heap from its average utilisation over the last
-- hour (this sample included): >= 75 % 'increase_heap_size' (limit 1.5 x
-- used, priority high), <= 25 % 'reduce_heap_size' (limit 0.6 x used,
-- savings 0.4 x used, priority medium). Nothing while an unimplemented
-- recommendation from the last day exists, or while the hour has no
-- utilisation (only heap-size-0 samples). p_utilization_pct is kept for the
-- original signature; the decision uses the average.
CREATE OR REPLACE FUNCTION check_memory_optimization_opportunities(
    p_service_name VARCHAR(100),
    p_utilization_pct DECIMAL(5,2),
    p_heap_used_bytes BIGINT
) RETURNS VOID
LANGUAGE plpgsql
AS $$
DECLARE
    v_avg_utilization DECIMAL(5,2);
    v_recommendation_exists BOOLEAN;
BEGIN
    -- Without it, two concurrent samples both see "no recommendation yet"
    -- and both insert one. Held to the end of the caller's transaction.
    PERFORM pg_advisory_xact_lock(hashtext('domgen.memory_optimization'), hashtext(p_service_name));

    SELECT avg(memory_utilization_pct) INTO v_avg_utilization
    FROM memory_metrics
    WHERE service_name = p_service_name
      AND recorded_at > now() - INTERVAL '1 hour';

    SELECT EXISTS (
        SELECT 1 FROM memory_optimization_recommendations
        WHERE service_name = p_service_name
          AND implemented = false
          AND created_at > now() - INTERVAL '1 day'
    ) INTO v_recommendation_exists;

    IF v_recommendation_exists OR v_avg_utilization IS NULL THEN
        RETURN;
    END IF;

    -- The limits are computed in numeric and capped so that no heap size
    -- can overflow bigint.
    IF v_avg_utilization >= 75 THEN
        INSERT INTO memory_optimization_recommendations
            (recommendation_type, service_name, current_usage_bytes,
             recommended_limit_bytes, optimization_strategy, estimated_savings_bytes,
             implementation_priority)
        VALUES (
            'increase_heap_size',
            p_service_name,
            p_heap_used_bytes,
            LEAST(round(p_heap_used_bytes * 1.5), 9223372036854775807)::bigint,
            jsonb_build_object(
                'strategy', 'increase_heap_allocation',
                'reason', 'consistent_high_utilization',
                'current_avg_utilization', v_avg_utilization
            ),
            0,
            'high'
        );
    ELSIF v_avg_utilization <= 25 THEN
        INSERT INTO memory_optimization_recommendations
            (recommendation_type, service_name, current_usage_bytes,
             recommended_limit_bytes, optimization_strategy, estimated_savings_bytes,
             implementation_priority)
        VALUES (
            'reduce_heap_size',
            p_service_name,
            p_heap_used_bytes,
            round(p_heap_used_bytes * 0.6)::bigint,
            jsonb_build_object(
                'strategy', 'reduce_heap_allocation',
                'reason', 'consistent_low_utilization',
                'current_avg_utilization', v_avg_utilization
            ),
            round(p_heap_used_bytes * 0.4)::bigint,
            'medium'
        );
    END IF;
END;
$$;

-- Records a leak found after an operation and returns its id. Severity by
-- size: critical >= 100 MiB, high >= 10 MiB, medium >= 1 MiB, else low;
-- high and critical also raise a system_alerts row.
CREATE OR REPLACE FUNCTION detect_memory_leak(
    p_service_name VARCHAR(100),
    p_operation_id VARCHAR(255),
    p_leaked_bytes BIGINT,
    p_leak_source VARCHAR(255),
    p_stack_trace TEXT DEFAULT NULL
) RETURNS UUID
LANGUAGE plpgsql
AS $$
DECLARE
    v_leak_id UUID;
    v_severity VARCHAR(20);
BEGIN
    v_severity := CASE
        WHEN p_leaked_bytes >= 100 * 1024 * 1024 THEN 'critical'
        WHEN p_leaked_bytes >= 10 * 1024 * 1024 THEN 'high'
        WHEN p_leaked_bytes >= 1024 * 1024 THEN 'medium'
        ELSE 'low'
    END;

    INSERT INTO memory_leak_detection
        (service_name, leak_type, leak_source, leaked_bytes, detection_method,
         stack_trace, operation_context, severity)
    VALUES
        (p_service_name, 'operation_leak', p_leak_source, p_leaked_bytes, 'automatic',
         p_stack_trace, jsonb_build_object('operation_id', p_operation_id), v_severity)
    RETURNING id INTO v_leak_id;

    IF v_severity IN ('critical', 'high') THEN
        INSERT INTO system_alerts (alert_type, severity, message, context, created_at)
        VALUES (
            'memory_leak_detected',
            v_severity,
            format('Memory leak detected in %s: %s bytes leaked from %s',
                   p_service_name, p_leaked_bytes, p_leak_source),
            jsonb_build_object(
                'service_name', p_service_name,
                'leak_id', v_leak_id,
                'leaked_bytes', p_leaked_bytes,
                'leak_source', p_leak_source,
                'operation_id', p_operation_id
            ),
            now()
        );
    END IF;

    RETURN v_leak_id;
END;
$$;
