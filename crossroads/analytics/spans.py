"""The time ranges the sections cover, and the unit conversions they all share."""

from __future__ import annotations

from datetime import UTC, datetime

from crossroads.catalog import MICRO, Catalog, Model, Pricing
from crossroads.ledger.store import DAY_S, HOUR_S
from crossroads.schema.stats import ListPrice, Span

HOURLY_SPAN_HOURS = 72
DAILY_SPAN_DAYS = 30


def hourly_span(now: float, hours: int = HOURLY_SPAN_HOURS) -> Span:
    """The last `hours` UTC hours, the current one included."""
    until = int(now) - int(now) % HOUR_S + HOUR_S
    return Span(since=until - hours * HOUR_S, until=until, bucket="hour")


def daily_span(now: float, days: int = DAILY_SPAN_DAYS) -> Span:
    """The last `days` UTC days, today included."""
    until = int(now) - int(now) % DAY_S + DAY_S
    return Span(since=until - days * DAY_S, until=until, bucket="day")


def buckets(span: Span) -> range:
    return range(span.since, span.until, HOUR_S if span.bucket == "hour" else DAY_S)


def percent(part: int, whole: int, digits: int = 2) -> float | None:
    return None if whole <= 0 else round(100.0 * part / whole, digits)


def usd_per_million(micro_per_million: int | None) -> float | None:
    return None if micro_per_million is None else round(micro_per_million / MICRO, 6)


def per_million(micro: int, tokens: int) -> float | None:
    """Micro-dollars paid for `tokens` as USD per 1M tokens (the two units coincide)."""
    return None if tokens <= 0 else round(micro / tokens, 6)


def list_price(pricing: Pricing) -> ListPrice:
    return ListPrice(prompt=round(pricing.prompt / MICRO, 6),
                     completion=round(pricing.completion / MICRO, 6),
                     cache_read=usd_per_million(pricing.cache_read),
                     cache_write=usd_per_million(pricing.cache_write))


def iso_day(unix_s: int) -> str:
    return datetime.fromtimestamp(unix_s, tz=UTC).date().isoformat()


def model_price(catalog: Catalog, model: Model) -> ListPrice | None:
    """The model's headline price: the one its catalog entry lists, else its cheapest
    endpoint's (by input + output price), which is what a caller pays at best."""
    if model.pricing is not None:
        return list_price(model.pricing)
    endpoints = catalog.endpoints(model.slug)
    if not endpoints:
        return None
    cheapest = min(endpoints, key=lambda e: (e.pricing.prompt + e.pricing.completion, e.tag))
    return list_price(cheapest.pricing)
