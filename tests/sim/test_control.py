"""The control API, the outcome rule, prompt caching and seeded repeatability."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from crossroads.sim.endpoint import SimState
from crossroads.sim.profile import SimFleet, SimProfile
from crossroads.sim.prompt import parse_chat

from .support import Sim, chat, tokens_of


def statuses(sim: Sim, name: str, n: int, **extra: Any) -> list[int]:
    return [sim.post(name, chat(**extra)).status_code for _ in range(n)]


def test_health_and_listing(sim: Sim) -> None:
    assert sim.control("GET", "/health").json() == {"ok": True}
    listing = sim.control("GET", "/endpoints").json()
    assert set(listing) == {"plain", "cached", "cached-excl", "textonly", "keyed", "flaky",
                            "thinker", "acme.big", "acme.small", "vec.embed", "vec.chat"}
    assert listing["plain"]["profile"]["context_length"] == 4096
    assert listing["plain"]["requests"] == 0
    assert listing["plain"]["outcomes"] == {}


def test_script_is_fifo_then_natural(sim: Sim) -> None:
    sim.script("plain", "http_500", "ok", "http_429")
    sim.script("plain", "http_503")  # appends
    queued = sim.control("GET", "/endpoints/plain/script").json()
    assert queued == {"outcomes": ["http_500", "ok", "http_429", "http_503"]}
    assert statuses(sim, "plain", 5) == [500, 200, 429, 503, 200]
    info = sim.control("GET", "/endpoints/plain").json()
    assert info["requests"] == 5
    assert info["outcomes"] == {"http_500": 1, "ok": 2, "http_429": 1, "http_503": 1}


def test_script_replace_clears(sim: Sim) -> None:
    sim.script("plain", "http_500", "http_500")
    resp = sim.control("POST", "/endpoints/plain/script", {"outcomes": [], "replace": True})
    assert resp.json() == {"outcomes": []}
    assert statuses(sim, "plain", 1) == [200]


def test_script_rejects_unknown_outcome(sim: Sim) -> None:
    resp = sim.control("POST", "/endpoints/plain/script", {"outcomes": ["ok", "http_999"]})
    assert resp.status_code == 400
    assert "$.outcomes[1]" in resp.json()["error"]["message"]


def test_patch_changes_behaviour_and_validates(sim: Sim) -> None:
    sim.patch("plain", completion_tokens=3)
    assert sim.post("plain", chat()).json()["usage"]["completion_tokens"] == 3
    bad = sim.control("PATCH", "/endpoints/plain", {"completion_tokens": "many"})
    assert bad.status_code == 400
    assert "$.completion_tokens" in bad.json()["error"]["message"]
    unknown = sim.control("PATCH", "/endpoints/plain", {"speed": 3})
    assert unknown.status_code == 400
    assert "speed" in unknown.json()["error"]["message"]
    rates = sim.control("PATCH", "/endpoints/plain", {"fault_rates": {"nope": 0.1}})
    assert rates.status_code == 400
    assert "$.fault_rates" in rates.json()["error"]["message"]
    rename = sim.control("PATCH", "/endpoints/plain", {"name": "other"})
    assert rename.status_code == 400
    assert sim.control("PATCH", "/endpoints/nope", {}).status_code == 404


def test_reset_restores_everything(sim: Sim) -> None:
    sim.patch("plain", completion_tokens=2, down=True)
    sim.script("plain", "http_500")
    sim.post("plain", chat())
    assert sim.control("POST", "/reset").status_code == 200
    info = sim.control("GET", "/endpoints/plain").json()
    assert info["profile"]["completion_tokens"] == 16
    assert info["profile"]["down"] is False
    assert info["requests"] == 0 and info["outcomes"] == {}
    assert sim.log("plain") == []
    assert sim.control("GET", "/endpoints/plain/script").json() == {"outcomes": []}


def test_request_log(sim: Sim) -> None:
    body = chat("log me", stream=True, max_tokens=7)
    sim.post("plain", body)
    sim.post("plain", chat("second"))
    first, second = sim.log("plain")
    assert first["outcome"] == "ok"
    assert first["stream"] is True
    assert first["model"] == "test/model"
    assert first["prompt_tokens"] == tokens_of("log me")
    assert first["cached_tokens"] == 0
    assert first["max_tokens"] == 7
    assert first["has_images"] is False
    assert first["body"] == body
    assert second["stream"] is False and second["max_tokens"] is None
    assert 0 <= first["t"] <= second["t"]


def test_outages(sim: Sim) -> None:
    sim.patch("plain", outages=[[0, 1e6]])
    assert statuses(sim, "plain", 2) == [503, 503]
    sim.patch("plain", outage_outcome="http_502")
    assert statuses(sim, "plain", 1) == [502]
    sim.patch("plain", outages=[[1e6, 2e6]])
    assert statuses(sim, "plain", 1) == [200]
    sim.patch("plain", down=True)
    assert statuses(sim, "plain", 1) == [502]
    assert [e["outcome"] for e in sim.log("plain")] == [
        "http_503",
        "http_503",
        "http_502",
        "ok",
        "http_502",
    ]


def test_outage_beats_request_problems_and_script_beats_outage(sim: Sim) -> None:
    sim.patch("plain", down=True)
    # Too long for the context, yet the outage answers first.
    assert sim.post("plain", chat("x" * 40000)).status_code == 503
    sim.script("plain", "ok")
    assert sim.post("plain", chat()).status_code == 200


def test_natural_request_checks(sim: Sim) -> None:
    too_long = sim.post("plain", chat("x" * 17000))
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "context_length_exceeded"
    with_room = sim.post("plain", chat("x" * 15000, max_tokens=500))
    assert with_room.json()["error"]["code"] == "context_length_exceeded"
    too_many = sim.post("plain", chat(max_tokens=513))
    assert too_many.status_code == 400
    assert "513" in too_many.json()["error"]["message"]
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    body = {"model": "m", "messages": [{"role": "user", "content": [image]}]}
    assert sim.post("plain", body).status_code == 200
    no_images = sim.post("textonly", body)
    assert no_images.status_code == 400
    assert "image" in no_images.json()["error"]["message"]
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    assert sim.post("textonly", chat(tools=[tool])).status_code == 400
    outcomes = [e["outcome"] for e in sim.log("plain")]
    assert outcomes == ["context_length", "context_length", "http_400", "ok"]


def test_markers_force_outcomes(sim: Sim) -> None:
    resp = sim.post("plain", chat("please [[sim:content_filter]] thanks"))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "content_filter"
    assert sim.post("plain", chat("[[sim:http_502]]")).status_code == 502
    resp = sim.post("plain", chat("[[sim:empty_200]]"))
    assert resp.status_code == 200 and resp.content == b""
    unknown = sim.post("plain", chat("[[sim:explode]]"))
    assert unknown.status_code == 400
    assert "explode" in unknown.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"model": "m"}',
        b'{"model": "m", "messages": []}',
        b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}',
        b'{"model": "m", "messages": [{"content": "x"}]}',
        b'{"model": "m", "messages": [{"role": "user", "content": 5}]}',
        b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}',
        b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
    ],
)
def test_bad_requests_are_400_and_consume_no_script(sim: Sim, body: bytes) -> None:
    sim.script("plain", "http_500")
    resp = sim.http.post(
        "/plain/v1/chat/completions", content=body, headers={"Authorization": "Bearer k"}
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert sim.post("plain", chat()).status_code == 500


LONG_SYSTEM = "You are a meticulous assistant. " * 40  # about 324 tokens


def conversation(*turns: str) -> dict[str, Any]:
    messages = [{"role": "system", "content": LONG_SYSTEM}]
    messages += [{"role": "user", "content": t} for t in turns]
    return {"model": "m", "messages": messages}


def test_prompt_cache_reports_the_shared_prefix(sim: Sim) -> None:
    first = sim.post("cached", conversation("first question")).json()["usage"]
    assert first["prompt_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 0}
    second = sim.post("cached", conversation("another question")).json()["usage"]
    cached = second["prompt_tokens_details"]["cached_tokens"]
    assert cached == tokens_of(LONG_SYSTEM)
    assert second["prompt_tokens"] == tokens_of(LONG_SYSTEM) + tokens_of("another question")
    assert sim.log("cached")[-1]["cached_tokens"] == cached


def test_prompt_cache_excluding_convention(sim: Sim) -> None:
    sim.post("cached-excl", conversation("first question"))
    usage = sim.post("cached-excl", conversation("another question")).json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == tokens_of(LONG_SYSTEM)
    assert usage["prompt_tokens"] == tokens_of("another question")
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_prompt_cache_needs_min_tokens_and_is_per_endpoint(sim: Sim) -> None:
    short = {"model": "m", "messages": [{"role": "system", "content": "hi"}, *chat()["messages"]]}
    sim.post("cached", short)
    assert sim.post("cached", short).json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    sim.post("cached", conversation("q"))
    usage = sim.post("cached-excl", conversation("q")).json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0


def test_failed_requests_do_not_fill_the_cache(sim: Sim) -> None:
    sim.script("cached", "http_500", "reset")
    assert sim.post("cached", conversation("a")).status_code == 500
    with pytest.raises(httpx.TransportError):
        sim.post("cached", conversation("b"))
    usage = sim.post("cached", conversation("c")).json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    usage = sim.post("cached", conversation("d")).json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] > 0


def test_prompt_cache_grows_with_the_conversation(sim: Sim) -> None:
    sim.post("cached", conversation("a"))
    body = conversation("a")
    body["messages"] += [{"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    usage = sim.post("cached", body).json()["usage"]
    expected = tokens_of(LONG_SYSTEM) + tokens_of("a")
    assert usage["prompt_tokens_details"]["cached_tokens"] == expected


def test_cache_cleared_by_reset(sim: Sim) -> None:
    sim.post("cached", conversation("a"))
    sim.control("POST", "/reset")
    usage = sim.post("cached", conversation("b")).json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0


def test_fault_rates_are_seeded_and_repeat_after_reset(sim: Sim) -> None:
    first = statuses(sim, "flaky", 40)
    assert set(first) == {200, 429, 500}, "30% 500s and 20% 429s in 40 draws"
    sim.control("POST", "/reset")
    assert statuses(sim, "flaky", 40) == first


def test_outcome_sequence_depends_on_fleet_seed_only() -> None:
    profile = SimProfile(
        name="x", context_length=1000, max_output=100, fault_rates={"http_500": 0.5}
    )
    req = parse_chat(chat(), 765, False)

    def sequence(seed: int, time_scale: float) -> list[str]:
        state = SimState(SimFleet(endpoints=(profile,), seed=seed, time_scale=time_scale))
        ep = state.endpoints["x"]
        out: list[str] = []
        for _ in range(64):
            ep.sample_timing(state.time_scale)  # timing draws must not disturb outcome draws
            out.append(ep.decide(req, 0.0)[0])
        return out

    assert sequence(1, 1.0) == sequence(1, 0.0)
    assert sequence(1, 1.0) != sequence(2, 1.0)


def test_unknown_endpoint_and_routes(sim: Sim) -> None:
    resp = sim.post("nobody", chat())
    assert resp.status_code == 404
    assert "nobody" in resp.json()["error"]["message"]
    assert sim.http.get("/plain/v1/audio/speech").status_code == 404
    assert sim.http.get("/plain/v1/embeddings").status_code == 405
    assert sim.http.get("/plain/v1/chat/completions").status_code == 405
    assert sim.control("GET", "/nothing").status_code == 404
    assert sim.control("DELETE", "/endpoints/plain").status_code == 405
    assert sim.control("GET", "/endpoints/nobody/requests").status_code == 404


def test_fleet_time_scale(sim: Sim) -> None:
    assert sim.control("GET", "/fleet").json() == {"time_scale": 0.0}
    assert sim.control("PATCH", "/fleet", {"time_scale": -1}).status_code == 400
    assert sim.control("PATCH", "/fleet", {"time_scale": 2}).json() == {"time_scale": 2.0}
    sim.control("POST", "/reset")
    assert sim.control("GET", "/fleet").json() == {"time_scale": 0.0}
