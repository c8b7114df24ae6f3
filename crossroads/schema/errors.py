"""The error body every route sends, in the shape both the OpenAI and OpenRouter SDKs read."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


class ErrorData(msgspec.Struct, kw_only=True):
    code: int
    message: str
    metadata: dict[str, Any] | UnsetType | None = UNSET
    # OpenAI's SDKs read `type`; OpenRouter's ignore it.
    type: str | UnsetType = UNSET


class ErrorResponse(msgspec.Struct, kw_only=True):
    error: ErrorData
    user_id: str | UnsetType | None = UNSET
