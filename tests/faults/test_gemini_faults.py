"""Faults behind the Gemini dialect, as the ledger records them: each failed attempt at a
Gemini endpoint is listed with Google's status, only the endpoint that served is billed, a
429's RetryInfo is honoured when nothing else is left, and a Vertex token refused upstream
fails over rather than failing the request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.gemini_support import GEMINI, catalog, client, service_account
from tests.integration.messages_support import generation
from tests.support import Router, Sim, wait_for

GEMINI_FIRST = {"provider": {"order": ["gemini", "bravo"], "ignore": ["vertex"]}}
ONLY_GEMINI_API = {"provider": {"only": ["gemini"]}}


@pytest.fixture
def gemini(make_router: Callable[..., Router], sim: Sim, tmp_path: Path) -> Router:
    sim.reset()
    sim.patch("alpha", api_key="sim-secret-key", completion_tokens=12)
    return make_router(catalog(sim, service_account(sim, tmp_path)))


def _attempts(record: dict[str, Any]) -> list[tuple[str, int, bool]]:
    return [(a["provider_name"], a["status"], a["crossroads"]["served"])
            for a in record["provider_responses"]]


@pytest.mark.parametrize(("fault", "status"), [
    ("http_503", 503), ("http_500", 500), ("http_429", 429), ("http_402", 400),
    ("http_408", 504), ("http_401", 400)])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_each_failed_attempt_is_recorded_with_googles_status_and_only_the_server_is_billed(
        gemini: Router, sim: Sim, fault: str, status: int, stream: bool) -> None:
    if fault == "http_401":
        sim.patch("alpha", api_key="a-key-the-router-does-not-have")  # 400 API_KEY_INVALID
    else:
        sim.script("alpha", fault)
    kw: dict[str, Any] = {"model": GEMINI, "max_tokens": 16, "extra_body": GEMINI_FIRST,
                          "messages": [{"role": "user", "content": "tell me something"}]}
    if stream:
        generation_id = list(client(gemini).chat.completions.create(stream=True, **kw))[-1].id
    else:
        generation_id = client(gemini).chat.completions.create(**kw).id
    record = generation(gemini, generation_id)
    assert _attempts(record) == [("Gemini", status, False), ("Bravo", 200, True)]
    # Bravo's price (3 / 9 $ per 1M) on what Bravo answered; nothing for Gemini's refusal.
    prompt, completion = record["native_tokens_prompt"], record["native_tokens_completion"]
    assert record["total_cost"] == pytest.approx(
        ((prompt * 3_000_000 + completion * 9_000_000 + 500_000) // 1_000_000) / 1e6)


def test_a_429_with_retry_info_is_waited_out_when_nothing_else_is_left(
        gemini: Router, sim: Sim) -> None:
    # RetryInfo says 0.3 s (under the router's 0.5 s limit): the same endpoint is asked again.
    sim.patch("alpha", retry_after_s=0.3)
    sim.script("alpha", "http_429_retry_after")
    reply = client(gemini).chat.completions.create(
        model=GEMINI, max_tokens=16, extra_body=ONLY_GEMINI_API,
        messages=[{"role": "user", "content": "tell me something"}])
    assert reply.choices[0].message.content
    assert [r["outcome"] for r in sim.requests("alpha")] == ["http_429_retry_after", "ok"]


def test_a_token_vertex_refuses_fails_over_without_failing_the_request(
        make_router: Callable[..., Router], sim: Sim, tmp_path: Path) -> None:
    sim.reset()
    issued = sim.control("GET", "google")["issued"]
    router = make_router(catalog(sim, service_account(sim, tmp_path)))
    # The router mints its token as it starts (its banner may come first): wait for it, then
    # revoke it behind the router's back, so Vertex answers 401 UNAUTHENTICATED.
    assert wait_for(lambda: sim.control("GET", "google")["issued"] > issued)
    before = sim.control("POST", "google/revoke")["rejected"]
    status, body, _ = router.post("/chat/completions", {
        "model": GEMINI, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}],
        "provider": {"order": ["vertex", "bravo"], "ignore": ["gemini"]}},
        headers={"authorization": "Bearer test"})
    assert status == 200 and body["provider"] == "Bravo"
    assert sim.control("GET", "google")["rejected"] == before + 1
    record = generation(router, body["id"])
    assert _attempts(record) == [("Vertex", 401, False), ("Bravo", 200, True)]
