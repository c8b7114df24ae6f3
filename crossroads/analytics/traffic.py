"""Who uses a model and how much: top apps, tokens and requests per day, and the directory of
models with their last week's volume — all from the per-app daily rollup."""

from __future__ import annotations

from crossroads.analytics.spans import buckets, daily_span, iso_day, model_price, percent
from crossroads.catalog import Catalog
from crossroads.ledger.endpoint_rollup import RollupReads
from crossroads.ledger.store import DAY_S, HOUR_S
from crossroads.schema.stats import (
    ActivityDay,
    ActivitySection,
    AppRow,
    AppsSection,
    ModelSummary,
)

TOP_APPS = 20


def apps_section(reads: RollupReads, model: str, now: float,
                 limit: int = TOP_APPS) -> AppsSection:
    span = daily_span(now)
    sums: dict[str, list[int]] = {}
    titles: dict[str, str] = {}
    for d in reads.app_days(model, span.since, span.until):  # oldest first: last title wins
        row = sums.setdefault(d.app, [0, 0, 0])
        row[0] += d.requests
        row[1] += d.prompt_tokens
        row[2] += d.completion_tokens
        if d.title:
            titles[d.app] = d.title
    named = sorted(((app, v) for app, v in sums.items() if app),
                   key=lambda item: (-(item[1][1] + item[1][2]), item[0]))
    top = named[:limit]
    rest = [v for _, v in named[limit:]] + ([sums[""]] if "" in sums else [])
    return AppsSection(
        span=span,
        apps=[AppRow(app=app, title=titles.get(app), tokens=v[1] + v[2], prompt_tokens=v[1],
                     completion_tokens=v[2], requests=v[0]) for app, v in top],
        other_tokens=sum(v[1] + v[2] for v in rest),
        other_requests=sum(v[0] for v in rest))


def activity_section(reads: RollupReads, model: str, now: float) -> ActivitySection:
    span = daily_span(now)
    per_day: dict[int, list[int]] = {}
    for d in reads.app_days(model, span.since, span.until):
        row = per_day.setdefault(d.bucket_start, [0, 0, 0, 0, 0])
        for i, value in enumerate((d.requests, d.prompt_tokens, d.completion_tokens,
                                   d.reasoning_tokens, d.cached_tokens)):
            row[i] += value
    days = []
    for start in buckets(span):
        r, p, c, reasoning, cached = per_day.get(start, [0, 0, 0, 0, 0])
        days.append(ActivityDay(date=iso_day(start), bucket_start=start, requests=r,
                                prompt_tokens=p, completion_tokens=c,
                                reasoning_tokens=reasoning, cached_tokens=cached,
                                tokens=p + c))
    return ActivitySection(span=span, days=days)


def directory(reads: RollupReads, catalog: Catalog, now: float) -> list[ModelSummary]:
    """Every catalog model with its last 7 days' volume and last 24 hours' uptime."""
    today = int(now) - int(now) % DAY_S
    this_hour = int(now) - int(now) % HOUR_S
    totals = reads.model_totals(today - 6 * DAY_S, this_hour - 23 * HOUR_S)
    out = []
    for model in catalog.models():
        t = totals.get(model.slug)
        endpoints = catalog.endpoints(model.slug)
        out.append(ModelSummary(
            id=model.slug, name=model.name,
            input_modalities=sorted(model.input_modalities),
            output_modalities=sorted(model.output_modalities),
            context_length=model.context_length,
            pricing=model_price(catalog, model),
            endpoints=len(endpoints),
            endpoints_available=sum(1 for e in endpoints if e.available),
            uptime_1d=None if t is None else percent(t.successes, t.successes + t.failures),
            tokens_7d=0 if t is None else t.tokens,
            requests_7d=0 if t is None else t.requests))
    return out
