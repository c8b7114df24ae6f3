"""The provider seam: pure translation between our request and an upstream's wire format.

A provider never awaits and never touches the network; the relay hands it bytes and gets values
(or an `AttemptError`) back. Most providers speak OpenAI's dialect and are catalog rows, not code;
an endpoint names the dialect it speaks (`Endpoint.dialect`, "openai" by default) and the relay
looks its provider up in `crossroads.providers.PROVIDERS`.

Whatever the dialect, what comes back is OpenAI-shaped: a chat completion, or stream chunks, with
usage normalised so that `prompt_tokens` includes cache reads and writes
(`prompt_tokens_details.cached_tokens` / `cache_write_tokens`), which is what `pricing.py` reads.
A stream is translated by a `StreamTranslator` made for each attempt, so a dialect whose events
carry state (Anthropic's content blocks, a usage split over two events) keeps it per attempt; a
dialect that is not SSE at all (Bedrock's binary event stream) brings its own `Framing` there
too: the translator says how its bytes split into events, so the relay's stream loop never
knows which wire format it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import msgspec
import orjson

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.failures import AttemptError, Failure


class UpstreamRequest(msgspec.Struct, frozen=True):
    url: str
    headers: Mapping[str, str]  # a FrozenHeaders when constant, so it is encoded once
    body: bytes


class Framing(Protocol):
    """How one attempt's stream bytes split into events: SSE (`sse.SSEDecoder`) for most
    dialects, AWS's binary event stream for Bedrock (`providers.eventstream`)."""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The payloads of every event these bytes complete; `SSEOverflowError` or an
        `AttemptError` (TOO_LARGE, MALFORMED) for an event too large or badly framed."""
        ...

    def close(self) -> bool:
        """End of body: whether an event was left unfinished (the stream was cut mid-event)."""
        ...

    @property
    def skipped(self) -> int:
        """Events skipped as harmless junk so far (SSE's blank or comment-like lines; AWS's
        framing skips nothing), for the attempt's record."""
        ...


class StreamTranslator(Protocol):
    """One attempt's upstream stream, event by event, as OpenAI-shaped chunks."""

    def framing(self, max_event_bytes: int) -> Framing:
        """The framing this dialect's stream bytes use."""
        ...

    @property
    def ended(self) -> bool:
        """The dialect's own end-of-stream event arrived (OpenAI's `[DONE]` is seen by the
        session itself, so its translator never ends)."""
        ...

    def chunks(self, data: bytes) -> list[dict[str, Any]]:
        """The chunks one SSE event's data becomes (often one, maybe none), or AttemptError
        for garbage or an in-band error."""
        ...


class Provider(Protocol):
    def build(self, endpoint: Endpoint, api_key: str | None, request: ChatRequest,
              max_tokens: int | None = None) -> UpstreamRequest:
        """The HTTP request to send for one attempt; `max_tokens`, when given, replaces the
        caller's (a key's reservation lowered it)."""
        ...

    def parse_completion(self, raw: bytes, request: ChatRequest | None = None
                         ) -> dict[str, Any]:
        """A complete non-streaming answer as a chat completion, or AttemptError."""
        ...

    def parse_embeddings(self, raw: bytes) -> dict[str, Any]:
        """A complete embeddings answer with a non-empty `data`, or AttemptError."""
        ...

    def stream_translator(self, request: ChatRequest) -> StreamTranslator:
        """A fresh translator for one attempt's stream."""
        ...

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> AttemptError:
        """Why a non-2xx response failed, and so what the relay does next."""
        ...


def answer_object(raw: bytes) -> dict[str, Any]:
    """A whole (non-streamed) answer's JSON object, whatever the dialect, or the AttemptError
    that sends the relay to the next endpoint (EMPTY, MALFORMED)."""
    if not raw.strip():
        raise AttemptError(Failure.EMPTY, "the provider returned an empty body")
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise AttemptError(Failure.MALFORMED, "the provider returned invalid JSON") from None
    if not isinstance(parsed, dict):
        raise AttemptError(Failure.MALFORMED, "the provider returned a non-object")
    return parsed
