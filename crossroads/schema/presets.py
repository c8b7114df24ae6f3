"""OpenRouter's preset shapes (`GET /presets`, `GET /presets/{slug}`), with crossroads' extras
(`source`, and the write routes' `DeletedPreset`) beside them."""

from __future__ import annotations

from typing import Any

import msgspec


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    pass


class PresetVersion(_Body, kw_only=True):
    id: str
    preset_id: str
    creator_id: str | None
    version: int
    system_prompt: str | None
    config: dict[str, Any]
    created_at: str
    updated_at: str


class PresetSummary(_Body, kw_only=True):
    id: str
    creator_user_id: str | None
    workspace_id: str | None
    name: str
    slug: str
    description: str | None
    status: str
    designated_version_id: str
    created_at: str
    updated_at: str
    status_updated_at: str | None
    source: str  # crossroads: "config" (read-only here) or "api"


class PresetDetail(PresetSummary, kw_only=True):
    designated_version: PresetVersion


class ListPresetsResponse(_Body):
    data: list[PresetSummary]
    total_count: int


class GetPresetResponse(_Body):
    data: PresetDetail


class DeletedPreset(_Body):
    slug: str
    deleted: bool


class DeletePresetResponse(_Body):
    data: DeletedPreset
