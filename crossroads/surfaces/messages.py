"""Anthropic's Messages API (`POST /v1/messages`) as a surface over chat completions.

The request is rewritten as a chat body (`messages_request`), answered by the one chat path,
and the answer re-shaped as an Anthropic `message` (`messages_shapes`) or, streamed, as
Anthropic's event sequence (`messages_stream`). The caller's key may come as Anthropic's
`x-api-key` or as `Authorization: Bearer`; `anthropic-version` and `anthropic-beta` are accepted
and ignored. Errors carry Anthropic's envelope with the status chat would give.
"""

from __future__ import annotations

from typing import Any

import orjson

from crossroads.errors import CrossroadsError
from crossroads.surfaces.messages_chat import chat_body
from crossroads.surfaces.messages_request import parse
from crossroads.surfaces.messages_shapes import (
    content_blocks,
    error_body,
    message_head,
    stop_of,
    usage_of,
)
from crossroads.surfaces.messages_stream import MessagesStream


class MessagesTranslation:
    __slots__ = ("_chat_body", "_stops", "_stream")

    def __init__(self, body: bytes, stops: tuple[str, ...]) -> None:
        self._chat_body = body
        self._stops = stops
        self._stream = MessagesStream(stops)

    @property
    def chat_body(self) -> bytes:
        return self._chat_body

    def answer(self, chat: dict[str, Any]) -> bytes:
        choices = chat.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else {}
        message = choice.get("message") if isinstance(choice, dict) else None
        message = message if isinstance(message, dict) else {}
        stop_reason, stop_sequence = stop_of(choice, self._stops)
        body = {
            **message_head(chat),
            "content": content_blocks(message, str(chat.get("id", ""))),
            "stop_reason": stop_reason or "end_turn",
            "stop_sequence": stop_sequence,
            "usage": usage_of(chat.get("usage")),
        }
        return orjson.dumps(body)

    def stream_event(self, chunk: dict[str, Any]) -> list[bytes]:
        return self._stream.event(chunk)

    def stream_end(self) -> list[bytes]:
        return self._stream.end()


class MessagesSurface:
    __slots__ = ()

    @property
    def name(self) -> str:
        return "messages"

    @property
    def credential_headers(self) -> tuple[bytes, ...]:
        return (b"x-api-key", b"authorization")

    def translate(self, raw: bytes) -> MessagesTranslation:
        request, body = parse(raw)
        stops = tuple(request.stop_sequences or ())
        return MessagesTranslation(orjson.dumps(chat_body(request, body)), stops)

    def error_body(self, error: CrossroadsError) -> bytes:
        return error_body(error)


MESSAGES = MessagesSurface()
