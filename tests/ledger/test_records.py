"""record_of and the GET /generation payload: pure values in, values out."""

from __future__ import annotations

import msgspec

from crossroads.generation import Attempt, Generation
from crossroads.ledger import generation_payload, record_of
from crossroads.ledger.records import MESSAGE_LIMIT
from crossroads.schema.generation import AttemptExtras, GenerationData, GenerationExtras

from .builders import T0, endpoint, generation, unserved

OFFSET = 1_000_000.0  # wall = monotonic + OFFSET


def test_served_record_times_and_money() -> None:
    g = generation("acme/small", "beta/fp8", prompt=1000, completion=500, cached=200,
                   failed_first=True, start=100.0)
    r = record_of(g, OFFSET)
    assert (r.id, r.created, r.model_requested) == (g.id, T0, "acme/small")
    assert (r.model, r.endpoint_tag, r.provider_name) == ("acme/small", "beta/fp8", "Beta")
    assert r.started_at_ms == round((100.0 + OFFSET) * 1000)
    # Failed attempt 0.25 s, then the served one: first token 0.1 s in, done 1.1 s in.
    assert r.latency_ms == 1350
    assert r.ttft_ms == 350
    assert r.generation_time_ms == 1000
    assert r.cost_micro == g.cost_micro > 0
    assert r.discount_micro == g.discount_micro > 0
    assert r.usage.cached_tokens == 200
    first, second = r.attempts
    assert (first.endpoint_tag, first.status, first.failure) == ("broken", 503, "server_error")
    assert (first.started_ms, first.ended_ms, first.ttft_ms, first.served) == (0, 250, None,
                                                                               False)
    assert (second.started_ms, second.ended_ms, second.ttft_ms, second.served) == (250, 1350,
                                                                                   100, True)
    assert not r.is_error and r.app == "https://app.one"


def test_non_streamed_has_no_generation_time() -> None:
    r = record_of(generation(streamed=False), OFFSET)
    assert r.generation_time_ms is None and r.ttft_ms is None and r.latency_ms == 1100


def test_unserved_record_is_an_error_and_free() -> None:
    r = record_of(unserved(attempts=3), OFFSET)
    assert r.model is None and r.endpoint_tag is None and r.provider_name is None
    assert r.is_error and r.cost_micro == 0 and r.usage.completion_tokens == 0
    assert len(r.attempts) == 3 and not any(a.served for a in r.attempts)
    assert all(a.message is not None and len(a.message) == MESSAGE_LIMIT for a in r.attempts)
    assert r.latency_ms == 2500  # 10.0 → 12.5


def test_no_attempt_falls_back_to_created() -> None:
    g = Generation("acme/none", False)
    r = record_of(g, OFFSET)
    assert r.started_at_ms == g.created * 1000 and r.latency_ms == 0 and r.attempts == ()


def test_stream_cut_after_content_names_the_provider_and_is_an_error() -> None:
    g = Generation("acme/small", True)
    a = Attempt(endpoint("acme/small", "alpha"), 5.0)
    a.first_token_at, a.ended = 5.2, 6.0
    g.attempts.append(a)
    g.finish_reason = "error"
    r = record_of(g, OFFSET)
    assert r.endpoint_tag == "alpha" and r.is_error and r.cost_micro == 0
    assert r.generation_time_ms == 800 and r.attempts[0].served


def test_cancelled_is_not_an_error() -> None:
    g = generation()
    g.cancelled = True
    assert not record_of(g, OFFSET).is_error
    u = unserved()
    u.cancelled = True
    assert not record_of(u, OFFSET).is_error


def test_generation_payload_has_openrouter_fields() -> None:
    g = generation(prompt=1000, completion=500, cached=200, failed_first=True, title="One")
    r = record_of(g, OFFSET)
    p = generation_payload(r)
    # Every field OpenRouter's schema requires, with its type: the payload round-trips through
    # the typed response model.
    assert msgspec.convert(msgspec.to_builtins(p), GenerationData) == p
    assert p.id == g.id
    assert p.total_cost == g.cost_micro / 1e6 == p.usage
    assert p.cache_discount == g.discount_micro / 1e6
    assert p.created_at.endswith("Z") and p.created_at[:4].isdigit()
    assert (p.model, p.provider_name) == ("acme/small", "Alpha")
    assert (p.origin, p.http_referer) == ("https://app.one", "https://app.one")
    assert (p.streamed, p.cancelled, p.finish_reason) == (True, False, "stop")
    assert (p.native_tokens_prompt, p.native_tokens_completion) == (1000, 500)
    assert (p.native_tokens_cached, p.native_tokens_reasoning) == (200, 0)
    assert (p.tokens_prompt, p.tokens_completion) == (1000, 500)
    assert (p.latency, p.generation_time) == (1350, 1000)
    assert (p.upstream_inference_cost, p.is_byok, p.data_region) == (None, False, "global")
    extras = p.crossroads
    assert isinstance(extras, GenerationExtras)
    assert (extras.app_title, extras.cost_micro_usd) == ("One", g.cost_micro)
    responses = p.provider_responses
    assert responses is not None
    assert [x.status for x in responses] == [503, 200]
    assert [x.latency for x in responses] == [250, 1100]
    attempts = [x.crossroads for x in responses]
    assert all(isinstance(a, AttemptExtras) for a in attempts)
    assert [(a.endpoint, a.failure, a.served) for a in attempts  # type: ignore[union-attr]
            ] == [("broken", "server_error", False), ("alpha", None, True)]


def test_unserved_payload_reports_requested_model() -> None:
    p = generation_payload(record_of(unserved(), OFFSET))
    assert p.model == "acme/small" and p.provider_name is None and p.total_cost == 0
    assert p.tokens_prompt is None and p.native_tokens_completion is None
    assert p.provider_responses is not None and len(p.provider_responses) == 2
