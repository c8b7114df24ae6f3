"""What `crossroads bench` measured, summed up: one outcome per request in, one table out."""

from __future__ import annotations

import math
from collections import Counter

import msgspec
from rich.table import Table


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """One request as the client saw it; `attempts` is filled from the ledger afterwards."""

    ok: bool
    status: int | None  # None: no HTTP answer at all (connection refused, reset, timeout)
    latency_s: float
    ttft_s: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    generation_id: str | None = None
    provider: str | None = None
    error: str | None = None
    attempts: int | None = None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _ms(values: list[float]) -> str:
    shown = [percentile(values, p) for p in (50, 90, 99)]
    return " / ".join("—" if v is None else f"{v * 1000:.0f}" for v in shown) + " ms"


def _failure(outcome: Outcome) -> str:
    return str(outcome.status) if outcome.status is not None else "no answer"


def report(outcomes: list[Outcome], wall_s: float, model: str, stream: bool,
           concurrency: int) -> Table:
    ok = [o for o in outcomes if o.ok]
    failed = Counter(_failure(o) for o in outcomes if not o.ok)
    wall_s = max(wall_s, 1e-9)
    table = Table(title=f"crossroads bench — {model}, {len(outcomes)} requests, concurrency "
                        f"{concurrency}{', streamed' if stream else ''}",
                  title_justify="left", show_header=False)
    table.add_column("measure", style="bold")
    table.add_column("value")
    failures = ", ".join(f"{status} ×{n}" for status, n in sorted(failed.items()))
    table.add_row("succeeded", f"{len(ok)} of {len(outcomes)}"
                  + (f" (failed: {failures})" if failures else ""))
    table.add_row("wall time", f"{wall_s:.2f} s")
    completion = sum(o.completion_tokens for o in ok)
    table.add_row("throughput", f"{len(ok) / wall_s:.1f} req/s, {completion / wall_s:,.0f} "
                                "completion tokens/s")
    table.add_row("latency p50 / p90 / p99", _ms([o.latency_s for o in ok]))
    if stream:
        table.add_row("TTFT p50 / p90 / p99",
                      _ms([o.ttft_s for o in ok if o.ttft_s is not None]))
    prompt = sum(o.prompt_tokens for o in ok)
    table.add_row("tokens", f"{prompt:,} prompt, {completion:,} completion")
    cost = sum(o.cost for o in ok)
    table.add_row("cost", f"${cost:.6f} total, ${cost / max(len(ok), 1):.8f} per request")
    looked_up = [o for o in outcomes if o.attempts is not None]
    failed_over = [o for o in looked_up if (o.attempts or 0) > 1]
    extra = sum((o.attempts or 1) - 1 for o in failed_over)
    table.add_row("failovers", f"{len(failed_over)} of {len(looked_up)} generations "
                               f"({extra} extra attempt{'' if extra == 1 else 's'})"
                  + (f"; {len(outcomes) - len(looked_up)} not looked up (no id)"
                     if len(looked_up) < len(outcomes) else ""))
    served = Counter(o.provider or "?" for o in ok)
    table.add_row("served by", ", ".join(f"{name} ×{n}" for name, n in served.most_common())
                  or "—")
    return table


def failovers(outcomes: list[Outcome]) -> int:
    return sum(1 for o in outcomes if (o.attempts or 0) > 1)
