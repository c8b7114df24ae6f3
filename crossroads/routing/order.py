"""Ordering the candidates that survived the filters: one function per routing mode.

* Balanced (default): endpoints in a significant recent outage, or in a demoted uptime tier, go
  to the back; among the rest the order is a weighted draw without replacement, each endpoint
  weighted by the inverse square of its blended price (a $1 endpoint is 9× as likely as a $3 one).
  The blend weights input and output price by the request's expected tokens: the prompt estimate
  and `max_tokens` (or `routing.expected_output_tokens`).
* `sort=price` / `:floor`: cheapest blended price first.
* `sort=throughput` / `:nitro`: highest measured throughput first (the catalog's prior until
  measurements exist).
* `sort=latency`: lowest measured time to first token first (prior until measured).
* `:exacto`: one fixed endpoint: the model's configured `exacto_provider` when it can serve,
  otherwise the most faithful quantization, then best uptime, then cheapest. No fallback unless the
  caller sets `provider.allow_fallbacks: true`, in which case Balanced orders the rest.

In every mode, outage and low-uptime endpoints sink to the back (never out), `provider.order`
goes first (and with `allow_fallbacks: false` alone), endpoints supporting requested `tools` or
`response_format` come before those that do not, and endpoints missing the soft
`preferred_min_throughput` / `preferred_max_latency` thresholds move behind those that meet them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from crossroads.catalog import Endpoint, Model, endpoint_key
from crossroads.routing.filters import Needs
from crossroads.routing.prefs import Sort, Variant
from crossroads.routing.sticky import caches_cheaper
from crossroads.stats import Health

UPTIME_MIN_SAMPLES = 100
UPTIME_NORMAL = 0.95
UPTIME_FALLBACK_ONLY = 0.80
PREFERRED_FEATURES = frozenset({"tools", "response_format"})
MIN_PRICE = 1  # micro-dollars per 1M tokens; keeps free endpoints finite in 1/price²


class Context:
    """Everything ordering may consult: the request's needs, live health, the clock, the dice."""

    __slots__ = ("expected_output", "failure_ratio", "health", "min_failures", "needs", "rng",
                 "sticky")

    def __init__(
        self,
        needs: Needs,
        health: dict[str, Health],
        rng: random.Random,
        expected_output: int,
        min_failures: int,
        failure_ratio: float,
        sticky: str | None = None,
    ) -> None:
        self.sticky = sticky
        self.needs = needs
        self.health = health
        self.rng = rng
        self.expected_output = expected_output
        self.min_failures = min_failures
        self.failure_ratio = failure_ratio

    def of(self, endpoint: Endpoint) -> Health:
        return self.health[endpoint_key(endpoint)]

    def price(self, endpoint: Endpoint) -> float:
        output = self.needs.max_tokens or self.expected_output
        return max(endpoint.pricing.blended(self.needs.prompt_tokens, output), MIN_PRICE)

    def throughput(self, endpoint: Endpoint, percentile: str = "p50") -> float:
        measured = self.of(endpoint).speed.throughput
        return measured.at(percentile) if measured else endpoint.nominal_throughput

    def ttft_s(self, endpoint: Endpoint, percentile: str = "p50") -> float:
        measured = self.of(endpoint).speed.ttft_s
        return measured.at(percentile) if measured else endpoint.nominal_ttft_ms / 1000

    def tier(self, endpoint: Endpoint) -> int:
        """0 = healthy, 1 = demoted (outage or uptime 80-95 %), 2 = fallback only (< 80 %)."""
        h = self.of(endpoint)
        if h.uptime is not None and h.uptime_samples >= UPTIME_MIN_SAMPLES:
            if h.uptime < UPTIME_FALLBACK_ONLY:
                return 2
            if h.uptime < UPTIME_NORMAL:
                return 1
        outage = (
            h.recent_failures >= self.min_failures
            and h.recent_failures >= self.failure_ratio * max(h.recent_attempts, 1)
        )
        return 1 if outage else 0


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


def _balanced(candidates: list[Endpoint], ctx: Context) -> list[Endpoint]:
    return weighted_permutation(candidates, lambda e: 1.0 / ctx.price(e) ** 2, ctx.rng)


