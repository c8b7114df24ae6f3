"""Messages API: tools (a tool_use → tool_result round trip), prompt-cache usage against the
generation record, and the two ways an Anthropic client sends its key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.support import Keys, Router, Sim, start_router

from .conftest import MODEL, router_config
from .messages_support import (
    ANSWER,
    ANSWER_TOKENS,
    CALL_A_TOOL,
    WEATHER,
    generation,
    sdk,
    sim_tokens,
    upstream_bodies,
)

ALPHA = {"provider": {"order": ["alpha"], "allow_fallbacks": False}}
CHAT_WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": WEATHER["input_schema"],
    "description": WEATHER["description"]}}


def test_tool_use_then_tool_result_round_trip(router: Router, sim: Sim):
    client = sdk(router)
    question: list[Any] = [{"role": "user", "content": f"Weather in Paris? {CALL_A_TOOL}"}]
    first = client.messages.create(model=MODEL, max_tokens=64, tools=[WEATHER],
                                   tool_choice={"type": "auto"}, messages=question,
                                   extra_body=ALPHA)
    assert first.stop_reason == "tool_use"
    [call] = first.content
    assert call.type == "tool_use" and call.name == "get_weather"
    # The simulator fills each required parameter with a sample of its type.
    assert call.input == {"city": "Paris", "days": 1}

    history = [*question,
               {"role": "assistant", "content": first.content},
               {"role": "user", "content": [
                   {"type": "tool_result", "tool_use_id": call.id,
                    "content": [{"type": "text", "text": "Sunny, 21C"}]},
                   {"type": "tool_result", "tool_use_id": "toolu_other", "is_error": True,
                    "content": "station offline"},
                   {"type": "text", "text": "Thanks, summarise it."}]}]
    second = client.messages.create(model=MODEL, max_tokens=64, tools=[WEATHER],
                                    messages=history, extra_body=ALPHA)
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == ANSWER  # type: ignore[union-attr]

    before, after = upstream_bodies(sim, "alpha")
    assert before["tools"] == [CHAT_WEATHER] and before["tool_choice"] == "auto"
    assert after["messages"] == [
        {"role": "user", "content": f"Weather in Paris? {CALL_A_TOOL}"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": call.id, "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris","days":1}'}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21C"},
        {"role": "tool", "tool_call_id": "toolu_other", "content": "Error: station offline"},
        {"role": "user", "content": "Thanks, summarise it."},
    ]


@pytest.mark.parametrize(("choice", "chat"), [
    ({"type": "any"}, "required"),
    ({"type": "none"}, "none"),
    ({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
     {"type": "function", "function": {"name": "get_weather"}}),
], ids=["any", "none", "tool"])
def test_tool_choice_translation(router: Router, sim: Sim, choice, chat):
    sdk(router).messages.create(model=MODEL, max_tokens=16, tools=[WEATHER],
                                tool_choice=choice, extra_body=ALPHA,
                                messages=[{"role": "user", "content": "Hi"}])
    [body] = upstream_bodies(sim, "alpha")
    assert body["tool_choice"] == chat
    assert body.get("parallel_tool_calls", True) is not choice.get("disable_parallel_tool_use")


def test_streamed_tool_call_arrives_as_input_json(router: Router, sim: Sim):
    with sdk(router).messages.stream(
            model=MODEL, max_tokens=64, tools=[WEATHER],
            messages=[{"role": "user", "content": CALL_A_TOOL}]) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert deltas and set(deltas) == {"input_json_delta"}
    assert final.stop_reason == "tool_use"
    [call] = final.content
    assert call.type == "tool_use" and call.input == {"city": "sim", "days": 1}
    assert call.id.startswith("call_")


SYSTEM = ("You are the router's patient explainer. Answer in plain words, one idea at a time, "
          "and never use jargon where a short sentence will do. ") * 2


def test_cache_reads_are_apart_from_input_tokens_and_match_the_record(router: Router,
                                                                        sim: Sim):
    sim.patch("alpha", cache=True, cache_min_tokens=16)
    client = sdk(router)
    prefix = sim_tokens(SYSTEM)

    def ask(question: str, stream: bool) -> anthropic.types.Message:
        kw: dict[str, Any] = {"model": MODEL, "max_tokens": 32, "system": SYSTEM,
                              "extra_body": ALPHA,
                              "messages": [{"role": "user", "content": question}]}
        if not stream:
            return client.messages.create(**kw)
        with client.messages.stream(**kw) as events:
            return events.get_final_message()

    for question, stream, cached in [("What is a router?", False, 0),
                                     ("And a ledger?", False, prefix),
                                     ("And a breaker?", True, prefix)]:
        message = ask(question, stream)
        usage = message.usage
        full = sim_tokens(SYSTEM, question)
        assert usage.cache_read_input_tokens == cached, question
        assert usage.cache_creation_input_tokens == 0
        # Anthropic's input_tokens leaves the cache reads out; our prompt_tokens has them in.
        assert usage.input_tokens == full - cached, question
        assert usage.output_tokens == ANSWER_TOKENS
        record = generation(router, message.id.removeprefix("msg_"))
        assert record["native_tokens_prompt"] == usage.input_tokens + cached
        assert record["native_tokens_cached"] == cached
        assert record["native_tokens_completion"] == usage.output_tokens
        if not stream:  # the SDK's stream accumulator keeps only Anthropic's own usage fields
            assert record["total_cost"] == usage.cost  # type: ignore[attr-defined]
    assert [r["cached_tokens"] for r in sim.requests("alpha")] == [0, prefix, prefix]


@pytest.fixture
def keyed(tmp_path: Path, fresh_sim: Sim) -> Iterator[Router]:
    router = start_router(router_config(fresh_sim), tmp_path, "--auth", "keys",
                          env={"SIM_KEY": "sim-secret-key"})
    yield router
    router.stop()


def test_x_api_key_and_bearer_token_both_authenticate(keyed: Router, sim: Sim):
    key, key_hash = Keys(keyed).create("--name", "anthropic-client")
    by_header = sdk(keyed, api_key=key).messages.create(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    by_bearer = sdk(keyed, api_key=None, auth_token=key).messages.create(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    for message in (by_header, by_bearer):
        generation_id = message.id.removeprefix("msg_")
        status, body, _ = keyed.get(f"/generation?id={generation_id}", key=key)
        assert status == 200 and body["data"]["crossroads"]["key_hash"] == key_hash

    with pytest.raises(anthropic.AuthenticationError) as info:
        sdk(keyed, api_key="sk-cr-v1-" + "0" * 40).messages.create(
            model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    assert info.value.status_code == 401
    assert info.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.AuthenticationError):
        sdk(keyed, api_key=None, auth_token="not-a-key").messages.stream(
            model=MODEL, max_tokens=8,
            messages=[{"role": "user", "content": "Hi"}]).__enter__()
    assert sim.hits("alpha") + sim.hits("bravo") + sim.hits("charlie") == 2
