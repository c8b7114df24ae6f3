-- API keys (crossroads/accounts): stored only as the SHA-256 of the key, never the key itself.
-- Money in integer micro-dollars, times in unix seconds. `revision` increases with every change
-- (global across keys), so a running router picks up keys created or changed by the CLI with one
-- indexed query. Deleted keys stay as tombstones: their generations keep pointing at them.
CREATE TABLE api_keys (
    hash TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    management INTEGER NOT NULL,
    limit_micro INTEGER,
    limit_reset TEXT,
    expires_at INTEGER,
    rate_limit_requests INTEGER,
    rate_limit_interval TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER,
    last_used_at INTEGER,
    revision INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX api_keys_revision ON api_keys (revision);

-- Per key, per UTC day, per served model and endpoint: what the key's credit limit, GET /key,
-- GET /credits and GET /activity read. Written by the ledger writer in the same transaction as
-- the generations it sums, like the other rollups.
CREATE TABLE rollup_key_daily (
    key_id TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    model TEXT NOT NULL,
    endpoint_tag TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micro INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, bucket_start, model, endpoint_tag)
) WITHOUT ROWID;
