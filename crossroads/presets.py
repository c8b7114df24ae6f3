"""Presets: named server-side defaults for a request — models, provider preferences, parameters,
a system prompt — used as `model: "@preset/name"`, `model: "author/slug@preset/name"`,
`preset: "name"`, or by posting to `/presets/{name}/chat/completions`.

Merging follows OpenRouter: the request's own fields override the preset's, `tools` are the
union of both (the request's definition wins for a name both have), and the preset's system
prompt goes before the request's messages. A preset's config is checked like a request when it
is defined, so a bad one is refused at the door (config file or API), not on first use.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec
import orjson

from crossroads.chat_request import parse_chat_request
from crossroads.errors import BadRequest

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PRESET_MODEL = "@preset/"
# Fields a preset cannot set: they are the conversation itself, or name a preset.
NOT_IN_PRESETS = frozenset({"messages", "stream", "preset"})


class PresetConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A preset as the config file (`[presets.<slug>]`) or `PUT /presets/{slug}` gives it."""

    name: str | None = None
    description: str | None = None
    system_prompt: str | None = None
    config: dict[str, Any] = {}


class Preset(msgspec.Struct, frozen=True):
    slug: str
    name: str
    description: str | None
    system_prompt: str | None
    config: dict[str, Any]
    version: int
    created_at: int
    updated_at: int
    source: str  # "config" (read-only through the API) or "api"
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            msgspec.structs.force_setattr(self, "id", preset_id(self.slug))


def preset_id(slug: str) -> str:
    """OpenRouter's `preset_id`, stable across restarts: the id names the preset, not a row."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"crossroads:preset:{slug}"))


def check_preset(slug: str, given: PresetConfig, where: str) -> None:
    """Refuse a preset that could never serve a request; errors name the key path."""
    if not SLUG.match(slug):
        raise BadRequest(f"{where}: a preset name is 1-64 of a-z, 0-9, '-' and '_', "
                         "starting with a letter or digit", metadata={"param": where})
    bad = NOT_IN_PRESETS & given.config.keys()
    if bad:
        raise BadRequest(f"{where}.config.{sorted(bad)[0]}: a preset cannot set it",
                         metadata={"param": f"{where}.config"})
    probe = {"model": "preset/probe", **given.config,
             "messages": [{"role": "user", "content": "probe"}]}
    try:
        parse_chat_request(orjson.dumps(probe))
    except BadRequest as error:
        raise BadRequest(f"{where}.config.{error.message}",
                         metadata={"param": f"{where}.config"}) from None


def make_preset(slug: str, given: PresetConfig, source: str, version: int = 1,
                created_at: int | None = None) -> Preset:
    now = int(time.time())
    return Preset(slug=slug, name=given.name or slug, description=given.description,
                  system_prompt=given.system_prompt, config=dict(given.config), version=version,
                  created_at=created_at or now, updated_at=now, source=source)


def _named(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(preset slug, the model the request itself names) from `preset` and `model`."""
    model = body.get("model")
    named = body.get("preset")
    if named is not None and not isinstance(named, str):
        raise BadRequest("preset: must be a string", metadata={"param": "preset"})
    if isinstance(model, str) and PRESET_MODEL in model:
        own, _, slug = model.partition(PRESET_MODEL)
        if named is not None and named != slug:
            raise BadRequest("preset: names a different preset than model does",
                             metadata={"param": "preset"})
        return slug, own.rstrip("@") or None
    return named, model if isinstance(model, str) else None


def _union_tools(preset: list[Any], own: list[Any]) -> list[Any]:
    def name(tool: Any) -> Any:
        return tool.get("function", {}).get("name") if isinstance(tool, dict) else None
    mine = {name(t) for t in own}
    return [t for t in preset if name(t) not in mine] + own


def apply_preset(body: dict[str, Any], presets: Mapping[str, Preset],
                 forced: str | None = None) -> tuple[dict[str, Any], Preset | None]:
    """The request with its preset merged in (and the preset), or itself when it names none."""
    slug, own_model = _named(body)
    slug = forced or slug
    if slug is None:
        return body, None
    preset = presets.get(slug)
    if preset is None:
        raise BadRequest(f"Unknown preset {slug!r}", metadata={"param": "preset"})
    merged = {**preset.config, **{k: v for k, v in body.items() if k not in ("preset", "model")}}
    if own_model is not None:
        merged["model"] = own_model
    elif "model" not in preset.config and "models" not in preset.config:
        raise BadRequest(f"Preset {slug!r} names no model; name one in the request",
                         metadata={"param": "model"})
    if isinstance(preset.config.get("tools"), list) and isinstance(body.get("tools"), list):
        merged["tools"] = _union_tools(preset.config["tools"], body["tools"])
    if preset.system_prompt and isinstance(merged.get("messages"), list):
        merged["messages"] = [{"role": "system", "content": preset.system_prompt},
                              *merged["messages"]]
    return merged, preset
