"""The ledgers' SQL text and the row tuples it binds: records in, records out.

The SQL is the subset both databases speak, with SQLite's `?` placeholders; the PostgreSQL
ledger swaps those for psycopg's `%s` (pg_database.to_pg).

Kept apart from `sqlite.py` so the writer's logic reads without the column lists; nothing here
touches a connection.
"""

from __future__ import annotations

from typing import Any

import orjson

from crossroads.ledger.endpoint_rollup import (
    APP_COUNTERS,
    APP_KEY,
    ENDPOINT_COUNTERS,
    ENDPOINT_KEY,
    HISTOGRAM_KEY,
)
from crossroads.ledger.records import AttemptRecord, GenerationRecord
from crossroads.ledger.store import BUCKET_S, COUNTERS, KEY, KEY_COUNTERS, KEY_ROLLUP_KEY
from crossroads.pricing import Usage

GENERATION_COLUMNS = (
    "id", "created", "started_at_ms", "model_requested", "model", "provider_name",
    "endpoint_tag", "app_referer", "app_title", "key_id", "streamed", "cancelled",
    "finish_reason", "prompt_tokens", "completion_tokens", "cached_tokens",
    "cache_write_tokens", "reasoning_tokens", "images", "usage_estimated", "cost_micro",
    "discount_micro", "latency_ms", "generation_time_ms", "ttft_ms", "upstream_id",
    "native_finish_reason", "user_agent", "external_user", "session_id",
    "completion_cost_micro", "surface", "preset", "notes",
)
ATTEMPT_COLUMNS = (
    "generation_id", "ordinal", "endpoint_tag", "provider_name", "model", "status", "failure",
    "message", "started_ms", "ended_ms", "ttft_ms", "served", "prompt_tokens",
    "completion_tokens", "cost_micro", "usage_estimated", "prefill_chars", "skipped_events",
)


def placeholders(n: int) -> str:
    return ", ".join("?" * n)


INSERT_GENERATION = (
    f"INSERT INTO generations ({', '.join(GENERATION_COLUMNS)}) "
    f"VALUES ({placeholders(len(GENERATION_COLUMNS))})"
)
INSERT_GENERATION_ONCE = INSERT_GENERATION + " ON CONFLICT (id) DO NOTHING"
INSERT_ATTEMPT = (
    f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) "
    f"VALUES ({placeholders(len(ATTEMPT_COLUMNS))})"
)


def _upsert(table: str, key: tuple[str, ...], counters: tuple[str, ...],
            extra: tuple[str, ...] = (), extra_update: str = "") -> str:
    """INSERT … ON CONFLICT that adds each counter to the stored row.

    The stored row's columns are qualified with the table's name: PostgreSQL calls a bare
    `n` in `SET n = n + excluded.n` ambiguous, and SQLite reads the qualified form the same."""
    columns = key + extra + counters
    updates = [f"{c} = {table}.{c} + excluded.{c}" for c in counters]
    if extra_update:
        updates.append(extra_update)
    return (f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({placeholders(len(columns))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(updates)}")


UPSERT_ROLLUP = {kind: _upsert(f"rollup_{kind}", KEY, COUNTERS) for kind in BUCKET_S}
UPSERT_KEY_ROLLUP = _upsert("rollup_key_daily", KEY_ROLLUP_KEY, KEY_COUNTERS)
UPSERT_ENDPOINT_ROLLUP = {
    kind: _upsert(f"rollup_endpoint_{kind}", ENDPOINT_KEY, ENDPOINT_COUNTERS) for kind in BUCKET_S
}
MERGE_BINS = "crossroads_merge_bins"
"""The SQL function the writer's connection registers (`bins.merge_blobs`)."""
UPSERT_HISTOGRAM = {
    kind: _upsert(f"rollup_histogram_{kind}", HISTOGRAM_KEY, (), ("bins",),
                  f"bins = {MERGE_BINS}(rollup_histogram_{kind}.bins, excluded.bins)")
    for kind in BUCKET_S
}
UPSERT_APP_ROLLUP = _upsert("rollup_app_daily", APP_KEY, APP_COUNTERS, ("title",),
                            "title = COALESCE(excluded.title, rollup_app_daily.title)")
UPSERT_JOURNAL = (
    "INSERT INTO journal_state (segment, applied) VALUES (?, ?) "
    "ON CONFLICT (segment) DO UPDATE SET applied = excluded.applied"
)


def generation_row(r: GenerationRecord) -> tuple[Any, ...]:
    u = r.usage
    return (
        r.id, r.created, r.started_at_ms, r.model_requested, r.model, r.provider_name,
        r.endpoint_tag, r.app_referer, r.app_title, r.key_id, r.streamed, r.cancelled,
        r.finish_reason, u.prompt_tokens, u.completion_tokens, u.cached_tokens,
        u.cache_write_tokens, u.reasoning_tokens, u.images, u.estimated, r.cost_micro,
        r.discount_micro, r.latency_ms, r.generation_time_ms, r.ttft_ms, r.upstream_id,
        r.native_finish_reason, r.user_agent, r.external_user, r.session_id,
        r.completion_cost_micro, r.surface, r.preset,
        orjson.dumps(r.notes).decode() if r.notes else None,
    )


def attempt_rows(r: GenerationRecord) -> list[tuple[Any, ...]]:
    return [
        (r.id, i, a.endpoint_tag, a.provider_name, a.model, a.status, a.failure, a.message,
         a.started_ms, a.ended_ms, a.ttft_ms, a.served, a.prompt_tokens, a.completion_tokens,
         a.cost_micro, a.usage_estimated, a.prefill_chars, a.skipped_events)
        for i, a in enumerate(r.attempts)
    ]


def record_from(row: tuple[Any, ...], attempts: list[tuple[Any, ...]]) -> GenerationRecord:
    (id_, created, started_at_ms, model_requested, model, provider_name, endpoint_tag,
     app_referer, app_title, key_id, streamed, cancelled, finish_reason, prompt, completion,
     cached, cache_write, reasoning, images, estimated, cost, discount, latency, gen_time,
     ttft, upstream_id, native_finish_reason, user_agent, external_user, session_id,
     completion_cost, surface, preset, notes) = row
    return GenerationRecord(
        id=id_, created=created, started_at_ms=started_at_ms, model_requested=model_requested,
        model=model, provider_name=provider_name, endpoint_tag=endpoint_tag,
        app_referer=app_referer, app_title=app_title, key_id=key_id, streamed=bool(streamed),
        cancelled=bool(cancelled), finish_reason=finish_reason,
        usage=Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached,
                    cache_write_tokens=cache_write, reasoning_tokens=reasoning, images=images,
                    estimated=bool(estimated)),
        cost_micro=cost, discount_micro=discount, latency_ms=latency,
        generation_time_ms=gen_time, ttft_ms=ttft, upstream_id=upstream_id,
        native_finish_reason=native_finish_reason, user_agent=user_agent,
        external_user=external_user, session_id=session_id,
        completion_cost_micro=completion_cost,
        surface=surface or "chat", preset=preset,
        notes=tuple(orjson.loads(notes)) if notes else (),
        attempts=tuple(
            AttemptRecord(endpoint_tag=a[0], provider_name=a[1], model=a[2], status=a[3],
                          failure=a[4], message=a[5], started_ms=a[6], ended_ms=a[7],
                          ttft_ms=a[8], served=bool(a[9]), prompt_tokens=a[10],
                          completion_tokens=a[11], cost_micro=a[12],
                          usage_estimated=bool(a[13]), prefill_chars=a[14],
                          skipped_events=a[15] or 0)
            for a in attempts
        ),
    )
