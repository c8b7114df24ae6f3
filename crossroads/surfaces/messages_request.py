"""An Anthropic Messages request, read with its published types.

The request is decoded into typed structs, so a wrong shape is a 400 that names the field, as
Anthropic's own API answers; `messages_chat` turns the structs into a chat body.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from crossroads.chat_request import decode_body
from crossroads.errors import BadRequest


class _Block(msgspec.Struct, tag_field="type", kw_only=True):
    """A content block; fields Anthropic has and we do not use (cache_control, citations) are
    accepted and ignored."""


class TextBlock(_Block, tag="text"):
    text: str


class Base64Source(_Block, tag="base64"):
    media_type: str
    data: str


class URLSource(_Block, tag="url"):
    url: str


class PlainTextSource(_Block, tag="text"):
    data: str
    media_type: str = "text/plain"


class FileSource(_Block, tag="file"):
    file_id: str


class ImageBlock(_Block, tag="image"):
    source: Base64Source | URLSource | FileSource


class ContentSource(_Block, tag="content"):
    content: str | list[TextBlock | ImageBlock]


class DocumentBlock(_Block, tag="document"):
    source: Base64Source | URLSource | PlainTextSource | ContentSource | FileSource
    title: str | None = None


class ToolUseBlock(_Block, tag="tool_use"):
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(_Block, tag="tool_result"):
    tool_use_id: str
    content: str | list[TextBlock | ImageBlock | DocumentBlock] | None = None
    is_error: bool = False


class ThinkingBlock(_Block, tag="thinking"):
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(_Block, tag="redacted_thinking"):
    data: str


Block = (TextBlock | ImageBlock | DocumentBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock
         | RedactedThinkingBlock)


class Message(msgspec.Struct, kw_only=True):
    role: Literal["user", "assistant"]
    content: str | list[Block]


class Tool(msgspec.Struct, kw_only=True):
    name: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    # Absent or "custom" for a caller's own tool; Anthropic's server tools carry a dated type.
    type: str | None = None


class ToolChoiceBase(msgspec.Struct, tag_field="type", kw_only=True):
    disable_parallel_tool_use: bool = False


class ChoiceAuto(ToolChoiceBase, tag="auto"):
    pass


class ChoiceAny(ToolChoiceBase, tag="any"):
    pass


class ChoiceTool(ToolChoiceBase, tag="tool"):
    name: str


class ChoiceNone(ToolChoiceBase, tag="none"):
    pass


class _Thinking(msgspec.Struct, tag_field="type", kw_only=True):
    pass


class ThinkingEnabled(_Thinking, tag="enabled"):
    budget_tokens: int
    display: str | None = None


class ThinkingAdaptive(_Thinking, tag="adaptive"):
    display: str | None = None


class ThinkingDisabled(_Thinking, tag="disabled"):
    pass


class JSONFormat(msgspec.Struct, kw_only=True):
    type: Literal["json_schema"]
    schema: dict[str, Any]


class OutputConfig(msgspec.Struct, kw_only=True):
    effort: str | None = None
    format: JSONFormat | None = None


class Metadata(msgspec.Struct, kw_only=True):
    user_id: str | None = None


class MessagesRequest(msgspec.Struct, kw_only=True):
    # Optional only because OpenRouter's `models` may name the model instead.
    model: str | None = None
    max_tokens: int
    messages: list[Message]
    system: str | list[TextBlock] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    metadata: Metadata | None = None
    tools: list[Tool] | None = None
    tool_choice: ChoiceAuto | ChoiceAny | ChoiceTool | ChoiceNone | None = None
    thinking: ThinkingEnabled | ThinkingAdaptive | ThinkingDisabled | None = None
    output_config: OutputConfig | None = None
    stream: bool = False


def parse(raw: bytes) -> tuple[MessagesRequest, dict[str, Any]]:
    """The typed request and the raw object (for the fields passed through)."""
    body = decode_body(raw)
    try:
        return msgspec.convert(body, MessagesRequest), body
    except msgspec.ValidationError as exc:
        raise BadRequest(f"Invalid request: {exc}") from None
