"""Every fault the simulator can inject, through the real router, seen by the official SDK.

The primary endpoint (alpha, cheapest, so first under `:floor`) is scripted to fail once; the
caller must get either the complete answer from a fallback or a clear error, never a truncated
answer marked as success. The simulator's request log says what each provider actually saw.
"""

from __future__ import annotations

import json

import openai
import pytest

from tests.integration.conftest import MODEL
from tests.support import Router, Sim, wait_for

FLOOR = f"{MODEL}:floor"
MESSAGES = [{"role": "user", "content": "tell me something"}]
ANSWER_TOKENS = 16


def client(router: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key="any-key", max_retries=0, timeout=30)


def complete(router: Router, **kw):
    return client(router).chat.completions.create(model=FLOOR, messages=MESSAGES, **kw)


def stream_all(router: Router, **kw):
    chunks = list(client(router).chat.completions.create(
        model=FLOOR, messages=MESSAGES, stream=True, **kw))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return chunks, text


# Faults before any byte of the answer: the caller must not notice.
PRE_COMMIT = [
    "http_429", "http_429_retry_after", "http_500", "http_502", "http_503", "http_401",
    "http_402", "http_404", "http_408", "reset", "no_answer", "empty_200",
]


@pytest.mark.parametrize("fault", PRE_COMMIT)
def test_pre_answer_fault_fails_over_invisibly_non_streaming(router: Router, sim: Sim, fault):
    sim.script("alpha", fault)
    response = complete(router)
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.completion_tokens == ANSWER_TOKENS
    assert response.provider == "Bravo"  # type: ignore[attr-defined]
    assert response.model == MODEL
    assert [r["outcome"] for r in sim.requests("alpha")] == [fault]
    assert sim.hits("bravo") == 1 and sim.hits("charlie") == 0


@pytest.mark.parametrize("fault", [*PRE_COMMIT, "slow_first_token"])
def test_pre_answer_fault_fails_over_invisibly_streaming(router: Router, sim: Sim, fault):
    sim.script("alpha", fault)
    chunks, text = stream_all(router)
    assert len(text.split()) == ANSWER_TOKENS
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == ANSWER_TOKENS
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert {c.provider for c in chunks} == {"Bravo"}  # type: ignore[attr-defined]
    assert sim.hits("alpha") == 1 and sim.hits("bravo") == 1


@pytest.mark.parametrize("fault", ["stream_cut", "stream_stall", "malformed_sse"])
def test_mid_stream_fault_ends_with_in_band_error_never_done(router: Router, sim: Sim, fault):
    sim.script("alpha", fault)
    lines = [line for line in router.raw_stream({"model": FLOOR, "messages": MESSAGES})
             if line.startswith(b"data: ")]
    assert lines, "the stream sent nothing"
    assert b"[DONE]" not in lines[-1]
    last = json.loads(lines[-1][6:])
    assert last["choices"][0]["finish_reason"] == "error"
    assert last["error"]["code"] == 502 and last["error"]["metadata"]["provider_name"] == "Alpha"
    content = [json.loads(x[6:]) for x in lines[:-1]]
    assert any(c["choices"][0]["delta"].get("content") for c in content)
    # Committed to alpha: no failover after the first token.
    assert sim.hits("bravo") == 0

    # The SDK turns the in-band error into an exception. Alpha now cools down, so bravo serves.
    sim.script("bravo", fault)
    with pytest.raises(openai.APIError):
        for _ in client(router).chat.completions.create(model=FLOOR, messages=MESSAGES,
                                                        stream=True):
            pass


@pytest.mark.parametrize("fault", ["stream_cut", "stream_stall", "malformed_sse",
                                   "slow_first_token"])
def test_non_streaming_body_faults_fail_over(router: Router, sim: Sim, fault):
    sim.script("alpha", fault)
    response = complete(router)
    assert response.usage.completion_tokens == ANSWER_TOKENS
    assert response.provider == "Bravo"  # type: ignore[attr-defined]


