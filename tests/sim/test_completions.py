"""Healthy answers, as the official OpenAI SDK sees them."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from crossroads.sim.render import completion_text

from .support import KEY, Sim, chat, tokens_of


def client(sim: Sim, name: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url(name), api_key=key, max_retries=0, timeout=10)


def test_non_streaming_completion(sim: Sim) -> None:
    prompt = "Write a haiku about routers."
    resp = client(sim, "plain").chat.completions.create(
        model="meta/llama-4-scout", messages=[{"role": "user", "content": prompt}]
    )
    assert resp.id.startswith("chatcmpl-")
    assert resp.object == "chat.completion"
    assert resp.model == "meta/llama-4-scout"
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == completion_text(16)
    assert choice.finish_reason == "stop"
    assert resp.usage is not None
    assert resp.usage.prompt_tokens == tokens_of(prompt)
    assert resp.usage.completion_tokens == 16
    assert resp.usage.total_tokens == tokens_of(prompt) + 16
    # Endpoints without prompt caching report no cache details, like many real providers.
    assert resp.usage.prompt_tokens_details is None


def test_max_tokens_cuts_with_length(sim: Sim) -> None:
    c = client(sim, "plain")
    resp = c.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    assert resp.choices[0].finish_reason == "length"
    assert resp.choices[0].message.content == completion_text(5)
    assert resp.usage is not None and resp.usage.completion_tokens == 5
    resp = c.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], max_completion_tokens=3
    )
    assert resp.usage is not None and resp.usage.completion_tokens == 3
    # A limit at or above the natural length changes nothing.
    resp = c.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=16
    )
    assert resp.choices[0].finish_reason == "stop"


def test_streaming_completion_with_usage(sim: Sim) -> None:
    stream = client(sim, "plain").chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "Tell me a story"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    content = [c for c in chunks if c.choices]
    assert len(content) == 16, "one token per chunk"
    assert content[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in content[1:])
    assert "".join(c.choices[0].delta.content or "" for c in content) == completion_text(16)
    assert [c.choices[0].finish_reason for c in content] == [None] * 15 + ["stop"]
    assert all(c.object == "chat.completion.chunk" and c.model == "m" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == tokens_of("Tell me a story")
    assert last.usage.completion_tokens == 16


def test_stream_raw_framing(sim: Sim) -> None:
    resp = sim.post("plain", chat(stream=True, max_tokens=4))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/event-stream"
    assert resp.headers["transfer-encoding"] == "chunked"
    events = [line for line in resp.text.split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert len(payloads) == 4, "no usage chunk unless stream_options.include_usage"
    assert payloads[-1]["choices"][0]["finish_reason"] == "length"


def test_prompt_token_formula_counts_parts_images_and_utf8(sim: Sim) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Was ist das? "}, image, image]},
        {"role": "user", "content": "héllo wörld"},
    ]
    resp = sim.post("plain", {"model": "m", "messages": messages})
    assert resp.status_code == 200
    expected = (
        tokens_of("Be brief.") + tokens_of("Was ist das? ") + 2 * 765 + tokens_of("héllo wörld")
    )
    assert resp.json()["usage"]["prompt_tokens"] == expected
    entry = sim.log("plain")[-1]
    assert entry["has_images"] is True
    assert entry["prompt_tokens"] == expected


def test_models_list(sim: Sim) -> None:
    models = client(sim, "plain").models.list()
    assert [m.id for m in models.data] == ["sim-model"]


WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}


def test_tool_call_non_streaming(sim: Sim) -> None:
    resp = client(sim, "plain").chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "Please call a tool for Paris"}],
        tools=[WEATHER_TOOL],
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    fn = calls[0].function  # type: ignore[union-attr]
    assert fn.name == "get_weather"
    assert json.loads(fn.arguments) == {"city": "Paris", "days": 1}  # Paris from the prompt


def test_tool_call_streaming(sim: Sim) -> None:
    stream = client(sim, "plain").chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "call a tool now"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    chunks = list(stream)
    name = ""
    args = ""
    for c in chunks:
        for call in c.choices[0].delta.tool_calls or []:
            name += call.function.name or "" if call.function else ""
            args += call.function.arguments or "" if call.function else ""
    assert name == "get_weather"
    assert json.loads(args) == {"city": "sim", "days": 1}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tools_answer_text_after_a_tool_result_or_when_told_none(sim: Sim) -> None:
    asked = chat("What's the weather?", tools=[WEATHER_TOOL])
    call = sim.post("plain", asked).json()["choices"][0]["message"]["tool_calls"][0]
    result = {**asked, "messages": [*asked["messages"],
                                    {"role": "assistant", "content": None, "tool_calls": [call]},
                                    {"role": "tool", "tool_call_id": call["id"], "content": "9C"}]}
    for body in (result, {**asked, "tool_choice": "none"}):
        choice = sim.post("plain", body).json()["choices"][0]
        assert choice["finish_reason"] == "stop"
        assert choice["message"]["content"] == completion_text(16)


@pytest.mark.parametrize("key", ["", "sk-wrong"])
def test_auth_rejects_missing_or_wrong_key(sim: Sim, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    resp = sim.http.post("/keyed/v1/chat/completions", json=chat(), headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client(sim, "keyed", key="sk-wrong").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    ok = client(sim, "keyed", key="sk-right").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert ok.choices[0].finish_reason == "stop"
    assert sim.log("keyed")[0]["outcome"] == "http_401"


def test_missing_authorization_header_is_401_even_without_api_key(sim: Sim) -> None:
    resp = sim.http.post("/plain/v1/chat/completions", json=chat())
    assert resp.status_code == 401
    assert sim.http.get("/plain/v1/models").status_code == 401


WEATHER_FORMAT: dict[str, Any] = {"type": "json_schema", "json_schema": {"name": "weather",
    "schema": {"type": "object", "properties": {
        "city": {"type": "string"}, "celsius": {"type": "number"}, "note": {"type": "string"}},
        "required": ["city", "celsius"]}}}


def test_json_schema_answer_is_an_instance_of_the_schema(sim: Sim) -> None:
    resp = client(sim, "plain").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Weather?"}],
        response_format=WEATHER_FORMAT)
    content = resp.choices[0].message.content
    assert content is not None and json.loads(content) == {"city": "sim", "celsius": 1.5}
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens == (len(content) + 3) // 4


def test_json_schema_answer_streams_in_pieces(sim: Sim) -> None:
    chunks = list(client(sim, "plain").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Weather?"}],
        response_format=WEATHER_FORMAT, stream=True,
        stream_options={"include_usage": True}))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices]
    assert len(pieces) > 1 and json.loads("".join(p or "" for p in pieces)) == {
        "city": "sim", "celsius": 1.5}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(pieces)


def test_json_schema_answer_is_cut_by_max_tokens(sim: Sim) -> None:
    resp = sim.post("plain", chat("Weather?", response_format=WEATHER_FORMAT, max_tokens=2))
    choice = resp.json()["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == '{"city":'  # two 4-character tokens
    assert resp.json()["usage"]["completion_tokens"] == 2


def test_json_object_format_answers_an_object(sim: Sim) -> None:
    resp = sim.post("plain", chat("Hi", response_format={"type": "json_object"}))
    assert json.loads(resp.json()["choices"][0]["message"]["content"]) == {
        "answer": completion_text(16).strip()}
    text = sim.post("plain", chat("Hi", response_format={"type": "text"}, max_tokens=3))
    assert text.json()["choices"][0]["message"]["content"] == completion_text(3)


def test_malformed_schema_still_gets_an_answer(sim: Sim) -> None:
    odd = {"type": "json_schema", "json_schema": {"schema": {
        "properties": {"a": {"type": ["string", "null"]}}, "required": ["a", {"x": 1}, 3]}}}
    resp = sim.post("plain", chat("Hi", response_format=odd))
    assert resp.status_code == 200
    assert json.loads(resp.json()["choices"][0]["message"]["content"]) == {"a": "sim"}
