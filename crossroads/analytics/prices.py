"""Effective price per endpoint: what callers actually paid per 1M tokens over 30 days, cache
reads and writes included, beside the list price. Only billed generations count, so a free
error or an unpriced stream never makes an endpoint look cheaper than it is."""

from __future__ import annotations

from crossroads.analytics.names import by_tag, listed
from crossroads.analytics.spans import daily_span, list_price, per_million, percent
from crossroads.catalog import Catalog
from crossroads.ledger.endpoint_rollup import RollupReads
from crossroads.schema.stats import EffectivePrice, ListPrice, PricingSection


def pricing_section(reads: RollupReads, catalog: Catalog, model: str,
                    now: float) -> PricingSection:
    span = daily_span(now)
    rows = reads.endpoint_rollups("daily", model, span.since, span.until)
    endpoints = by_tag(catalog, model)
    out = []
    for tag, name in listed(catalog, model, (r.endpoint_tag for r in rows)):
        mine = [r for r in rows if r.endpoint_tag == tag]
        endpoint = endpoints.get(tag)
        listing = list_price(endpoint.pricing) if endpoint is not None else \
            ListPrice(prompt=0.0, completion=0.0)
        prompt = sum(r.prompt_tokens for r in mine)
        cached = sum(r.cached_tokens for r in mine)
        effective_prompt = per_million(sum(r.paid_prompt_micro for r in mine),
                                       sum(r.priced_prompt_tokens for r in mine))
        saving = None
        if effective_prompt is not None and endpoint is not None and listing.prompt > 0:
            saving = round(100.0 * (1 - effective_prompt / listing.prompt), 2)
        out.append(EffectivePrice(
            tag=tag, provider_name=name, list=listing,
            effective_prompt=effective_prompt,
            effective_completion=per_million(sum(r.paid_completion_micro for r in mine),
                                             sum(r.priced_completion_tokens for r in mine)),
            prompt_tokens=prompt, cached_tokens=cached,
            cache_write_tokens=sum(r.cache_write_tokens for r in mine),
            completion_tokens=sum(r.completion_tokens for r in mine),
            requests=sum(r.served for r in mine),
            cached_share=percent(cached, prompt), prompt_saving=saving))
    return PricingSection(span=span, endpoints=out)
