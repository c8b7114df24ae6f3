"""Upstream chat objects made ours, in the shape OpenRouter's schema promises its clients.

Providers answer in OpenAI's dialect, but loosely: `created` or `system_fingerprint` missing, a
choice without `index`, finish reasons of their own (`end_turn`, `eos`, `MAX_TOKENS`). OpenRouter's
SDKs validate strictly and throw such a body away, so every completion and chunk is put in shape
here, in place, before it is re-encoded: required fields filled with the neutral value the schema
allows (`null` where it may be null), finish reasons normalised to OpenAI's five with the
provider's own word kept in `native_finish_reason`. `crossroads/schema/chat.py` is the contract;
the checker holds every test's responses to it.
"""

from __future__ import annotations

from typing import Any

FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "error")

# Lower-cased native finish reasons seen across providers, to OpenAI's set.
_NATIVE_FINISH: dict[str, str] = {
    **{reason: reason for reason in FINISH_REASONS},
    "end_turn": "stop",
    "stop_sequence": "stop",
    "eos": "stop",
    "eos_token": "stop",
    "finished": "stop",
    "complete": "stop",
    "max_tokens": "length",
    "model_length": "length",
    "max_output_tokens": "length",
    "tool_use": "tool_calls",
    "function_call": "tool_calls",
    "safety": "content_filter",
    "recitation": "content_filter",
    "blocklist": "content_filter",
    "prohibited_content": "content_filter",
    "refusal": "content_filter",
}


def normalise_finish_reason(native: Any) -> str | None:
    """OpenAI's finish reason for a provider's; None when there is none (the answer goes on).

    An unknown reason on a finished answer reads as `stop`: the provider ended it, and a client
    loop waiting for one of the five must see it end.
    """
    if native is None or native == "":
        return None
    return _NATIVE_FINISH.get(str(native).lower(), "stop")


def _shape_choice(choice: dict[str, Any], index: int, body: str) -> str | None:
    """Normalise one choice in place; return its finish reason."""
    if not isinstance(choice.get("index"), int):
        choice["index"] = index
    native = choice.get("finish_reason")
    finish = normalise_finish_reason(native)
    choice["finish_reason"] = finish
    if finish is not None:
        choice.setdefault("native_finish_reason", native)
    part = choice.get(body)
    if not isinstance(part, dict):
        choice[body] = part = {} if body == "delta" else {"role": "assistant", "content": None}
    elif body == "message" and part.get("role") != "assistant":
        part["role"] = "assistant"
    return finish


def shape_completion(payload: dict[str, Any], created: int) -> tuple[str | None, str | None]:
    """A non-streamed answer in ChatResult's shape; returns (finish reason, native reason)."""
    payload["object"] = "chat.completion"
    if not isinstance(payload.get("created"), int):
        payload["created"] = created
    fingerprint = payload.get("system_fingerprint")
    if not isinstance(fingerprint, str):
        payload["system_fingerprint"] = None
    finish: str | None = None
    native: str | None = None
    choices = payload["choices"]
    for i, choice in enumerate(choices):
        if isinstance(choice, dict):
            reason = _shape_choice(choice, i, "message")
            if i == 0:
                finish = reason
                raw = choice.get("native_finish_reason")
                native = None if raw is None else str(raw)
    payload["choices"] = [c for c in choices if isinstance(c, dict)]
    return finish, native


def shape_chunk(payload: dict[str, Any], created: int) -> tuple[str | None, str | None]:
    """One streamed event in ChatStreamChunk's shape; returns the first choice's finish reason
    and native reason, if it has one."""
    payload["object"] = "chat.completion.chunk"
    if not isinstance(payload.get("created"), int):
        payload["created"] = created
    # In a chunk the schema has it optional but never null.
    if "system_fingerprint" in payload and not isinstance(payload["system_fingerprint"], str):
        del payload["system_fingerprint"]
    choices = payload.get("choices")
    if not isinstance(choices, list):
        payload["choices"] = []
        return None, None
    finish: str | None = None
    native: str | None = None
    for i, choice in enumerate(choices):
        if isinstance(choice, dict):
            reason = _shape_choice(choice, i, "delta")
            if i == 0 and reason is not None:
                finish = reason
                raw = choice.get("native_finish_reason")
                native = None if raw is None else str(raw)
    if not all(isinstance(c, dict) for c in choices):
        payload["choices"] = [c for c in choices if isinstance(c, dict)]
    return finish, native
