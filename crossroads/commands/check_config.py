"""`crossroads check-config FILE`: every mistake in an operator's TOML file, each with its key
path, before a start finds the first one.

Two passes. The shape pass walks the file against the typed tables of `settings.py` field by
field, so every wrong type, unknown key and missing field is reported, not just the first
(msgspec stops at the first). When the shape is right, the meaning pass builds the settings the
way `serve` does; each error there names one endpoint, model or preset, which is set aside
(disabled, or made neutral) before building again, so the next error shows up too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import tomllib
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import msgspec

from crossroads.banner import ledger_location
from crossroads.catalog import Catalog, Endpoint
from crossroads.commands.options import Exit
from crossroads.credentials.keeper import CredentialKeeper
from crossroads.demo import has_any_key
from crossroads.settings import (
    ConfigError,
    ConfigFile,
    ModelConfig,
    Settings,
    check_redis_url,
    range_problems,
    settings_from_layers,
    shipped_config,
)

# msgspec's type names, as an operator writing TOML would say them.
TYPE_WORDS = {"float": "a number", "int": "an integer", "str": "a string",
              "bool": "true or false", "array": "a list", "object": "a table",
              "null": "nothing", "datetime": "a date-time", "date": "a date"}
_EXPECTED = re.compile(r"Expected `([^`]+)`, got `([^`]+)`")
_ITEM = re.compile(r"^(?P<origin>.*?): (?P<kind>endpoints|models)\[(?P<index>\d+)\]")
_PRESET = re.compile(r"^(?P<origin>.*?): presets\.(?P<slug>[^.:\s]+)")
# A file with more meaning errors than this has a bigger problem than any one of them.
MAX_ROUNDS = 200


def run(args: argparse.Namespace) -> int:
    path: str = args.file
    errors, settings = check_file(path)
    if errors:
        print(f"{path}: {len(errors)} error{'s' if len(errors) > 1 else ''}")
        for error in errors:
            print(f"  {error}")
        return int(Exit.FAILED)
    assert settings is not None
    print(summary(path, settings))
    return int(Exit.OK)


def check_file(path: str) -> tuple[list[str], Settings | None]:
    """Every error of the file (key path first), and the settings when there are none."""
    try:
        raw = tomllib.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        return [f"cannot read: {exc.strerror}"], None
    except UnicodeDecodeError:
        return ["cannot read: not UTF-8 text"], None
    except tomllib.TOMLDecodeError as exc:
        return [f"not valid TOML: {exc}"], None
    errors: list[str] = []
    shape_errors(raw, ConfigFile, "", errors)
    if errors:
        return errors, None
    return meaning_errors(path, msgspec.convert(raw, ConfigFile))


def shape_errors(value: Any, annotation: Any, path: str, errors: list[str]) -> None:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        inner = [arg for arg in args if arg is not type(None)]
        if value is None and len(inner) < len(args):
            return
        if len(inner) == 1:
            shape_errors(value, inner[0], path, errors)
            return
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        _struct_errors(value, annotation, path, errors)
    elif origin is list and isinstance(value, list):
        for index, item in enumerate(value):
            shape_errors(item, args[0], f"{path}[{index}]", errors)
    elif origin is dict and isinstance(value, dict):
        for key, item in value.items():
            shape_errors(item, args[1], _join(path, str(key)), errors)
    else:
        try:
            msgspec.convert(value, annotation)
        except msgspec.ValidationError as exc:
            errors.append(f"{path or '(top level)'}: {plain(str(exc))}")


def _struct_errors(value: Any, struct: type[msgspec.Struct], path: str,
                   errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"{path}: expected a table, got {_word(value)}")
        return
    fields = {field.encode_name: field for field in msgspec.structs.fields(struct)}
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            errors.append(f"{_join(path, key)}: unknown key (known: {', '.join(fields)})")
        else:
            shape_errors(item, field.type, _join(path, key), errors)
    errors.extend(f"{_join(path, name)}: required" for name, field in fields.items()
                  if field.required and name not in value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _word(value: Any) -> str:
    kinds = ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "array"),
             (dict, "object"))
    return TYPE_WORDS[next((word for kind, word in kinds if isinstance(value, kind)), "null")]


def plain(message: str) -> str:
    """msgspec's message without its `$…` location, in words a TOML writer uses."""
    message = message.split(" - at `$", 1)[0]

    def words(match: re.Match[str]) -> str:
        expected = " or ".join(TYPE_WORDS.get(name.strip(), name.strip())
                               for name in match.group(1).split("|"))
        return f"expected {expected}, got {TYPE_WORDS.get(match.group(2), match.group(2))}"

    return _EXPECTED.sub(words, message)


