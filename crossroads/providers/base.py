"""The provider seam: pure translation between our request and an upstream's wire format.

A provider never awaits and never touches the network; the relay hands it bytes and gets values
(or an `AttemptError`) back. Most providers speak OpenAI's dialect and are catalog rows, not code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.failures import AttemptError


class UpstreamRequest(msgspec.Struct, frozen=True):
    url: str
    headers: Mapping[str, str]  # a FrozenHeaders when constant, so it is encoded once
    body: bytes


class Provider(Protocol):
    def build(self, endpoint: Endpoint, api_key: str | None, request: ChatRequest,
              max_tokens: int | None = None) -> UpstreamRequest:
        """The HTTP request to send for one attempt; `max_tokens`, when given, replaces the
        caller's (a key's reservation lowered it)."""
        ...

    def parse_completion(self, raw: bytes) -> dict[str, Any]:
        """A complete non-streaming answer, or AttemptError(MALFORMED/EMPTY)."""
        ...

    def parse_embeddings(self, raw: bytes) -> dict[str, Any]:
        """A complete embeddings answer with a non-empty `data`, or AttemptError."""
        ...

    def parse_chunk(self, data: bytes) -> dict[str, Any]:
        """One streamed event's payload, or AttemptError for garbage or an in-band error."""
        ...

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> AttemptError:
        """Why a non-2xx response failed, and so what the relay does next."""
        ...
