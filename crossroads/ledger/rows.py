"""The SQLite ledger's SQL text and the row tuples it binds: records in, records out.

Kept apart from `sqlite.py` so the writer's logic reads without the column lists; nothing here
touches a connection.
"""

from __future__ import annotations

from typing import Any

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
)
ATTEMPT_COLUMNS = (
    "generation_id", "ordinal", "endpoint_tag", "provider_name", "model", "status", "failure",
    "message", "started_ms", "ended_ms", "ttft_ms", "served",
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
UPSERT_ROLLUP = {
    kind: (
        f"INSERT INTO rollup_{kind} ({', '.join(KEY + COUNTERS)}) "
        f"VALUES ({placeholders(len(KEY) + len(COUNTERS))}) "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
        + ", ".join(f"{c} = {c} + excluded.{c}" for c in COUNTERS)
    )
    for kind in BUCKET_S
}
UPSERT_KEY_ROLLUP = (
    f"INSERT INTO rollup_key_daily ({', '.join(KEY_ROLLUP_KEY + KEY_COUNTERS)}) "
    f"VALUES ({placeholders(len(KEY_ROLLUP_KEY) + len(KEY_COUNTERS))}) "
    f"ON CONFLICT ({', '.join(KEY_ROLLUP_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in KEY_COUNTERS)
)
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
    )


def attempt_rows(r: GenerationRecord) -> list[tuple[Any, ...]]:
    return [
        (r.id, i, a.endpoint_tag, a.provider_name, a.model, a.status, a.failure, a.message,
         a.started_ms, a.ended_ms, a.ttft_ms, a.served)
        for i, a in enumerate(r.attempts)
    ]


def record_from(row: tuple[Any, ...], attempts: list[tuple[Any, ...]]) -> GenerationRecord:
    (id_, created, started_at_ms, model_requested, model, provider_name, endpoint_tag,
     app_referer, app_title, key_id, streamed, cancelled, finish_reason, prompt, completion,
     cached, cache_write, reasoning, images, estimated, cost, discount, latency, gen_time,
     ttft, upstream_id, native_finish_reason, user_agent, external_user, session_id) = row
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
        attempts=tuple(
            AttemptRecord(endpoint_tag=a[0], provider_name=a[1], model=a[2], status=a[3],
                          failure=a[4], message=a[5], started_ms=a[6], ended_ms=a[7],
                          ttft_ms=a[8], served=bool(a[9]))
            for a in attempts
        ),
    )
