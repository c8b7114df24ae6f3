"""The catalog routes: `/models`, `/model/{author}/{slug}`, `/models/count`,
`/models/{author}/{slug}/endpoints` and `/providers`."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

EndpointStatus = Literal[0, -1, -2, -3, -5, -10]


class _Body(msgspec.Struct, kw_only=True):
    pass


class ModelArchitecture(_Body, kw_only=True):
    """A model's architecture in `/models` and `/model/{slug}`: its `tokenizer` may be absent
    but never null (OpenRouter's TypeScript SDK rejects a null one)."""

    modality: str | None
    input_modalities: list[str]
    output_modalities: list[str]
    tokenizer: str | UnsetType = UNSET
    instruct_type: str | UnsetType | None = UNSET


class EndpointsArchitecture(_Body, kw_only=True):
    """The same facts in `/models/{slug}/endpoints`, where both are required and nullable."""

    modality: str | None
    input_modalities: list[str]
    output_modalities: list[str]
    tokenizer: str | None
    instruct_type: str | None


class PublicPricing(_Body, kw_only=True):
    """USD per token (per image, per request) as decimal strings, as OpenRouter sends them."""

    prompt: str
    completion: str
    request: str | UnsetType = UNSET
    image: str | UnsetType = UNSET
    input_cache_read: str | UnsetType = UNSET
    input_cache_write: str | UnsetType = UNSET


class TopProviderInfo(_Body, kw_only=True):
    context_length: int | None
    max_completion_tokens: int | None
    is_moderated: bool


class PerRequestLimits(_Body, kw_only=True):
    prompt_tokens: float
    completion_tokens: float


class DefaultParameters(_Body, kw_only=True):
    temperature: float | UnsetType | None = UNSET
    top_p: float | UnsetType | None = UNSET
    top_k: int | UnsetType | None = UNSET
    frequency_penalty: float | UnsetType | None = UNSET
    presence_penalty: float | UnsetType | None = UNSET
    repetition_penalty: float | UnsetType | None = UNSET


class ModelLinks(_Body, kw_only=True):
    details: str


class ModelExtras(_Body, kw_only=True):
    simulated: bool
    endpoints: int
    endpoints_available: int


class Model(_Body, kw_only=True):
    id: str
    canonical_slug: str
    name: str
    created: int
    description: str
    context_length: int | None
    architecture: ModelArchitecture
    pricing: PublicPricing
    top_provider: TopProviderInfo
    per_request_limits: PerRequestLimits | None
    supported_parameters: list[str]
    default_parameters: DefaultParameters | None
    supported_voices: list[str] | None
    links: ModelLinks
    hugging_face_id: str | UnsetType | None = UNSET
    knowledge_cutoff: str | UnsetType | None = UNSET
    expiration_date: str | UnsetType | None = UNSET
    crossroads: ModelExtras | UnsetType = UNSET


class ListLinks(_Body, kw_only=True):
    next: str | None


class ModelsListResponse(_Body, kw_only=True):
    data: list[Model]
    links: ListLinks
    total_count: int


class ModelResponse(_Body, kw_only=True):
    data: Model


class ModelsCount(_Body, kw_only=True):
    count: int


class ModelsCountResponse(_Body, kw_only=True):
    data: ModelsCount


class PercentileStats(_Body, kw_only=True):
    p50: float
    p75: float
    p90: float
    p99: float


class ToolChoiceSupport(_Body, kw_only=True):
    auto: bool
    none: bool
    required: bool
    function: bool


class DataPolicy(_Body, kw_only=True):
    training: bool
    retains_prompts: bool
    zdr: bool


class EndpointExtras(_Body, kw_only=True):
    """What crossroads measures and knows beyond OpenRouter's fields.

    `latency_last_30m` here is the full round trip (OpenRouter's field of that name is time to
    first token); `state` says in words what `status` says in numbers.
    """

    provider: str
    state: Literal["available", "degraded", "down", "cooling_down", "unavailable"]
    unavailable_reason: str | None
    input_modalities: list[str]
    data_policy: DataPolicy
    latency_last_30m: PercentileStats | None
    last_outage_at: str | None
    simulated: bool


class PublicEndpoint(_Body, kw_only=True):
    name: str
    model_id: str
    model_name: str
    provider_name: str
    tag: str
    context_length: int
    max_completion_tokens: int | None
    max_prompt_tokens: int | None
    quantization: str | None
    pricing: PublicPricing
    supported_parameters: list[str]
    supports_implicit_caching: bool
    supports_tool_choice: ToolChoiceSupport
    supports_diarization: bool
    native_tools: dict[str, dict[str, str]]
    service_tier: str | None
    uptime_last_5m: float | None
    uptime_last_30m: float | None
    uptime_last_1d: float | None
    latency_last_30m: PercentileStats | None
    throughput_last_30m: PercentileStats | None
    status: EndpointStatus | UnsetType = UNSET
    crossroads: EndpointExtras | UnsetType = UNSET


class ListEndpoints(_Body, kw_only=True):
    id: str
    name: str
    created: int
    description: str
    architecture: EndpointsArchitecture
    endpoints: list[PublicEndpoint]


class ListEndpointsResponse(_Body, kw_only=True):
    data: ListEndpoints


class ProviderInfo(_Body, kw_only=True):
    name: str
    slug: str
    privacy_policy_url: str | None
    terms_of_service_url: str | UnsetType | None = UNSET
    status_page_url: str | UnsetType | None = UNSET


class ListProvidersResponse(_Body, kw_only=True):
    data: list[ProviderInfo]
