"""Routing is pure: these tests drive it with tables of endpoints and fake health."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from crossroads.catalog import Catalog, DataPolicy, Model
from crossroads.errors import (
    BadRequest,
    ContextLengthExceeded,
    NoEndpoint,
    NoProviderAvailable,
)
from crossroads.routing.plan import build_plan
from crossroads.settings import BreakerConfig, RoutingConfig
from crossroads.stats import AttemptReport, Health, LiveStats

from .factories import MODEL, FakeStats, catalog, endpoint, health, request

# Exploration off: these tests pin where demotion puts an endpoint; exploration (a seeded share
# of requests trying a demoted preferred endpoint first) has its own in test_health_signals.py.
ROUTING = RoutingConfig(expected_output_tokens=100, exploration_share=0.0)
# chi-square critical values at p = 0.001 by degrees of freedom
CHI2_CRITICAL_001 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47}


def plan_tags(cat, req, stats=None, seed=1, now=1000.0):
    plan = build_plan(req, cat, stats or FakeStats(), ROUTING, random.Random(seed), now)
    return [e.tag for e in plan.attempts]


def test_balanced_first_choice_follows_inverse_square_price():
    prices = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 0.5}
    cat = catalog(*(endpoint(t, p) for t, p in prices.items()))
    rng = random.Random(12345)
    draws = 20_000
    firsts = Counter(
        build_plan(request(), cat, FakeStats(), ROUTING, rng, 0.0).attempts[0].tag
        for _ in range(draws)
    )
    weights = {t: 1 / p**2 for t, p in prices.items()}
    total = sum(weights.values())
    chi2 = sum(
        (firsts[t] - draws * w / total) ** 2 / (draws * w / total) for t, w in weights.items()
    )
    assert chi2 < CHI2_CRITICAL_001[len(prices) - 1], (firsts, chi2)
    # A $1 endpoint is about 9x as likely as a $3 one.
    assert 7.5 < firsts["a"] / firsts["c"] < 10.5


def test_balanced_puts_outage_endpoints_last():
    cat = catalog(endpoint("cheap", 0.1), endpoint("mid", 1.0), endpoint("pricey", 5.0))
    stats = FakeStats({"cheap": Health(recent_attempts=5, recent_failures=5)})
    for seed in range(50):
        assert plan_tags(cat, request(), stats, seed)[-1] == "cheap"


def test_low_uptime_tiers_demote_with_enough_samples():
    cat = catalog(endpoint("a", 0.1), endpoint("b", 1.0), endpoint("c", 2.0))
    stats = FakeStats({
        "a": health(uptime=0.5, samples=200),   # fallback only
        "b": health(uptime=0.9, samples=200),   # demoted
        "c": health(uptime=0.99, samples=200),
    })
    assert plan_tags(cat, request(), stats) == ["c", "b", "a"]
    few = FakeStats({"a": health(uptime=0.5, samples=10)})
    assert Counter(plan_tags(cat, request(), few, s)[0] for s in range(200))["a"] > 100


def test_nitro_and_floor_pick_fastest_and_cheapest():
    cat = catalog(
        endpoint("slow-cheap", 0.1, nominal_throughput=50),
        endpoint("fast", 1.0, nominal_throughput=2000),
        endpoint("medium", 0.5, nominal_throughput=300),
    )
    assert plan_tags(cat, request(model="test/model:nitro")) == ["fast", "medium", "slow-cheap"]
    assert plan_tags(cat, request(model="test/model:floor")) == ["slow-cheap", "medium", "fast"]
    assert plan_tags(cat, request(provider={"sort": "price"}))[0] == "slow-cheap"
    assert plan_tags(cat, request(provider={"sort": {"by": "throughput"}}))[0] == "fast"


def test_measured_throughput_overrides_prior():
    cat = catalog(endpoint("a", 1.0, nominal_throughput=2000), endpoint("b", 1.0,
                                                                      nominal_throughput=10))
    stats = FakeStats({"a": health(throughput=20.0), "b": health(throughput=500.0)})
    assert plan_tags(cat, request(model="test/model:nitro"), stats) == ["b", "a"]


def test_latency_sort_uses_ttft():
    cat = catalog(endpoint("a", 1.0, nominal_ttft_ms=900), endpoint("b", 1.0,
                                                                   nominal_ttft_ms=200))
    assert plan_tags(cat, request(provider={"sort": "latency"})) == ["b", "a"]


def test_order_goes_first_and_allow_fallbacks_false_stops_there():
    cat = catalog(endpoint("a", 0.1), endpoint("b", 1.0), endpoint("c", 2.0))
    tags = plan_tags(cat, request(provider={"order": ["c", "b"]}))
    assert tags[:2] == ["c", "b"] and tags[2] == "a"
    assert plan_tags(cat, request(provider={"order": ["c"], "allow_fallbacks": False})) == ["c"]


def test_only_ignore_match_base_slug_and_variants():
    cat = catalog(endpoint("deepinfra/fp8", 1.0), endpoint("deepinfra/turbo", 1.0),
                  endpoint("groq", 1.0))
    assert sorted(plan_tags(cat, request(provider={"only": ["deepinfra"]}))) == [
        "deepinfra/fp8", "deepinfra/turbo"]
    assert plan_tags(cat, request(provider={"ignore": ["DeepInfra"]})) == ["groq"]
    assert plan_tags(cat, request(provider={"only": ["deepinfra/turbo"]})) == [
        "deepinfra/turbo"]


def test_quantizations_and_max_price_filter():
    cat = catalog(endpoint("a", 0.1, quantization="fp8"), endpoint("b", 0.2, quantization="bf16"),
                  endpoint("c", 3.0, quantization="bf16"))
    assert sorted(plan_tags(cat, request(provider={"quantizations": ["bf16"]}))) == ["b", "c"]
    assert sorted(plan_tags(cat, request(provider={"max_price": {"prompt": 1}}))) == ["a", "b"]
    with pytest.raises(NoEndpoint) as info:
        plan_tags(cat, request(provider={"quantizations": ["bf16"], "max_price": {"prompt": 0.1}}))
    funnel = info.value.metadata["funnels"][0]["funnel"]
    assert funnel == "initial 3 → quantizations 2 → max_price 0"
    assert info.value.metadata["funnels"][0]["removed"]["max_price"] == ["b", "c"]


def test_context_and_max_output_filters():
    cat = catalog(endpoint("small", 0.1, context_length=1000, max_output=500),
                  endpoint("large", 1.0, context_length=50_000, max_output=8000))
    assert plan_tags(cat, request(max_tokens=2000)) == ["large"]
    assert plan_tags(cat, request(messages=[{"role": "user", "content": "x" * 8000}])) == [
        "large"]
    with pytest.raises(ContextLengthExceeded) as info:
        plan_tags(cat, request(messages=[{"role": "user", "content": "x" * 400_000}]))
    assert info.value.status == 400
    with pytest.raises(BadRequest):
        plan_tags(cat, request(max_tokens=9000))


def test_images_need_image_input():
    cat = catalog(endpoint("text", 0.1), endpoint("vision", 1.0,
                                                  input_modalities=frozenset({"text", "image"})))
    image = {"role": "user", "content": [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}
    assert plan_tags(cat, request(messages=[image])) == ["vision"]
    with pytest.raises(NoEndpoint, match="image input"):
        plan_tags(catalog(endpoint("text", 0.1)), request(messages=[image]))
    # The only vision endpoint is too short for this prompt: the error names both causes.
    short = catalog(endpoint("text", 0.1), endpoint(
        "vision", 1.0, context_length=1000, input_modalities=frozenset({"text", "image"})))
    long_image = {"role": "user", "content": [*image["content"],
                                              {"type": "text", "text": "x" * 8000}]}
    with pytest.raises(NoEndpoint) as info:
        plan_tags(short, request(messages=[long_image]))
    assert "image input" in info.value.message
    assert "1 other endpoint(s) (vision) were too short" in info.value.message


def test_tools_are_a_hard_filter_and_response_format_a_soft_preference():
    cat = catalog(endpoint("plain", 0.1), endpoint("tools", 1.0,
                                                   supported_parameters=frozenset({"tools"})))
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    for seed in range(20):
        assert plan_tags(cat, request(tools=tools), seed=seed) == ["tools"]
    with pytest.raises(NoEndpoint, match="support tool use") as info:
        plan_tags(catalog(endpoint("plain", 0.1)), request(tools=tools))
    assert info.value.status == 404
    assert "tools" in str(info.value.metadata["funnels"])
    shaped = catalog(endpoint("plain", 0.1), endpoint(
        "json", 1.0, supported_parameters=frozenset({"response_format"})))
    fmt = {"type": "json_object"}
    for seed in range(20):
        assert plan_tags(shaped, request(response_format=fmt), seed=seed) == ["json", "plain"]
    assert plan_tags(shaped, request(response_format=fmt,
                                     provider={"require_parameters": True})) == ["json"]


def test_data_collection_deny_and_zdr():
    cat = catalog(endpoint("trains", 0.1, data_policy=DataPolicy(training=True)),
                  endpoint("private", 1.0, data_policy=DataPolicy(zdr=True)),
                  endpoint("normal", 1.0))
    assert sorted(plan_tags(cat, request(provider={"data_collection": "deny"}))) == [
        "normal", "private"]
    assert plan_tags(cat, request(provider={"zdr": True})) == ["private"]


def test_exacto_pins_one_endpoint_unless_fallbacks_allowed():
    cat = catalog(endpoint("a", 0.1, quantization="fp8"), endpoint("b", 1.0,
                                                                   quantization="bf16"),
                  endpoint("c", 0.2, quantization="int4"))
    assert plan_tags(cat, request(model="test/model:exacto")) == ["b"]
    tags = plan_tags(cat, request(model="test/model:exacto",
                                  provider={"allow_fallbacks": True}))
    assert tags[0] == "b" and sorted(tags) == ["a", "b", "c"]
    pinned = catalog(*[endpoint(t, 1.0) for t in "abc"], exacto="c")
    assert plan_tags(pinned, request(model="test/model:exacto")) == ["c"]


def test_soft_thresholds_move_back_never_out():
    cat = catalog(endpoint("cheap-slow", 0.1, nominal_throughput=20),
                  endpoint("fast", 1.0, nominal_throughput=500))
    for seed in range(20):
        assert plan_tags(cat, request(provider={"preferred_min_throughput": 100}),
                         seed=seed) == ["fast", "cheap-slow"]
    assert plan_tags(cat, request(provider={"preferred_max_latency": {"p50": 0.5}}))


def test_model_fallbacks_follow_primary():
    a = endpoint("a", 1.0)
    other = endpoint("z", 1.0, model="other/model")
    cat = Catalog([Model(slug="test/model", name="T"), Model(slug="other/model", name="O")],
                  [a, other], {})
    plan = build_plan(request(models=["other/model"]), cat, FakeStats(), ROUTING,
                      random.Random(1), 0.0)
    assert [(e.model, e.tag) for e in plan.attempts] == [("test/model", "a"),
                                                         ("other/model", "z")]


def test_cooling_endpoints_are_skipped_and_all_cooling_is_503():
    cat = catalog(endpoint("a", 0.1), endpoint("b", 1.0))
    stats = FakeStats({"a": Health(cooling_until=1010.0)})
    assert plan_tags(cat, request(), stats) == ["b"]
    both = FakeStats({"a": Health(cooling_until=1010.0), "b": Health(cooling_until=1003.0)})
    with pytest.raises(NoProviderAvailable) as info:
        plan_tags(cat, request(), both)
    assert info.value.headers["retry-after"] == "4"


def test_unknown_model_and_variant():
    cat = catalog(endpoint("a"))
    with pytest.raises(BadRequest, match="not a valid model"):
        plan_tags(cat, request(model="nope/nope"))
    with pytest.raises(BadRequest, match="variant"):
        request(model="test/model:warp")


def test_unavailable_endpoints_never_routed():
    cat = catalog(endpoint("keyless", 0.01, available=False, unavailable_reason="no key"),
                  endpoint("ok", 1.0))
    assert plan_tags(cat, request()) == ["ok"]
    with pytest.raises(NoProviderAvailable):
        plan_tags(catalog(endpoint("keyless", available=False)), request())


def test_filtered_subsets_are_memoised_and_their_health_stays_current():
    """A request that loses the same endpoints to a filter reuses one table of survivors, and
    live stats keep that table's health current: an outage among the survivors still demotes."""
    cat = catalog(endpoint("small", 0.1, context_length=1000),
                  endpoint("cheap", 0.2), endpoint("dear", 5.0))
    stats = LiveStats(ROUTING, BreakerConfig())
    long_prompt = request(messages=[{"role": "user", "content": "x" * 8000}])
    rng = random.Random(1)
    first = build_plan(long_prompt, cat, stats, ROUTING, rng, 1000.0)
    assert "small" not in [e.tag for e in first.attempts]
    memo = cat.subsets(MODEL)
    assert len(memo) == 1
    (subset,) = memo.values()
    for seed in range(20):
        build_plan(long_prompt, cat, stats, ROUTING, random.Random(seed), 1000.0)
    assert list(memo.values()) == [subset]  # the same table object, reused
    cheap = next(e for e in subset.endpoints if e.tag == "cheap")
    failure = AttemptReport(ok=False, counts_against_uptime=True, trips_breaker=False)
    for i in range(5):
        stats.record(cheap.key, failure, 1000.0 + i * 0.1)
    for seed in range(20):
        tags = [e.tag for e in build_plan(long_prompt, cat, stats, ROUTING,
                                          random.Random(seed), 1001.0).attempts]
        assert tags == ["dear", "cheap"], tags
