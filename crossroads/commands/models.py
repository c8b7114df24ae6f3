"""`crossroads models`: the catalog as a table, with live stats when a router answers.

Where the rows come from:
- `--url URL`: that router's `/api/v1/models` and each model's `/endpoints` (live state, TTFT,
  throughput, uptime); a router that does not answer is an error (exit 3).
- `--config FILE`: the catalog that file builds (shipped catalog + the file + this
  environment's keys), offline: no live stats.
- neither: the router at $CROSSROADS_URL or 127.0.0.1:8080 if one answers, else the shipped
  catalog offline, saying so.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import httpx
import msgspec
from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text

from crossroads.catalog import MICRO, Catalog
from crossroads.commands.options import URL_VARIABLE, Exit
from crossroads.commands.remote import (
    CommandError,
    client,
    console,
    fail,
    get_json,
    root_url,
)
from crossroads.settings import ConfigError, load_settings

# How long to wait for a router that may not be there before showing the offline catalog.
PROBE_TIMEOUT_S = 1.0


class Row(msgspec.Struct, frozen=True):
    model: str
    endpoint: str
    state: str
    context: int
    prompt_per_m: float
    completion_per_m: float
    ttft_p50_ms: float | None = None
    throughput_p50: float | None = None
    uptime_30m: float | None = None


def run(args: argparse.Namespace) -> int:
    try:
        rows, source = _rows(args)
    except CommandError as error:
        return fail("crossroads models", error)
    if args.model:
        rows = [row for row in rows if args.model.lower() in row.model.lower()]
    out = console()
    out.print(_table(rows, source))
    if not rows:
        out.print("no model matches" if args.model else "the catalog is empty")
    return int(Exit.OK)


def _rows(args: argparse.Namespace) -> tuple[list[Row], str]:
    if args.config is not None and args.url is None:
        return _offline(args.config), f"configured catalog ({args.config}, no live stats)"
    explicit = args.url is not None or bool(os.environ.get(URL_VARIABLE))
    try:
        with client(args, timeout_s=30.0 if explicit else PROBE_TIMEOUT_S) as http:
            return _live(http), f"live from {root_url(args.url)}"
    except CommandError as error:
        if explicit or error.status != Exit.UNREACHABLE:
            raise
    return _offline(None), (f"shipped catalog: no router answers at {root_url(None)} "
                            "(no live stats)")


def _live(http: httpx.Client) -> list[Row]:
    listing = get_json(http, "/api/v1/models", {"output_modalities": "all"})
    http.timeout = httpx.Timeout(30.0)
    rows = []
    for model in listing["data"]:
        endpoints = get_json(http, f"/api/v1/models/{model['id']}/endpoints")["data"]["endpoints"]
        rows += [_live_row(model["id"], endpoint) for endpoint in endpoints]
    return rows


def _live_row(model: str, endpoint: dict[str, Any]) -> Row:
    extras = endpoint.get("crossroads") or {}
    latency = endpoint.get("latency_last_30m") or {}
    throughput = endpoint.get("throughput_last_30m") or {}
    pricing = endpoint["pricing"]
    return Row(model=model, endpoint=f"{endpoint['provider_name']} ({endpoint['tag']})",
               state=str(extras.get("state", "?")), context=int(endpoint["context_length"]),
               prompt_per_m=float(pricing["prompt"]) * 1e6,
               completion_per_m=float(pricing["completion"]) * 1e6,
               ttft_p50_ms=latency.get("p50"), throughput_p50=throughput.get("p50"),
               uptime_30m=endpoint.get("uptime_last_30m"))


def _offline(config: str | None) -> list[Row]:
    try:
        catalog: Catalog = load_settings(config).catalog
    except ConfigError as exc:
        raise CommandError(f"invalid configuration: {exc} (crossroads check-config shows "
                           "every error)", Exit.FAILED) from None
    return [Row(model=model.slug, endpoint=f"{e.provider_name} ({e.tag})",
                state="available" if e.available else "unavailable",
                context=e.context_length, prompt_per_m=e.pricing.prompt / MICRO,
                completion_per_m=e.pricing.completion / MICRO)
            for model in catalog.models() for e in catalog.endpoints(model.slug)]


STATE_STYLE = {"available": "green", "degraded": "yellow", "down": "red",
               "cooling_down": "red", "unavailable": "dim"}


def _table(rows: list[Row], source: str) -> Table:
    table = Table(title=f"crossroads models — {source}", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("model", "left"), ("endpoint", "left"), ("state", "left"), ("context", "right"),
        ("$/M in", "right"), ("$/M out", "right"), ("TTFT p50", "right"),
        ("tok/s p50", "right"), ("uptime 30m", "right"))
    for name, justify in columns:
        table.add_column(name, justify=justify)
    previous = None
    for row in rows:
        table.add_row(
            row.model if row.model != previous else "",
            row.endpoint,
            Text(row.state, style=STATE_STYLE.get(row.state, "")),
            f"{row.context:,}",
            f"{row.prompt_per_m:.3f}",
            f"{row.completion_per_m:.3f}",
            _maybe(row.ttft_p50_ms, "{:.0f} ms"),
            _maybe(row.throughput_p50, "{:.0f}"),
            _maybe(row.uptime_30m, "{:.1f} %"))
        previous = row.model
    return table


def _maybe(value: float | None, shape: str) -> str:
    return "—" if value is None else shape.format(value)
