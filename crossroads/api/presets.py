"""The preset routes: `GET /presets`, `GET /presets/{slug}` (OpenRouter's), and crossroads'
`PUT /presets/{slug}` and `DELETE /presets/{slug}` (management key), plus
`POST /presets/{slug}/chat/completions`, a chat request with that preset applied."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs

import msgspec

from crossroads.api.chat import PRESET_SCOPE_KEY, chat_completions
from crossroads.api.http import ClientGone, Receive, Scope, Send, read_body, send_error, send_json
from crossroads.api.keys import caller_of
from crossroads.api.state import AppState
from crossroads.errors import BadRequest, CrossroadsError, Forbidden, NotFound, Unauthorized
from crossroads.preset_store import parse_preset_body
from crossroads.presets import Preset
from crossroads.schema.presets import (
    DeletedPreset,
    DeletePresetResponse,
    GetPresetResponse,
    ListPresetsResponse,
    PresetDetail,
    PresetSummary,
    PresetVersion,
)

MAX_PAGE = 100


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _version_id(preset: Preset) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{preset.id}:{preset.version}"))


def _fields(preset: Preset) -> dict[str, object]:
    return {
        "id": preset.id, "creator_user_id": None, "workspace_id": None, "name": preset.name,
        "slug": preset.slug, "description": preset.description, "status": "active",
        "designated_version_id": _version_id(preset), "created_at": _iso(preset.created_at),
        "updated_at": _iso(preset.updated_at), "status_updated_at": None,
        "source": preset.source,
    }


def _detail(preset: Preset) -> PresetDetail:
    version = PresetVersion(
        id=_version_id(preset), preset_id=preset.id, creator_id=None, version=preset.version,
        system_prompt=preset.system_prompt, config=preset.config,
        created_at=_iso(preset.updated_at), updated_at=_iso(preset.updated_at))
    return PresetDetail(**_fields(preset), designated_version=version)  # type: ignore[arg-type]


def _reader(state: AppState, scope: Scope) -> None:
    if caller_of(state, scope).record is None and state.accounts.mode != "open":
        raise Unauthorized("This route needs an API key: send 'Authorization: Bearer <key>'")


def _manager(state: AppState, scope: Scope) -> None:
    caller = caller_of(state, scope)
    if not caller.management:
        raise Forbidden("Changing presets needs a management key; this is an inference key.")


def _page(scope: Scope) -> tuple[int, int]:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    try:
        offset = int(query.get("offset", ["0"])[0])
        limit = int(query.get("limit", ["50"])[0])
    except ValueError:
        raise BadRequest("offset and limit must be integers") from None
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"offset must be ≥ 0 and limit between 1 and {MAX_PAGE}")
    return offset, limit


async def _answer(send: Send, status: int, body: msgspec.Struct) -> None:
    await send_json(send, status, msgspec.json.encode(body))


async def list_presets(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        _reader(state, scope)
        offset, limit = _page(scope)
    except CrossroadsError as error:
        await send_error(send, error)
        return
    every = state.presets.all()
    page = [PresetSummary(**_fields(p)) for p in every[offset:offset + limit]]  # type: ignore[arg-type]
    await _answer(send, 200, ListPresetsResponse(data=page, total_count=len(every)))


async def get_preset(state: AppState, scope: Scope, receive: Receive, send: Send,
                     slug: str) -> None:
    try:
        _reader(state, scope)
        preset = state.presets.by_slug.get(slug)
        if preset is None:
            raise NotFound(f"No preset named {slug!r}")
    except CrossroadsError as error:
        await send_error(send, error)
        return
    await _answer(send, 200, GetPresetResponse(data=_detail(preset)))


async def put_preset(state: AppState, scope: Scope, receive: Receive, send: Send,
                     slug: str) -> None:
    try:
        _manager(state, scope)
        raw = await read_body(scope, receive, state.settings.server.max_body_bytes,
                              state.settings.timeouts.client_body_s)
        preset, created = state.presets.put(slug, parse_preset_body(raw))
    except CrossroadsError as error:
        await send_error(send, error)
        return
    except ClientGone:
        return
    await _answer(send, 201 if created else 200, GetPresetResponse(data=_detail(preset)))


async def delete_preset(state: AppState, scope: Scope, receive: Receive, send: Send,
                        slug: str) -> None:
    try:
        _manager(state, scope)
        if not state.presets.delete(slug):
            raise NotFound(f"No preset named {slug!r}")
    except CrossroadsError as error:
        await send_error(send, error)
        return
    await _answer(send, 200, DeletePresetResponse(data=DeletedPreset(slug=slug, deleted=True)))


async def preset_chat(state: AppState, scope: Scope, receive: Receive, send: Send,
                      slug: str) -> None:
    scope[PRESET_SCOPE_KEY] = slug
    await chat_completions(state, scope, receive, send)
