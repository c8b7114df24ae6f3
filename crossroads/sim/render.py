"""The bytes a simulated provider sends: plain completions, stream events and errors.

Completion text is deterministic — words cycled from a fixed list, one word plus a space per
token — so any client can predict the content of an n-token answer. Stream events are assembled
from pre-encoded pieces: encoding the shared head once per response keeps long streams cheap.
"""

from __future__ import annotations

import math
from typing import Any, Final, NamedTuple

import orjson

from crossroads.sim.profile import Outcome, SimProfile

__all__ = [
    "DONE",
    "ERRORS",
    "JUNK_LINE",
    "MALFORMED_EVENT",
    "MALFORMED_JSON",
    "WORDS",
    "ErrorSpec",
    "TextFrames",
    "chunk_head",
    "completion_body",
    "completion_text",
    "error_message",
    "retry_after_headers",
    "stream_head",
    "usage_event",
]

WORDS: Final = (
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven",
    "bright", "stars", "shine", "above", "calm", "water", "and", "distant", "hills", "hold",
    "the", "last", "light", "of", "an", "autumn", "evening",
)  # fmt: skip
_TOKEN_JSON: Final = tuple(orjson.dumps(w + " ") for w in WORDS)
# The text of the first i tokens, i < len(WORDS); longer answers repeat the whole cycle.
_PREFIXES: Final = tuple("".join(w + " " for w in WORDS[:i]) for i in range(len(WORDS)))
_CYCLE: Final = "".join(w + " " for w in WORDS)

DONE: Final = b"data: [DONE]\n\n"
MALFORMED_EVENT: Final = b'data: {"choices": [\n\n'
# A line no SSE reader can use and that could not have held a chunk (no `{`): what a proxy that
# garbles a keep-alive leaves behind. A tolerant client skips it (crossroads/sse.py).
JUNK_LINE: Final = b"~~ garbled keep-alive ~~\n\n"
MALFORMED_JSON: Final = b'{"id": "chatcmpl-sim", "object": "chat.completion", "choices": [{"messa'


def completion_text(n: int) -> str:
    """The content of an n-token answer."""
    whole, rest = divmod(n, len(WORDS))
    return _CYCLE * whole + _PREFIXES[rest]


class TextFrames:
    """The content events of one streamed answer; event i carries token i."""

    __slots__ = ("_finish", "_head", "n")

    def __init__(self, head: bytes, n: int, finish_reason: str) -> None:
        self._head = head
        self._finish = orjson.dumps(finish_reason)
        self.n = n

    def event(self, i: int) -> bytes:
        tok = _TOKEN_JSON[i % len(_TOKEN_JSON)]
        delta = b'{"role":"assistant","content":' if i == 0 else b'{"content":'
        finish = self._finish if i == self.n - 1 else b"null"
        return b'%s%s%s},"finish_reason":%s}]}\n\n' % (self._head, delta, tok, finish)


def stream_head(completion_id: str, created: int, model: str) -> bytes:
    """Everything of a chunk event before its choices, shared by every event of one stream."""
    return b'data: {"id":"%s","object":"chat.completion.chunk","created":%d,"model":%s,' \
        b'"choices":[' % (completion_id.encode(), created, orjson.dumps(model))


def chunk_head(completion_id: str, created: int, model: str) -> bytes:
    """A single choice's chunk event up to its delta."""
    return stream_head(completion_id, created, model) + b'{"index":0,"delta":'


def usage_event(completion_id: str, created: int, model: str, usage: dict[str, Any]) -> bytes:
    chunk = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage,
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def completion_body(
    completion_id: str,
    created: int,
    model: str,
    *,
    message: dict[str, Any],
    finish_reason: str,
    usage: dict[str, Any],
) -> bytes:
    return orjson.dumps(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
            ],
            "usage": usage,
        }
    )


class ErrorSpec(NamedTuple):
    status: int
    type: str
    code: str | None
    message: str


ERRORS: Final[dict[Outcome, ErrorSpec]] = {
    "http_400": ErrorSpec(400, "invalid_request_error", None, "Simulated bad request."),
    "context_length": ErrorSpec(400, "invalid_request_error", "context_length_exceeded", ""),
    "content_filter": ErrorSpec(
        400, "invalid_request_error", "content_filter", "Output blocked by content filtering policy"
    ),
    "http_401": ErrorSpec(401, "authentication_error", "invalid_api_key", "Invalid API key."),
    "http_402": ErrorSpec(
        402, "insufficient_quota", "insufficient_quota", "Insufficient credits on this account."
    ),
    "http_404": ErrorSpec(404, "invalid_request_error", "model_not_found", "Model not found."),
    "http_408": ErrorSpec(408, "timeout", "timeout", "Request timed out."),
    "http_413": ErrorSpec(413, "invalid_request_error", "request_too_large", "Request too large."),
    "http_429": ErrorSpec(429, "rate_limit_error", "rate_limit_exceeded", "Rate limit exceeded."),
    "http_429_retry_after": ErrorSpec(
        429, "rate_limit_error", "rate_limit_exceeded", "Rate limit exceeded, retry later."
    ),
    "http_500": ErrorSpec(500, "server_error", None, "The server had an error processing it."),
    "http_502": ErrorSpec(502, "server_error", "bad_gateway", "Bad gateway."),
    "http_503": ErrorSpec(
        503, "server_error", "service_unavailable", "The server is overloaded or not ready yet."
    ),
}


def error_message(
    outcome: Outcome, spec: ErrorSpec, profile: SimProfile, prompt: int, max_tokens: int | None
) -> str:
    if outcome != "context_length":
        return spec.message
    wanted = max_tokens or 0
    return (
        f"This model's maximum context length is {profile.context_length} tokens. However, you "
        f"requested {prompt + wanted} tokens ({prompt} in the messages, {wanted} in the "
        "completion). Please reduce the length of the messages or completion."
    )


def retry_after_headers(seconds: float) -> bytes:
    # Retry-After is whole seconds by RFC 9110; retry-after-ms carries the exact value.
    whole = math.ceil(seconds)
    return b"retry-after: %d\r\nretry-after-ms: %d\r\n" % (whole, round(seconds * 1000))
