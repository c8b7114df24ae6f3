"""Everything one comparison session measured, and the few aggregations every table shares:
medians over rounds, and "added vs direct" taken within each round before the median, so a
drift of the shared machine between rounds cancels out instead of landing on one target."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from loadgen import LatencyReport
from sections import Section
from targets import Target

NAN = math.nan


@dataclass
class Results:
    targets: list[Target]
    conns: list[int]
    rates: list[float]
    seconds: int  # per wrk run
    rounds: int  # wrk rounds
    rate_rounds: int  # fixed-rate rounds
    rate_seconds: float
    stream_n: int
    command: str  # how this session was started, for the report
    tmp: str = ""  # the run's temp dir, written as $TMP in the report
    # (target, connections) → one wrk result per round
    thr: dict[tuple[str, int], list[dict[str, float]]] = field(default_factory=dict)
    # (target, rate) → one open-loop report per round, in round order
    lat: dict[tuple[str, float], list[LatencyReport]] = field(default_factory=dict)
    # target → streaming summary (one interleaved pass)
    st: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.targets]

    def target(self, name: str) -> Target | None:
        return next((t for t in self.targets if t.name == name), None)


def fmt(v: float, unit: str = "", digits: int = 0) -> str:
    if math.isnan(v):  # not measured
        return "–"
    return f"{v:,.{digits}f}{unit}"


def ratio(a: float, b: float) -> float:
    """a ÷ b, NaN where b is zero or either is not measured (a failed wrk run reads 0 req/s)."""
    return a / b if b and not math.isnan(a) and not math.isnan(b) else NAN


def median(values: list[float]) -> float:
    real = [v for v in values if not math.isnan(v)]
    return statistics.median(real) if real else NAN


def thr_med(res: Results, name: str, c: int, key: str) -> float:
    return median([r[key] for r in res.thr.get((name, c), [])])


def lat_med(res: Results, name: str, rate: float, get: Callable[[LatencyReport], float]) -> float:
    return median([get(r) for r in res.lat.get((name, rate), [])])


def lat_added(
    res: Results, name: str, rate: float, get: Callable[[LatencyReport], float]
) -> float:
    """Median over rounds of (target − direct measured in the same round)."""
    mine, direct = res.lat.get((name, rate), []), res.lat.get(("direct", rate), [])
    return median([get(a) - get(b) for a, b in zip(mine, direct, strict=False)])


def ttft_added(res: Results, name: str) -> float:
    if name not in res.st or "direct" not in res.st:
        return NAN
    return res.st[name]["ttft_p50_ms"] - res.st["direct"]["ttft_p50_ms"]


def rss_after_mib(res: Results, name: str) -> float:
    t = res.target(name)
    return t.rss_after_kib / 1024 if t is not None and t.process is not None else NAN


def p50(r: LatencyReport) -> float:
    return r.p50_ms


def p90(r: LatencyReport) -> float:
    return r.p90_ms


def p99(r: LatencyReport) -> float:
    return r.p99_ms