def test_missing_done_still_completes_with_usage(router: Router, sim: Sim):
    sim.script("alpha", "no_done")
    lines = [line for line in router.raw_stream({"model": FLOOR, "messages": MESSAGES})
             if line.startswith(b"data: ")]
    assert lines[-1] == b"data: [DONE]\n"
    usage = json.loads(lines[-2][6:])["usage"]
    assert usage["completion_tokens"] == ANSWER_TOKENS
    assert sim.hits("bravo") == 0


@pytest.mark.parametrize("stream", [False, True])
def test_caller_errors_are_not_retried_and_carry_the_reason(router: Router, sim: Sim, stream):
    sim.script("alpha", "content_filter")
    with pytest.raises(openai.BadRequestError) as info:
        complete(router, stream=stream) if not stream else stream_all(router)
    assert "content filtering" in str(info.value)
    assert info.value.body["metadata"]["reason"] == "content_filter"  # type: ignore[index]
    sim.script("alpha", "http_400")
    with pytest.raises(openai.BadRequestError):
        complete(router)
    assert sim.hits("bravo") == 0 and sim.hits("charlie") == 0


def test_context_length_moves_only_to_a_larger_context(router: Router, sim: Sim):
    sim.script("alpha", "context_length")
    response = complete(router)
    assert response.provider == "Charlie"  # type: ignore[attr-defined]
    assert sim.hits("alpha") == 1 and sim.hits("bravo") == 0 and sim.hits("charlie") == 1


def test_payload_too_large_upstream_is_the_callers(router: Router, sim: Sim):
    sim.script("alpha", "http_413")
    with pytest.raises(openai.APIStatusError) as info:
        complete(router)
    assert info.value.status_code == 413
    assert sim.hits("bravo") == 0


def test_failing_endpoint_is_not_hammered(router: Router, sim: Sim):
    sim.patch("alpha", fault_rates={"http_503": 1.0})
    for _ in range(12):
        assert complete(router).provider == "Bravo"  # type: ignore[attr-defined]
    # A 60 s cooldown after the first failure: alpha saw exactly one request.
    assert sim.hits("alpha") == 1
    assert sim.hits("bravo") == 12


def test_everything_down_is_a_clear_502_and_the_router_recovers(router: Router, sim: Sim):
    for name in ("alpha", "bravo", "charlie"):
        sim.script(name, "http_503")
    status, body, _ = router.post("/chat/completions", {"model": FLOOR, "messages": MESSAGES})
    assert status == 502
    assert body["error"]["code"] == 502
    assert [a["reason"] for a in body["error"]["metadata"]["attempts"]] == ["server_error"] * 3
    # Every endpoint is now cooling down: a fast, honest 503 with Retry-After, no upstream hit.
    status, body, headers = router.post("/chat/completions", {"model": FLOOR,
                                                              "messages": MESSAGES})
    assert status == 503 and int(headers["retry-after"]) >= 1
    assert sim.hits("alpha") == 1


def test_all_rate_limited_returns_429_with_retry_after(make_router, sim: Sim):
    router = make_router()
    for name in ("alpha", "bravo", "charlie"):
        sim.patch(name, retry_after_s=7)
        sim.script(name, "http_429_retry_after")
    status, body, headers = router.post("/chat/completions", {"model": FLOOR,
                                                              "messages": MESSAGES})
    assert status == 429 and headers["retry-after"] == "7"
    assert body["error"]["type"] == "rate_limit_error"


def test_short_retry_after_on_the_last_endpoint_is_waited_out(router: Router, sim: Sim):
    sim.patch("alpha", retry_after_s=0.2)
    sim.script("alpha", "http_429_retry_after")
    body = {"model": MODEL, "messages": MESSAGES,
            "provider": {"order": ["alpha"], "allow_fallbacks": False}}
    status, answer, _ = router.post("/chat/completions", body)
    assert status == 200 and answer["provider"] == "Alpha"
    outcomes = [r["outcome"] for r in sim.requests("alpha")]
    assert outcomes == ["http_429_retry_after", "ok"]
    gap = sim.requests("alpha")[1]["t"] - sim.requests("alpha")[0]["t"]
    assert gap >= 0.2  # Retry-After honoured: never asked again before it expired


