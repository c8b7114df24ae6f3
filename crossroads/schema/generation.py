"""`GET /generation?id=`: the stored record of one generation."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType


class _Body(msgspec.Struct, kw_only=True):
    pass


class AttemptExtras(_Body, kw_only=True):
    endpoint: str
    model: str
    failure: str | None
    message: str | None
    ttft: int | None
    served: bool
    # The attempt's part of the answer (null when none of its tokens reached the caller), and
    # for a resumed stream's continuation, the characters it was sent as prefill.
    tokens_prompt: int | None = None
    tokens_completion: int | None = None
    cost_micro_usd: int | None = None
    usage_estimated: bool = False
    prefill_chars: int | None = None
    skipped_events: int = 0


class ProviderResponse(_Body, kw_only=True):
    """One attempt, fallbacks included; `latency` in ms."""

    status: int | None
    provider_name: str | UnsetType = UNSET
    endpoint_id: str | UnsetType = UNSET
    model_permaslug: str | UnsetType = UNSET
    latency: float | UnsetType = UNSET
    is_byok: bool | UnsetType = UNSET
    crossroads: AttemptExtras | UnsetType = UNSET


class GenerationExtras(_Body, kw_only=True):
    model_requested: str
    endpoint: str | None
    app_title: str | None
    key_hash: str | None
    ttft: int | None
    usage_estimated: bool
    native_tokens_cache_write: int
    cost_micro_usd: int
    cache_discount_micro_usd: int
    surface: str
    preset: str | None
    notes: list[str]


class GenerationData(_Body, kw_only=True):
    id: str
    upstream_id: str | None
    total_cost: float
    cache_discount: float | None
    upstream_inference_cost: float | None
    usage: float
    is_byok: bool
    created_at: str
    model: str
    app_id: int | None
    origin: str
    http_referer: str | None
    user_agent: str | None
    external_user: str | None
    provider_name: str | None
    router: str | None
    preset_id: str | None
    service_tier: str | None
    data_region: Literal["global", "europe", "us"]
    api_type: str | None
    workspace_id: str | None
    streamed: bool | None
    cancelled: bool | None
    finish_reason: str | None
    native_finish_reason: str | None
    tokens_prompt: int | None
    tokens_completion: int | None
    native_tokens_prompt: int | None
    native_tokens_completion: int | None
    native_tokens_reasoning: int | None
    native_tokens_cached: int | None
    native_tokens_completion_images: int | None
    num_media_prompt: int | None
    num_media_completion: int | None
    num_input_audio_prompt: int | None
    num_fetches: int | None
    num_search_results: int | None
    web_search_engine: str | None
    latency: float | None
    generation_time: float | None
    moderation_latency: float | None
    provider_responses: list[ProviderResponse] | None
    session_id: str | UnsetType | None = UNSET
    request_id: str | UnsetType | None = UNSET
    crossroads: GenerationExtras | UnsetType = UNSET


class GenerationResponse(_Body, kw_only=True):
    data: GenerationData
