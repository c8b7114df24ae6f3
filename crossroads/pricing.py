"""Usage → cost, in integer micro-dollars.

Prices are micro-dollars per 1M tokens, so a token count times a price is micro-dollars times a
million: the sum is exact in integers and rounded once, half up, at the end. Cached prompt tokens
are billed at the cache-read price and written ones at the cache-write price (each falling back
to the prompt price when the endpoint has none); the rest of the prompt at the prompt price.
"""

from __future__ import annotations

from typing import Any

import msgspec

from crossroads.catalog import MICRO, Pricing


class Usage(msgspec.Struct, frozen=True):
    """Token counts normalised so `prompt_tokens` always includes cached and written tokens."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0
    estimated: bool = False


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from_openai(raw: Any, images: int = 0,
                      prompt_includes_cached: bool = True) -> Usage | None:
    """Read an OpenAI-style usage object; None when there is none.

    The result always counts cached and cache-written tokens inside `prompt_tokens`, whichever
    convention the provider reports in (`prompt_includes_cached=False`: they are extra).
    """
    if not isinstance(raw, dict):
        return None
    prompt_details = raw.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, dict) else {}
    completion_details = raw.get("completion_tokens_details")
    completion_details = completion_details if isinstance(completion_details, dict) else {}
    cached = _int(prompt_details.get("cached_tokens"))
    written = _int(prompt_details.get("cache_write_tokens"))
    prompt = _int(raw.get("prompt_tokens"))
    # More cached than prompt tokens can only mean the provider counts them apart, whatever
    # the catalog says: normalise rather than bill a negative uncached prompt.
    if not prompt_includes_cached or cached + written > prompt:
        prompt += cached + written
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=_int(raw.get("completion_tokens")),
        cached_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=_int(completion_details.get("reasoning_tokens")),
        images=images,
    )


def usage_sum(parts: list[Usage]) -> Usage:
    """The usage of one answer made of several attempts' parts (a resumed stream): every count
    is what the providers together processed; estimated if any part was."""
    return Usage(
        prompt_tokens=sum(u.prompt_tokens for u in parts),
        completion_tokens=sum(u.completion_tokens for u in parts),
        cached_tokens=sum(u.cached_tokens for u in parts),
        cache_write_tokens=sum(u.cache_write_tokens for u in parts),
        reasoning_tokens=sum(u.reasoning_tokens for u in parts),
        images=sum(u.images for u in parts),
        estimated=any(u.estimated for u in parts),
    )


def cost_micro(usage: Usage, pricing: Pricing) -> int:
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    uncached = usage.prompt_tokens - cached - written
    per_million = (
        uncached * pricing.prompt
        + cached * (pricing.cache_read if pricing.cache_read is not None else pricing.prompt)
        + written * (pricing.cache_write if pricing.cache_write is not None else pricing.prompt)
        + usage.completion_tokens * pricing.completion
    )
    return (per_million + MICRO // 2) // MICRO + usage.images * pricing.image + pricing.request


def completion_cost_micro(usage: Usage, pricing: Pricing) -> int:
    """The completion tokens' share of `cost_micro`, rounded on its own; the prompt's share is
    the rest, so the two always add up to the cost exactly (and neither is ever negative)."""
    return (usage.completion_tokens * pricing.completion + MICRO // 2) // MICRO


def cache_discount_micro(usage: Usage, pricing: Pricing) -> int:
    """What prompt caching saved (negative when cache writes cost more than they saved)."""
    list_price = msgspec.structs.replace(usage, cached_tokens=0, cache_write_tokens=0)
    return cost_micro(list_price, pricing) - cost_micro(usage, pricing)


def usage_payload(usage: Usage, cost: int, discount: int, completion_cost: int = 0
                  ) -> dict[str, Any]:
    """The `usage` object callers see: OpenAI's fields, OpenRouter's cost fields, and ours.

    OpenRouter splits `cost` into what the prompt and the completion cost upstream, and sets
    `upstream_inference_cost` only for BYOK requests; crossroads' answers are priced at the
    providers' own list prices, so the split is exact and there is no BYOK part.
    """
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "cost": cost / MICRO,
        "cost_details": {
            "upstream_inference_cost": None,
            "upstream_inference_prompt_cost": (cost - completion_cost) / MICRO,
            "upstream_inference_completions_cost": completion_cost / MICRO,
        },
        "is_byok": False,
        "crossroads": {
            "cost_micro_usd": cost,
            "cache_discount_micro_usd": discount,
            "estimated": usage.estimated,
        },
    }
