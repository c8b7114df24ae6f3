"""The Responses API: the `response` object and its stream events, as crossroads sends them.

Held to OpenAI's Responses types (what its SDKs parse) and OpenRouter's additions (`cost`,
`cost_details` and `is_byok` in `usage`, `error_type` on a failed response). Items, content parts
and events are tagged unions on `type`, so an event of an unknown type or a part in the wrong
place is a violation.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import UNSET, UnsetType

from crossroads.schema.chat import ErrorType, ResponseExtras, UsageExtras, _Open

ItemStatus = Literal["in_progress", "completed", "incomplete"]
Status = Literal["in_progress", "completed", "incomplete", "failed"]
ErrorCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]


class OutputText(_Open, kw_only=True, tag_field="type", tag="output_text"):
    text: str
    annotations: list[dict[str, Any]]
    logprobs: list[dict[str, Any]] | UnsetType = UNSET


class Refusal(_Open, kw_only=True, tag_field="type", tag="refusal"):
    refusal: str


class ReasoningText(_Open, kw_only=True, tag_field="type", tag="reasoning_text"):
    text: str


class SummaryText(_Open, kw_only=True, tag_field="type", tag="summary_text"):
    text: str


class MessageItem(_Open, kw_only=True, tag_field="type", tag="message"):
    id: str
    role: Literal["assistant"]
    status: ItemStatus
    content: list[OutputText | Refusal]


class ReasoningItem(_Open, kw_only=True, tag_field="type", tag="reasoning"):
    id: str
    summary: list[SummaryText]
    content: list[ReasoningText] | UnsetType = UNSET
    encrypted_content: str | UnsetType | None = UNSET
    status: ItemStatus | UnsetType = UNSET


class FunctionCallItem(_Open, kw_only=True, tag_field="type", tag="function_call"):
    id: str
    call_id: str
    name: str
    arguments: str
    status: ItemStatus


OutputItem = MessageItem | ReasoningItem | FunctionCallItem


class InputTokensDetails(_Open, kw_only=True):
    cached_tokens: int
    cache_write_tokens: int | UnsetType | None = UNSET


class OutputTokensDetails(_Open, kw_only=True):
    reasoning_tokens: int


class CostDetails(_Open, kw_only=True):
    upstream_inference_cost: float | None
    upstream_inference_input_cost: float
    upstream_inference_output_cost: float


class ResponsesUsage(_Open, kw_only=True):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int
    cost: float | UnsetType | None = UNSET
    cost_details: CostDetails | UnsetType = UNSET
    is_byok: bool | UnsetType = UNSET
    crossroads: UsageExtras | UnsetType = UNSET


class ResponseError(_Open, kw_only=True):
    code: ErrorCode
    message: str


class IncompleteDetails(_Open, kw_only=True):
    reason: Literal["max_output_tokens", "content_filter"]


class ResponseObject(_Open, kw_only=True):
    id: str
    object: Literal["response"]
    created_at: int
    completed_at: int | None
    status: Status
    model: str
    output: list[OutputItem]
    error: ResponseError | None
    incomplete_details: IncompleteDetails | None
    instructions: str | None
    metadata: dict[str, str] | None
    tools: list[dict[str, Any]]
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any]
    parallel_tool_calls: bool
    temperature: float | None
    top_p: float | None
    presence_penalty: float | None
    frequency_penalty: float | None
    max_output_tokens: int | None
    text: dict[str, Any]
    reasoning: dict[str, Any] | None
    store: bool
    background: bool
    previous_response_id: None
    truncation: Literal["auto", "disabled"]
    user: str | None
    service_tier: str | None
    usage: ResponsesUsage | None
    error_type: ErrorType | UnsetType = UNSET
    provider: str | UnsetType = UNSET
    crossroads: ResponseExtras | UnsetType = UNSET


# --- stream events ------------------------------------------------------------------------


class _Event(_Open, kw_only=True, tag_field="type"):
    sequence_number: int


class _Lifecycle(_Event, kw_only=True):
    response: ResponseObject


class Created(_Lifecycle, kw_only=True, tag="response.created"):
    pass


class InProgress(_Lifecycle, kw_only=True, tag="response.in_progress"):
    pass


class Completed(_Lifecycle, kw_only=True, tag="response.completed"):
    pass


class Incomplete(_Lifecycle, kw_only=True, tag="response.incomplete"):
    pass


class Failed(_Lifecycle, kw_only=True, tag="response.failed"):
    pass


class OutputItemAdded(_Event, kw_only=True, tag="response.output_item.added"):
    output_index: int
    item: OutputItem


class OutputItemDone(_Event, kw_only=True, tag="response.output_item.done"):
    output_index: int
    item: OutputItem


class _InItem(_Event, kw_only=True):
    item_id: str
    output_index: int


class _InPart(_InItem, kw_only=True):
    content_index: int


class ContentPartAdded(_InPart, kw_only=True, tag="response.content_part.added"):
    part: OutputText | Refusal | ReasoningText


class ContentPartDone(_InPart, kw_only=True, tag="response.content_part.done"):
    part: OutputText | Refusal | ReasoningText


class OutputTextDelta(_InPart, kw_only=True, tag="response.output_text.delta"):
    delta: str
    logprobs: list[dict[str, Any]]


class OutputTextDone(_InPart, kw_only=True, tag="response.output_text.done"):
    text: str
    logprobs: list[dict[str, Any]]


class RefusalDelta(_InPart, kw_only=True, tag="response.refusal.delta"):
    delta: str


class RefusalDone(_InPart, kw_only=True, tag="response.refusal.done"):
    refusal: str


class ReasoningTextDelta(_InPart, kw_only=True, tag="response.reasoning_text.delta"):
    delta: str


class ReasoningTextDone(_InPart, kw_only=True, tag="response.reasoning_text.done"):
    text: str


class FunctionCallArgumentsDelta(_InItem, kw_only=True,
                                 tag="response.function_call_arguments.delta"):
    delta: str


class FunctionCallArgumentsDone(_InItem, kw_only=True,
                                tag="response.function_call_arguments.done"):
    name: str
    arguments: str


ResponsesStreamEvent = (
    Created | InProgress | Completed | Incomplete | Failed | OutputItemAdded | OutputItemDone
    | ContentPartAdded | ContentPartDone | OutputTextDelta | OutputTextDone | RefusalDelta
    | RefusalDone | ReasoningTextDelta | ReasoningTextDone | FunctionCallArgumentsDelta
    | FunctionCallArgumentsDone
)
