"""The Gemini dialect end to end: the official `openai` SDK → crossroads → the simulator's Gemini
API (`/alpha/gemini/v1beta`, an API key) and Vertex AI (`/charlie/vertex/…`, a Google OAuth
token minted from a service account by the simulated token endpoint), streamed and not, with
tools, images, thinking, JSON schemas, implicit caching billed to the micro-dollar, and faults
that fail over to an OpenAI-dialect endpoint unseen."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.integration.gemini_support import GEMINI, catalog, client, service_account
from tests.support import Router, Sim

ONLY_GEMINI_API = {"provider": {"only": ["gemini"], "allow_fallbacks": False}}
ONLY_VERTEX = {"provider": {"only": ["vertex"], "allow_fallbacks": False}}
GEMINI_FIRST = {"provider": {"order": ["gemini", "bravo"], "ignore": ["vertex"]}}
SYSTEM = "You are a meticulous assistant who answers briefly. " * 12
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city now",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False}}}
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
         "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
TEXT_12 = "the quick brown fox jumps over a lazy dog while seven bright "


@pytest.fixture
def gemini(make_router: Callable[..., Router], fresh_sim: Sim, tmp_path: Path) -> Router:
    # alpha's key is the one the router sends as x-goog-api-key (conftest's SIM_KEY).
    fresh_sim.patch("alpha", api_key="sim-secret-key", cache=True, cache_min_tokens=16,
                    completion_tokens=12)
    fresh_sim.patch("charlie", completion_tokens=12)
    return make_router(catalog(fresh_sim, service_account(fresh_sim, tmp_path)))


def last(sim: Sim, name: str) -> dict[str, Any]:
    return dict(sim.requests(name)[-1])


def test_a_plain_answer_goes_out_in_gemini_shape_and_comes_back_in_ours(
        gemini: Router, fresh_sim: Sim) -> None:
    reply = client(gemini).chat.completions.create(
        model=GEMINI, max_tokens=100, temperature=0.5, stop=["zebra"],
        extra_body=ONLY_GEMINI_API,
        messages=[{"role": "system", "content": "Be terse."},
                  {"role": "user", "content": "Say hello."}])
    assert reply.choices[0].message.content == TEXT_12
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].model_extra is not None
    assert reply.choices[0].model_extra["native_finish_reason"] == "STOP"
    assert reply.model_extra is not None and reply.model_extra["provider"] == "Gemini"
    assert reply.usage is not None and reply.usage.completion_tokens == 12
    seen = last(fresh_sim, "alpha")
    assert (seen["model"], seen["stream"]) == ("gemini-test", False)
    assert seen["body"] == {
        "contents": [{"role": "user", "parts": [{"text": "Say hello."}]}],
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "generationConfig": {"maxOutputTokens": 100, "temperature": 0.5,
                             "stopSequences": ["zebra"]}}


def test_a_streamed_answer_from_vertex_arrives_as_chat_chunks_with_usage_last(
        gemini: Router, fresh_sim: Sim) -> None:
    stream = client(gemini).chat.completions.create(
        model=GEMINI, stream=True, extra_body=ONLY_VERTEX,
        messages=[{"role": "user", "content": "Say hello."}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == TEXT_12
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert [c for c in chunks if c.usage is not None] == [chunks[-1]]
    assert {c.model_extra["provider"] for c in chunks if c.model_extra} == {"Vertex"}
    seen = last(fresh_sim, "charlie")
    assert (seen["outcome"], seen["stream"]) == ("ok", True)
    assert fresh_sim.control("GET", "google")["live"] >= 1


@pytest.mark.parametrize(("only", "stream"), [
    (ONLY_GEMINI_API, False), (ONLY_GEMINI_API, True), (ONLY_VERTEX, True)])
def test_tool_calls_round_trip_through_the_gemini_dialect(
        gemini: Router, fresh_sim: Sim, only: dict[str, Any], stream: bool) -> None:
    name = "alpha" if only is ONLY_GEMINI_API else "charlie"
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    api = client(gemini)
    if stream:
        chunks = list(api.chat.completions.create(
            model=GEMINI, messages=messages, tools=[WEATHER], stream=True, extra_body=only))
        pieces = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
        assert {p.index for p in pieces} == {0}
        call_id = next(p.id for p in pieces if p.id)
        arguments = "".join(p.function.arguments or "" for p in pieces if p.function)
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
    else:
        reply = api.chat.completions.create(model=GEMINI, messages=messages, tools=[WEATHER],
                                            extra_body=only)
        assert reply.choices[0].finish_reason == "tool_calls"
        [call] = reply.choices[0].message.tool_calls or []
        call_id, arguments = call.id, call.function.arguments  # type: ignore[union-attr]
    assert json.loads(arguments) == {"city": "Paris"}
    sent = last(fresh_sim, name)["body"]
    # Gemini refuses additionalProperties: the router left it out.
    assert sent["tools"] == [{"functionDeclarations": [{
        "name": "get_weather", "description": "The weather in a city now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}]}]
    messages += [{"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function",
         "function": {"name": "get_weather", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "18 C and sunny"}]
    final = api.chat.completions.create(model=GEMINI, messages=messages, tools=[WEATHER],
                                        tool_choice="auto", extra_body=only)
    assert final.choices[0].finish_reason == "stop" and final.choices[0].message.content
    sent = last(fresh_sim, name)["body"]
    assert sent["contents"][1] == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]}
    assert sent["contents"][2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather",
                              "response": {"content": "18 C and sunny"}}}]}
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}


def test_images_travel_as_inline_data_and_file_data(gemini: Router, fresh_sim: Sim) -> None:
    reply = client(gemini).chat.completions.create(
        model=GEMINI, max_tokens=50, extra_body=ONLY_GEMINI_API, messages=[{"role": "user",
        "content": [{"type": "text", "text": "Compare these."},
                    {"type": "image_url", "image_url": {"url": PIXEL}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}])
    assert reply.choices[0].message.content
    parts = last(fresh_sim, "alpha")["body"]["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": PIXEL.split(",", 1)[1]}}
    assert parts[2] == {"fileData": {"mimeType": "image/png",
                                     "fileUri": "https://example.com/a.png"}}
    assert last(fresh_sim, "alpha")["has_images"] is True


@pytest.mark.parametrize(("outcome", "stream"), [
    ("http_503", False),  # 503 UNAVAILABLE, the model is overloaded
    ("http_503", True),
    ("http_500", True),  # 500 INTERNAL
    ("http_429_retry_after", True),  # 429 RESOURCE_EXHAUSTED with RetryInfo
    ("http_402", False),  # 400 FAILED_PRECONDITION: billing
    ("http_401", False),
    ("reset", True),
    ("empty_200", True),
    ("malformed_sse", False),
])
def test_a_fault_at_the_gemini_endpoint_fails_over_to_an_openai_one(
        gemini: Router, fresh_sim: Sim, outcome: str, stream: bool) -> None:
    fresh_sim.script("alpha", outcome)
    body = {"model": GEMINI, "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 20, "extra_body": GEMINI_FIRST}
    if stream:
        chunks = list(client(gemini).chat.completions.create(**body, stream=True))
        providers = {c.model_extra["provider"] for c in chunks if c.model_extra}
        assert providers == {"Bravo"}
        assert chunks[-1].choices[0].finish_reason == "stop"
    else:
        reply = client(gemini).chat.completions.create(**body)
        assert reply.model_extra is not None and reply.model_extra["provider"] == "Bravo"
        assert reply.choices[0].message.content
    assert [r["outcome"] for r in fresh_sim.requests("alpha")] == [outcome]
    assert fresh_sim.hits("bravo") == 1


@pytest.mark.parametrize("outcome", ["stream_cut", "malformed_sse"])
def test_a_fault_after_content_ends_the_stream_with_an_in_band_error(
        gemini: Router, fresh_sim: Sim, outcome: str) -> None:
    fresh_sim.script("alpha", outcome)
    received = []
    with pytest.raises(openai.APIError, match="failed mid-stream"):
        for chunk in client(gemini).chat.completions.create(
                model=GEMINI, stream=True, extra_body=GEMINI_FIRST,
                messages=[{"role": "user", "content": "Say hello."}]):
            received.append(chunk)
    assert any(c.choices and c.choices[0].delta.content for c in received)
    assert fresh_sim.hits("bravo") == 0  # committed to Gemini: no second answer mixed in


def test_a_wrong_api_key_is_googles_400_and_fails_over(gemini: Router, fresh_sim: Sim) -> None:
    fresh_sim.patch("alpha", api_key="another-key")
    reply = client(gemini).chat.completions.create(
        model=GEMINI, max_tokens=20, messages=[{"role": "user", "content": "Say hello."}],
        extra_body=GEMINI_FIRST)
    assert reply.model_extra is not None and reply.model_extra["provider"] == "Bravo"
    assert [r["outcome"] for r in fresh_sim.requests("alpha")] == ["http_401"]


def test_a_blocked_prompt_is_the_callers_answer_not_a_failover(gemini: Router,
                                                               fresh_sim: Sim) -> None:
    fresh_sim.script("alpha", "content_filter")
    with pytest.raises(openai.BadRequestError, match="blocked the prompt"):
        client(gemini).chat.completions.create(
            model=GEMINI, max_tokens=20, messages=[{"role": "user", "content": "Say hello."}],
            extra_body=GEMINI_FIRST)
    assert fresh_sim.hits("bravo") == 0


def expected_cost(usage: Any) -> int:
    """µ$ at $0.30 fresh, $0.075 cache read, $2.50 out per 1M (PRICES)."""
    read = usage.prompt_tokens_details.cached_tokens
    fresh = usage.prompt_tokens - read
    per_million = fresh * 300_000 + read * 75_000 + usage.completion_tokens * 2_500_000
    return (per_million + 500_000) // 1_000_000


@pytest.mark.parametrize("stream", [False, True])
def test_implicit_cache_reads_are_billed_exactly(gemini: Router, fresh_sim: Sim,
                                                 stream: bool) -> None:
    messages: list[Any] = [{"role": "system", "content": SYSTEM},
                           {"role": "user", "content": "Plan day one."}]
    api = client(gemini)
    usages = []
    for turn in range(3):
        if stream:
            chunks = list(api.chat.completions.create(
                model=GEMINI, messages=messages, max_tokens=40, stream=True,
                extra_body=ONLY_GEMINI_API))
            usage = chunks[-1].usage
            content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            reply = api.chat.completions.create(model=GEMINI, messages=messages,
                                                max_tokens=40, extra_body=ONLY_GEMINI_API)
            usage, content = reply.usage, reply.choices[0].message.content or ""
        assert usage is not None
        usages.append(usage)
        messages += [{"role": "assistant", "content": content},
                     {"role": "user", "content": f"And day {turn + 2}?"}]
    assert usages[0].prompt_tokens_details.cached_tokens == 0
    assert usages[1].prompt_tokens_details.cached_tokens > 0
    log = fresh_sim.requests("alpha")
    for usage, seen in zip(usages, log, strict=True):
        # promptTokenCount already holds the cached part: nothing may be added to it.
        assert usage.prompt_tokens == seen["prompt_tokens"]
        assert usage.prompt_tokens_details.cached_tokens == seen["cached_tokens"]
        assert usage.model_extra["crossroads"]["cost_micro_usd"] == expected_cost(usage)
    third = usages[2]
    list_price = (third.prompt_tokens * 300_000 + third.completion_tokens * 2_500_000
                  + 500_000) // 1_000_000
    assert third.model_extra["crossroads"]["cache_discount_micro_usd"] == \
        list_price - expected_cost(third) > 0


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_is_a_thinking_budget_and_thoughts_come_back_as_reasoning(
        gemini: Router, fresh_sim: Sim, stream: bool) -> None:
    fresh_sim.patch("alpha", reasoning=True, reasoning_tokens=8)
    ask: dict[str, Any] = {
        "model": GEMINI, "max_tokens": 2000,
        "extra_body": {**ONLY_GEMINI_API, "reasoning": {"max_tokens": 1024}},
        "messages": [{"role": "user", "content": "Think, then answer."}]}
    if stream:
        chunks = list(client(gemini).chat.completions.create(**ask, stream=True))
        extras = [c.choices[0].delta.model_extra or {} for c in chunks if c.choices]
        reasoning = "".join(e.get("reasoning") or "" for e in extras)
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = chunks[-1].usage
    else:
        reply = client(gemini).chat.completions.create(**ask)
        reasoning = (reply.choices[0].message.model_extra or {}).get("reasoning") or ""
        content = reply.choices[0].message.content or ""
        usage = reply.usage
    assert reasoning.strip() and content == TEXT_12
    assert usage is not None and usage.completion_tokens_details is not None
    thoughts = usage.completion_tokens_details.reasoning_tokens
    assert thoughts and usage.completion_tokens == 12 + thoughts  # thoughts are output
    assert last(fresh_sim, "alpha")["body"]["generationConfig"]["thinkingConfig"] == \
        {"thinkingBudget": 1024, "includeThoughts": True}


PERSON = {"type": "object", "properties": {"name": {"type": "string"},
                                           "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


def test_a_json_schema_is_asked_as_a_response_schema(gemini: Router, fresh_sim: Sim) -> None:
    reply = client(gemini).chat.completions.create(
        model=GEMINI, max_tokens=200, extra_body=ONLY_GEMINI_API,
        messages=[{"role": "user", "content": "Describe Ada, 36."}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "person", "schema": PERSON, "strict": True}})
    answer = json.loads(reply.choices[0].message.content or "")
    assert set(answer) == {"name", "age"} and isinstance(answer["age"], int)
    config = last(fresh_sim, "alpha")["body"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {k: v for k, v in PERSON.items()
                                        if k != "additionalProperties"}


def test_a_context_too_long_moves_on_only_to_a_larger_context(gemini: Router,
                                                              fresh_sim: Sim) -> None:
    fresh_sim.script("alpha", "context_length")
    with pytest.raises(openai.BadRequestError):
        client(gemini).chat.completions.create(
            model=GEMINI, max_tokens=20, messages=[{"role": "user", "content": "Say hello."}],
            extra_body=GEMINI_FIRST)
    # bravo's context is no larger than alpha's: retrying there would only repeat the refusal.
    assert fresh_sim.hits("bravo") == 0
