"""Everything a real provider does, through the router, as the official `openai` SDK sees it:
tools and tool_choice, streamed tool calls, structured output, n, logprobs, stop, seed and
reasoning — all answered by the simulator, all carried by the router untouched, and the streamed
tool-call and reasoning deltas commit a stream like text does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import openai
import pytest

from crossroads.sim.content import REASONING_WORDS
from crossroads.sim.render import completion_text
from tests.support import Router, Sim, start_router, start_sim

TOOLS_MODEL = "test/tools"
THINKER = "test/thinker"
PARAMETERS = ["max_tokens", "temperature", "tools", "tool_choice", "parallel_tool_calls",
              "response_format", "structured_outputs", "logprobs", "top_logprobs", "stop",
              "seed", "reasoning", "include_reasoning"]

FLEET = """
seed = 3
time_scale = 1.0
""" + "".join(f"""
[[endpoint]]
name = "{name}"
context_length = 16384
max_output = 4096
ttft_ms = 5
ttft_sigma = 0
tokens_per_s = 2000
tps_sigma = 0
completion_tokens = 12
reasoning = {reasoning}
reasoning_tokens = 10
""" for name, reasoning in (("tooly", "false"), ("think-a", "true"), ("think-b", "true")))

CONFIG = """
[routing]
seed = 1
outage_min_failures = 1000

[timeouts]
headers_s = 5
first_token_s = 5
stall_s = 5
total_s = 20

[breaker]
base_cooldown_s = 0
max_cooldown_s = 0

[[models]]
slug = "test/tools"
name = "Tools"
context_length = 16384

[[models]]
slug = "test/thinker"
name = "Thinker"
context_length = 16384
""" + "".join(f"""
[providers.{name}]
name = "{name.title()}"
base_url = "{{base}}/{name}/v1"
api_key_env = "SIM_KEY"

