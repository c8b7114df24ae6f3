"""`crossroads generation ID`: one generation as the ledger holds it (`GET /api/v1/generation`):
what was asked, who served it, tokens, cost, timings and every attempt, failovers included."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from crossroads.commands.options import Exit
from crossroads.commands.remote import (
    CommandError,
    client,
    console,
    fail,
    get_json,
)

# (label, field of `data`, how to show it); a missing or null field shows as "—".
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("model", "model", "{}"),
    ("provider", "provider_name", "{}"),
    ("created", "created_at", "{}"),
    ("finish", "finish_reason", "{}"),
    ("streamed", "streamed", "{}"),
    ("cancelled", "cancelled", "{}"),
    ("prompt tokens", "tokens_prompt", "{:,}"),
    ("completion tokens", "tokens_completion", "{:,}"),
    ("cached tokens", "native_tokens_cached", "{:,}"),
    ("reasoning tokens", "native_tokens_reasoning", "{:,}"),
    ("cost", "total_cost", "${:.8f}"),
    ("cache discount", "cache_discount", "${:.8f}"),
    ("latency", "latency", "{:.0f} ms"),
    ("generation time", "generation_time", "{:.0f} ms"),
    ("app", "origin", "{}"),
)


def run(args: argparse.Namespace) -> int:
    try:
        with client(args) as http:
            body = get_json(http, "/api/v1/generation", {"id": args.id})
    except CommandError as error:
        if error.http_status == 404:
            error = CommandError(f"generation {args.id} not found (ids are only visible to the "
                                 "key that made them, or a management key)", Exit.FAILED)
        return fail("crossroads generation", error)
    if args.json:
        print(json.dumps(body, indent=2))
        return int(Exit.OK)
    data = body["data"]
    out = console()
    out.print(_summary(data))
    attempts = data.get("provider_responses") or []
    if attempts:
        out.print(_attempts(attempts))
    return int(Exit.OK)


def _summary(data: dict[str, Any]) -> Table:
    table = Table(title=f"generation {data['id']}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    extras = data.get("crossroads") or {}
    table.add_row("requested", str(extras.get("model_requested", "—")))
    table.add_row("endpoint", str(extras.get("endpoint") or "—"))
    for label, field, shape in FIELDS:
        value = data.get(field)
        table.add_row(label, "—" if value is None else shape.format(value))
    ttft = extras.get("ttft")
    table.add_row("time to first token", "—" if ttft is None else f"{ttft} ms")
    return table


def _attempts(attempts: list[dict[str, Any]]) -> Table:
    failovers = sum(1 for a in attempts if not (a.get("crossroads") or {}).get("served"))
    table = Table(title=f"attempts ({len(attempts)}; failed over {failovers} time"
                        f"{'' if failovers == 1 else 's'})", title_justify="left")
    for name in ("#", "endpoint", "status", "latency", "outcome"):
        table.add_column(name)
    for number, attempt in enumerate(attempts, 1):
        extras = attempt.get("crossroads") or {}
        outcome = "served" if extras.get("served") else \
            f"{extras.get('failure') or 'failed'}: {extras.get('message') or ''}".rstrip(": ")
        latency = attempt.get("latency")
        table.add_row(str(number), str(extras.get("endpoint") or attempt.get("provider_name")),
                      str(attempt.get("status") or "—"),
                      "—" if latency is None else f"{latency:.0f} ms", outcome)
    return table