def test_keepalives_while_the_only_endpoint_is_slow(router: Router, sim: Sim):
    sim.patch("alpha", slow_first_token_s=1.2)
    sim.script("alpha", "slow_first_token")
    body = {"model": MODEL, "messages": MESSAGES,
            "provider": {"order": ["alpha"], "allow_fallbacks": False}}
    lines = list(router.raw_stream(body))
    assert b": CROSSROADS PROCESSING\n" in lines
    data = [x for x in lines if x.startswith(b"data: ")]
    assert data[-1] == b"data: [DONE]\n"
    assert lines.index(b": CROSSROADS PROCESSING\n") < lines.index(data[0])


def test_all_fail_after_keepalives_ends_in_band(router: Router, sim: Sim):
    sim.patch("alpha", slow_first_token_s=0.6)
    sim.script("alpha", "stream_stall")
    sim.patch("alpha", ttft_ms=600)  # keep-alives start before the stall
    body = {"model": MODEL, "messages": MESSAGES,
            "provider": {"order": ["alpha"], "allow_fallbacks": False}}
    lines = list(router.raw_stream(body))
    data = [x for x in lines if x.startswith(b"data: ")]
    last = json.loads(data[-1][6:])
    assert last["choices"][0]["finish_reason"] == "error"
    assert b"[DONE]" not in b"".join(data)


def test_client_disconnect_cancels_upstream_at_once(router: Router, sim: Sim):
    sim.patch("alpha", completion_tokens=400, tokens_per_s=40, tps_sigma=0)
    stream = client(router).chat.completions.create(model=FLOOR, messages=MESSAGES, stream=True)
    seen = 0
    generation_id = ""
    for chunk in stream:
        generation_id = chunk.id
        if chunk.choices and chunk.choices[0].delta.content:
            seen += 1
        if seen == 3:
            break
    assert sim.active("alpha") == 1
    stream.close()
    # 400 tokens at 40/s would take 10 s; the upstream request must end long before that.
    assert wait_for(lambda: sim.active("alpha") == 0, timeout_s=3)
    assert complete(router).choices[0].finish_reason == "stop"
    # What was generated before the caller left is billed, marked as an estimate.
    status, record, _ = router.get(f"/generation?id={generation_id}")
    assert status == 200, record
    data = record["data"]
    assert data["cancelled"] is True and data["streamed"] is True
    assert data["crossroads"]["usage_estimated"] is True
    assert 3 <= data["native_tokens_completion"] < 400
    assert data["total_cost"] > 0 and data["provider_name"] == "Alpha"


def test_upstream_auth_failure_fails_over_and_never_leaks_the_key(router: Router, sim: Sim):
    sim.patch("alpha", api_key="the-key-alpha-expects")
    assert complete(router).provider == "Bravo"  # type: ignore[attr-defined]
    assert sim.requests("alpha")[0]["outcome"] == "http_401"
    for name in ("bravo", "charlie"):
        sim.patch(name, api_key="another-key")
    status, body, _ = router.post("/chat/completions", {"model": FLOOR, "messages": MESSAGES})
    assert status == 502
    assert "sim-secret-key" not in json.dumps(body)
    router.stop()
    assert "sim-secret-key" not in router.log.read_text()


def test_non_streamed_answers_do_not_fake_throughput(router: Router, sim: Sim):
    # Bravo streams slowly; many quick non-streamed answers from it must not make Nitro think
    # it is fast (a whole body has no time-to-first-token to divide by).
    sim.patch("bravo", tokens_per_s=100, tps_sigma=0)
    sim.patch("alpha", tokens_per_s=2000, tps_sigma=0)
    body = {"model": MODEL, "messages": MESSAGES, "provider": {"order": ["bravo"]}}
    for _ in range(5):
        assert router.post("/chat/completions", body)[0] == 200
    for fastest_first in (["alpha"], ["bravo"]):
        stream_all(router, extra_body={"provider": {"order": fastest_first}})
    nitro = client(router).chat.completions.create(
        model=f"{MODEL}:nitro", messages=MESSAGES, stream=True)
    assert next(iter(nitro)).provider == "Alpha"  # type: ignore[attr-defined]
