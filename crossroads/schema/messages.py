"""Anthropic Messages: the `message` answer, its stream events and its error envelope, as
Anthropic publishes them with OpenRouter's additions (`provider`, usage `cost`, `error_type`)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from crossroads.schema.chat import CostDetails, ErrorType, ResponseExtras, UsageExtras

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn",
                     "refusal"]
AnthropicErrorType = Literal[
    "invalid_request_error", "authentication_error", "billing_error", "permission_error",
    "not_found_error", "request_too_large", "rate_limit_error", "api_error", "timeout_error",
    "overloaded_error",
]


class OutputTokensDetails(msgspec.Struct, kw_only=True):
    thinking_tokens: int


class MessagesUsage(msgspec.Struct, kw_only=True):
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int | None
    cache_creation_input_tokens: int | None
    output_tokens_details: OutputTokensDetails | UnsetType | None = UNSET
    service_tier: str | UnsetType | None = UNSET
    cost: float | UnsetType | None = UNSET
    cost_details: CostDetails | UnsetType | None = UNSET
    is_byok: bool | UnsetType = UNSET
    crossroads: UsageExtras | UnsetType = UNSET


class _Tagged(msgspec.Struct, tag_field="type", kw_only=True):
    pass


class TextBlock(_Tagged, tag="text"):
    text: str
    citations: list[dict[str, Any]] | UnsetType | None = UNSET


class ThinkingBlock(_Tagged, tag="thinking"):
    thinking: str
    signature: str


class RedactedThinkingBlock(_Tagged, tag="redacted_thinking"):
    data: str


class ToolUseBlock(_Tagged, tag="tool_use"):
    id: str
    name: str
    input: dict[str, Any]


ContentBlock = TextBlock | ThinkingBlock | RedactedThinkingBlock | ToolUseBlock


class MessagesResult(msgspec.Struct, kw_only=True):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[ContentBlock]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: MessagesUsage
    provider: str | UnsetType = UNSET
    crossroads: ResponseExtras | UnsetType = UNSET


class MessagesError(msgspec.Struct, kw_only=True):
    type: AnthropicErrorType
    message: str
    error_type: ErrorType | UnsetType = UNSET


class MessagesErrorResponse(msgspec.Struct, kw_only=True):
    type: Literal["error"]
    error: MessagesError
    request_id: str | None
    metadata: dict[str, Any] | UnsetType = UNSET


# --- the stream ---------------------------------------------------------------------------


class TextDelta(_Tagged, tag="text_delta"):
    text: str


class ThinkingDelta(_Tagged, tag="thinking_delta"):
    thinking: str


class SignatureDelta(_Tagged, tag="signature_delta"):
    signature: str


class InputJSONDelta(_Tagged, tag="input_json_delta"):
    partial_json: str


class MessageStart(_Tagged, tag="message_start"):
    message: MessagesResult


class ContentBlockStart(_Tagged, tag="content_block_start"):
    index: int
    content_block: ContentBlock


class ContentBlockDelta(_Tagged, tag="content_block_delta"):
    index: int
    delta: TextDelta | ThinkingDelta | SignatureDelta | InputJSONDelta


class ContentBlockStop(_Tagged, tag="content_block_stop"):
    index: int


class MessageDeltaBody(msgspec.Struct, kw_only=True):
    stop_reason: StopReason | None
    stop_sequence: str | None


class MessageDelta(_Tagged, tag="message_delta"):
    delta: MessageDeltaBody
    usage: MessagesUsage


class MessageStop(_Tagged, tag="message_stop"):
    pass


class Ping(_Tagged, tag="ping"):
    pass


class ErrorEvent(_Tagged, tag="error"):
    error: MessagesError


MessagesStreamEvent = (MessageStart | ContentBlockStart | ContentBlockDelta | ContentBlockStop
                       | MessageDelta | MessageStop | Ping | ErrorEvent)