def _by_price(candidates: list[Endpoint], ctx: Context) -> list[Endpoint]:
    return sorted(candidates, key=lambda e: (ctx.price(e), -ctx.throughput(e)))


def _by_throughput(candidates: list[Endpoint], ctx: Context) -> list[Endpoint]:
    return sorted(candidates, key=lambda e: (-ctx.throughput(e), ctx.price(e)))


def _by_latency(candidates: list[Endpoint], ctx: Context) -> list[Endpoint]:
    return sorted(candidates, key=lambda e: (ctx.ttft_s(e), ctx.price(e)))


STRATEGIES: dict[Sort | None, Callable[[list[Endpoint], Context], list[Endpoint]]] = {
    None: _balanced,
    Sort.PRICE: _by_price,
    Sort.THROUGHPUT: _by_throughput,
    Sort.LATENCY: _by_latency,
}


def _misses_soft_thresholds(endpoint: Endpoint, ctx: Context) -> bool:
    prefs = ctx.needs.prefs
    if prefs.min_throughput is not None and any(
        ctx.throughput(endpoint, name) < v for name, v in prefs.min_throughput.items()
    ):
        return True
    if prefs.max_latency_s is not None:
        return any(ctx.ttft_s(endpoint, name) > v for name, v in prefs.max_latency_s.items())
    return False


def _lacks_preferred_features(endpoint: Endpoint, wanted: frozenset[str]) -> bool:
    return not wanted <= endpoint.supported_parameters


def _exacto_choice(candidates: list[Endpoint], model: Model | None, ctx: Context) -> Endpoint:
    if model is not None and model.exacto_provider:
        for endpoint in candidates:
            if endpoint.matches_provider(model.exacto_provider):
                return endpoint

    def quality(e: Endpoint) -> tuple[int, float, float]:
        uptime = ctx.of(e).uptime
        return (-e.quantization_rank, -(uptime if uptime is not None else 1.0), ctx.price(e))

    return min(candidates, key=quality)


# Stickiness saves money; it would defeat a caller who asked for the fastest endpoint.
STICKY_SORTS = frozenset({None, Sort.PRICE})


def _pin_sticky(ordered: list[Endpoint], ctx: Context) -> None:
    """The conversation's cache lives at one endpoint: go back there while it is healthy."""
    if ctx.needs.prefs.order:
        return
    for index, endpoint in enumerate(ordered):
        if endpoint.key == ctx.sticky:
            if index and ctx.tier(endpoint) == 0 and caches_cheaper(endpoint):
                ordered.insert(0, ordered.pop(index))
            return


def order_candidates(
    candidates: list[Endpoint], model: Model | None, ctx: Context
) -> list[Endpoint]:
    """Order the endpoints of one model that passed the filters."""
    if not candidates:
        return []
    prefs = ctx.needs.prefs
    if prefs.variant is Variant.EXACTO:
        chosen = _exacto_choice(candidates, model, ctx)
        if prefs.allow_fallbacks is not True:
            return [chosen]
        rest = _balanced([e for e in candidates if e is not chosen], ctx)
        return [chosen, *sorted(rest, key=ctx.tier)]

    ordered = STRATEGIES[prefs.effective_sort](candidates, ctx)
    wanted = PREFERRED_FEATURES & ctx.needs.parameters
    # Stable sorts: each key only moves endpoints across its own boundary.
    if prefs.min_throughput is not None or prefs.max_latency_s is not None:
        ordered.sort(key=lambda e: _misses_soft_thresholds(e, ctx))
    if wanted:
        ordered.sort(key=lambda e: _lacks_preferred_features(e, wanted))
    ordered.sort(key=ctx.tier)
    if ctx.sticky and prefs.effective_sort in STICKY_SORTS:
        _pin_sticky(ordered, ctx)

    if prefs.order:
        first = [
            e for name in prefs.order for e in ordered if e.matches_provider(name)
        ]
        first = list(dict.fromkeys(first))
        if prefs.allow_fallbacks is False:
            return first
        return first + [e for e in ordered if e not in first]
    if prefs.allow_fallbacks is False:
        return ordered[:1]
    return ordered
