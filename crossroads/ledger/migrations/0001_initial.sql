-- The first schema. Shipped migrations are never edited: change the schema with a new file.
--
-- Times: `created` is unix seconds (as in the generation id); `started_at_ms` is the unix ms of
-- the request start; attempt times are ms offsets from it. Money is integer micro-dollars.

CREATE TABLE generations (
    id TEXT PRIMARY KEY NOT NULL,
    created INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL,
    model_requested TEXT NOT NULL,
    model TEXT,
    provider_name TEXT,
    endpoint_tag TEXT,
    app_referer TEXT,
    app_title TEXT,
    key_id TEXT,
    streamed INTEGER NOT NULL,
    cancelled INTEGER NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    images INTEGER NOT NULL,
    usage_estimated INTEGER NOT NULL,
    cost_micro INTEGER NOT NULL,
    discount_micro INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    generation_time_ms INTEGER,
    ttft_ms INTEGER
);

CREATE INDEX generations_created ON generations (created);
CREATE INDEX generations_key ON generations (key_id, created) WHERE key_id IS NOT NULL;

CREATE TABLE attempts (
    generation_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    endpoint_tag TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    model TEXT NOT NULL,
    status INTEGER,
    failure TEXT,
    message TEXT,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    ttft_ms INTEGER,
    served INTEGER NOT NULL,
    PRIMARY KEY (generation_id, ordinal)
) WITHOUT ROWID;

-- Rollups: one row per (bucket, model, endpoint, app), written in the same transaction as the
-- raw rows they summarise. `model` is the served model (the requested one when nothing served),
-- `endpoint_tag` and `app` are '' when absent (NULL would break the primary key).
-- errors: unserved or finish_reason 'error', cancelled excluded. timed_*: generations with a
-- measured generation time, for throughput = timed_completion_tokens / generation_time_ms_sum.

CREATE TABLE rollup_hourly (
    bucket_start INTEGER NOT NULL,
    model TEXT NOT NULL,
    endpoint_tag TEXT NOT NULL,
    app TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micro INTEGER NOT NULL DEFAULT 0,
    discount_micro INTEGER NOT NULL DEFAULT 0,
    latency_ms_sum INTEGER NOT NULL DEFAULT 0,
    generation_time_ms_sum INTEGER NOT NULL DEFAULT 0,
    timed_completion_tokens INTEGER NOT NULL DEFAULT 0,
    timed_count INTEGER NOT NULL DEFAULT 0,
    ttft_ms_sum INTEGER NOT NULL DEFAULT 0,
    ttft_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, model, endpoint_tag, app)
) WITHOUT ROWID;

CREATE INDEX rollup_hourly_model ON rollup_hourly (model, bucket_start);

CREATE TABLE rollup_daily (
    bucket_start INTEGER NOT NULL,
    model TEXT NOT NULL,
    endpoint_tag TEXT NOT NULL,
    app TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micro INTEGER NOT NULL DEFAULT 0,
    discount_micro INTEGER NOT NULL DEFAULT 0,
    latency_ms_sum INTEGER NOT NULL DEFAULT 0,
    generation_time_ms_sum INTEGER NOT NULL DEFAULT 0,
    timed_completion_tokens INTEGER NOT NULL DEFAULT 0,
    timed_count INTEGER NOT NULL DEFAULT 0,
    ttft_ms_sum INTEGER NOT NULL DEFAULT 0,
    ttft_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket_start, model, endpoint_tag, app)
) WITHOUT ROWID;

CREATE INDEX rollup_daily_model ON rollup_daily (model, bucket_start);
