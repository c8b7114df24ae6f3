"""The sim's Anthropic Messages surface, read by Anthropic's own SDK: the same endpoints, faults
and cache as the OpenAI surface, in Anthropic's shapes (errors, usage, events)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from .support import KEY, Sim, tokens_of


def sdk(sim: Sim, prefix: str, key: str = KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{sim.server.url}/{prefix}/anthropic", api_key=key,
                               max_retries=0, timeout=10)


def raw(sim: Sim, prefix: str, body: dict[str, Any],
        headers: dict[str, str] | None = None) -> Any:
    return sim.http.post(f"/{prefix}/anthropic/v1/messages", json=body,
                         headers={"x-api-key": KEY} if headers is None else headers)


def ask(content: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": content}],
            **extra}


def test_a_message_and_its_stream_say_the_same_in_anthropic_shapes(sim: Sim) -> None:
    client = sdk(sim, "plain")
    message = client.messages.create(**ask())
    assert message.stop_reason == "end_turn" and message.type == "message"
    assert message.usage.input_tokens == tokens_of("Hello there")
    with client.messages.stream(**ask()) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert [b.text for b in final.content] == [b.text for b in message.content]  # type: ignore[union-attr]
    assert final.usage.output_tokens == message.usage.output_tokens == 16
    assert events[0] == "message_start" and events[-1] == "message_stop"


def test_the_key_travels_as_x_api_key_and_a_wrong_one_is_an_anthropic_401(sim: Sim) -> None:
    assert raw(sim, "keyed", ask(), {"x-api-key": "sk-right"}).status_code == 200
    wrong = raw(sim, "keyed", ask(), {"x-api-key": "sk-wrong"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert raw(sim, "plain", ask(), {}).status_code == 401
    with pytest.raises(anthropic.AuthenticationError):
        sdk(sim, "keyed", key="sk-wrong").messages.create(**ask())


@pytest.mark.parametrize(("outcome", "status", "kind"), [
    ("http_503", 529, "overloaded_error"), ("http_500", 500, "api_error"),
    ("http_429", 429, "rate_limit_error"), ("context_length", 400, "invalid_request_error")])
def test_scripted_errors_come_in_anthropic_shape(sim: Sim, outcome: str, status: int,
                                                 kind: str) -> None:
    sim.script("plain", outcome)
    reply = raw(sim, "plain", ask())
    assert reply.status_code == status
    assert reply.json()["type"] == "error" and reply.json()["error"]["type"] == kind
    if outcome == "context_length":
        assert reply.json()["error"]["message"].startswith("prompt is too long")


def test_a_missing_max_tokens_is_refused_as_anthropic_does(sim: Sim) -> None:
    body = ask()
    del body["max_tokens"]
    reply = raw(sim, "plain", body)
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"


def test_a_model_the_provider_lacks_is_an_anthropic_404(sim: Sim) -> None:
    reply = raw(sim, "acme", {**ask(), "model": "nope"})
    assert reply.status_code == 404 and reply.json()["error"]["type"] == "not_found_error"
    assert raw(sim, "acme", {**ask(), "model": "acme-small"}).status_code == 200


def test_only_a_breakpoint_reads_and_writes_the_cache_and_counts_stay_apart(sim: Sim) -> None:
    client = sdk(sim, "cached")
    system = "You are a careful planner. " * 40
    marked = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
    turns: list[Any] = [{"role": "user", "content": "Plan day one."}]
    plain = client.messages.create(model="m", max_tokens=50, system=system, messages=turns)
    assert plain.usage.cache_creation_input_tokens == plain.usage.cache_read_input_tokens == 0
    first = client.messages.create(model="m", max_tokens=50, system=marked, messages=turns)
    written = first.usage.cache_creation_input_tokens or 0
    assert written == tokens_of(system) and first.usage.cache_read_input_tokens == 0
    assert first.usage.input_tokens == plain.usage.input_tokens - written
    turns += [{"role": "assistant", "content": first.content[0].text},  # type: ignore[union-attr]
              {"role": "user", "content": "And day two?"}]
    second = client.messages.create(model="m", max_tokens=50, system=marked, messages=turns)
    assert second.usage.cache_read_input_tokens == written
    total = (second.usage.input_tokens + (second.usage.cache_read_input_tokens or 0)
             + (second.usage.cache_creation_input_tokens or 0))
    assert total == sim.log("cached")[-1]["prompt_tokens"]


def test_a_thinking_model_thinks_only_when_asked(sim: Sim) -> None:
    client = sdk(sim, "thinker")
    quiet = client.messages.create(**ask())
    assert [block.type for block in quiet.content] == ["text"]
    thought = client.messages.create(**ask(max_tokens=1000, thinking={
        "type": "enabled", "budget_tokens": 100}))
    assert [block.type for block in thought.content] == ["thinking", "text"]


def test_streamed_tool_input_arrives_in_pieces(sim: Sim) -> None:
    weather = {"name": "get_weather", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    with sdk(sim, "plain").messages.stream(**ask("Weather in Paris?"), tools=[weather]) as stream:
        pieces = [e for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == {"city": "Paris"}  # type: ignore[union-attr]


@pytest.mark.parametrize("stream", [False, True])
def test_a_stop_sequence_is_named_when_it_cut_the_answer(sim: Sim, stream: bool) -> None:
    client = sdk(sim, "plain")
    if stream:
        with client.messages.stream(**ask(stop_sequences=["nope", "fox"])) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**ask(stop_sequences=["nope", "fox"]))
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "fox")
    assert message.content[0].text == "the quick brown "  # type: ignore[union-attr]
