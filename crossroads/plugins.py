"""OpenRouter's `plugins` and `transforms`: each one works here or is refused by name.

Silently dropping a plugin would answer a different question than the one asked (a web-search
request answered from the model's memory), so a plugin id this router cannot run is a 400 that
names it and says why. Any plugin may be sent with `enabled: false`, which is always honoured.

Working here:
* `context-compression` (engine `middle-out`), also spelled `transforms: ["middle-out"]`:
  the conversation is cut from the middle until it fits (crossroads/middle_out.py). Without
  either, it is on by default for models whose endpoints all have ≤ 8,192 tokens of context, as
  on OpenRouter; `transforms: []` or `enabled: false` turns it off.
* `response-healing`: a non-streamed answer to a `response_format` of `json_object` or
  `json_schema` whose text is not valid JSON is repaired (`json-repair`) when that is possible.
"""

from __future__ import annotations

from typing import Any

import msgspec

from crossroads.errors import invalid_param

WORKING = frozenset({"context-compression", "response-healing"})
# Documented plugin ids this router cannot run, with the reason the caller is given.
REFUSED: dict[str, str] = {
    "web": "it searches the web, and this router has no web-search backend configured",
    "web-fetch": "it fetches web pages, and this router has no web-fetch backend configured",
    "file-parser": "this router does not parse files (PDF); send the text or page images",
    "moderation": "this router has no moderation backend configured",
    "auto-router": "this router has no auto-router; name a model (or `models` to fall back)",
    "auto-beta-router": "this router has no auto-router; name a model",
    "pareto-router": "this router has no pareto-router; name a model",
    "fusion": "this router does not run multi-model fusion",
}
TRANSFORMS = frozenset({"middle-out"})
COMPRESSION_ENGINES = frozenset({"middle-out"})


class PluginAsk(msgspec.Struct, frozen=True):
    # True: asked for; False: turned off; None: the default (≤ 8k-context models only).
    compression: bool | None = None
    healing: bool = False


NONE_ASKED = PluginAsk()


def _transforms(value: Any) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise invalid_param("transforms", "must be an array of strings")
    unknown = [t for t in value if t not in TRANSFORMS]
    if unknown:
        raise invalid_param("transforms", f"unknown transform {unknown[0]!r}; this router knows "
                            "'middle-out'")
    return bool(value)


def parse_plugins(body: dict[str, Any]) -> PluginAsk:
    compression = _transforms(body.get("transforms"))
    plugins = body.get("plugins")
    if plugins is None:
        return NONE_ASKED if compression is None else PluginAsk(compression=compression)
    if not isinstance(plugins, list):
        raise invalid_param("plugins", "must be an array of objects")
    healing = False
    for i, plugin in enumerate(plugins):
        at = f"plugins[{i}]"
        if not isinstance(plugin, dict) or not isinstance(plugin.get("id"), str):
            raise invalid_param(at, 'must be an object with a string "id"')
        name = plugin["id"]
        enabled = plugin.get("enabled", True)
        if not isinstance(enabled, bool):
            raise invalid_param(f"{at}.enabled", "must be a boolean")
        if name not in WORKING and name not in REFUSED:
            raise invalid_param(f"{at}.id", f"unknown plugin {name!r}; this router runs "
                                f"{', '.join(sorted(WORKING))}")
        if not enabled:
            if name == "context-compression":
                compression = False
            continue
        if name in REFUSED:
            raise invalid_param(f"{at}.id",
                                f"the {name!r} plugin is not available: {REFUSED[name]}")
        if name == "context-compression":
            engine = plugin.get("engine", "middle-out")
            if engine not in COMPRESSION_ENGINES:
                raise invalid_param(f"{at}.engine", "this router compresses with 'middle-out' only")
            compression = True
        else:
            healing = True
    return PluginAsk(compression=compression, healing=healing)
