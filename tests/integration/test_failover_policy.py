"""Same model first, adaptive first-token deadlines, hedging and never-resent requests, through
the real router, seen by the official OpenAI SDK, with the simulator's request log as the
provider-side truth (issue 16, items 2, 3 and 6)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support import Keys, Router, Sim, start_router, wait_for

from .conftest import MODEL, router_config

SOLO = "test/solo"  # one endpoint (alpha)
OTHER = "test/other"  # one endpoint (charlie): the `models` fallback
FLOOR = f"{MODEL}:floor"  # alpha, then bravo, then charlie
MESSAGES = [{"role": "user", "content": "tell me something"}]
PRICE = {"alpha": 0.1, "bravo": 0.2, "charlie": 0.4}  # conftest's $/1M, prompt = completion

TWO_MODELS = "".join(f"""
[[models]]
slug = "{slug}"
name = "{slug}"
context_length = 8192

[[endpoints]]
model = "{slug}"
provider = "{provider}"
upstream_model = "{slug.split('/')[1]}-{provider}"
context_length = 8192
max_output = 4096
price = {{ prompt = {PRICE[provider]}, completion = {PRICE[provider]} }}
""" for slug, provider in ((SOLO, "alpha"), (OTHER, "charlie")))

# Alpha's first token normally takes 300 ms: with k = 3 its budget is about 0.9 s.
ADAPTIVE = """
[failover]
ttft_multiple = 3.0
ttft_floor_s = 0.2
ttft_min_samples = 5
"""
PATIENT = {"first_token_s": 30, "headers_s": 30, "total_s": 60}


def sdk(router: Router, key: str = "any-key") -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key=key, max_retries=0, timeout=60)


def record(router: Router, generation_id: str) -> dict[str, Any]:
    status, body, _ = router.get(f"/generation?id={generation_id}")
    assert status == 200, body
    return dict(body["data"])


def attempts(data: dict[str, Any]) -> list[tuple[str, int | None, str | None, bool]]:
    return [(a["provider_name"], a["status"], a["crossroads"]["failure"],
             a["crossroads"]["served"]) for a in data["provider_responses"]]


def with_fallback(router: Router) -> Any:
    return sdk(router).chat.completions.create(
        model=SOLO, messages=MESSAGES, extra_body={"models": [SOLO, OTHER]})


def outcomes(sim: Sim, name: str) -> list[str]:
    return [r["outcome"] for r in sim.requests(name)]


# --- same model first -------------------------------------------------------------------------


def test_a_one_second_retry_after_keeps_the_requested_model(make_router, sim: Sim):
    router = make_router(extra=TWO_MODELS, timeouts={"retry_after_max_wait_s": 2})
    sim.patch("alpha", retry_after_s=1)
    sim.script("alpha", "http_429_retry_after")
    response = with_fallback(router)
    assert response.model == SOLO and response.provider == "Alpha"  # type: ignore[attr-defined]
    assert outcomes(sim, "alpha") == ["http_429_retry_after", "ok"]
    assert sim.hits("charlie") == 0
    assert attempts(record(router, response.id)) == [
        ("Alpha", 429, "rate_limited", False), ("Alpha", 200, None, True)]
    gap = sim.requests("alpha")[1]["t"] - sim.requests("alpha")[0]["t"]
    assert gap >= 1.0  # the Retry-After was honoured, not cut short


def test_a_single_500_is_retried_on_the_same_endpoint_before_another_model(make_router,
                                                                            sim: Sim):
    router = make_router(extra=TWO_MODELS, cooldowns=(0.3, 1))
    sim.script("alpha", "http_500")
    response = with_fallback(router)
    assert response.model == SOLO and response.provider == "Alpha"  # type: ignore[attr-defined]
    assert outcomes(sim, "alpha") == ["http_500", "ok"]
    assert attempts(record(router, response.id)) == [
        ("Alpha", 500, "server_error", False), ("Alpha", 200, None, True)]


def test_only_one_same_endpoint_retry_then_the_next_model(make_router, sim: Sim):
    router = make_router(extra=TWO_MODELS, cooldowns=(0.3, 1))
    sim.script("alpha", "http_500", "http_500")
    response = with_fallback(router)
    assert response.model == OTHER and response.provider == "Charlie"  # type: ignore[attr-defined]
    assert outcomes(sim, "alpha") == ["http_500", "http_500"]
    assert [a[:3] for a in attempts(record(router, response.id))] == [
        ("Alpha", 500, "server_error"), ("Alpha", 500, "server_error"), ("Charlie", 200, None)]


def test_no_retry_when_the_breaker_cools_longer_than_the_bound(make_router, sim: Sim):
    router = make_router(extra=TWO_MODELS)  # conftest breaker: 60 s, over the 2 s bound
    sim.script("alpha", "http_500")
    response = with_fallback(router)
    assert response.model == OTHER
    assert outcomes(sim, "alpha") == ["http_500"]


def test_another_endpoint_of_the_same_model_comes_before_a_retry(make_router, sim: Sim):
    router = make_router(cooldowns=(0.3, 1))
    sim.script("alpha", "http_500")
    response = sdk(router).chat.completions.create(model=FLOOR, messages=MESSAGES)
    assert response.provider == "Bravo"  # type: ignore[attr-defined]
    assert outcomes(sim, "alpha") == ["http_500"]


def test_retry_is_off_when_configured_off(make_router, sim: Sim):
    router = make_router(extra=TWO_MODELS + "\n[failover]\nsame_endpoint_retry = false\n",
                         cooldowns=(0.3, 1))
    sim.script("alpha", "http_500")
    assert with_fallback(router).model == OTHER
    assert outcomes(sim, "alpha") == ["http_500"]


# --- adaptive first-token deadline and hedging ------------------------------------------------


def warm_alpha(router: Router, sim: Sim, key: str = "any-key", requests: int = 10) -> int:
    """Ten streamed answers pinned to alpha, whose first token takes 300 ms: enough samples,
    over more than the stats snapshot's second, for routing to know its TTFT. Returns what
    they cost, in micro-dollars."""
    sim.patch("alpha", ttft_ms=300, ttft_sigma=0)
    client = sdk(router, key)
    cost = 0
    for _ in range(requests):
        chunks = list(client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True,
            extra_body={"provider": {"order": ["alpha"], "allow_fallbacks": False}}))
        usage = chunks[-1].usage
        assert usage is not None
        cost += usage.model_dump()["crossroads"]["cost_micro_usd"]
    return cost


def stream_floor(router: Router) -> tuple[str, str]:
    chunks = list(sdk(router).chat.completions.create(model=FLOOR, messages=MESSAGES,
                                                      stream=True))
    providers = {c.provider for c in chunks}  # type: ignore[attr-defined]
    assert len(providers) == 1, providers
    return chunks[0].id, providers.pop()


def test_a_stalled_first_token_is_abandoned_by_the_endpoints_own_measure(make_router,
                                                                         sim: Sim):
    router = make_router(extra=ADAPTIVE, timeouts=PATIENT)
    warm_alpha(router, sim)
    p99_s = alpha_ttft_p99_s(router)
    assert 0.3 <= p99_s < 3.0  # measured, and far below first_token_s
    sim.script("alpha", "slow_first_token")  # headers on time, then 30 s of silence
    generation_id, provider = stream_floor(router)
    assert provider == "Bravo"
    first = record(router, generation_id)["provider_responses"][0]
    assert first["provider_name"] == "Alpha"
    assert first["crossroads"]["failure"] == "first_token_timeout"
    waited_s = first["latency"] / 1000
    # The configured bound, 3 × its TTFT p99 (histogram bins: ±2.5 %), plus scheduling slack,
    # where the constant first_token_s would have waited 30 s.
    assert 3 * p99_s * 0.95 <= waited_s <= 3 * p99_s * 1.05 + 0.3


def alpha_ttft_p99_s(router: Router) -> float:
    status, body, _ = router.get(f"/models/{MODEL}/endpoints")
    assert status == 200, body
    rows = {row["tag"]: row for row in body["data"]["endpoints"]}
    return float(rows["alpha"]["latency_last_30m"]["p99"]) / 1000


def hedged(extra: str = "") -> str:
    return ADAPTIVE + "hedge = true\n" + extra


@pytest.fixture
def hedging_router(make_router: Callable[..., Router], sim: Sim) -> Router:
    router = make_router(extra=hedged(), timeouts=PATIENT)
    warm_alpha(router, sim)
    return router


@pytest.fixture
def keyed_hedging_router(tmp_path: Path, fresh_sim: Sim) -> Iterator[Router]:
    router = start_router(router_config(fresh_sim, hedged(), timeouts=PATIENT), tmp_path,
                          "--auth", "keys", env={"SIM_KEY": "sim-secret-key"})
    yield router
    router.stop()


def test_a_hedged_stream_bills_only_the_winner(keyed_hedging_router: Router, sim: Sim):
    router = keyed_hedging_router
    key, _ = Keys(router).create("--name", "hedged")
    warm_cost = warm_alpha(router, sim, key)
    sim.patch("alpha", slow_first_token_s=3)
    sim.script("alpha", "slow_first_token")
    chunks = list(sdk(router, key).chat.completions.create(
        model=FLOOR, messages=MESSAGES, stream=True))
    assert {c.provider for c in chunks} == {"Bravo"}  # type: ignore[attr-defined]
    usage = chunks[-1].usage
    assert usage is not None
    status, body, _ = router.get(f"/generation?id={chunks[0].id}", key)
    assert status == 200, body
    data = body["data"]
    assert attempts(data) == [("Alpha", 200, "hedged_loser", False),
                              ("Bravo", 200, None, True)]
    loser = data["provider_responses"][0]["crossroads"]["message"]
    assert "hedge race to bravo" in loser and "router's, not the caller's" in loser
    # Billed for Bravo's tokens at Bravo's price only: in the answer, the record, the key.
    tokens = usage.prompt_tokens + usage.completion_tokens
    expected = (tokens * round(PRICE["bravo"] * 1_000_000) + 500_000) // 1_000_000
    assert data["crossroads"]["cost_micro_usd"] == expected
    assert usage.model_dump()["crossroads"]["cost_micro_usd"] == expected
    status, body, _ = router.get("/key", key)
    assert status == 200, body
    assert body["data"]["crossroads"]["usage_micro_usd"] == warm_cost + expected
    # Alpha's connection was closed at once, long before its first token was due.
    assert wait_for(lambda: sim.active("alpha") == 0, 2.0)
    assert sim.hits("bravo") == 1


def test_a_late_first_attempt_that_answers_first_wins_the_race(hedging_router: Router,
                                                                sim: Sim):
    sim.patch("alpha", slow_first_token_s=2.0)  # well after the hedge point (~0.9 s)
    sim.script("alpha", "slow_first_token")
    sim.patch("bravo", ttft_ms=5000, ttft_sigma=0)
    generation_id, provider = stream_floor(hedging_router)
    assert provider == "Alpha"
    assert attempts(record(hedging_router, generation_id)) == [
        ("Alpha", 200, None, True), ("Bravo", None, "hedged_loser", False)]
    assert wait_for(lambda: sim.active("bravo") == 0, 2.0)


# --- resend only what was never delivered -----------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_a_request_dropped_after_delivery_is_never_resent(router: Router, sim: Sim,
                                                          stream: bool):
    client = sdk(router)
    pinned_first = {"provider": {"order": ["alpha", "bravo"]}}
    # A first answer leaves a keep-alive connection to alpha in the router's pool.
    assert client.chat.completions.create(model=MODEL, messages=MESSAGES,
                                          extra_body=pinned_first).provider == "Alpha"  # type: ignore[attr-defined]
    sim.script("alpha", "reset")  # reads the request, then drops the connection unanswered
    if stream:
        chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES,
                                                     stream=True, extra_body=pinned_first))
        served = {c.provider for c in chunks}  # type: ignore[attr-defined]
    else:
        served = {client.chat.completions.create(model=MODEL, messages=MESSAGES,
                                                 extra_body=pinned_first).provider}  # type: ignore[attr-defined]
    assert served == {"Bravo"}
    # The provider saw the dropped request once: the router never sent it a second time.
    assert outcomes(sim, "alpha") == ["ok", "reset"]
