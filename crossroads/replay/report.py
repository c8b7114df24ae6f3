"""A replay's score as a rich table, or as one JSON object (`--json`)."""

from __future__ import annotations

from typing import Any

import msgspec
from rich.console import Group
from rich.table import Table

from crossroads.replay.oracle import Incident, Score
from crossroads.replay.run import Plan

__all__ = ["as_json", "tables"]


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def notes(plan: Plan) -> list[str]:
    """What a reader of the numbers must know about this run."""
    out = []
    if any(e.kind == "price" for e in plan.fleet.timeline):
        out.append("price events reach the oracle and the cost accounting only: the router's "
                   "catalog is written once, with the starting prices")
    scale = plan.fleet.compress * plan.compress
    if scale != 1:
        out.append(f"timeline compressed {scale:g}×: incidents are shorter in wall time while the "
                   "router's cooldowns and stats windows are not; recovery is in wall seconds")
    return out


def as_json(plan: Plan, score: Score, wall_s: float) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(score)
    out.update(fleet=plan.fleet_path, rate=plan.rate, compress=plan.fleet.compress * plan.compress,
               wall_s=round(wall_s, 3), notes=notes(plan))
    return out


def _took(done: bool | None, seconds: float | None) -> str:
    if done is None:
        return "n/a"
    took = _seconds(seconds)
    return took if done else f"never (> {took})"


def _back(incident: Incident) -> str:
    if incident.relapse_s is not None:
        return (f"{_seconds(incident.recovery_s)}, lost again by "
                f"{_seconds(incident.relapse_s)}")
    if incident.recovered is False:
        return "never"
    return _took(incident.recovered, incident.recovery_s)


def _worst(score: Score, what: str) -> str:
    """The longest reaction or recovery, "n/a" when no event had one to measure."""
    done = [getattr(i, what) for i in score.incidents]
    if all(d is None for d in done):
        return "n/a"
    seconds = score.max_react_s if what == "reacted" else score.max_recovery_s
    return _seconds(seconds) + ("" if False not in done else f" (one never {what})")


def tables(plan: Plan, score: Score, wall_s: float) -> Group:
    summary = Table(title=f"replay of {plan.fleet_path} — {score.mode}", show_header=False)
    summary.add_column("measure", style="bold")
    summary.add_column("value", justify="right")
    rows = [
        ("requests", f"{score.requests} at {plan.rate:g}/s over {wall_s:.1f} s"),
        ("success rate", f"{score.success_rate:.2%} ({score.succeeded}/{score.requests})"),
        ("cost ÷ oracle (cheapest healthy)", _ratio(score.cost_vs_oracle)),
        (f"cost ÷ {score.mode}'s own policy over healthy", _ratio(score.cost_vs_policy)),
        ("throughput ÷ oracle (fastest healthy)", _ratio(score.throughput_vs_oracle)),
        ("TTFT p50 / p99", f"{_seconds(score.ttft_p50_s)} / {_seconds(score.ttft_p99_s)}"),
        ("measured tokens/s p50", "-" if score.measured_tokens_per_s_p50 is None
         else f"{score.measured_tokens_per_s_p50:,.0f}"),
        ("wasted attempts / failovers", f"{score.wasted_attempts} / {score.failovers}"),
        ("max reaction / recovery", f"{_worst(score, 'reacted')} / {_worst(score, 'recovered')}"),
        ("served", ", ".join(f"{k} {v}" for k, v in score.served.items()) or "-"),
    ]
    if score.no_oracle:
        rows.append(("sent while nothing was healthy", str(score.no_oracle)))
    for row in rows:
        summary.add_row(*row)
    parts: list[Any] = [summary]
    if score.incidents:
        incidents = Table(title="incidents")
        for column in ("endpoint", "event", "from", "until", "failed attempts (most in 1 s)",
                       "reaction", "share after", "recovery"):
            incidents.add_column(column, justify="left" if column in ("endpoint", "event")
                                 else "right")
        for i in score.incidents:
            incidents.add_row(
                i.endpoint, i.kind, f"{i.at_s:g} s", "end" if i.end_s is None else f"{i.end_s:g} s",
                f"{i.failed_attempts} ({i.max_failed_per_s})", _took(i.reacted, i.react_s),
                "-" if i.expected_share is None else f"{i.expected_share:.0%}",
                _back(i))
        parts.append(incidents)
    parts.extend(f"note: {n}" for n in notes(plan))
    return Group(*parts)
