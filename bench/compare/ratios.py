"""crossroads against every other target as ratios, and the issue's targets as met / not met.

Added latency is a difference from direct, so "vs direct" cannot be a ratio of added costs;
that column shows crossroads' own added milliseconds instead. A ratio against a target whose
added cost was zero or negative (within the noise of direct) is meaningless and shown as "–".
"""

from __future__ import annotations

import math
from collections.abc import Callable

from results import (
    Results,
    fmt,
    lat_added,
    p50,
    p99,
    ratio,
    rss_after_mib,
    thr_med,
    ttft_added,
)
from sections import routing_us_at_50

ME = "crossroads"


def times(v: float) -> str:
    """A ratio with enough digits to tell 0.001× from 0.004× (LiteLLM's added latency is
    hundreds of times crossroads')."""
    if math.isnan(v):
        return "–"
    if abs(v) >= 100:
        return f"{v:,.0f}×"
    return f"{v:.2f}×" if abs(v) >= 0.1 else f"{v:.2g}×"


def _row(label: str, cells: list[str]) -> str:
    return f"| {label} | " + " | ".join(cells) + " |"


def _added_cells(others: list[str], added: dict[str, float]) -> list[str]:
    """`added`: each target's added ms (crossroads included)."""
    mine = added[ME]
    cells = []
    for n in others:
        if n == "direct":
            cells.append("–" if math.isnan(mine) else f"{mine:+.2f} ms added")
        else:
            theirs = added[n]
            cells.append(times(ratio(mine, theirs)) if theirs > 0 else "–")
    return cells


def ratio_lines(res: Results) -> list[str]:
    if ME not in res.names or len(res.names) < 2:
        return []
    others = [n for n in res.names if n != ME]
    lines = ["", "| crossroads ratio | " + " | ".join(f"vs {n}" for n in others) + " |",
             "|---|" + "---:|" * len(others)]
    for c in res.conns if res.thr else []:
        lines.append(_row(f"throughput at {c} connections (×)", [
            times(ratio(thr_med(res, ME, c, "rps"), thr_med(res, n, c, "rps")))
            for n in others]))
        lines.append(_row(f"CPU per request at {c} connections (×, lower is better)", [
            times(ratio(thr_med(res, ME, c, "cpu_us"), thr_med(res, n, c, "cpu_us")))
            for n in others]))
    for rate in res.rates:
        for label, get in (("p50", p50), ("p99", p99)):
            lines.append(_row(
                f"added latency {label} at {rate:,.0f} req/s (× the other's added; "
                "vs direct: ms)",
                _added_cells(others, {n: lat_added(res, n, rate, get) for n in res.names})))
    if res.st:
        lines.append(_row("streaming added TTFT p50 (× the other's added; vs direct: ms)",
                          _added_cells(others, {n: ttft_added(res, n) for n in res.names})))
    lines.append(_row("RSS after load (×, lower is better)", [
        times(ratio(rss_after_mib(res, ME), rss_after_mib(res, n))) for n in others]))
    return lines


def target_lines(res: Results) -> list[str]:
    """Each of the issue's targets: (what, measured value, unit, the test it must pass)."""
    thr = {c: ratio(thr_med(res, ME, c, "rps"), thr_med(res, "portkey", c, "rps"))
           for c in (32, 128)}
    rows: list[tuple[str, float, str, Callable[[float], bool]]] = [
        *((f"non-streaming throughput at {c} connections ≥ 4× Portkey's", thr[c], "×",
           lambda v: v >= 4) for c in (32, 128)),
        ("added latency p50 at 200 req/s ≤ 0.3 ms", lat_added(res, ME, 200.0, p50), " ms",
         lambda v: v <= 0.3),
        ("added latency p99 at 200 req/s ≤ 2 ms", lat_added(res, ME, 200.0, p99), " ms",
         lambda v: v <= 2),
        ("streaming added TTFT p50 ≤ 1 ms", ttft_added(res, ME), " ms", lambda v: v <= 1),
        ("RSS after load ≤ 100 MiB", rss_after_mib(res, ME), " MiB", lambda v: v <= 100),
        ("routing decision at 50 endpoints (Balanced) ≤ 20 µs", routing_us_at_50(res.sections),
         " µs", lambda v: v <= 20),
    ]
    # What a bare C proxy hop (nginx) adds in the same run: a latency target below it cannot
    # be met by any proxy on this machine, so the reader should see it beside our number.
    floors = {
        "added latency p50 at 200 req/s ≤ 0.3 ms": lat_added(res, "nginx", 200.0, p50),
        "added latency p99 at 200 req/s ≤ 2 ms": lat_added(res, "nginx", 200.0, p99),
        "streaming added TTFT p50 ≤ 1 ms": ttft_added(res, "nginx"),
    }
    lines = ["", "| target (issue, crossroads on one core) | measured | result "
             "| a bare nginx hop, same run |", "|---|---:|---|---:|"]
    for what, value, unit, passes in rows:
        floor = floors.get(what, math.nan)
        floor_cell = "–" if math.isnan(floor) else fmt(floor, unit, 2)
        if math.isnan(value):
            lines.append(f"| {what} | – | not measured | {floor_cell} |")
        else:
            lines.append(f"| {what} | {fmt(value, unit, 2)} | "
                         f"{'met' if passes(value) else 'not met'} | {floor_cell} |")
    return lines