def meaning_errors(path: str, config: ConfigFile) -> tuple[list[str], Settings | None]:
    layers = [("shipped catalog", shipped_config()), (path, config)]
    errors: list[str] = []
    for _ in range(MAX_ROUNDS):
        try:
            settings = settings_from_layers(layers, path, os.environ, check_ranges=False)
        except ConfigError as exc:
            message = str(exc)
            shown = message.removeprefix(f"{path}: ")
            # Set aside and named again (an override re-enabling it): nothing more to learn.
            if shown in errors:
                return errors, None
            errors.append(shown)
            if not _set_aside(layers, message):
                return errors, None
            continue
        errors += range_problems(settings)
        try:
            check_redis_url(settings.server.redis_url)
        except ConfigError as exc:
            errors.append(str(exc))
        return errors, None if errors else settings
    return errors, None


def _set_aside(layers: list[tuple[str, ConfigFile]], message: str) -> bool:
    """Neutralise the item an error names so the next build reaches the next error; False when
    the error names nothing that can be set aside."""
    item, preset = _ITEM.match(message), _PRESET.match(message)
    for position, (origin, layer) in enumerate(layers):
        if item and item["origin"] == origin:
            index = int(item["index"])
            if item["kind"] == "endpoints":
                endpoints = list(layer.endpoints)
                endpoints[index] = msgspec.structs.replace(endpoints[index], enabled=False)
                layers[position] = (origin, msgspec.structs.replace(layer, endpoints=endpoints))
            else:
                models = list(layer.models)
                models[index] = _neutral(models[index])
                layers[position] = (origin, msgspec.structs.replace(layer, models=models))
            return True
        if preset and preset["origin"] == origin and preset["slug"] in layer.presets:
            presets = {k: v for k, v in layer.presets.items() if k != preset["slug"]}
            layers[position] = (origin, msgspec.structs.replace(layer, presets=presets))
            return True
    return False


def _neutral(model: ModelConfig) -> ModelConfig:
    """The model with every field a meaning check can reject made acceptable."""
    embeds = "embeddings" in (model.output_modalities or ())
    dimensions = model.dimensions if model.dimensions and model.dimensions > 0 else None
    return msgspec.structs.replace(model, name=model.name or model.slug, released=None,
                                   dimensions=dimensions or (1 if embeds else None))


def _credential_problems(endpoints: list[Endpoint], catalog: Catalog) -> list[tuple[str, str]]:
    """Mint each minted credential once, as serve would, and say which cannot be had."""
    credentials = catalog.credentials

    async def mint() -> float:
        keeper = CredentialKeeper(credentials)
        await keeper.start()
        await keeper.stop()
        return asyncio.get_running_loop().time()

    now = asyncio.run(mint())
    problems = []
    for endpoint in endpoints:
        reason = credentials.reason(endpoint, now)
        if reason is not None:
            problems.append((f"{endpoint.model} @ {endpoint.tag}", reason))
    return problems


def summary(path: str, settings: Settings) -> str:
    catalog = settings.catalog
    endpoints = [e for m in catalog.models() for e in catalog.endpoints(m.slug)]
    # Endpoints with a minted credential (Bedrock's AWS chain, Google's tokens) have no key to
    # count: whether theirs can be had is the credentials line below.
    available = sum(e.available and e.credentials is None for e in endpoints)
    server = settings.server
    lines = [
        f"{path}: valid",
        f"  catalog: {len(catalog.models())} models, {len(endpoints)} endpoints "
        f"({available} with their API key set in this environment), "
        f"{len(settings.presets)} presets",
        f"  server: {server.host}:{server.port}, auth {settings.auth.mode or 'by address'}",
        f"  ledger: {ledger_location(settings)}",
    ]
    minted = [e for e in endpoints if e.available and e.credentials is not None]
    if minted:
        kinds = sorted({e.credentials.kind for e in minted if e.credentials is not None})
        lines.append(f"  credentials: {len(minted)} endpoints use minted credentials "
                     f"({', '.join(kinds)}); each is obtained when serve starts")
        problems = _credential_problems(minted, catalog)
        lines.extend(f"  unavailable: {tag}: {reason}" for tag, reason in problems)
    if not has_any_key(catalog):
        lines.append("  note: no endpoint has its API key (or AWS credentials) here; serve "
                     "would use the simulator")
    return "\n".join(lines)
