"""One provider serving several models under one prefix, picked by the request's `model`."""

from __future__ import annotations

import msgspec
import openai
import pytest

from crossroads.settings import load_settings
from crossroads.sim.fleet import catalog_fleet, profile_name
from crossroads.sim.profile import SimFleet, SimProfile, patch_profile

from .support import KEY, Sim, chat


def test_each_model_is_answered_by_its_own_endpoint(sim: Sim) -> None:
    assert sim.base_url("acme.big") == sim.base_url("acme.small") == f"{sim.server.url}/acme/v1"
    client = openai.OpenAI(base_url=sim.base_url("acme.big"), api_key=KEY, max_retries=0)
    big = client.chat.completions.create(model="acme-big", messages=[{"role": "user",
                                                                      "content": "hi"}])
    small = client.chat.completions.create(model="acme-small", messages=[{"role": "user",
                                                                          "content": "hi"}])
    assert big.model == "acme-big" and big.usage is not None and big.usage.completion_tokens == 8
    assert small.usage is not None and small.usage.completion_tokens == 4
    assert [e["model"] for e in sim.log("acme.big")] == ["acme-big"]
    assert [e["model"] for e in sim.log("acme.small")] == ["acme-small"]


def test_each_model_keeps_its_own_limits(sim: Sim) -> None:
    assert sim.post("acme", chat(model="acme-big", max_tokens=1000)).status_code == 200
    resp = sim.post("acme", chat(model="acme-small", max_tokens=1000))
    assert resp.status_code == 400
    assert "at most 256" in resp.json()["error"]["message"]


def test_an_unknown_model_gets_the_404_of_a_real_provider(sim: Sim) -> None:
    resp = sim.post("acme", chat(model="acme-huge"))
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert error["code"] == "model_not_found" and "acme-huge" in error["message"]
    resp = sim.http.post("/acme/v1/chat/completions", content=b"{nope",
                         headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == 400
    assert sim.log("acme.big") == [] and sim.log("acme.small") == []


def test_the_models_route_lists_every_model_of_the_provider(sim: Sim) -> None:
    resp = sim.http.get("/acme/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == 200
    assert {m["id"]: m["max_output"] for m in resp.json()["data"]} == {
        "acme-big": 4096, "acme-small": 256}


def test_faults_are_injected_per_model(sim: Sim) -> None:
    sim.script("acme.small", "http_503")
    assert sim.post("acme", chat(model="acme-big")).status_code == 200
    assert sim.post("acme", chat(model="acme-small")).status_code == 503


def test_a_provider_endpoint_keeps_its_provider_and_model() -> None:
    profile = SimProfile(name="p.m", provider="p", model="m", context_length=10, max_output=5)
    assert patch_profile(profile, {"max_output": 4}).max_output == 4
    for patch in ({"model": "other"}, {"provider": "q"}):
        with pytest.raises(ValueError, match="fixed"):
            patch_profile(profile, patch)


@pytest.mark.parametrize(("profiles", "message"), [
    ([SimProfile(name="a", provider="p", model="m", context_length=1, max_output=1),
      SimProfile(name="b", provider="p", model="m", context_length=1, max_output=1)], "twice"),
    ([SimProfile(name="a", provider="p", model="m", context_length=1, max_output=1),
      SimProfile(name="p", context_length=1, max_output=1)], "prefix"),
])
def test_prefixes_cannot_clash(profiles: list[SimProfile], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimFleet(endpoints=tuple(profiles))


def test_the_catalog_fleet_twins_every_endpoint() -> None:
    catalog = load_settings(env={}).catalog
    fleet = catalog_fleet(catalog)
    by_pair = {(p.provider, p.model): p for p in fleet.endpoints}
    assert {p.name for p in fleet.endpoints} <= {profile_name(e) for e in catalog.all_endpoints()}
    for ep in catalog.all_endpoints():
        twin = by_pair[(ep.provider, ep.upstream_model)]
        assert (twin.context_length, twin.max_output) == (ep.context_length, ep.max_output)
        assert twin.ttft_ms == ep.nominal_ttft_ms and twin.tokens_per_s == ep.nominal_throughput
        assert twin.cache == (ep.pricing.cache_read is not None)
        assert twin.supports_images == ep.serves_images()
    assert msgspec.convert(msgspec.to_builtins(fleet), SimFleet) == fleet
