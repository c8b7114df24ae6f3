"""Ordering the candidates that survived the filters: one function per routing mode.

* Balanced (default): endpoints in a significant recent outage, or in a demoted uptime tier, go
  to the back; among the rest the order is a weighted draw without replacement, each endpoint
  weighted by the inverse square of its blended price (a $1 endpoint is 9× as likely as a $3 one),
  or, with `routing.balanced = "price_speed"`, by its traffic share from price and speed
  (`shares.py`). The blend weights input and output price by the request's expected tokens: the
  prompt estimate and `max_tokens` (or `routing.expected_output_tokens`).
* `sort=price` / `:floor`: cheapest blended price first.
* `sort=throughput` / `:nitro`: highest recent throughput first (the median of the last few
  samples, the 5-minute median while they are few, the catalog's prior until measured).
* `sort=latency`: lowest recent time to first token first (likewise).
* `:exacto`: one fixed endpoint: the model's configured `exacto_provider` when it can serve,
  otherwise the most faithful quantization, then best uptime, then cheapest. No fallback unless the
  caller sets `provider.allow_fallbacks: true`, in which case Balanced orders the rest; the one
  exception is a demoted endpoint being explored, which has Exacto's usual choice behind it.

In every mode, outage and low-uptime endpoints sink to the back (never out), judged on recent
(decayed) evidence; with probability `routing.exploration_share` the one the mode would have put
first, when demoted, is tried first anyway, so that an endpoint that healed is seen to have
healed (a cooling or probing one is skipped by the breaker as always), `provider.order`
goes first (and with `allow_fallbacks: false` alone), endpoints supporting requested `tools` or
`response_format` come before those that do not, and endpoints missing the soft
`preferred_min_throughput` / `preferred_max_latency` thresholds move behind those that meet them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from crossroads.catalog import Endpoint, Model
from crossroads.routing.context import MIN_PRICE, PREFERRED_FEATURES, Context
from crossroads.routing.prefs import Sort, Variant
from crossroads.routing.shares import traffic_weights


def weighted_permutation(
    endpoints: Sequence[Endpoint], weight: Callable[[Endpoint], float], rng: random.Random
) -> list[Endpoint]:
    """Weighted sampling without replacement in one sort: an exponential race. Each item
    arrives after an Exp(weight) time; the first arrival is a draw proportional to weight, the
    next is a draw among the rest, and so on (Efraimidis & Spirakis, 2006, in log form so tiny
    weights cannot underflow)."""
    keyed = [(-math.log(1.0 - rng.random()) / weight(e), i) for i, e in enumerate(endpoints)]
    keyed.sort()
    return [endpoints[i] for _, i in keyed]


def _race(squared_prices: Sequence[float], rng: random.Random,
          among: Sequence[int] | None = None) -> list[int]:
    """`weighted_permutation` with weight 1/price², of indices, one `rng.random()` each in
    order. The arrival time -ln(1-u)·price² is compared as log2(1-u)·price², largest first:
    a negative constant factor (-1/ln 2), so the same order, and `math.log2` costs half of
    `math.log`. Reversed stable sorting keeps ties in index order, as the tuple sort did."""
    rand, log2 = rng.random, math.log2
    if among is None:
        keys = [log2(1.0 - rand()) * w for w in squared_prices]
        return sorted(range(len(keys)), key=keys.__getitem__, reverse=True)
    race = [log2(1.0 - rand()) * squared_prices[i] for i in among]
    order = sorted(range(len(race)), key=race.__getitem__, reverse=True)
    return [among[k] for k in order]


def _mix(ctx: Context) -> tuple[float, float] | None:
    """The blend's weights (prompt share, output share) when every candidate's blended price
    is surely at least MIN_PRICE (no clamp needed), else None."""
    prompt, output = ctx.tokens()
    if ctx.table.min_price < MIN_PRICE or prompt < 0 or output < 0 or prompt + output < 1:
        return None
    total = prompt + output
    return prompt / total, output / total


def _squared_prices(ctx: Context) -> list[float]:
    """price² per candidate, the inverse of Balanced's weight."""
    mix = _mix(ctx)
    if mix is None:
        return [q * q for q in ctx.prices()]
    a, b = mix
    table = ctx.table
    pairs = zip(table.prompt_f, table.completion_f, strict=True)
    return [(q := p * a + c * b) * q for p, c in pairs]


