"""`GET /activity`: usage per UTC day, model and endpoint."""

from __future__ import annotations

import msgspec


class ActivityItem(msgspec.Struct, kw_only=True):
    date: str
    model: str
    model_permaslug: str
    endpoint_id: str
    provider_name: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached_tokens: int
    usage: float
    byok_usage_inference: float


class ActivityResponse(msgspec.Struct, kw_only=True):
    data: list[ActivityItem]
