"""Throughput, latency and TTFT per endpoint over time, from the rollups' histograms.

Percentiles are read from merged log-scale bins (`ledger/bins.py`), so a p50 over 30
days is exact to the bin width (±2.5 %), as live stats' are over 30 minutes. The definitions
are live stats': throughput = completion tokens ÷ generation time (streamed answers), latency =
the attempt's full round trip, TTFT = its first content token; successful attempts only.
"""

from __future__ import annotations

from typing import Literal

from crossroads.analytics.names import listed
from crossroads.analytics.spans import daily_span, hourly_span
from crossroads.catalog import Catalog
from crossroads.ledger.bins import Bins, merge
from crossroads.ledger.endpoint_rollup import RollupReads
from crossroads.ledger.store import RollupKind
from crossroads.schema.stats import (
    PerformancePoint,
    PerformanceSection,
    PerformanceSeries,
    Quantiles,
)

Range = Literal["72h", "30d"]
RANGES: tuple[Range, ...] = ("72h", "30d")
# metric → (scale to the twin's unit, digits)
_UNITS = {"throughput": (1.0, 1), "latency": (1000.0, 1), "ttft": (1000.0, 1)}


def _quantiles(bins: Bins | None, metric: str) -> Quantiles | None:
    if bins is None:
        return None
    values, samples = bins.quantiles((0.5, 0.9))
    if not samples:
        return None
    scale, digits = _UNITS[metric]
    p50, p90 = values
    return Quantiles(p50=round(p50 * scale, digits), p90=round(p90 * scale, digits),
                     samples=samples)


def _point(start: int, bins: dict[str, Bins]) -> PerformancePoint:
    return PerformancePoint(
        bucket_start=start,
        throughput=_quantiles(bins.get("throughput"), "throughput"),
        latency_ms=_quantiles(bins.get("latency"), "latency"),
        ttft_ms=_quantiles(bins.get("ttft"), "ttft"))


def performance_section(reads: RollupReads, catalog: Catalog, model: str, now: float,
                        span_name: Range = "72h") -> PerformanceSection:
    span = hourly_span(now) if span_name == "72h" else daily_span(now)
    kind: RollupKind = "hourly" if span.bucket == "hour" else "daily"
    # tag → bucket → metric → bins
    found: dict[str, dict[int, dict[str, Bins]]] = {}
    for row in reads.histograms(kind, model, span.since, span.until):
        found.setdefault(row.endpoint_tag, {}).setdefault(row.bucket_start, {})[row.metric] = \
            row.bins
    series = []
    for tag, name in listed(catalog, model, found):
        buckets = found.get(tag, {})
        whole = {metric: merge(b[metric] for b in buckets.values() if metric in b)
                 for metric in _UNITS}
        series.append(PerformanceSeries(
            tag=tag, provider_name=name,
            throughput=_quantiles(whole["throughput"], "throughput"),
            latency_ms=_quantiles(whole["latency"], "latency"),
            ttft_ms=_quantiles(whole["ttft"], "ttft"),
            points=[_point(start, bins) for start, bins in sorted(buckets.items())]))
    return PerformanceSection(span=span, endpoints=series)
