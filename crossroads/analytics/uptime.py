"""Uptime per endpoint, hourly over 72 hours and daily over 30 days, from per-attempt rollups.

Uptime = successes ÷ (successes + provider-caused failures), counted per attempt: an endpoint
that failed 20 % of its attempts shows 80 % even when failover rescued every request.
"""

from __future__ import annotations

from crossroads.analytics.names import listed
from crossroads.analytics.spans import buckets, daily_span, hourly_span, percent
from crossroads.catalog import Catalog
from crossroads.ledger.endpoint_rollup import EndpointRollup, RollupReads
from crossroads.schema.stats import Span, UptimePoint, UptimeSection, UptimeSeries


def _points(rows: list[EndpointRollup], tag: str, span: Span) -> list[UptimePoint]:
    mine = {r.bucket_start: r for r in rows if r.endpoint_tag == tag}
    out = []
    for start in buckets(span):
        r = mine.get(start)
        if r is None:
            out.append(UptimePoint(bucket_start=start, attempts=0, successes=0, failures=0,
                                   uptime=None))
        else:
            out.append(UptimePoint(bucket_start=start, attempts=r.attempts,
                                   successes=r.successes, failures=r.failures,
                                   uptime=percent(r.successes, r.successes + r.failures)))
    return out


def uptime_section(reads: RollupReads, catalog: Catalog, model: str,
                   now: float) -> UptimeSection:
    hours, days = hourly_span(now), daily_span(now)
    hourly = reads.endpoint_rollups("hourly", model, hours.since, hours.until)
    daily = reads.endpoint_rollups("daily", model, days.since, days.until)
    series = []
    for tag, name in listed(catalog, model, (r.endpoint_tag for r in daily)):
        mine = [r for r in daily if r.endpoint_tag == tag]
        ok = sum(r.successes for r in mine)
        failed = sum(r.failures for r in mine)
        series.append(UptimeSeries(
            tag=tag, provider_name=name, uptime=percent(ok, ok + failed),
            attempts=sum(r.attempts for r in mine), successes=ok, failures=failed,
            rescued=sum(r.rescued for r in mine),
            hourly=_points(hourly, tag, hours), daily=_points(daily, tag, days)))
    requests = sum(d.requests for d in reads.app_days(model, days.since, days.until))
    return UptimeSection(hourly=hours, daily=days, endpoints=series, requests=requests,
                         rescued_requests=sum(r.rescues for r in daily))
