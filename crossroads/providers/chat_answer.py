"""The chat completion and chunk shapes that every non-OpenAI dialect's answer is read into.

Anthropic, Gemini and Bedrock Converse answers differ on the wire, but each is turned into the
same OpenAI-shaped message, usage, reasoning details and stream chunks; those shapes (and the
malformed-event errors a stream raises) are written here once so the dialects cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from crossroads.failures import AttemptError, Failure

Chunk = dict[str, Any]


def count(value: Any) -> int:
    """A token count as a provider reports it: anything but a positive int counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def cached_usage(raw: Mapping[str, Any], keys: tuple[str, str, str, str]) -> dict[str, Any]:
    """An OpenAI-style usage whose `prompt_tokens` include cache reads and writes, for the
    dialects that report the three apart (Anthropic, Bedrock). `keys` names the dialect's
    (fresh input, cache read, cache write, output) counts."""
    fresh, read, written, output = (count(raw.get(key)) for key in keys)
    prompt = fresh + read + written
    return {"prompt_tokens": prompt, "completion_tokens": output,
            "total_tokens": prompt + output,
            "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": written}}


def reasoning_detail(reasoning_format: str, index: int, **fields: Any) -> dict[str, Any]:
    """One of OpenRouter's `reasoning_details` entries for the thinking block at `index`: an
    encrypted one when it carries `data`, a text one otherwise."""
    kind = "reasoning.encrypted" if "data" in fields else "reasoning.text"
    return {"type": kind, **fields, "format": reasoning_format, "index": index}


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": arguments}}


class BlockParts:
    """What an answer's content blocks say, in chat terms, as a dialect's reader sorts them."""

    __slots__ = ("calls", "texts", "thoughts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.thoughts: list[dict[str, Any]] = []  # reasoning details
        self.calls: list[dict[str, Any]] = []


def block_parts(content: list[Any], read: Callable[[BlockParts, int, dict[str, Any]], None]
                ) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """(texts, reasoning details, tool calls) of a message's content blocks, each block sorted
    by `read(parts, index, block)`."""
    parts = BlockParts()
    for index, block in enumerate(content):
        if not isinstance(block, dict):
            raise AttemptError(Failure.MALFORMED, "the provider sent a non-object content block")
        read(parts, index, block)
    return parts.texts, parts.thoughts, parts.calls


def assistant_message(texts: list[str], thoughts: list[dict[str, Any]],
                      calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer's message: content is null only when the model called tools and said
    nothing."""
    message: dict[str, Any] = {"role": "assistant",
                               "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if thoughts:
        message["reasoning"] = "".join(t.get("text", "") for t in thoughts)
        message["reasoning_details"] = thoughts
    return message


def malformed(what: str) -> AttemptError:
    return AttemptError(Failure.MALFORMED, f"the provider sent a malformed {what} event")


def decode_event(data: bytes) -> Any:
    """A stream event's JSON; what does not parse fails the attempt as malformed."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise AttemptError(Failure.MALFORMED,
                           "the provider sent a malformed stream event") from None


def non_object_event() -> AttemptError:
    return AttemptError(Failure.MALFORMED, "the provider sent a non-object stream event")


def chunk(answer_id: str | None, model: str | None, delta: dict[str, Any]) -> Chunk:
    return {"id": answer_id, "object": "chat.completion.chunk", "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def usage_chunk(answer_id: str | None, model: str | None, usage: dict[str, Any]) -> Chunk:
    """The stream's last chunk: no choices, the usage."""
    return {"id": answer_id, "object": "chat.completion.chunk", "model": model,
            "choices": [], "usage": usage}


def tool_call_start(position: int, call_id: str, name: str) -> dict[str, Any]:
    """The delta that opens a streamed tool call (its arguments follow in pieces)."""
    return {"tool_calls": [{"index": position, "id": call_id, "type": "function",
                            "function": {"name": name, "arguments": ""}}]}
