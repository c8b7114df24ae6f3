"""Inbound API surfaces: pure translators between a client's dialect and our chat shape.

Every surface (OpenAI Responses, Anthropic Messages, legacy completions) is served by the same
pipeline as chat completions (`api/chat.py`): one parse into a `ChatRequest`, one plan, one
relay with its failover, one meter, one ledger record. A surface only translates at the edges:

* `Surface.translate(raw)` turns the caller's request body into a chat body (JSON bytes, then
  validated by `parse_chat_request` like any chat request) and returns a `Translation` that
  remembers what it needs from the original request to answer in kind;
* `Translation.answer(chat)` turns a whole chat completion into the surface's answer;
* `Translation.stream_event(chunk)` turns one chat completion chunk (including the in-band
  error chunk that ends a broken stream) into zero or more of the surface's SSE events, and
  `Translation.stream_end()` emits whatever closes the surface's stream at `[DONE]`;
* `Surface.error_body(error)` shapes an error as that surface's SDK reads it.

No `await` and no I/O here, as in `providers/`.
"""

from __future__ import annotations

from typing import Any, Protocol

from crossroads.errors import CrossroadsError


class Translation(Protocol):
    @property
    def chat_body(self) -> bytes:
        """The request as a chat completion body."""
        ...

    def answer(self, chat: dict[str, Any]) -> bytes:
        """A whole chat completion (usage and cost included) → the surface's JSON answer."""
        ...

    def stream_event(self, chunk: dict[str, Any]) -> list[bytes]:
        """One chat completion chunk → the surface's SSE events (each framed, may be none)."""
        ...

    def stream_end(self) -> list[bytes]:
        """The chat stream's `[DONE]` → the surface's closing events."""
        ...


class Surface(Protocol):
    @property
    def name(self) -> str:
        """Short name for logs, metrics and the ledger: "responses", "messages", …"""
        ...

    @property
    def credential_headers(self) -> tuple[bytes, ...]:
        """Request headers that may carry the caller's key, in order of preference; a header
        other than `authorization` carries the bare key (as Anthropic's `x-api-key`)."""
        ...

    def translate(self, raw: bytes) -> Translation:
        """Parse the caller's body (BadRequest when it is not this surface's shape)."""
        ...

    def error_body(self, error: CrossroadsError) -> bytes:
        """The error as this surface's clients read it, with the same status."""
        ...


def sse_event(data: bytes, event: str | None = None) -> bytes:
    """One server-sent event, framed."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
