"""`POST /embeddings`: OpenRouter's embeddings response (OpenAI's, plus `id`, `provider` and the
usage cost)."""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

from crossroads.schema.chat import CostDetails, ResponseExtras, UsageExtras


class _Open(msgspec.Struct, kw_only=True):
    """Decoding ignores fields we do not model: extras are allowed, only drift is caught."""


class Embedding(_Open, kw_only=True):
    object: Literal["embedding"]
    # Floats, or base64 of little-endian float32 when `encoding_format` was "base64".
    embedding: list[float] | str
    index: int


class EmbeddingsUsage(_Open, kw_only=True):
    prompt_tokens: int
    total_tokens: int
    cost: float | UnsetType = UNSET
    cost_details: CostDetails | UnsetType = UNSET
    is_byok: bool | UnsetType = UNSET
    crossroads: UsageExtras | UnsetType = UNSET


class EmbeddingsResponse(_Open, kw_only=True):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    id: str | UnsetType = UNSET
    usage: EmbeddingsUsage | UnsetType = UNSET
    provider: str | UnsetType = UNSET
    crossroads: ResponseExtras | UnsetType = UNSET