def _balanced(ctx: Context) -> list[int]:
    if ctx.balanced == "price_speed":
        return _race([1.0 / w for w in _share_weights(ctx)], ctx.rng)
    mix = _mix(ctx)
    if mix is None:
        return _race(_squared_prices(ctx), ctx.rng)
    # The race and the prices in one pass: this loop is most of a Balanced decision. Float
    # weights of the mix replace integer products ÷ total (equal to within rounding), and a
    # blend of prices of at least MIN_PRICE needs no clamp.
    a, b = mix
    rand, log2 = ctx.rng.random, math.log2
    table = ctx.table
    keys = [log2(1.0 - rand()) * ((q := p * a + c * b) * q)
            for p, c in zip(table.prompt_f, table.completion_f, strict=True)]
    return sorted(range(len(keys)), key=keys.__getitem__, reverse=True)


def _share_weights(ctx: Context) -> list[float]:
    ratios = [h.recent_uptime for h in ctx.health.healths]
    return traffic_weights(ctx.prices(), ctx.fast_throughputs(), ctx.fast_ttfts_s(),
                           ratios, ctx.tokens()[1])


def _by_price(ctx: Context) -> list[int]:
    prices, speeds = ctx.prices(), ctx.fast_throughputs()
    keys = [(p, -t) for p, t in zip(prices, speeds, strict=True)]
    return sorted(range(len(keys)), key=keys.__getitem__)


def _by_throughput(ctx: Context) -> list[int]:
    prices, speeds = ctx.prices(), ctx.fast_throughputs()
    keys = [(-t, p) for p, t in zip(prices, speeds, strict=True)]
    return sorted(range(len(keys)), key=keys.__getitem__)


def _by_latency(ctx: Context) -> list[int]:
    prices, ttfts = ctx.prices(), ctx.fast_ttfts_s()
    keys = [(t, p) for p, t in zip(prices, ttfts, strict=True)]
    return sorted(range(len(keys)), key=keys.__getitem__)


def _quality_keys(ctx: Context) -> list[tuple[int, float, float]]:
    prices, healths, eps = ctx.prices(), ctx.health.healths, ctx.table.endpoints
    return [(-e.quantization_rank, -(h.uptime if h.uptime is not None else 1.0), p)
            for e, h, p in zip(eps, healths, prices, strict=True)]


def _by_quality(ctx: Context) -> list[int]:
    keys = _quality_keys(ctx)
    return sorted(range(len(keys)), key=keys.__getitem__)


STRATEGIES: dict[Sort | None, Callable[[Context], list[int]]] = {
    None: _balanced,
    Sort.PRICE: _by_price,
    Sort.THROUGHPUT: _by_throughput,
    Sort.LATENCY: _by_latency,
    Sort.EXACTO: _by_quality,
}


def sort_key_values(ctx: Context) -> dict[str, float]:
    """Each candidate's value under the request's sort, smaller first, by endpoint key: what
    `partition: "none"` compares across models. Balanced has no such value (it draws)."""
    sort = ctx.needs.prefs.effective_sort
    keys = ctx.table.keys
    if sort is Sort.PRICE:
        return dict(zip(keys, ctx.prices(), strict=True))
    if sort is Sort.THROUGHPUT:
        return {k: -t for k, t in zip(keys, ctx.fast_throughputs(), strict=True)}
    if sort is Sort.LATENCY:
        return dict(zip(keys, ctx.fast_ttfts_s(), strict=True))
    return {}


def _misses_soft_thresholds(ctx: Context) -> list[bool]:
    prefs = ctx.needs.prefs
    n = len(ctx.table.endpoints)
    misses = [False] * n
    if prefs.min_throughput is not None:
        for name, v in prefs.min_throughput.items():
            speeds = ctx.throughputs(name)
            misses = [m or s < v for m, s in zip(misses, speeds, strict=True)]
    if prefs.max_latency_s is not None:
        late = [False] * n
        for name, v in prefs.max_latency_s.items():
            ttfts = ctx.ttfts_s(name)
            late = [m or t > v for m, t in zip(late, ttfts, strict=True)]
        misses = [m or x for m, x in zip(misses, late, strict=True)]
    return misses


def _exacto_choice(model: Model | None, ctx: Context) -> tuple[int, int | None]:
    """Exacto's endpoint, and the one to fall back on when that endpoint is a demoted one
    being explored (None otherwise)."""
    candidates = ctx.table.endpoints
    if model is not None and model.exacto_provider:
        for index, endpoint in enumerate(candidates):
            if endpoint.matches_provider(model.exacto_provider):
                return index, None
    prices = ctx.prices()
    healths = ctx.health.healths
    # Without a fallback, the one endpoint must be one that can answer now: not cooling, then
    # healthy by recent evidence and not awaiting a probe, then cheapest.
    cooling = [h.cooling_until > ctx.now for h in healths]
    tiers = [max(ctx.tier(h), int(h.breaker_open)) for h in healths]
    ranks = [-e.quantization_rank for e in candidates]
    every = range(len(candidates))
    preferred = min(every, key=lambda i: (ranks[i], cooling[i], prices[i]))
    safe = min(every, key=lambda i: (ranks[i], cooling[i], tiers[i], prices[i]))
    # A demoted preferred endpoint is explored as in every mode (it may have healed), with the
    # endpoint Exacto would have used anyway behind it: a probe that fails then costs the
    # caller nothing, and the answer still comes from one of Exacto's own choices.
    if tiers[preferred] and preferred != safe and _explores(ctx, preferred):
        return preferred, safe
    return safe, None


