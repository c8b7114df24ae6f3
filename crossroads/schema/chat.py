"""Chat completions: `ChatResult`, `ChatStreamChunk` and the `usage` object both carry."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

FinishReason = Literal["tool_calls", "stop", "length", "content_filter", "error"]

# Error types OpenRouter documents for `error.metadata.error_type` (chat) and friends.
ErrorType = Literal[
    "context_length_exceeded", "max_tokens_exceeded", "token_limit_exceeded", "string_too_long",
    "authentication", "permission_denied", "payment_required", "rate_limit_exceeded",
    "provider_overloaded", "provider_unavailable", "invalid_request", "invalid_prompt",
    "not_found", "precondition_failed", "payload_too_large", "unprocessable",
    "content_policy_violation", "refusal", "invalid_image", "image_too_large", "image_too_small",
    "unsupported_image_format", "image_not_found", "image_download_failed", "server", "timeout",
    "unmapped",
]


class _Open(msgspec.Struct, kw_only=True):
    """Decoding ignores fields we do not model: extras are allowed, only drift is caught."""


class CostDetails(_Open, kw_only=True):
    upstream_inference_prompt_cost: float
    upstream_inference_completions_cost: float
    upstream_inference_cost: float | UnsetType | None = UNSET


class PromptTokensDetails(_Open, kw_only=True):
    cached_tokens: int | UnsetType = UNSET
    cache_write_tokens: int | UnsetType = UNSET
    audio_tokens: int | UnsetType = UNSET
    video_tokens: int | UnsetType = UNSET


class CompletionTokensDetails(_Open, kw_only=True):
    reasoning_tokens: int | UnsetType | None = UNSET
    audio_tokens: int | UnsetType | None = UNSET
    accepted_prediction_tokens: int | UnsetType | None = UNSET
    rejected_prediction_tokens: int | UnsetType | None = UNSET


class UsageExtras(_Open, kw_only=True):
    """Crossroads' exact accounting: integer micro-dollars, and whether tokens were estimated."""

    cost_micro_usd: int
    cache_discount_micro_usd: int
    estimated: bool


class ChatUsage(_Open, kw_only=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | UnsetType | None = UNSET
    completion_tokens_details: CompletionTokensDetails | UnsetType | None = UNSET
    cost: float | UnsetType | None = UNSET
    cost_details: CostDetails | UnsetType | None = UNSET
    is_byok: bool | UnsetType = UNSET
    crossroads: UsageExtras | UnsetType = UNSET


class FunctionCall(_Open, kw_only=True):
    name: str
    arguments: str


class ChatToolCall(_Open, kw_only=True):
    id: str
    type: Literal["function"]
    function: FunctionCall


class ChatAssistantMessage(_Open, kw_only=True):
    role: Literal["assistant"]
    content: str | list[dict[str, Any]] | UnsetType | None = UNSET
    name: str | UnsetType = UNSET
    reasoning: str | UnsetType | None = UNSET
    reasoning_details: list[dict[str, Any]] | UnsetType = UNSET
    refusal: str | UnsetType | None = UNSET
    tool_calls: list[ChatToolCall] | UnsetType = UNSET


class ChatTokenLogprobs(_Open, kw_only=True):
    content: list[dict[str, Any]] | None
    refusal: list[dict[str, Any]] | UnsetType | None = UNSET


class ChatChoice(_Open, kw_only=True):
    finish_reason: FinishReason | None
    index: int
    message: ChatAssistantMessage
    logprobs: ChatTokenLogprobs | UnsetType | None = UNSET
    native_finish_reason: str | UnsetType | None = UNSET


class ResponseExtras(_Open, kw_only=True):
    """On chat results and chunks: marks answers from the simulated fleet."""

    simulated: bool | UnsetType = UNSET


class ChatResult(_Open, kw_only=True):
    id: str
    choices: list[ChatChoice]
    created: int
    model: str
    object: Literal["chat.completion"]
    system_fingerprint: str | None
    usage: ChatUsage | UnsetType = UNSET
    service_tier: str | UnsetType | None = UNSET
    # Not in OpenRouter's schema, but in every answer it sends (the provider's display name).
    provider: str | UnsetType = UNSET
    crossroads: ResponseExtras | UnsetType = UNSET


class StreamFunctionCall(_Open, kw_only=True):
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET


class ChatStreamToolCall(_Open, kw_only=True):
    index: int
    id: str | UnsetType = UNSET
    type: Literal["function"] | UnsetType = UNSET
    function: StreamFunctionCall | UnsetType = UNSET


class ChatStreamDelta(_Open, kw_only=True):
    role: Literal["assistant"] | UnsetType = UNSET
    content: str | UnsetType | None = UNSET
    reasoning: str | UnsetType | None = UNSET
    refusal: str | UnsetType | None = UNSET
    tool_calls: list[ChatStreamToolCall] | UnsetType = UNSET
    reasoning_details: list[dict[str, Any]] | UnsetType = UNSET


class ChatStreamChoice(_Open, kw_only=True):
    delta: ChatStreamDelta
    finish_reason: FinishReason | None
    index: int
    logprobs: ChatTokenLogprobs | UnsetType | None = UNSET
    native_finish_reason: str | UnsetType | None = UNSET


class StreamErrorMetadata(_Open, kw_only=True):
    error_type: ErrorType
    provider_code: str | UnsetType = UNSET


class StreamError(_Open, kw_only=True):
    code: int
    message: str
    metadata: StreamErrorMetadata | UnsetType = UNSET


class ChatStreamChunk(_Open, kw_only=True):
    id: str
    choices: list[ChatStreamChoice]
    created: int
    model: str
    object: Literal["chat.completion.chunk"]
    system_fingerprint: str | UnsetType = UNSET
    error: StreamError | UnsetType = UNSET
    usage: ChatUsage | UnsetType = UNSET
    service_tier: str | UnsetType | None = UNSET
    provider: str | UnsetType = UNSET
    crossroads: ResponseExtras | UnsetType = UNSET
