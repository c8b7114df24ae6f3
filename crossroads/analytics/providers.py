"""The providers table: one row per endpoint with its list prices, limits and live speed, and
which endpoint each routing mode would pick for a typical request right now.

The picks come from the real planner (`routing.build_plan`) on a one-message request, so the
page shows what the router would do, not a re-derivation of it. Balanced draws its order at
random, weighted towards cheaper endpoints: its pick is the endpoint that led the most of
`BALANCED_DRAWS` plans, with its share of them.
"""

from __future__ import annotations

import random
from collections import Counter

import orjson

from crossroads.analytics.spans import list_price, percent
from crossroads.analytics.status import STATUS, endpoint_state
from crossroads.catalog import Catalog, Endpoint
from crossroads.chat_request import parse_chat_request
from crossroads.errors import CrossroadsError
from crossroads.ledger.endpoint_rollup import EndpointRollup
from crossroads.routing.plan import build_plan
from crossroads.schema.stats import ModePick, ProviderRow, ProvidersSection, RoutingMode
from crossroads.settings import RoutingConfig
from crossroads.stats import LiveStats, Percentiles

BALANCED_DRAWS = 64
MODES: tuple[tuple[RoutingMode, str, str], ...] = (
    ("balanced", "", "price and speed together (the default): healthy endpoints first, "
                     "cheaper ones more often"),
    ("nitro", ":nitro", "the fastest: highest measured throughput first"),
    ("floor", ":floor", "the cheapest: lowest price first"),
    ("exacto", ":exacto", "one fixed provider: the model's chosen provider, or the highest "
                          "precision, most reliable one"),
)


def _p50(p: Percentiles | None, scale: float = 1.0) -> float | None:
    return None if p is None else round(p.p50 * scale, 1)


def provider_rows(catalog: Catalog, stats: LiveStats, model: str, now: float,
                  daily: list[EndpointRollup]) -> list[ProviderRow]:
    rows = []
    for endpoint in catalog.endpoints(model):
        live = stats.endpoint_stats(endpoint.key, now)
        cooling = stats.health(endpoint.key, now).cooling_until > now
        words = endpoint_state(endpoint, cooling, live.uptime_30m)
        mine = [r for r in daily if r.endpoint_tag == endpoint.tag]
        ok = sum(r.successes for r in mine)
        failed = sum(r.failures for r in mine)
        rows.append(ProviderRow(
            tag=endpoint.tag, provider=endpoint.provider, provider_name=endpoint.provider_name,
            quantization=endpoint.quantization, context_length=endpoint.context_length,
            max_output=endpoint.max_output, pricing=list_price(endpoint.pricing),
            throughput_p50=_p50(live.throughput), latency_p50_ms=_p50(live.latency_s, 1000),
            ttft_p50_ms=_p50(live.ttft_s, 1000),
            uptime_30m=None if live.uptime_30m.ratio is None else
            round(live.uptime_30m.ratio * 100, 2),
            uptime_30d=percent(ok, ok + failed), status=STATUS[words], state=words,
            simulated=endpoint.simulated))
    return rows


def _first(model: str, suffix: str, catalog: Catalog, stats: LiveStats, routing: RoutingConfig,
           rng: random.Random, now: float) -> Endpoint | None:
    request = parse_chat_request(orjson.dumps(
        {"model": model + suffix, "messages": [{"role": "user", "content": "Hello"}]}))
    try:
        plan = build_plan(request, catalog, stats, routing, rng, now)
    except CrossroadsError:
        return None  # nothing can serve it now (every endpoint unavailable or cooling)
    return plan.attempts[0] if plan.attempts else None


def mode_picks(catalog: Catalog, stats: LiveStats, routing: RoutingConfig, model: str,
               now: float) -> list[ModePick]:
    # A private generator: drawing from the router's own would shift its routing decisions.
    rng = random.Random(0)
    picks = []
    for mode, suffix, meaning in MODES:
        if mode == "balanced":
            leaders = Counter(e.tag for e in (
                _first(model, suffix, catalog, stats, routing, rng, now)
                for _ in range(BALANCED_DRAWS)) if e is not None)
            chosen = None
            why = f"{meaning}; no endpoint can serve it now"
            if leaders:
                tag, count = leaders.most_common(1)[0]
                chosen = next(e for e in catalog.endpoints(model) if e.tag == tag)
                why = (f"{meaning}; leads {round(100 * count / BALANCED_DRAWS)} % of "
                       f"requests now")
        else:
            chosen = _first(model, suffix, catalog, stats, routing, rng, now)
            why = meaning if chosen is not None else f"{meaning}; no endpoint can serve it now"
        picks.append(ModePick(mode=mode, model_suffix=suffix,
                              tag=None if chosen is None else chosen.tag,
                              provider_name=None if chosen is None else chosen.provider_name,
                              why=why))
    return picks


def providers_section(catalog: Catalog, stats: LiveStats, routing: RoutingConfig, model: str,
                      now: float, daily: list[EndpointRollup]) -> ProvidersSection:
    return ProvidersSection(endpoints=provider_rows(catalog, stats, model, now, daily),
                            routing=mode_picks(catalog, stats, routing, model, now))