# Stickiness saves money; it would defeat a caller who asked for the fastest endpoint.
STICKY_SORTS = frozenset({None, Sort.PRICE})


def _pin_sticky(ordered: list[int], ctx: Context) -> None:
    """The conversation's cache lives at one endpoint: go back there while it is healthy."""
    if ctx.needs.prefs.order:
        return
    keys = ctx.table.keys
    for position, index in enumerate(ordered):
        if keys[index] == ctx.sticky:
            endpoint = ctx.table.endpoints[index]
            if (position and ctx.tier(ctx.health.healths[index]) == 0
                    and endpoint.pricing.caches_cheaper):
                ordered.insert(0, ordered.pop(position))
            return


def order_candidates(model: Model | None, ctx: Context) -> list[Endpoint]:
    """Order the endpoints of one model that passed the filters (`ctx.table`)."""
    candidates = ctx.table.endpoints
    if not candidates:
        return []
    prefs = ctx.needs.prefs
    if prefs.variant is Variant.EXACTO:
        chosen, backup = _exacto_choice(model, ctx)
        if prefs.allow_fallbacks is not True:
            return [candidates[i] for i in (chosen, backup) if i is not None]
        pick = candidates[chosen]
        rest = _race(_squared_prices(ctx), ctx.rng,
                     [i for i, e in enumerate(candidates) if e is not pick])
        exacto_tiers = ctx.tiers()
        if exacto_tiers is not None:
            rest.sort(key=exacto_tiers.__getitem__)
        return [pick, *(candidates[i] for i in rest)]

    if len(candidates) == 1:
        # One endpoint: every mode orders it alike, and only `provider.order` may still drop it.
        return _apply_order(list(candidates), prefs.order, prefs.allow_fallbacks)
    ordered = STRATEGIES[prefs.effective_sort](ctx)
    if prefs.variant is Variant.EXTENDED:
        # Longest context first; the mode's order breaks ties.
        contexts = [-e.context_length for e in candidates]
        ordered.sort(key=contexts.__getitem__)
    wanted = PREFERRED_FEATURES & ctx.needs.parameters
    # Stable sorts: each key only moves endpoints across its own boundary.
    if prefs.min_throughput is not None or prefs.max_latency_s is not None:
        ordered.sort(key=_misses_soft_thresholds(ctx).__getitem__)
    if wanted:
        lacks = [not wanted <= e.supported_parameters for e in candidates]
        ordered.sort(key=lacks.__getitem__)
    tiers = ctx.tiers()
    if tiers is not None:
        preferred = ordered[0]
        ordered.sort(key=tiers.__getitem__)
        _explore(ordered, preferred, tiers, ctx)
    if ctx.sticky and prefs.effective_sort in STICKY_SORTS:
        _pin_sticky(ordered, ctx)

    return _apply_order([candidates[i] for i in ordered], prefs.order, prefs.allow_fallbacks)


def _explores(ctx: Context, index: int) -> bool:
    """Should this demoted endpoint, the one the mode prefers, be tried first anyway? Always
    when its breaker waits for a probe (its cooldown is over, nobody probes it): the breaker
    allows one attempt per cooldown, and that attempt is how a healed endpoint is found. For a
    small share of requests otherwise: demoted endpoints get no traffic, so their evidence could
    never improve. The dice are thrown only then, so routing without demotions draws as
    before."""
    h = ctx.health.healths[index]
    if h.breaker_open and not h.probing and h.cooling_until <= ctx.now:
        return True
    return ctx.exploration_share > 0 and ctx.rng.random() < ctx.exploration_share


def _explore(ordered: list[int], preferred: int, tiers: list[int], ctx: Context) -> None:
    if tiers[preferred] and _explores(ctx, preferred):
        ordered.remove(preferred)
        ordered.insert(0, preferred)


def _apply_order(endpoints: list[Endpoint], order: tuple[str, ...] | None,
                 allow_fallbacks: bool | None) -> list[Endpoint]:
    """`provider.order` first (alone without fallbacks); without an order and without
    fallbacks, only the best endpoint."""
    if order:
        first = [e for name in order for e in endpoints if e.matches_provider(name)]
        first = list(dict.fromkeys(first))
        if allow_fallbacks is False:
            return first
        return first + [e for e in endpoints if e not in first]
    if allow_fallbacks is False:
        return endpoints[:1]
    return endpoints
