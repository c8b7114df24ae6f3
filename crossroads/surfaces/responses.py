"""The OpenAI Responses API (`POST /responses`) as a surface over chat completions.

Stateless, like OpenRouter's: each request carries its whole conversation. The request becomes a
chat body (`responses_request.py`), the answer a `response` object (`responses_output.py`), the
chat stream the Responses event stream (`responses_stream.py`). Errors before an answer keep the
`{"error": {...}}` body every route sends, which OpenAI's SDKs read as they read OpenAI's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from crossroads.chat_request import decode_body
from crossroads.errors import CrossroadsError
from crossroads.surfaces.responses_output import response_object
from crossroads.surfaces.responses_request import Echo, chat_body
from crossroads.surfaces.responses_stream import ResponsesStream


class ResponsesTranslation:
    """One Responses request on its way through the chat path."""

    __slots__ = ("_body", "_clock", "_echo", "_stream")

    def __init__(self, body: dict[str, Any], echo: Echo, clock: Callable[[], float]) -> None:
        self._body = orjson.dumps(body)
        self._echo = echo
        self._clock = clock
        self._stream = ResponsesStream(echo, clock)

    @property
    def chat_body(self) -> bytes:
        return self._body

    def answer(self, chat: dict[str, Any]) -> bytes:
        return orjson.dumps(response_object(chat, self._echo, int(self._clock())))

    def stream_event(self, chunk: dict[str, Any]) -> list[bytes]:
        return self._stream.chunk(chunk)

    def stream_end(self) -> list[bytes]:
        return self._stream.end()


class ResponsesSurface:
    """`POST /responses`: the OpenAI Responses API, stateless."""

    __slots__ = ("_clock",)

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    @property
    def name(self) -> str:
        return "responses"

    @property
    def credential_headers(self) -> tuple[bytes, ...]:
        return (b"authorization",)

    def translate(self, raw: bytes) -> ResponsesTranslation:
        body = decode_body(raw)
        chat, echo = chat_body(body)
        return ResponsesTranslation(chat, echo, self._clock)

    def error_body(self, error: CrossroadsError) -> bytes:
        return error.body()
