"""Anthropic Messages API answers, written from Anthropic's public API reference.

Each fixture names the page it follows (as stored 2026-12-07); ids and texts are the pages'
examples or shortened from them, field names and event order are exactly theirs.

  [messages]   https://docs.anthropic.com/en/api/messages
  [streaming]  https://docs.anthropic.com/en/docs/build-with-claude/streaming
  [caching]    https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
  [thinking]   https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
  [errors]     https://docs.anthropic.com/en/api/errors
  [delta-usage] the SDKs' MessageDeltaUsage: "The cumulative number of … tokens"
               (https://rubydoc.info/gems/anthropic/Anthropic/Models/MessageDeltaUsage)
"""

from __future__ import annotations

from typing import Any

import orjson

# [messages] a plain text answer.
TEXT_MESSAGE: dict[str, Any] = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 2095, "output_tokens": 503},
}

# [thinking] + [messages] tool use: thinking, text, then a tool_use block.
TOOL_MESSAGE: dict[str, Any] = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [
        {"type": "thinking", "thinking": "The user wants the weather.",
         "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},
        {"type": "text", "text": "I'll check the weather."},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
         "input": {"location": "San Francisco, CA", "unit": "celsius"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 472, "output_tokens": 89},
}

# [thinking] "Thinking redaction": a redacted_thinking block beside a normal one.
REDACTED_MESSAGE: dict[str, Any] = {
    **TEXT_MESSAGE,
    "content": [
        {"type": "thinking", "thinking": "Let me analyze this step by step...",
         "signature": "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG"},
        {"type": "redacted_thinking",
         "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"},
        {"type": "text", "text": "Based on my analysis..."},
    ],
}

# [caching] a response that read 1,800 cached tokens and wrote 248: the three input counts
# are apart and add up (input_tokens is only what came after the last breakpoint).
CACHED_MESSAGE: dict[str, Any] = {
    **TEXT_MESSAGE,
    "usage": {"input_tokens": 21, "cache_creation_input_tokens": 248,
              "cache_read_input_tokens": 1800, "output_tokens": 393},
}

# [messages] a stop sequence matched.
STOP_SEQUENCE_MESSAGE: dict[str, Any] = {
    **TEXT_MESSAGE, "stop_reason": "stop_sequence", "stop_sequence": "###"}


def sse(*events: dict[str, Any]) -> bytes:
    """Events framed as Anthropic sends them: an `event:` line, then the `data:` line."""
    return b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), orjson.dumps(e))
                    for e in events)


def _start(usage: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message_start", "message": {
        "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant",
        "content": [], "model": "claude-haiku-4-5", "stop_reason": None, "stop_sequence": None,
        "usage": usage}}


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


# [streaming] "Basic streaming request": a text block, a ping, usage over two events.
TEXT_STREAM: list[dict[str, Any]] = [
    _start({"input_tokens": 25, "output_tokens": 1}),
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    _delta(0, {"type": "text_delta", "text": "Hello"}),
    _delta(0, {"type": "text_delta", "text": "!"}),
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"output_tokens": 15}},
    {"type": "message_stop"},
]

# [streaming] "Streaming request with tool use": text, then a tool_use whose input arrives as
# partial JSON pieces (the first one empty), split mid-token.
TOOL_STREAM: list[dict[str, Any]] = [
    _start({"input_tokens": 472, "output_tokens": 2}),
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    _delta(0, {"type": "text_delta", "text": "Okay, let's check the weather"}),
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {
        "type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather",
        "input": {}}},
    _delta(1, {"type": "input_json_delta", "partial_json": ""}),
    _delta(1, {"type": "input_json_delta", "partial_json": "{\"location\":"}),
    _delta(1, {"type": "input_json_delta", "partial_json": " \"San Fra"}),
    _delta(1, {"type": "input_json_delta", "partial_json": "ncisc"}),
    _delta(1, {"type": "input_json_delta", "partial_json": "o,"}),
    _delta(1, {"type": "input_json_delta", "partial_json": " CA\""}),
    _delta(1, {"type": "input_json_delta", "partial_json": ", "}),
    _delta(1, {"type": "input_json_delta", "partial_json": "\"unit\": \"fah"}),
    _delta(1, {"type": "input_json_delta", "partial_json": "renheit\"}"}),
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2, "content_block": {
        "type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}},
    _delta(2, {"type": "input_json_delta", "partial_json": "{\"tz\": \"PST\"}"}),
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"output_tokens": 89}},
    {"type": "message_stop"},
]

# [thinking] "Streaming with extended thinking": thinking deltas, a signature_delta, then text.
THINKING_STREAM: list[dict[str, Any]] = [
    _start({"input_tokens": 10, "output_tokens": 1}),
    {"type": "content_block_start", "index": 0,
     "content_block": {"type": "thinking", "thinking": ""}},
    _delta(0, {"type": "thinking_delta", "thinking": "Let me solve this step by step:\n\n1. "}),
    _delta(0, {"type": "thinking_delta", "thinking": "First break down 27 * 453"}),
    _delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"}),
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    _delta(1, {"type": "text_delta", "text": "27 * 453 = 12,231"}),
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"output_tokens": 100}},
    {"type": "message_stop"},
]

# [caching] + [delta-usage]: message_start carries the cache counts; the final message_delta
# repeats every count cumulatively (server tools may update input counts there).
CACHED_STREAM: list[dict[str, Any]] = [
    _start({"input_tokens": 21, "cache_creation_input_tokens": 248,
            "cache_read_input_tokens": 1800, "output_tokens": 1}),
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    _delta(0, {"type": "text_delta", "text": "Cached hello"}),
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
     "usage": {"input_tokens": 21, "cache_creation_input_tokens": 248,
               "cache_read_input_tokens": 1800, "output_tokens": 393}},
    {"type": "message_stop"},
]

# [streaming] "Error events": an overload inside a 200 stream.
STREAM_ERROR: dict[str, Any] = {
    "type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def error_body(kind: str, message: str, **extra: Any) -> bytes:
    """[errors] `{"type": "error", "error": {"type", "message"}, "request_id"}`."""
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message, **extra},
                         "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})


# [errors] every HTTP error type with its status.
ERRORS: list[tuple[int, str, str]] = [
    (400, "invalid_request_error", "messages: text content blocks must be non-empty"),
    (401, "authentication_error", "invalid x-api-key"),
    (402, "billing_error", "Your credit balance is too low to access the Anthropic API."),
    (403, "permission_error", "Your API key does not have permission to use this resource."),
    (404, "not_found_error", "model: claude-nonexistent"),
    (413, "request_too_large", "Request exceeds the maximum allowed number of bytes."),
    (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute limit."),
    (500, "api_error", "Internal server error"),
    (504, "timeout_error", "Request timed out"),
    (529, "overloaded_error", "Overloaded"),
]
PROMPT_TOO_LONG = "prompt is too long: 208310 tokens > 200000 maximum"
