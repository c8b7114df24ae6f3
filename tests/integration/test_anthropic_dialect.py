"""The Anthropic dialect end to end: the official `openai` SDK → crossroads → the simulator's
Anthropic Messages surface (`/alpha/anthropic/v1/messages`), streamed and not, with tools,
images, prompt caching billed to the micro-dollar, and failover from an Anthropic-dialect
endpoint to an OpenAI-dialect one that the caller never sees."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.support import Router, Sim

CLAUDE = "test/claude"
PRICES = "{ prompt = 1.0, completion = 5.0, cache_read = 0.1, cache_write = 1.25 }"
ONLY_CLAUDE = {"provider": {"only": ["claude"], "allow_fallbacks": False}}
CLAUDE_FIRST = {"provider": {"order": ["claude", "bravo"]}}
SYSTEM = "You are a meticulous assistant who answers briefly. " * 12
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city now",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
         "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def extra(sim: Sim) -> str:
    """Claude served by the sim's `alpha` in Anthropic's dialect, first; `bravo` (OpenAI's
    dialect) behind it for failover."""
    return f"""
[providers.claude]
name = "Claude"
base_url = "{sim.url}/alpha/anthropic/v1"
api_key_env = "SIM_KEY"
dialect = "anthropic"

[[models]]
slug = "{CLAUDE}"
name = "Test Claude"
context_length = 8192
input_modalities = ["text", "image"]

[[endpoints]]
model = "{CLAUDE}"
provider = "claude"
upstream_model = "claude-test"
context_length = 8192
max_output = 4096
price = {PRICES}
input_modalities = ["text", "image"]
supported_parameters = ["max_tokens", "temperature", "tools", "tool_choice", "reasoning"]