[[endpoints]]
model = "{model}"
provider = "{name}"
upstream_model = "{name}-model"
context_length = 16384
max_output = 4096
price = {{ prompt = 1, completion = 2 }}
supported_parameters = {json.dumps(PARAMETERS)}
""" for name, model in (("tooly", TOOLS_MODEL), ("think-a", THINKER), ("think-b", THINKER)))

WEATHER_PARAMETERS = {"type": "object", "properties": {
    "city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 14},
    "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city", "days", "unit"],
    "additionalProperties": False}
TOOLS: Any = [
    {"type": "function", "function": {"name": "get_time", "description": "Local time in a city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_weather", "description": "Weather forecast",
     "parameters": WEATHER_PARAMETERS}},
]
ASK = [{"role": "user", "content": "What's the weather in Lisbon for 3 days?"}]
FORECAST = {"city": "Lisbon", "days": 3, "unit": "celsius"}
MOVIE: Any = {"type": "object", "properties": {
    "title": {"type": "string"}, "year": {"type": "integer", "minimum": 1888},
    "genres": {"type": "array", "items": {"enum": ["drama", "comedy"]}, "minItems": 1},
    "director": {"$ref": "#/$defs/Person"}, "sequel": {"anyOf": [{"type": "null"},
                                                                 {"type": "string"}]}},
    "required": ["title", "year", "genres", "director", "sequel"], "additionalProperties": False,
    "$defs": {"Person": {"type": "object", "properties": {"name": {"type": "string"}},
                         "required": ["name"], "additionalProperties": False}}}


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    tmp = tmp_path_factory.mktemp("sim-features")
    sim = start_sim(FLEET, tmp)
    try:
        started = start_router(CONFIG.replace("{base}", sim.url), tmp,
                               env={"SIM_KEY": "sim-secret-key"})
        started.sim = sim  # type: ignore[attr-defined]
        yield started
        started.stop()  # fails the module if a response broke OpenRouter's schema
    finally:
        sim.stop()


@pytest.fixture
def sim(router: Router) -> Sim:
    handle: Sim = router.sim  # type: ignore[attr-defined]
    handle.reset()
    return handle


@pytest.fixture(scope="module")
def sdk(router: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key="test", max_retries=0, timeout=20)


def calls(message: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(c.function.name, json.loads(c.function.arguments))
            for c in message.tool_calls or []]


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", [("get_weather", FORECAST)]),
    ("required", [("get_weather", FORECAST)]),
    ({"type": "function", "function": {"name": "get_time"}}, [("get_time", {"city": "Lisbon"})]),
    ("none", []),
])
def test_tool_choice(sdk: openai.OpenAI, choice: Any, expected: list[Any]) -> None:
    response = sdk.chat.completions.create(model=TOOLS_MODEL, messages=ASK, tools=TOOLS,
                                           tool_choice=choice)
    [answer] = response.choices
    assert calls(answer.message) == expected
    assert answer.finish_reason == ("tool_calls" if expected else "stop")
    for _, arguments in calls(answer.message):
        jsonschema.validate(arguments, WEATHER_PARAMETERS if "days" in arguments else
                            TOOLS[0]["function"]["parameters"])
    if not expected:
        assert answer.message.content == completion_text(12)


def test_tool_result_gets_a_text_answer(sdk: openai.OpenAI) -> None:
    first = sdk.chat.completions.create(model=TOOLS_MODEL, messages=ASK, tools=TOOLS)
    [call] = first.choices[0].message.tool_calls or []
    messages: Any = [*ASK, first.choices[0].message.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24C"}]
    answer = sdk.chat.completions.create(model=TOOLS_MODEL, messages=messages, tools=TOOLS)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content == completion_text(12)


def test_streamed_tool_calls_accumulate_to_valid_arguments(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(model=TOOLS_MODEL, messages=ASK, tools=TOOLS,
                                         stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    name, arguments, ids = "", "", set()
    for chunk in chunks:
        for part in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            assert part.index == 0 and part.function is not None
            name += part.function.name or ""
            arguments += part.function.arguments or ""
            ids |= {part.id} if part.id else set()
    assert name == "get_weather" and len(ids) == 1
    jsonschema.validate(json.loads(arguments), WEATHER_PARAMETERS)
    assert json.loads(arguments) == FORECAST
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert len({c.id for c in chunks}) == 1 and chunks[-1].usage is not None


@pytest.mark.parametrize("stream", [False, True])
def test_response_format_json_schema_validates(sdk: openai.OpenAI, stream: bool) -> None:
    schema = {"name": "movie", "strict": True, "schema": MOVIE}
    request: Any = {"model": TOOLS_MODEL,
                    "response_format": {"type": "json_schema", "json_schema": schema},
                    "messages": [{"role": "user", "content": "A movie by Agnes Varda, please."}]}
    if stream:
        content = "".join(c.choices[0].delta.content or "" for c in
                          sdk.chat.completions.create(**request, stream=True) if c.choices)
    else:
        content = sdk.chat.completions.create(**request).choices[0].message.content or ""
    movie = json.loads(content)
    jsonschema.validate(movie, MOVIE)
    assert movie["title"] == "Agnes Varda"  # the user's proper noun, where a string fits


@pytest.mark.parametrize("stream", [False, True])
def test_n_gives_n_choices(sdk: openai.OpenAI, stream: bool) -> None:
    if not stream:
        response = sdk.chat.completions.create(model=TOOLS_MODEL, messages=ASK, n=3)
        texts = [c.message.content for c in response.choices]
        assert [c.index for c in response.choices] == [0, 1, 2]
        assert response.usage is not None and response.usage.completion_tokens == 36
    else:
        texts = ["", "", ""]
        for chunk in sdk.chat.completions.create(model=TOOLS_MODEL, messages=ASK, n=3,
                                                 stream=True):
            for choice in chunk.choices:
                texts[choice.index] = (texts[choice.index] or "") + (choice.delta.content or "")
    assert texts[0] == completion_text(12) and len(set(texts)) == 3


def test_logprobs_reach_the_caller(sdk: openai.OpenAI) -> None:
    response = sdk.chat.completions.create(model=TOOLS_MODEL, messages=ASK, logprobs=True,
                                           top_logprobs=2, max_tokens=5)
    logprobs = response.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None and len(logprobs.content) == 5
    assert "".join(t.token for t in logprobs.content) == response.choices[0].message.content
    assert all(len(t.top_logprobs) == 2 and t.logprob < 0 for t in logprobs.content)
    chunks = list(sdk.chat.completions.create(model=TOOLS_MODEL, messages=ASK, logprobs=True,
                                              max_tokens=5, stream=True))
    streamed = [t.token for c in chunks if c.choices and c.choices[0].logprobs
                for t in c.choices[0].logprobs.content or []]
    assert streamed == [t.token for t in logprobs.content]


def test_stop_cuts_and_seed_repeats(sdk: openai.OpenAI) -> None:
    cut = sdk.chat.completions.create(model=TOOLS_MODEL, messages=ASK, stop=["jumps", "dog"])
    assert cut.choices[0].message.content == "the quick brown fox "
    assert cut.choices[0].finish_reason == "stop"
    assert cut.usage is not None and cut.usage.completion_tokens == 4

    def seeded(seed: int) -> str | None:
        return sdk.chat.completions.create(model=TOOLS_MODEL, messages=ASK,
                                           seed=seed).choices[0].message.content

    assert seeded(7) == seeded(7) != seeded(8)
    assert seeded(7) != completion_text(12)


def _thought(n: int) -> str:
    return "".join(REASONING_WORDS[i % len(REASONING_WORDS)] + " " for i in range(n))


@pytest.mark.parametrize(("reasoning", "shown"), [(None, True), ({"exclude": True}, False),
                                                  ({"effort": "high"}, True)])
def test_reasoning_reaches_the_caller(sdk: openai.OpenAI, reasoning: Any, shown: bool) -> None:
    extra = {} if reasoning is None else {"reasoning": reasoning}
    tokens = 20 if reasoning == {"effort": "high"} else 10
    raw = sdk.chat.completions.with_raw_response.create(model=THINKER, messages=ASK,
                                                        extra_body=extra)
    body = raw.http_response.json()
    message = body["choices"][0]["message"]
    assert message.get("reasoning") == (_thought(tokens) if shown else None)
    assert message["content"] == completion_text(12)
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == tokens
    assert body["usage"]["completion_tokens"] == tokens + 12

    chunks = [c.model_dump() for c in sdk.chat.completions.create(
        model=THINKER, messages=ASK, stream=True, extra_body=extra)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning") or "" for d in deltas) == (_thought(tokens) if shown
                                                                  else "")
    assert "".join(d.get("content") or "" for d in deltas) == completion_text(12)
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] == tokens


def _stream_events(router: Router, body: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in router.raw_stream(body)
            if line.startswith(b"data: {")]


@pytest.mark.parametrize(("model", "extra", "kind"), [
    # High effort: 64 reasoning tokens + 12 of answer, cut within the reasoning.
    (THINKER, {"reasoning": {"effort": "high"}}, "reasoning"),
    (TOOLS_MODEL, {"tools": TOOLS}, "tool_calls"),
])
def test_reasoning_and_tool_call_deltas_commit_the_stream(router: Router, sim: Sim, model: str,
                                                          extra: dict[str, Any],
                                                          kind: str) -> None:
    """Cut mid-way after only reasoning (or tool-call) deltas: had they not committed the stream
    the router would have failed over to another endpoint; committed, it ends in-band."""
    first = "think-a" if model == THINKER else "tooly"
    sim.script(first, "stream_cut")
    events = _stream_events(router, {"model": model, "messages": ASK, **extra,
                                     "provider": {"order": [first, "think-b"]}})
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    assert any(d.get(kind) for d in deltas)
    assert not any(d.get("content") for d in deltas)
    assert events[-1]["choices"][0]["finish_reason"] == "error" and "error" in events[-1]
    assert sim.hits("think-b") == 0
