"""Throughput, latency and TTFT per endpoint over time, from the rollups' histograms.

Percentiles are read from merged log-scale bins (`windows.quantiles_of`), so a p50 over 30
days is exact to the bin width (±2.5 %), as live stats' are over 30 minutes. The definitions
are live stats': throughput = completion tokens ÷ generation time (streamed answers), latency =
the attempt's full round trip, TTFT = its first content token; successful attempts only.
"""

from __future__ import annotations

from typing import Literal

from crossroads.analytics.names import listed
from crossroads.analytics.spans import daily_span, hourly_span
from crossroads.catalog import Catalog
from crossroads.ledger.endpoint_rollup import HistogramRow, RollupReads
from crossroads.ledger.store import RollupKind
from crossroads.schema.stats import (
    PerformancePoint,
    PerformanceSection,
    PerformanceSeries,
    Quantiles,
)
from crossroads.windows import quantiles_of

Range = Literal["72h", "30d"]
RANGES: tuple[Range, ...] = ("72h", "30d")
# (metric, scale to the twin's unit, digits)
_UNITS = {"throughput": (1.0, 1), "latency": (1000.0, 1), "ttft": (1000.0, 1)}

Bins = dict[str, dict[int, int]]  # metric → bin → count


def _quantiles(bins: dict[int, int] | None, metric: str) -> Quantiles | None:
    if not bins:
        return None
    (p50, p90), samples = quantiles_of(bins, (0.5, 0.9))
    scale, digits = _UNITS[metric]
    return Quantiles(p50=round(p50 * scale, digits), p90=round(p90 * scale, digits),
                     samples=samples)


def _merge(rows: list[HistogramRow]) -> dict[tuple[int, str], Bins]:
    out: dict[tuple[int, str], Bins] = {}
    for r in rows:
        bins = out.setdefault((r.bucket_start, r.endpoint_tag), {}).setdefault(r.metric, {})
        bins[r.bin] = bins.get(r.bin, 0) + r.count
    return out


def performance_section(reads: RollupReads, catalog: Catalog, model: str, now: float,
                        span_name: Range = "72h") -> PerformanceSection:
    span = hourly_span(now) if span_name == "72h" else daily_span(now)
    kind: RollupKind = "hourly" if span.bucket == "hour" else "daily"
    totals = _merge(reads.histograms(kind, model, span.since, span.until, per_bucket=False))
    points = _merge(reads.histograms(kind, model, span.since, span.until, per_bucket=True))
    series = []
    for tag, name in listed(catalog, model, (tag for _, tag in totals)):
        whole = totals.get((0, tag), {})
        series.append(PerformanceSeries(
            tag=tag, provider_name=name,
            throughput=_quantiles(whole.get("throughput"), "throughput"),
            latency_ms=_quantiles(whole.get("latency"), "latency"),
            ttft_ms=_quantiles(whole.get("ttft"), "ttft"),
            points=[PerformancePoint(
                bucket_start=start,
                throughput=_quantiles(bins.get("throughput"), "throughput"),
                latency_ms=_quantiles(bins.get("latency"), "latency"),
                ttft_ms=_quantiles(bins.get("ttft"), "ttft"))
                for (start, t), bins in sorted(points.items()) if t == tag]))
    return PerformanceSection(span=span, endpoints=series)