[[endpoints]]
model = "{CLAUDE}"
provider = "bravo"
upstream_model = "echo-bravo"
context_length = 8192
max_output = 1024
price = {{ prompt = 3.0, completion = 9.0 }}
input_modalities = ["text", "image"]
supported_parameters = ["max_tokens", "temperature", "tools", "tool_choice"]
"""


@pytest.fixture
def claude(make_router: Callable[..., Router], fresh_sim: Sim) -> Router:
    # The key the router must send as x-api-key (conftest's SIM_KEY); anything else is a 401.
    fresh_sim.patch("alpha", api_key="sim-secret-key", cache=True, cache_min_tokens=16,
                    completion_tokens=12)
    return make_router(extra(fresh_sim))


def client(router: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key="any-key", max_retries=0, timeout=30)


def last_body(sim: Sim, name: str = "alpha") -> dict[str, Any]:
    return dict(sim.requests(name)[-1]["body"])


def test_a_plain_answer_goes_out_in_anthropic_shape_and_comes_back_in_ours(
        claude: Router, fresh_sim: Sim) -> None:
    reply = client(claude).chat.completions.create(
        model=CLAUDE, max_tokens=100, extra_body=ONLY_CLAUDE,
        messages=[{"role": "system", "content": "Be terse."},
                  {"role": "user", "content": "Say hello."}])
    assert reply.choices[0].message.content == (
        "the quick brown fox jumps over a lazy dog while seven bright ")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model_extra is not None and reply.model_extra["provider"] == "Claude"
    assert reply.usage is not None and reply.usage.completion_tokens == 12
    sent = last_body(fresh_sim)
    assert sent["system"] == [{"type": "text", "text": "Be terse."}]
    assert sent["messages"] == [{"role": "user",
                                 "content": [{"type": "text", "text": "Say hello."}]}]
    assert (sent["model"], sent["max_tokens"]) == ("claude-test", 100)


def test_a_streamed_answer_arrives_as_chat_chunks_with_usage_last(
        claude: Router, fresh_sim: Sim) -> None:
    stream = client(claude).chat.completions.create(
        model=CLAUDE, stream=True, extra_body=ONLY_CLAUDE,
        messages=[{"role": "user", "content": "Say hello."}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "the quick brown fox jumps over a lazy dog while seven bright "
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert [c for c in chunks if c.usage is not None] == [chunks[-1]]
    # No max_tokens from the caller: the endpoint's max_output, which Anthropic requires.
    assert last_body(fresh_sim)["max_tokens"] == 4096


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_round_trip_through_the_anthropic_dialect(
        claude: Router, fresh_sim: Sim, stream: bool) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    api = client(claude)
    if stream:
        chunks = list(api.chat.completions.create(
            model=CLAUDE, messages=messages, tools=[WEATHER], stream=True,
            extra_body=ONLY_CLAUDE))
        pieces = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
        assert {p.index for p in pieces} == {0}
        call_id = next(p.id for p in pieces if p.id)
        arguments = "".join(p.function.arguments or "" for p in pieces if p.function)
        assert len([p for p in pieces if p.function and p.function.arguments]) > 1  # in pieces
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
    else:
        reply = api.chat.completions.create(model=CLAUDE, messages=messages, tools=[WEATHER],
                                            extra_body=ONLY_CLAUDE)
        assert reply.choices[0].finish_reason == "tool_calls"
        [call] = reply.choices[0].message.tool_calls or []
        call_id, arguments = call.id, call.function.arguments  # type: ignore[union-attr]
    assert json.loads(arguments) == {"city": "Paris"}
    assert fresh_sim.requests("alpha")[-1]["body"]["tools"][0]["name"] == "get_weather"
    messages += [{"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function",
         "function": {"name": "get_weather", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "18 C and sunny"}]
    final = api.chat.completions.create(model=CLAUDE, messages=messages, tools=[WEATHER],
                                        extra_body=ONLY_CLAUDE)
    assert final.choices[0].finish_reason == "stop" and final.choices[0].message.content
    sent = last_body(fresh_sim)["messages"]
    assert sent[1]["content"][0]["type"] == "tool_use"
    assert sent[2]["content"] == [{"type": "tool_result", "tool_use_id": call_id,
                                   "content": [{"type": "text", "text": "18 C and sunny"}]}]


def test_images_travel_as_base64_and_url_sources(claude: Router, fresh_sim: Sim) -> None:
    reply = client(claude).chat.completions.create(
        model=CLAUDE, max_tokens=50, extra_body=ONLY_CLAUDE, messages=[{"role": "user",
        "content": [{"type": "text", "text": "Compare these."},
                    {"type": "image_url", "image_url": {"url": PIXEL}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}])
    assert reply.choices[0].message.content
    blocks = last_body(fresh_sim)["messages"][0]["content"]
    assert blocks[1]["source"] == {"type": "base64", "media_type": "image/png",
                                   "data": PIXEL.split(",", 1)[1]}
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.com/a.png"}
    assert fresh_sim.requests("alpha")[-1]["has_images"] is True


@pytest.mark.parametrize(("outcome", "stream"), [
    ("http_503", False),  # Anthropic's 529 overloaded_error
    ("http_503", True),
    ("http_500", True),  # api_error
    ("http_429_retry_after", True),
    ("http_402", False),  # billing_error
    ("reset", True),
    ("empty_200", True),
    ("malformed_sse", False),
])
def test_a_fault_at_the_anthropic_endpoint_fails_over_to_an_openai_one(
        claude: Router, fresh_sim: Sim, outcome: str, stream: bool) -> None:
    fresh_sim.script("alpha", outcome)
    body = {"model": CLAUDE, "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 20, "extra_body": CLAUDE_FIRST}
    if stream:
        chunks = list(client(claude).chat.completions.create(**body, stream=True))
        providers = {c.model_extra["provider"] for c in chunks if c.model_extra}
        assert providers == {"Bravo"}
        assert chunks[-1].choices[0].finish_reason == "stop"
    else:
        reply = client(claude).chat.completions.create(**body)
        assert reply.model_extra is not None and reply.model_extra["provider"] == "Bravo"
        assert reply.choices[0].message.content
    assert [r["outcome"] for r in fresh_sim.requests("alpha")] == [outcome]
    assert fresh_sim.hits("bravo") == 1


def test_a_wrong_key_at_the_anthropic_endpoint_fails_over(claude: Router,
                                                          fresh_sim: Sim) -> None:
    fresh_sim.patch("alpha", api_key="another-key")
    reply = client(claude).chat.completions.create(
        model=CLAUDE, max_tokens=20, messages=[{"role": "user", "content": "Say hello."}],
        extra_body=CLAUDE_FIRST)
    assert reply.model_extra is not None and reply.model_extra["provider"] == "Bravo"
    assert [r["outcome"] for r in fresh_sim.requests("alpha")] == ["http_401"]


def expected_cost(usage: Any) -> int:
    """µ$ at $1 fresh, $0.10 cache read, $1.25 cache write, $5 out per 1M (PRICES)."""
    details = usage.prompt_tokens_details
    read, written = details.cached_tokens, details.cache_write_tokens
    fresh = usage.prompt_tokens - read - written
    per_million = (fresh * 1_000_000 + read * 100_000 + written * 1_250_000
                   + usage.completion_tokens * 5_000_000)
    return (per_million + 500_000) // 1_000_000


@pytest.mark.parametrize("stream", [False, True])
def test_cache_reads_and_writes_are_billed_exactly(claude: Router, fresh_sim: Sim,
                                                   stream: bool) -> None:
    system = {"role": "system", "content": [
        {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]}
    messages: list[Any] = [system, {"role": "user", "content": "Plan day one."}]
    api = client(claude)
    usages = []
    for turn in range(3):
        if stream:
            chunks = list(api.chat.completions.create(
                model=CLAUDE, messages=messages, max_tokens=40, stream=True,
                extra_body=ONLY_CLAUDE))
            usage = chunks[-1].usage
            content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            reply = api.chat.completions.create(model=CLAUDE, messages=messages,
                                                max_tokens=40, extra_body=ONLY_CLAUDE)
            usage, content = reply.usage, reply.choices[0].message.content or ""
        assert usage is not None
        usages.append(usage)
        messages += [{"role": "assistant", "content": content},
                     {"role": "user", "content": f"And day {turn + 2}?"}]
    first, second, third = usages
    written_first = first.prompt_tokens_details.cache_write_tokens
    assert first.prompt_tokens_details.cached_tokens == 0 and written_first > 0
    # What one turn wrote, the next reads; each adds to the prompt, never inside input_tokens.
    assert second.prompt_tokens_details.cached_tokens == written_first
    written_second = second.prompt_tokens_details.cache_write_tokens
    assert third.prompt_tokens_details.cached_tokens == written_first + written_second
    log = fresh_sim.requests("alpha")
    for usage, seen in zip(usages, log, strict=True):
        assert usage.prompt_tokens == seen["prompt_tokens"]  # fresh + read + written
        assert usage.prompt_tokens_details.cached_tokens == seen["cached_tokens"]
        assert usage.model_extra["crossroads"]["cost_micro_usd"] == expected_cost(usage)
        assert usage.model_extra["cost"] == pytest.approx(expected_cost(usage) / 1e6)
    # The discount is what the same tokens would have cost uncached, less what they cost.
    list_price = (third.prompt_tokens * 1_000_000 + third.completion_tokens * 5_000_000
                  + 500_000) // 1_000_000
    crossroads = third.model_extra["crossroads"]
    assert crossroads["cache_discount_micro_usd"] == list_price - expected_cost(third) > 0


def test_a_cut_after_content_ends_the_stream_with_an_in_band_error(claude: Router,
                                                                   fresh_sim: Sim) -> None:
    fresh_sim.script("alpha", "stream_cut")
    received = []
    with pytest.raises(openai.APIError, match="failed mid-stream"):
        for chunk in client(claude).chat.completions.create(
                model=CLAUDE, stream=True, extra_body=CLAUDE_FIRST,
                messages=[{"role": "user", "content": "Say hello."}]):
            received.append(chunk)
    assert any(c.choices and c.choices[0].delta.content for c in received)
    assert fresh_sim.hits("bravo") == 0  # committed to Claude: no second answer mixed in


PERSON = {"type": "object", "properties": {"name": {"type": "string"},
                                           "age": {"type": "integer"}},
          "required": ["name", "age"]}


@pytest.mark.parametrize("stream", [False, True])
def test_a_json_schema_answer_comes_through_the_forced_tool_as_content(
        claude: Router, fresh_sim: Sim, stream: bool) -> None:
    ask: dict[str, Any] = {
        "model": CLAUDE, "max_tokens": 200, "extra_body": ONLY_CLAUDE,
        "messages": [{"role": "user", "content": "Describe Ada, 36."}],
        "response_format": {"type": "json_schema",
                            "json_schema": {"name": "person", "schema": PERSON}}}
    if stream:
        chunks = list(client(claude).chat.completions.create(**ask, stream=True))
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)
        finish = chunks[-1].choices[0].finish_reason
    else:
        reply = client(claude).chat.completions.create(**ask)
        content = reply.choices[0].message.content or ""
        assert reply.choices[0].message.tool_calls is None
        finish = reply.choices[0].finish_reason
    answer = json.loads(content)
    assert set(answer) == {"name", "age"} and isinstance(answer["age"], int)
    assert finish == "stop"
    sent = last_body(fresh_sim)
    assert sent["tool_choice"] == {"type": "tool", "name": sent["tools"][0]["name"]}
    assert sent["tools"][0]["input_schema"] == PERSON


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_is_asked_as_a_thinking_budget_and_returned_as_reasoning(
        claude: Router, fresh_sim: Sim, stream: bool) -> None:
    fresh_sim.patch("alpha", reasoning=True, reasoning_tokens=8)
    ask: dict[str, Any] = {
        "model": CLAUDE, "max_tokens": 2000, "extra_body": {**ONLY_CLAUDE,
                                                            "reasoning": {"max_tokens": 1024}},
        "messages": [{"role": "user", "content": "Think, then answer."}]}
    if stream:
        chunks = list(client(claude).chat.completions.create(**ask, stream=True))
        extras = [c.choices[0].delta.model_extra or {} for c in chunks if c.choices]
        reasoning = "".join(e.get("reasoning") or "" for e in extras)
        details = [d for e in extras for d in e.get("reasoning_details") or ()]
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        reply = client(claude).chat.completions.create(**ask)
        extra = reply.choices[0].message.model_extra or {}
        reasoning, details = extra.get("reasoning") or "", extra.get("reasoning_details") or []
        content = reply.choices[0].message.content or ""
    assert reasoning.strip() and content.strip()
    # The signature a caller sends back to keep the thinking across a tool loop.
    assert [d["type"] for d in details if d.get("signature")] == ["reasoning.text"]
    assert last_body(fresh_sim)["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_a_stop_sequence_ends_the_answer_with_stop_and_names_the_native_reason(
        claude: Router, fresh_sim: Sim) -> None:
    reply = client(claude).chat.completions.create(
        model=CLAUDE, max_tokens=50, stop=["fox"], extra_body=ONLY_CLAUDE,
        messages=[{"role": "user", "content": "Say hello."}])
    choice = reply.choices[0]
    assert choice.message.content == "the quick brown "
    assert choice.finish_reason == "stop"
    assert choice.model_extra is not None
    assert choice.model_extra["native_finish_reason"] == "stop_sequence"
    assert last_body(fresh_sim)["stop_sequences"] == ["fox"]
