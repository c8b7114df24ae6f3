"""Sticky routing on the simulator: a multi-turn conversation hits the prompt cache more often
and pays less when it keeps going to the endpoint that cached it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support import Router, Sim

from .conftest import MODEL

CACHE_PRICES = "".join(
    f"""
[[endpoints]]
model = "{MODEL}"
provider = "{name}"
price = {{ prompt = 1.0, completion = 1.0, cache_read = 0.25 }}
"""
    for name in ("alpha", "bravo")
)
SYSTEM = "You are a meticulous assistant. " * 60  # ~480 tokens: worth caching
TURNS = 12


def conversation(router: Router) -> tuple[int, int, int, list[str]]:
    """Run one conversation; return (prompt tokens, cached tokens, cost µ$, providers)."""
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": "Let us plan a trip."}]
    prompt = cached = cost = 0
    providers = []
    for turn in range(TURNS):
        status, body, _ = router.post("/chat/completions", {
            "model": MODEL, "messages": messages, "max_tokens": 8,
            "provider": {"only": ["alpha", "bravo"]}})
        assert status == 200, body
        usage = body["usage"]
        prompt += usage["prompt_tokens"]
        cached += usage["prompt_tokens_details"]["cached_tokens"]
        cost += usage["crossroads"]["cost_micro_usd"]
        providers.append(body["provider"])
        messages += [body["choices"][0]["message"],
                     {"role": "user", "content": f"And on day {turn + 2}?"}]
    return prompt, cached, cost, providers


@pytest.fixture
def caching_sim(fresh_sim: Sim) -> Sim:
    for name in ("alpha", "bravo"):
        fresh_sim.patch(name, cache=True, cache_min_tokens=64, completion_tokens=8)
    return fresh_sim


def test_sticky_routing_raises_cache_hits_and_lowers_the_price(
        make_router: Callable[..., Router], caching_sim: Sim):
    sticky = make_router(CACHE_PRICES)
    prompt_s, cached_s, cost_s, providers_s = conversation(sticky)
    sticky.stop()

    caching_sim.reset()
    for name in ("alpha", "bravo"):
        caching_sim.patch(name, cache=True, cache_min_tokens=64, completion_tokens=8)
    plain = make_router(CACHE_PRICES, routing="sticky = false")
    prompt_p, cached_p, cost_p, providers_p = conversation(plain)

    assert len(set(providers_s)) == 1, providers_s       # pinned after the first turn
    assert len(set(providers_p)) == 2, providers_p       # load-balanced without stickiness
    hit_sticky, hit_plain = cached_s / prompt_s, cached_p / prompt_p
    assert hit_sticky > hit_plain + 0.05, (hit_sticky, hit_plain)
    assert cost_s < cost_p, (cost_s, cost_p)
    price_s = (cost_s - 8 * TURNS) / prompt_s
    price_p = (cost_p - 8 * TURNS) / prompt_p
    print(f"\ncache-hit share of prompt tokens: sticky {hit_sticky:.1%}, plain {hit_plain:.1%};"
          f" cost sticky {cost_s} µ$, plain {cost_p} µ$; effective prompt price "
          f"sticky ${price_s:.3f}/M vs ${price_p:.3f}/M")
