"""Static credentials: an API key from the environment, or none at all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec

from crossroads.http_client import FrozenHeaders

if TYPE_CHECKING:
    from crossroads.providers.base import UpstreamRequest

# Per dialect: the header a static key travels in, and how its value is spelled. Bearer is
# OpenAI's (https://platform.openai.com/docs/api-reference/authentication); Anthropic reads
# `x-api-key` (https://docs.anthropic.com/en/api/overview); the Gemini API reads
# `x-goog-api-key` (https://ai.google.dev/api/generate-content).
KEY_HEADERS: Mapping[str, tuple[str, str]] = {
    "openai": ("authorization", "Bearer {}"),
    "anthropic": ("x-api-key", "{}"),
    "gemini": ("x-goog-api-key", "{}"),
}
DEFAULT_KEY_HEADER = KEY_HEADERS["openai"]
# Distinct header sets a provider builds (streamed or not, per operation): a handful.
MAX_MERGED = 64


def with_header(request: UpstreamRequest, name: str, value: str,
                merged: dict[int, tuple[Mapping[str, str], FrozenHeaders]] | None = None
                ) -> UpstreamRequest:
    """The request with one more header. Providers hand out the same few constant header
    sets, so `merged` remembers each one's authorised copy: encoded once, not per request."""
    source = request.headers
    if merged is not None:
        cached = merged.get(id(source))
        if cached is not None and cached[0] is source:
            return msgspec.structs.replace(request, headers=cached[1])
    headers = FrozenHeaders({**source, name: value})
    if merged is not None and isinstance(source, FrozenHeaders):
        if len(merged) >= MAX_MERGED:
            merged.clear()
        merged[id(source)] = (source, headers)
    return msgspec.structs.replace(request, headers=headers)


class StaticKey:
    """An API key that never changes, in its dialect's header."""

    __slots__ = ("_header", "_key", "_merged", "_value")

    def __init__(self, key: str, dialect: str) -> None:
        self._key = key
        self._header, spelling = KEY_HEADERS.get(dialect, DEFAULT_KEY_HEADER)
        self._value = spelling.format(key)
        self._merged: dict[int, tuple[Mapping[str, str], FrozenHeaders]] = {}

    def __repr__(self) -> str:
        return f"StaticKey({self._header})"

    @property
    def secret(self) -> str:
        """For redaction only: what must never appear in a message."""
        return self._key

    def authorize(self, request: UpstreamRequest) -> UpstreamRequest:
        return with_header(request, self._header, self._value, self._merged)

    def unavailable_reason(self, now: float) -> str | None:
        return None

    def refresh_due(self, now: float) -> float | None:
        return None

    async def refresh(self) -> None:
        return None


class NoCredential:
    """An endpoint that needs no authorisation (a local server): the request goes as built."""

    __slots__ = ()

    def authorize(self, request: UpstreamRequest) -> UpstreamRequest:
        return request

    def unavailable_reason(self, now: float) -> str | None:
        return None

    def refresh_due(self, now: float) -> float | None:
        return None

    async def refresh(self) -> None:
        return None


NO_CREDENTIAL = NoCredential()
