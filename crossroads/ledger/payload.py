"""A stored generation as OpenRouter's GET /api/v1/generation returns it (the `data` object).

Field names follow OpenRouter so its clients work unchanged. Where OpenRouter distinguishes
"normalized" token counts (`tokens_*`, its own tokenizer) from native ones (`native_tokens_*`,
the provider's), we have only the provider's, so both carry the native counts. Money leaves
integer micro-dollars only here, as USD floats, because that is what the API shows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crossroads.catalog import MICRO
from crossroads.ledger.records import AttemptRecord, GenerationRecord


def _attempt_payload(attempt: AttemptRecord) -> dict[str, Any]:
    latency = None if attempt.ended_ms is None else attempt.ended_ms - attempt.started_ms
    return {
        "provider_name": attempt.provider_name,
        "endpoint": attempt.endpoint_tag,
        "model": attempt.model,
        "status": attempt.status,
        "failure": attempt.failure,
        "message": attempt.message,
        "latency": latency,
        "ttft": attempt.ttft_ms,
        "served": attempt.served,
    }


def generation_payload(record: GenerationRecord) -> dict[str, Any]:
    usage = record.usage
    created_at = datetime.fromtimestamp(record.started_at_ms / 1000, UTC)
    return {
        "id": record.id,
        "total_cost": record.cost_micro / MICRO,
        "cache_discount": record.discount_micro / MICRO,
        "usage": record.cost_micro / MICRO,
        "is_byok": False,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "model": record.model if record.model is not None else record.model_requested,
        "model_requested": record.model_requested,
        "provider_name": record.provider_name,
        "endpoint": record.endpoint_tag,
        "origin": record.app_referer or "",
        "app": {"referer": record.app_referer, "title": record.app_title},
        "streamed": record.streamed,
        "cancelled": record.cancelled,
        "finish_reason": record.finish_reason,
        "native_finish_reason": record.finish_reason,
        "tokens_prompt": usage.prompt_tokens,
        "tokens_completion": usage.completion_tokens,
        "native_tokens_prompt": usage.prompt_tokens,
        "native_tokens_completion": usage.completion_tokens,
        "native_tokens_reasoning": usage.reasoning_tokens,
        "native_tokens_cached": usage.cached_tokens,
        "native_tokens_cache_write": usage.cache_write_tokens,
        "num_media_prompt": usage.images,
        "usage_estimated": usage.estimated,
        "latency": record.latency_ms,
        "generation_time": record.generation_time_ms,
        "ttft": record.ttft_ms,
        "provider_responses": [_attempt_payload(a) for a in record.attempts],
    }
