"""The pieces of Anthropic's answers, made from the pieces of ours: ids, content blocks, stop
reasons, usage and errors. Shared by the whole answer and the stream."""

from __future__ import annotations

from typing import Any

import orjson

from crossroads.errors import ERROR_TYPE_BY_STATUS, CrossroadsError
from crossroads.pricing import Usage, usage_from_openai

MESSAGE_PREFIX = "msg_"

# Anthropic's error types by HTTP status (its errors page); other 4xx read as a bad request,
# other 5xx as an API error.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    524: "timeout_error",
    529: "overloaded_error",
}

STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def message_id(generation_id: str) -> str:
    """`msg_` + the generation id, so the id a client keeps leads back to the record."""
    return MESSAGE_PREFIX + generation_id


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_object(status: int, message: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """Anthropic's `error` object, with OpenRouter's `error_type` beside its `type`."""
    kind = metadata.get("error_type")
    error: dict[str, Any] = {"type": error_type(status), "message": message}
    error["error_type"] = kind if isinstance(kind, str) else ERROR_TYPE_BY_STATUS.get(
        status, "unmapped")
    return error


def error_body(error: CrossroadsError) -> bytes:
    metadata = error.payload()["error"]["metadata"]
    body: dict[str, Any] = {"type": "error",
                            "error": error_object(error.status, error.message, metadata),
                            "request_id": None}
    rest = {k: v for k, v in metadata.items() if k != "error_type"}
    if rest:
        body["metadata"] = rest
    return orjson.dumps(body)


def stop_of(choice: dict[str, Any], stops: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(stop_reason, stop_sequence) for a finished chat choice.

    Chat folds a stop sequence into `stop`; which one matched is known only when the provider
    says so: vLLM-style servers name it in the choice's `stop_reason`, an Anthropic-style one
    says `stop_sequence`, which is unambiguous when the caller gave a single sequence."""
    finish = choice.get("finish_reason")
    if not isinstance(finish, str):
        return None, None
    if finish == "stop" and stops:
        matched = choice.get("stop_reason")
        if isinstance(matched, str) and matched in stops:
            return "stop_sequence", matched
        if choice.get("native_finish_reason") == "stop_sequence":
            return "stop_sequence", stops[0] if len(stops) == 1 else None
    return STOP_REASONS.get(finish, "end_turn"), None


def usage_of(chat_usage: Any) -> dict[str, Any]:
    """Anthropic's usage from ours. Anthropic counts cache reads and writes apart from
    `input_tokens`; our `prompt_tokens` includes both, so they are taken out of it here."""
    usage = chat_usage if isinstance(chat_usage, dict) else {}
    counts = usage_from_openai(usage) or Usage()
    out: dict[str, Any] = {
        "input_tokens": max(counts.prompt_tokens - counts.cached_tokens
                            - counts.cache_write_tokens, 0),
        "output_tokens": counts.completion_tokens,
        "cache_read_input_tokens": counts.cached_tokens,
        "cache_creation_input_tokens": counts.cache_write_tokens,
        "output_tokens_details": {"thinking_tokens": counts.reasoning_tokens},
        "service_tier": "standard",
    }
    # OpenRouter's cost fields and crossroads' exact accounting, as on a chat answer.
    for name in ("cost", "cost_details", "is_byok", "crossroads"):
        if name in usage:
            out[name] = usage[name]
    return out


ZERO_USAGE: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0,
                              "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}


def text_of(content: Any) -> str:
    """A chat message's content as one string (a list of parts is joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content
                       if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def signature_of(details: Any) -> str:
    """The signature Anthropic-served reasoning carries in `reasoning_details`, if any."""
    if isinstance(details, list):
        for detail in details:
            if isinstance(detail, dict) and isinstance(detail.get("signature"), str):
                return str(detail["signature"])
    return ""


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's JSON arguments as Anthropic's `input` object. Arguments that are not a JSON
    object (a model's slip) are kept as text under `_raw_arguments` rather than lost."""
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_raw_arguments": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw_arguments": arguments}


def tool_id(call: dict[str, Any], generation_id: str, index: int) -> str:
    given = call.get("id")
    return given if isinstance(given, str) and given else f"toolu_{generation_id}_{index}"


def content_blocks(message: dict[str, Any], generation_id: str) -> list[dict[str, Any]]:
    """A whole chat message as Anthropic content: thinking, then text, then tool calls."""
    blocks: list[dict[str, Any]] = []
    reasoning = message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning,
                       "signature": signature_of(message.get("reasoning_details"))})
    text = text_of(message.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    calls = message.get("tool_calls")
    for i, call in enumerate(calls if isinstance(calls, list) else []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        blocks.append({"type": "tool_use", "id": tool_id(call, generation_id, i),
                       "name": str(function.get("name", "")),
                       "input": tool_input(function.get("arguments"))})
    return blocks


def message_head(chat: dict[str, Any]) -> dict[str, Any]:
    """The fields of a message that a chat answer or chunk gives at once."""
    generation_id = str(chat.get("id", ""))
    head: dict[str, Any] = {"id": message_id(generation_id), "type": "message",
                            "role": "assistant", "model": chat.get("model", "")}
    for name in ("provider", "crossroads"):
        if name in chat:
            head[name] = chat[name]
    return head
