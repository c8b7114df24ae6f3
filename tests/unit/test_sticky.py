from __future__ import annotations

import random

from crossroads.catalog import Pricing
from crossroads.routing.plan import build_plan
from crossroads.routing.sticky import StickyTable, conversation_key, worth_sticking
from crossroads.settings import RoutingConfig

from .factories import FakeStats, catalog, endpoint, health, request

CACHING = Pricing(prompt=1_000_000, completion=1_000_000, cache_read=250_000)
SYSTEM = {"role": "system", "content": "You are a long system prompt."}


def turn(n: int, **kw):
    messages = [SYSTEM, {"role": "user", "content": "first question"}]
    for i in range(n):
        messages += [{"role": "assistant", "content": f"answer {i}"},
                     {"role": "user", "content": f"follow-up {i}"}]
    return request(messages=messages, **kw)


def test_conversation_key_is_stable_as_the_conversation_grows():
    assert conversation_key(turn(0)) == conversation_key(turn(5)) is not None
    other = request(messages=[SYSTEM, {"role": "user", "content": "another topic"}])
    assert conversation_key(other) != conversation_key(turn(0))
    assert conversation_key(turn(2, session_id="abc")) == "s:abc"


def test_table_pins_only_caching_endpoints_expires_and_is_bounded():
    table = StickyTable(idle_s=600, max_entries=2)
    cheap_cache = endpoint("a", pricing=CACHING)
    no_cache = endpoint("b")
    table.remember("c1", no_cache, 0.0)
    assert table.lookup("c1", 1.0) is None
    table.remember("c1", cheap_cache, 0.0)
    assert table.lookup("c1", 599.0) == cheap_cache.key
    assert table.lookup("c1", 1200.0) is None  # idle past 10 minutes
    for i in range(5):
        table.remember(f"k{i}", cheap_cache, 0.0)
    assert len(table) == 2 and table.lookup("k4", 1.0) == cheap_cache.key


ROUTING = RoutingConfig()


def first(cat, req, sticky, stats=None, seed=0):
    plan = build_plan(req, cat, stats or FakeStats(), ROUTING, random.Random(seed), 0.0, sticky)
    return plan.attempts[0].tag


def test_sticky_endpoint_goes_first_while_healthy():
    cheap = endpoint("cheap", 0.1)
    cached = endpoint("cached", pricing=Pricing(prompt=2_000_000, completion=2_000_000,
                                                cache_read=500_000))
    cat = catalog(cheap, cached)
    for seed in range(20):
        assert first(cat, turn(1), cached.key, seed=seed) == "cached"
    # Not with provider.order, not when asked for the fastest, not in an outage.
    assert first(cat, turn(1, provider={"order": ["cheap"]}), cached.key) == "cheap"
    fast = catalog(endpoint("cheap", 0.1, nominal_throughput=5000), cached)
    assert first(fast, turn(1, model="test/model:nitro"), cached.key) == "cheap"
    outage = FakeStats({"cached": health(recent_attempts=4, recent_failures=4)})
    assert first(cat, turn(1), cached.key, outage) == "cheap"


def test_conversations_are_named_only_where_a_cache_can_pay():
    plain = catalog(endpoint("a", 1.0), endpoint("b", 2.0))
    assert not worth_sticking(turn(0), plain)
    # A cache read priced like a fresh prompt token saves nothing either.
    same = Pricing(prompt=1_000_000, completion=1_000_000, cache_read=1_000_000)
    assert not worth_sticking(turn(0), catalog(endpoint("a", pricing=same)))
    assert worth_sticking(turn(0), catalog(endpoint("a", 1.0), endpoint("c", pricing=CACHING)))
