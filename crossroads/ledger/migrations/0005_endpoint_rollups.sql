-- Rollups the model page reads (crossroads/analytics). Written by the ledger writer in the same
-- transaction as the generations they sum, like every other rollup.
--
-- Per endpoint, counted per *attempt*, so a failure that failover rescued still counts against
-- the endpoint that failed. successes + failures is uptime's denominator: failures are the
-- provider-caused ones only (crossroads/failures.py: caller errors, context-length refusals, rate
-- limits and cancellations count in `attempts` alone). `rescued`: failures whose generation a
-- later attempt served; `rescues`: generations this endpoint served after an earlier attempt
-- failed. Tokens and money are the served generations'; paid_* and priced_* cover only billed
-- ones, so paid_prompt_micro / priced_prompt_tokens is the effective price per token (= USD per
-- 1M tokens) after caching.
CREATE TABLE rollup_endpoint_hourly (
    model TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    endpoint_tag TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    rescued INTEGER NOT NULL DEFAULT 0,
    served INTEGER NOT NULL DEFAULT 0,
    rescues INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    priced_prompt_tokens INTEGER NOT NULL DEFAULT 0,
    priced_completion_tokens INTEGER NOT NULL DEFAULT 0,
    paid_prompt_micro INTEGER NOT NULL DEFAULT 0,
    paid_completion_micro INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (model, bucket_start, endpoint_tag)
) WITHOUT ROWID;

CREATE TABLE rollup_endpoint_daily (
    model TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    endpoint_tag TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    rescued INTEGER NOT NULL DEFAULT 0,
    served INTEGER NOT NULL DEFAULT 0,
    rescues INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    priced_prompt_tokens INTEGER NOT NULL DEFAULT 0,
    priced_completion_tokens INTEGER NOT NULL DEFAULT 0,
    paid_prompt_micro INTEGER NOT NULL DEFAULT 0,
    paid_completion_micro INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (model, bucket_start, endpoint_tag)
) WITHOUT ROWID;

-- Mergeable log-scale histograms of successful attempts (the bins of crossroads/windows.py):
-- metric 'latency' and 'ttft' in seconds, 'throughput' in tokens/s. `bins` is one histogram
-- (crossroads/ledger/bins.py: int32 first bin, then uint32 counts), merged on conflict by the
-- writer's crossroads_merge_bins(); percentiles over any range are exact to the bin width
-- (±2.5 %) because histograms add.
CREATE TABLE rollup_histogram_hourly (
    model TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    endpoint_tag TEXT NOT NULL,
    metric TEXT NOT NULL,
    bins BLOB NOT NULL,
    PRIMARY KEY (model, bucket_start, endpoint_tag, metric)
) WITHOUT ROWID;

CREATE TABLE rollup_histogram_daily (
    model TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    endpoint_tag TEXT NOT NULL,
    metric TEXT NOT NULL,
    bins BLOB NOT NULL,
    PRIMARY KEY (model, bucket_start, endpoint_tag, metric)
) WITHOUT ROWID;

-- Per model, app and UTC day (app = HTTP-Referer, else X-Title, else ''): the apps and
-- activity sections, without the endpoint dimension the general rollup has. `title` is the
-- latest X-Title the app sent.
CREATE TABLE rollup_app_daily (
    model TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    app TEXT NOT NULL,
    title TEXT,
    requests INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (model, bucket_start, app)
) WITHOUT ROWID;

-- The completion tokens' share of cost_micro (the prompt's is the rest), as GET /generation and
-- the usage object report it.
ALTER TABLE generations ADD COLUMN completion_cost_micro INTEGER;

-- Which API the caller spoke (chat, responses, messages, completions, embeddings), the preset
-- it used, and what the router did to the request on its own (a model fallback and why, what
-- middle-out removed): a JSON array of sentences, NULL when there are none.
ALTER TABLE generations ADD COLUMN surface TEXT;
ALTER TABLE generations ADD COLUMN preset TEXT;
ALTER TABLE generations ADD COLUMN notes TEXT;
