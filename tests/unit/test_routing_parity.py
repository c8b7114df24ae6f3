"""OpenRouter's routing vocabulary beyond the modes: variants, sort objects, caps as strings,
fallback past an unknown model, distillation — each with the effect OpenRouter documents."""

from __future__ import annotations

import random

import pytest

from crossroads.catalog import Catalog, Model
from crossroads.errors import BadRequest, NoEndpoint
from crossroads.routing.plan import build_plan

from .factories import MODEL, FakeStats, catalog, endpoint, health, request
from .test_routing import ROUTING, plan_tags

OTHER = "other/model"


def test_free_variant_keeps_only_endpoints_that_charge_nothing():
    cat = catalog(endpoint("paid", 0.1), endpoint("gratis", 0.0))
    assert plan_tags(cat, request(model=f"{MODEL}:free")) == ["gratis"]
    with pytest.raises(NoEndpoint, match="No free endpoints") as info:
        plan_tags(catalog(endpoint("paid", 0.1)), request(model=f"{MODEL}:free"))
    assert info.value.status == 404


def test_thinking_variant_turns_reasoning_on_and_needs_an_endpoint_that_reasons():
    cat = catalog(endpoint("plain", 0.1),
                  endpoint("thinker", 1.0, supported_parameters=frozenset({"reasoning"})))
    thinking = request(model=f"{MODEL}:thinking")
    assert thinking.reasoning is not None and thinking.reasoning.enabled
    assert plan_tags(cat, thinking) == ["thinker"]
    with pytest.raises(NoEndpoint, match="support reasoning"):
        plan_tags(catalog(endpoint("plain", 0.1)), thinking)


def test_extended_variant_puts_the_longest_context_first():
    cat = catalog(endpoint("short", 0.1, context_length=8_192),
                  endpoint("long", 2.0, context_length=1_000_000),
                  endpoint("mid", 0.5, context_length=128_000))
    for seed in range(10):
        assert plan_tags(cat, request(model=f"{MODEL}:extended"), seed=seed) == [
            "long", "mid", "short"]


def test_online_variant_is_a_clear_400_naming_the_missing_search_backend():
    with pytest.raises(BadRequest, match="web-search backend"):
        request(model=f"{MODEL}:online")


def test_sort_exacto_orders_by_quality_without_pinning():
    cat = catalog(endpoint("fp8-cheap", 0.1, quantization="fp8"),
                  endpoint("bf16", 1.0, quantization="bf16"),
                  endpoint("bf16-flaky", 0.5, quantization="bf16"))
    stats = FakeStats({"bf16-flaky": health(uptime=0.9, samples=10)})
    assert plan_tags(cat, request(provider={"sort": "exacto"}), stats) == [
        "bf16", "bf16-flaky", "fp8-cheap"]
    assert plan_tags(cat, request(provider={"sort": {"by": "exacto"}}), stats)[0] == "bf16"


def two_models() -> Catalog:
    models = [Model(slug=MODEL, name="Test"), Model(slug=OTHER, name="Other")]
    endpoints = [endpoint("a-pricey", 3.0), endpoint("a-cheap", 1.0),
                 endpoint("b-cheapest", 0.2, model=OTHER), endpoint("b-mid", 2.0, model=OTHER)]
    return Catalog(models, endpoints, {})


def test_partition_none_sorts_every_models_endpoints_together():
    cat = two_models()
    by_model = request(models=[OTHER], provider={"sort": "price"})
    assert plan_tags(cat, by_model) == ["a-cheap", "a-pricey", "b-cheapest", "b-mid"]
    together = request(models=[OTHER], provider={"sort": {"by": "price", "partition": "none"}})
    assert plan_tags(cat, together) == ["b-cheapest", "a-cheap", "b-mid", "a-pricey"]
    # The deprecated top-level alias says the same.
    legacy = request(models=[OTHER], route="sort", provider={"sort": "price"})
    assert plan_tags(cat, legacy) == ["b-cheapest", "a-cheap", "b-mid", "a-pricey"]
    with pytest.raises(BadRequest, match="route"):
        request(route="sideways")


def test_max_price_accepts_openrouters_string_values():
    cat = catalog(endpoint("cheap", 0.1), endpoint("dear", 2.0))
    assert plan_tags(cat, request(provider={"max_price": {"prompt": "0.5"}})) == ["cheap"]
    assert plan_tags(cat, request(provider={"max_price": {"prompt": 0.5}})) == ["cheap"]
    with pytest.raises(BadRequest, match=r"provider\.max_price\.prompt"):
        request(provider={"max_price": {"prompt": "cheap please"}})


def test_enforce_distillable_text_keeps_only_models_whose_licence_allows_it():
    open_model = Model(slug=MODEL, name="Open", license="Apache-2.0")
    closed = Model(slug=OTHER, name="Community", license="Llama 4 Community License")
    cat = Catalog([open_model, closed], [endpoint("a", 1.0), endpoint("b", 1.0, model=OTHER)],
                  {})
    prefs = {"enforce_distillable_text": True}
    assert plan_tags(cat, request(provider=prefs)) == ["a"]
    with pytest.raises(NoEndpoint, match="does not allow distilling"):
        plan_tags(cat, request(model=OTHER, provider=prefs))
    assert plan_tags(cat, request(model=OTHER)) == ["b"]


def test_an_unknown_primary_model_falls_back_to_models_and_says_why():
    cat = two_models()
    plan = build_plan(request(model="nobody/nothing", models=[OTHER]), cat, FakeStats(),
                      ROUTING, random.Random(1), 0.0)
    assert {e.model for e in plan.attempts} == {OTHER}
    assert plan.notes == ("nobody/nothing is not a valid model ID; fell back to the `models` "
                          "list: other/model",)
    with pytest.raises(BadRequest, match="not a valid model ID"):
        plan_tags(cat, request(model="nobody/nothing"))
    with pytest.raises(BadRequest, match="nobody/nothing is not a valid model ID"):
        plan_tags(cat, request(model="nobody/nothing", models=["nobody/else"]))
