"""What the sim does with a request's generation options: tools and tool_choice, structured
output, n, logprobs, stop, seed and reasoning — as a provider's own clients see them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from crossroads.settings import load_settings
from crossroads.sim.content import REASONING_WORDS
from crossroads.sim.fleet import catalog_fleet
from crossroads.sim.render import WORDS, completion_text

from .support import KEY, Sim, chat


def client(sim: Sim, name: str = "plain") -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url(name), api_key=KEY, max_retries=0, timeout=10)


def tool(name: str, description: str, **props: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description,
            "parameters": {"type": "object", "properties": props, "required": list(props)}}}


WEATHER = tool("get_weather", "The current weather in a city", city={"type": "string"})
TIME = tool("get_time", "The local time in a city", city={"type": "string"})
MULTIPLY = tool("multiply", "Multiply two integers", a={"type": "integer"}, b={"type": "integer"})
TOOLS = [TIME, WEATHER, MULTIPLY]


def calls_of(resp: Any) -> list[tuple[str, dict[str, Any]]]:
    calls = resp.choices[0].message.tool_calls or []
    return [(c.function.name, json.loads(c.function.arguments)) for c in calls]


def ask(sim: Sim, text: str, **extra: Any) -> Any:
    return client(sim).chat.completions.create(
        model="m", messages=[{"role": "user", "content": text}], **extra)


@pytest.mark.parametrize(("text", "extra", "expected"), [
    ("What's the weather in Paris?", {}, [("get_weather", {"city": "Paris"})]),
    ("Please multiply 3 by 12", {}, [("multiply", {"a": 3, "b": 12})]),
    ("Hello there", {}, [("get_time", {"city": "sim"})]),  # no word in common: the first
    ("Weather and local time in Oslo?", {},
     [("get_time", {"city": "Oslo"}), ("get_weather", {"city": "Oslo"})]),
    ("Weather and local time in Oslo?", {"parallel_tool_calls": False},
     [("get_time", {"city": "Oslo"})]),  # a tie: the first offered
    ("What's the weather in Paris?", {"tool_choice": "required"},
     [("get_weather", {"city": "Paris"})]),
    ("What's the weather in Paris?",
     {"tool_choice": {"type": "function", "function": {"name": "multiply"}}},
     [("multiply", {"a": 1, "b": 1})]),
    ("What's the weather in Paris?", {"tool_choice": "none"}, []),
])
def test_tool_choice(sim: Sim, text: str, extra: dict[str, Any],
                     expected: list[tuple[str, dict[str, Any]]]) -> None:
    resp = ask(sim, text, tools=TOOLS, **extra)
    assert calls_of(resp) == expected
    choice = resp.choices[0]
    assert choice.finish_reason == ("tool_calls" if expected else "stop")
    assert (choice.message.content is None) == bool(expected)
    ids = [c.id for c in choice.message.tool_calls or []]
    assert len(set(ids)) == len(ids) and all(i.startswith("call_") for i in ids)


def test_after_a_tool_result_auto_answers_and_required_calls_again(sim: Sim) -> None:
    first = ask(sim, "What's the weather in Paris?", tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    messages: Any = [{"role": "user", "content": "What's the weather in Paris?"},
                     first.choices[0].message.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": "18C, sunny"}]
    answer = client(sim).chat.completions.create(model="m", messages=messages, tools=TOOLS)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content == completion_text(16)
    again = client(sim).chat.completions.create(model="m", messages=messages, tools=TOOLS,
                                                tool_choice="required")
    assert calls_of(again) == [("get_weather", {"city": "Paris"})]


def test_streamed_tool_calls_accumulate_per_index(sim: Sim) -> None:
    chunks = list(ask(sim, "Weather and local time in Oslo?", tools=TOOLS, stream=True))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for part in chunk.choices[0].delta.tool_calls or []:
            call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += part.id or ""
            assert part.function is not None
            call["name"] += part.function.name or ""
            call["arguments"] += part.function.arguments or ""
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        ("get_time", {"city": "Oslo"}), ("get_weather", {"city": "Oslo"})]
    assert all(c["id"].startswith("call_") for c in calls.values())
    assert sum(1 for c in chunks if c.choices[0].delta.tool_calls) > 4  # arguments in pieces
    assert [c.choices[0].finish_reason for c in chunks][-1] == "tool_calls"


def test_bad_tool_choice_is_a_400(sim: Sim) -> None:
    for choice in ("sometimes", {"type": "function", "function": {"name": "nope"}}, 3):
        resp = sim.post("plain", chat(tools=TOOLS, tool_choice=choice))
        assert resp.status_code == 400 and resp.json()["error"]["param"] == "tool_choice"


class _Weather:
    schema: Any = {"title": "Weather", "type": "object",
                   "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
                   "required": ["city", "celsius"]}


@pytest.mark.parametrize(("system", "expected"), [
    (f"Reply with JSON following this schema: {json.dumps(_Weather.schema)}",
     {"city": "Lima", "celsius": 1.5}),
    ('Reply in JSON like {"temperature": 20, "unit": "C"}', {"temperature": 20, "unit": "C"}),
    ("Reply in JSON.", {"answer": completion_text(16).strip()}),
])
def test_json_object_follows_the_prompt(sim: Sim, system: str, expected: Any) -> None:
    resp = client(sim).chat.completions.create(
        model="m", response_format={"type": "json_object"},
        messages=[{"role": "system", "content": system},
                  {"role": "user", "content": "How warm is it in Lima?"}])
    assert json.loads(resp.choices[0].message.content or "") == expected


def test_n_choices(sim: Sim) -> None:
    resp = ask(sim, "Hi", n=3, max_tokens=5)
    assert [c.index for c in resp.choices] == [0, 1, 2]
    texts = [c.message.content for c in resp.choices]
    assert texts[0] == completion_text(5) and len(set(texts)) == 3
    assert all(len((t or "").split()) == 5 and c.finish_reason == "length"
               for t, c in zip(texts, resp.choices, strict=True))
    assert resp.usage is not None and resp.usage.completion_tokens == 15
    chunks = list(ask(sim, "Hi", n=3, max_tokens=5, stream=True))
    streamed = ["", "", ""]
    for chunk in chunks:
        for choice in chunk.choices:
            streamed[choice.index] += choice.delta.content or ""
    assert streamed == texts


def test_logprobs(sim: Sim) -> None:
    resp = ask(sim, "Hi", logprobs=True, top_logprobs=3, max_tokens=4)
    logprobs = resp.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert "".join(t.token for t in logprobs.content) == resp.choices[0].message.content
    for entry in logprobs.content:
        assert entry.logprob < 0 and bytes(entry.bytes or []) == entry.token.encode()
        assert entry.top_logprobs[0].token == entry.token
        assert len(entry.top_logprobs) == 3
        assert sorted((t.logprob for t in entry.top_logprobs), reverse=True) == [
            t.logprob for t in entry.top_logprobs]
    again = ask(sim, "Hi", logprobs=True, top_logprobs=3, max_tokens=4)
    assert again.choices[0].logprobs == logprobs
    chunks = list(ask(sim, "Hi", logprobs=True, max_tokens=4, stream=True))
    tokens = [t.token for c in chunks if c.choices and c.choices[0].logprobs
              for t in c.choices[0].logprobs.content or []]
    assert tokens == [t.token for t in logprobs.content]
    assert ask(sim, "Hi", max_tokens=4).choices[0].logprobs is None


@pytest.mark.parametrize(("stop", "content", "tokens"), [
    ("fox", "the quick brown ", 3),
    (["zzz", "ick"], "the qu", 2),
    ("the", "", 0),
    ("nowhere", completion_text(16), 16),
])
@pytest.mark.parametrize("stream", [False, True])
def test_stop_cuts_the_text(sim: Sim, stop: str | list[str], content: str, tokens: int,
                            stream: bool) -> None:
    body = chat(stop=stop, stream=stream, stream_options={"include_usage": True})
    if not stream:
        answer = sim.post("plain", body).json()
        text, finish = answer["choices"][0]["message"]["content"], \
            answer["choices"][0]["finish_reason"]
        usage = answer["usage"]
    else:
        chunks = list(client(sim).chat.completions.create(**body))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        usage = chunks[-1].usage.model_dump()  # type: ignore[union-attr]
    assert (text, finish, usage["completion_tokens"]) == (content, "stop", tokens)


def test_seed_repeats_and_varies(sim: Sim) -> None:
    def text(seed: int | None, content: str = "Hi", stream: bool = False) -> str:
        body = chat(content, seed=seed, stream=stream) if seed is not None else chat(content)
        if not stream:
            return str(sim.post("plain", body).json()["choices"][0]["message"]["content"])
        chunks = list(client(sim).chat.completions.create(**body))
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    seeded = text(42)
    assert seeded == text(42) == text(42, stream=True)
    assert seeded != text(43) and seeded != text(None) and seeded != text(42, "Hello")
    assert text(None) == completion_text(16)
    assert all(w.rstrip() in WORDS for w in seeded.split())


def reason(sim: Sim, *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    body = chat("Why is the sky blue?", stream=stream, **extra)
    if not stream:
        resp = sim.post("thinker", body)
        assert resp.status_code == 200, resp.text
        answer = resp.json()
        message = answer["choices"][0]["message"]
        return {"reasoning": message.get("reasoning"), "content": message["content"],
                "usage": answer["usage"]}
    body["stream_options"] = {"include_usage": True}
    with sim.http.stream("POST", "/thinker/v1/chat/completions", json=body,
                         headers={"Authorization": f"Bearer {KEY}"}) as resp:
        events = [json.loads(line[6:]) for line in resp.iter_lines()
                  if line.startswith("data: {")]
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    kinds = [k for d in deltas for k in ("reasoning", "content") if d.get(k)]
    assert kinds == sorted(kinds, reverse=True)  # all reasoning first, then the answer
    return {"reasoning": "".join(d.get("reasoning") or "" for d in deltas) or None,
            "content": "".join(d.get("content") or "" for d in deltas),
            "usage": events[-1]["usage"]}


def thought(n: int) -> str:
    return "".join(REASONING_WORDS[i % len(REASONING_WORDS)] + " " for i in range(n))


@pytest.mark.parametrize(("extra", "shown", "tokens"), [
    ({}, True, 10),
    ({"reasoning": {"effort": "low"}}, True, 5),
    ({"reasoning": {"effort": "high"}}, True, 20),
    ({"reasoning_effort": "minimal"}, True, 2),
    ({"reasoning": {"max_tokens": 3}}, True, 3),
    ({"reasoning": {"enabled": True}}, True, 10),
    ({"reasoning": {"exclude": True}}, False, 10),
    ({"include_reasoning": False}, False, 10),
    ({"reasoning": {"effort": "none"}}, False, 0),
    ({"reasoning": {"enabled": False}}, False, 0),
    ({"max_tokens": 4}, True, 3),  # reasoning leaves room for an answer
    ({"reasoning": {"max_tokens": 10**9}}, True, 1023),  # and stays within max_output
])
@pytest.mark.parametrize("stream", [False, True])
def test_reasoning(sim: Sim, extra: dict[str, Any], shown: bool, tokens: int,
                   stream: bool) -> None:
    seen = reason(sim, stream=stream, **extra)
    assert seen["reasoning"] == (thought(tokens) if shown else None)
    answer_tokens = min(8, extra["max_tokens"] - tokens) if "max_tokens" in extra else 8
    assert seen["content"] == completion_text(answer_tokens)
    assert seen["usage"]["completion_tokens"] == tokens + answer_tokens
    assert seen["usage"]["completion_tokens_details"] == {"reasoning_tokens": tokens}


def test_models_that_do_not_reason_ignore_reasoning(sim: Sim) -> None:
    answer = sim.post("plain", chat(reasoning={"effort": "high"})).json()
    assert "reasoning" not in answer["choices"][0]["message"]
    assert "completion_tokens_details" not in answer["usage"]


@pytest.mark.parametrize("extra", [
    {"n": 0}, {"n": 129}, {"n": True}, {"logprobs": "yes"}, {"top_logprobs": 21},
    {"stop": 5}, {"stop": ["a", 1]}, {"seed": "x"}, {"seed": 1.5},
    {"parallel_tool_calls": "no"}, {"reasoning": "high"}, {"reasoning": {"effort": "huge"}},
    {"reasoning": {"max_tokens": -1}}, {"reasoning": {"exclude": 1}},
    {"include_reasoning": "no"}, {"reasoning_effort": "lots"},
])
def test_malformed_options_are_400(sim: Sim, extra: dict[str, Any]) -> None:
    resp = sim.post("thinker", chat(**extra))
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert sim.log("thinker")[-1]["outcome"] == "http_400"


def test_fault_markers_still_win_over_options(sim: Sim) -> None:
    resp = sim.post("plain", chat("[[sim:http_503]] weather?", tools=TOOLS, n=2))
    assert resp.status_code == 503
    with (sim.http.stream("POST", "/thinker/v1/chat/completions",
                          json=chat("[[sim:stream_cut]] hi", stream=True, tools=TOOLS),
                          headers={"Authorization": f"Bearer {KEY}"}) as stream,
          pytest.raises(httpx.RemoteProtocolError)):  # cut mid-body
        list(stream.iter_lines())


def test_catalog_twins_reason_where_the_catalog_says_so() -> None:
    catalog = load_settings(env={}).catalog
    fleet = catalog_fleet(catalog)
    twins = {(p.provider, p.model): p for p in fleet.endpoints}
    for endpoint in catalog.all_endpoints():
        twin = twins[(endpoint.provider, endpoint.upstream_model)]
        assert twin.reasoning == ("reasoning" in endpoint.supported_parameters), endpoint.key
    reasoning = {e.model for e in catalog.all_endpoints() if "reasoning" in e.supported_parameters}
    assert {"openai/gpt-oss-120b", "qwen/qwen3-32b"} <= reasoning
