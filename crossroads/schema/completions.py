"""Legacy completions: `CompletionResult` and `CompletionChunk` (OpenAI's `text_completion`,
with OpenRouter's `provider`, `native_finish_reason` and usage cost)."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from crossroads.schema.chat import ChatUsage, FinishReason, ResponseExtras, StreamError


class _Open(msgspec.Struct, kw_only=True):
    """Decoding ignores fields we do not model: extras are allowed, only drift is caught."""


class CompletionLogprobs(_Open, kw_only=True):
    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]
    text_offset: list[int]


class CompletionChoice(_Open, kw_only=True):
    text: str
    index: int
    logprobs: CompletionLogprobs | None
    finish_reason: FinishReason | None
    native_finish_reason: str | UnsetType | None = UNSET


class CompletionResult(_Open, kw_only=True):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: ChatUsage
    system_fingerprint: str | UnsetType | None = UNSET
    provider: str | UnsetType = UNSET
    crossroads: ResponseExtras | UnsetType = UNSET


class CompletionChunk(_Open, kw_only=True):
    """One streamed event: text deltas, the usage-only last event (`choices: []`), or the
    in-band error that ends a cut stream (`error` beside a choice with `finish_reason: "error"`)."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: ChatUsage | UnsetType = UNSET
    error: StreamError | UnsetType = UNSET
    system_fingerprint: str | UnsetType | None = UNSET
    provider: str | UnsetType = UNSET
    crossroads: ResponseExtras | UnsetType = UNSET
