"""Anthropic's answers read as ours: usage, stop reasons, errors and the whole message.

Sources (Anthropic's public reference, as stored 2026-12-07):
  https://docs.anthropic.com/en/api/messages                      the message object, usage
  https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching   cache usage fields
  https://docs.anthropic.com/en/api/errors                        error types and statuses

Usage. Anthropic's `input_tokens` counts only the prompt tokens after the last cache
breakpoint: `cache_read_input_tokens` and `cache_creation_input_tokens` are counted apart and
add to it. Ours counts the whole prompt in `prompt_tokens`, with reads in
`prompt_tokens_details.cached_tokens` and writes in `cache_write_tokens`, so `pricing.py` bills
each at its own price. `output_tokens` includes thinking; Anthropic does not say how much of it
was thinking, so `reasoning_tokens` is not reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from crossroads.failures import AttemptError, Failure
from crossroads.providers import chat_answer
from crossroads.providers.anthropic_request import JSON_TOOL, REASONING_FORMAT
from crossroads.providers.openai import MAX_ERROR_EXCERPT, classify_error, retry_after_seconds

# stop_reason → OpenAI's finish_reason (the native one is kept beside it).
STOP_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# error.type → how the attempt failed; `invalid_request_error` is read by its message.
ERROR_FAILURES: dict[str, Failure] = {
    "authentication_error": Failure.UPSTREAM_AUTH,
    "permission_error": Failure.UPSTREAM_AUTH,
    "billing_error": Failure.UPSTREAM_AUTH,
    "not_found_error": Failure.UPSTREAM_NOT_FOUND,
    "request_too_large": Failure.CALLER_ERROR,
    "rate_limit_error": Failure.RATE_LIMITED,
    "timeout_error": Failure.UPSTREAM_TIMEOUT,
    "api_error": Failure.SERVER_ERROR,
    "overloaded_error": Failure.SERVER_ERROR,
}

# error.type → the status it comes with, for an error that arrives inside a 200 stream.
ERROR_STATUSES: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

# A 429 that no wait cures: the organisation's monthly spend cap (errors page).
SPEND_LIMIT = "enforced_spend_limit_reached"


# (fresh input, cache read, cache write, output) in the dialect's usage object.
_USAGE_KEYS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
               "output_tokens")


def chat_usage(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic's usage object as an OpenAI-style one with cache reads and writes inside
    `prompt_tokens` (module doc)."""
    return chat_answer.cached_usage(raw, _USAGE_KEYS)


def finish_reason(stop_reason: Any, json_answer: bool = False) -> str:
    """Our finish reason; a forced JSON tool's `tool_use` stop is the end of a plain answer."""
    if json_answer and stop_reason == "tool_use":
        return "stop"
    return STOP_REASONS.get(str(stop_reason), "stop")


def error_failure(kind: str, message: str, status: int, details: Any = None) -> Failure:
    if kind == "rate_limit_error" and isinstance(details, dict) \
            and details.get("error_code") == SPEND_LIMIT:
        return Failure.UPSTREAM_AUTH  # the account cannot pay: the next endpoint can
    failure = ERROR_FAILURES.get(kind)
    if failure is not None:
        return failure
    return classify_error(kind, message, status)


def _error_fields(parsed: Any) -> tuple[str, str, Any]:
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return "", "", None
    return (str(error.get("type") or ""), str(error.get("message") or "")[:MAX_ERROR_EXCERPT],
            error.get("details"))


def classify(status: int, headers: Mapping[str, str], body: bytes) -> AttemptError:
    """A non-2xx answer: `{"type": "error", "error": {"type", "message"}, "request_id"}`."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    kind, message, details = _error_fields(parsed)
    if not kind and not message:
        message = body[:MAX_ERROR_EXCERPT].decode("utf-8", "replace")
    return AttemptError(error_failure(kind, message, status, details),
                        message or f"HTTP {status}", status=status,
                        retry_after_s=retry_after_seconds(headers))


def in_band(parsed: dict[str, Any]) -> AttemptError:
    """An `error` event inside a stream (or an error object with a 200)."""
    kind, message, details = _error_fields(parsed)
    status = ERROR_STATUSES.get(kind, 502)
    return AttemptError(error_failure(kind, message, status, details),
                        message or "provider error", status=status)


def reasoning_detail(index: int, **fields: Any) -> dict[str, Any]:
    """One of OpenRouter's `reasoning_details` entries for the thinking block at `index` of the
    message: what a caller sends back, signature included, to keep the model's thinking across
    a tool loop."""
    return chat_answer.reasoning_detail(REASONING_FORMAT, index, **fields)


def _block_reader(json_answer: bool
                  ) -> Callable[[chat_answer.BlockParts, int, dict[str, Any]], None]:
    def read(parts: chat_answer.BlockParts, index: int, block: dict[str, Any]) -> None:
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            parts.texts.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            parts.thoughts.append(reasoning_detail(
                index, text=block["thinking"], signature=str(block.get("signature") or "")))
        elif kind == "redacted_thinking" and isinstance(block.get("data"), str):
            parts.thoughts.append(reasoning_detail(index, data=block["data"]))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            if json_answer and block.get("name") == JSON_TOOL:
                parts.texts.append(arguments)
            else:
                parts.calls.append(chat_answer.tool_call(
                    str(block.get("id") or ""), str(block.get("name") or ""), arguments))
    return read


def completion(parsed: dict[str, Any], json_answer: bool) -> dict[str, Any]:
    """A whole `message` object as a chat completion."""
    if parsed.get("type") == "error" or "error" in parsed:
        raise in_band(parsed)
    content = parsed.get("content")
    if not isinstance(content, list):
        raise AttemptError(Failure.MALFORMED, "the provider's message has no content list")
    texts, thoughts, calls = chat_answer.block_parts(content, _block_reader(json_answer))
    stop = parsed.get("stop_reason")
    message = chat_answer.assistant_message(texts, thoughts, calls)
    # The JSON tool's stop is the end of a plain answer; a real tool call's is not.
    json_answered = json_answer and not calls and any(
        isinstance(b, dict) and b.get("type") == "tool_use" for b in content)
    choice: dict[str, Any] = {"index": 0, "message": message,
                              "finish_reason": finish_reason(stop, json_answered),
                              "native_finish_reason": None if stop is None else str(stop),
                              "logprobs": None}
    if isinstance(parsed.get("stop_sequence"), str):
        choice["stop_reason"] = parsed["stop_sequence"]  # which one matched, as vLLM says it
    answer = {"id": parsed.get("id"), "object": "chat.completion", "model": parsed.get("model"),
              "choices": [choice]}
    usage = parsed.get("usage")
    if isinstance(usage, dict):  # without one, the router estimates and says so
        answer["usage"] = chat_usage(usage)
    return answer
