"""A stored generation as OpenRouter's GET /api/v1/generation returns it (the `data` object).

Field names and types follow OpenRouter's schema (`crossroads/schema/generation.py`) so its
clients work unchanged. Where OpenRouter distinguishes "normalized" token counts (`tokens_*`, its
own tokenizer) from native ones (`native_tokens_*`, the provider's), we have only the provider's,
so both carry the native counts. What crossroads does not do (presets, web search, moderation,
workspaces, numeric app ids) is `null`; what it knows beyond OpenRouter's fields is under
`crossroads`. Money leaves integer micro-dollars only here, as USD floats, because that is what
the API shows; the exact integers travel beside them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from crossroads.catalog import MICRO
from crossroads.ledger.records import AttemptRecord, GenerationRecord
from crossroads.presets import preset_id
from crossroads.schema.generation import (
    AttemptExtras,
    GenerationData,
    GenerationExtras,
    ProviderResponse,
)


def _attempt_payload(attempt: AttemptRecord) -> ProviderResponse:
    latency = None if attempt.ended_ms is None else attempt.ended_ms - attempt.started_ms
    response = ProviderResponse(
        status=attempt.status,
        provider_name=attempt.provider_name,
        endpoint_id=attempt.endpoint_tag,
        model_permaslug=attempt.model,
        is_byok=False,
        crossroads=AttemptExtras(
            endpoint=attempt.endpoint_tag,
            model=attempt.model,
            failure=attempt.failure,
            message=attempt.message,
            ttft=attempt.ttft_ms,
            served=attempt.served,
            tokens_prompt=attempt.prompt_tokens,
            tokens_completion=attempt.completion_tokens,
            cost_micro_usd=attempt.cost_micro,
            usage_estimated=attempt.usage_estimated,
            prefill_chars=attempt.prefill_chars,
            skipped_events=attempt.skipped_events,
        ),
    )
    if latency is not None:
        response.latency = float(latency)
    return response


def generation_payload(record: GenerationRecord, api_type: str = "completions"
                       ) -> GenerationData:
    """`api_type` is not stored: the caller derives it from the model (`operations.api_type`)."""
    usage = record.usage
    created_at = datetime.fromtimestamp(record.started_at_ms / 1000, UTC)
    served = record.endpoint_tag is not None
    return GenerationData(
        id=record.id,
        upstream_id=record.upstream_id,
        total_cost=record.cost_micro / MICRO,
        cache_discount=record.discount_micro / MICRO,
        upstream_inference_cost=None,
        usage=record.cost_micro / MICRO,
        is_byok=False,
        created_at=created_at.isoformat().replace("+00:00", "Z"),
        model=record.model if record.model is not None else record.model_requested,
        app_id=None,
        origin=record.app_referer or "",
        http_referer=record.app_referer,
        user_agent=record.user_agent,
        external_user=record.external_user,
        provider_name=record.provider_name,
        router=None,
        preset_id=None if record.preset is None else preset_id(record.preset),
        service_tier=None,
        data_region="global",
        api_type=api_type,
        workspace_id=None,
        streamed=record.streamed,
        cancelled=record.cancelled,
        finish_reason=record.finish_reason,
        native_finish_reason=record.native_finish_reason or record.finish_reason,
        tokens_prompt=usage.prompt_tokens if served else None,
        tokens_completion=usage.completion_tokens if served else None,
        native_tokens_prompt=usage.prompt_tokens if served else None,
        native_tokens_completion=usage.completion_tokens if served else None,
        native_tokens_reasoning=usage.reasoning_tokens if served else None,
        native_tokens_cached=usage.cached_tokens if served else None,
        native_tokens_completion_images=None,
        num_media_prompt=usage.images,
        num_media_completion=None,
        num_input_audio_prompt=None,
        num_fetches=None,
        num_search_results=None,
        web_search_engine=None,
        latency=float(record.latency_ms),
        generation_time=(None if record.generation_time_ms is None
                         else float(record.generation_time_ms)),
        moderation_latency=None,
        provider_responses=[_attempt_payload(a) for a in record.attempts],
        session_id=record.session_id,
        request_id=None,
        crossroads=GenerationExtras(
            model_requested=record.model_requested,
            endpoint=record.endpoint_tag,
            app_title=record.app_title,
            key_hash=record.key_id,
            ttft=record.ttft_ms,
            usage_estimated=usage.estimated,
            native_tokens_cache_write=usage.cache_write_tokens,
            cost_micro_usd=record.cost_micro,
            cache_discount_micro_usd=record.discount_micro,
            surface=record.surface,
            preset=record.preset,
            notes=list(record.notes),
        ),
    )
