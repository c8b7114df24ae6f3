"""The Anthropic Messages dialect as pure translation: request building, answers, streams (alone
and through the router's StreamSession), errors and usage, against fixtures written from
Anthropic's API reference (tests/unit/anthropic_fixtures.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from crossroads.catalog import Pricing
from crossroads.chat_request import ChatRequest
from crossroads.errors import BadRequest
from crossroads.failures import AttemptError, Failure
from crossroads.generation import Attempt, Generation
from crossroads.pricing import cost_micro, usage_from_openai
from crossroads.providers import PROVIDERS
from crossroads.providers.anthropic_request import JSON_TOOL
from crossroads.settings import ConfigError, load_settings
from crossroads.sse import SSEDecoder
from crossroads.streaming import StreamSession

from . import anthropic_fixtures as fx
from .factories import endpoint, request

P = PROVIDERS["anthropic"]
HAIKU = Pricing(prompt=1_000_000, completion=5_000_000, cache_read=100_000,
                cache_write=1_250_000)
CLAUDE = endpoint("anthropic", dialect="anthropic", base_url="https://api.anthropic.com/v1",
                  upstream_model="claude-haiku-4-5", max_output=64_000, pricing=HAIKU,
                  supported_parameters=frozenset({"tools", "reasoning", "max_tokens"}))


def wire(req: ChatRequest, max_tokens: int | None = None) -> dict[str, Any]:
    built = P.build(CLAUDE, "sk-ant-test", req, max_tokens)
    assert built.url == "https://api.anthropic.com/v1/messages"
    return dict(orjson.loads(built.body))


# --- requests ---------------------------------------------------------------------------------


def test_headers_carry_the_key_as_x_api_key_and_pin_the_version() -> None:
    built = P.build(CLAUDE, "sk-ant-test", request(stream=True))
    assert built.headers["x-api-key"] == "sk-ant-test"
    assert built.headers["anthropic-version"] == "2023-06-01"
    assert built.headers["accept"] == "text/event-stream"
    assert "authorization" not in built.headers


def test_system_messages_go_to_the_top_and_max_tokens_defaults_to_the_endpoint_limit() -> None:
    body = wire(request(messages=[
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "No emoji.",
                                           "cache_control": {"type": "ephemeral"}}]},
    ]))
    assert body["system"] == [{"type": "text", "text": "Be terse."},
                              {"type": "text", "text": "No emoji.",
                               "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert body["max_tokens"] == 64_000
    assert body["model"] == "claude-haiku-4-5"
    assert wire(request(max_tokens=300))["max_tokens"] == 300
    assert wire(request(max_tokens=300), max_tokens=120)["max_tokens"] == 120


def test_images_become_base64_or_url_sources() -> None:
    body = wire(request(messages=[{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]}]))
    assert body["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_tool_calls_and_results_become_blocks_in_alternating_turns() -> None:
    tools: list[dict[str, Any]] = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    body = wire(request(tools=tools, tool_choice="required", parallel_tool_calls=False,
                        messages=[
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
            {"id": "toolu_2", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18 C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "24 C"},
        {"role": "user", "content": "Which is warmer?"},
    ]))
    assert body["tools"] == [{"name": "get_weather", "description": "Weather now",
                              "input_schema": tools[0]["function"]["parameters"]}]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert [t["role"] for t in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1",
         "content": [{"type": "text", "text": "18 C"}]},
        {"type": "tool_result", "tool_use_id": "toolu_2",
         "content": [{"type": "text", "text": "24 C"}]},
        {"type": "text", "text": "Which is warmer?"}]
    named = wire(request(tools=tools, tool_choice={"type": "function",
                                                   "function": {"name": "get_weather"}}))
    assert named["tool_choice"] == {"type": "tool", "name": "get_weather"}


def test_sampling_stop_and_user_are_translated() -> None:
    body = wire(request(temperature=1.7, top_p=0.9, stop="###", user="u-42"))
    assert body["temperature"] == 1.0  # Anthropic's range ends at 1
    assert body["top_p"] == 0.9
    assert body["stop_sequences"] == ["###"]
    assert body["metadata"] == {"user_id": "u-42"}
    assert "stream" not in body
    assert wire(request(stream=True))["stream"] is True


def test_reasoning_becomes_a_thinking_budget_without_temperature() -> None:
    body = wire(request(max_tokens=10_000, temperature=0.5, reasoning={"effort": "high"}))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8_000}
    assert "temperature" not in body
    explicit = wire(request(max_tokens=10_000, reasoning={"max_tokens": 200}))
    assert explicit["thinking"]["budget_tokens"] == 1024  # Anthropic's minimum
    # No room for the minimum budget below max_tokens: no thinking at all.
    assert "thinking" not in wire(request(max_tokens=1000, reasoning={"effort": "high"}))
    plain = endpoint("anthropic", dialect="anthropic")
    unasked = orjson.loads(P.build(plain, None, request(reasoning={"effort": "high"})).body)
    assert "thinking" not in unasked  # the endpoint does not list `reasoning`


def test_json_schema_is_asked_for_as_a_forced_tool() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    body = wire(request(response_format={"type": "json_schema", "json_schema": {
        "name": "person", "schema": schema}}))
    assert body["tools"] == [{"name": JSON_TOOL, "description": "Give the answer as this "
                              "tool's input.", "input_schema": schema}]
    assert body["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    # Beside the caller's own tools, the schema is asked for in the system prompt instead.
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    mixed = wire(request(tools=tools, response_format={"type": "json_object"}))
    assert [t["name"] for t in mixed["tools"]] == ["f"]
    assert "JSON" in mixed["system"][-1]["text"]


def test_an_unsupported_content_part_is_a_400() -> None:
    with pytest.raises(BadRequest, match="input_audio"):
        wire(request(messages=[{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]))


# --- whole answers ----------------------------------------------------------------------------


def parse(message: dict[str, Any], req: ChatRequest | None = None) -> dict[str, Any]:
    return P.parse_completion(orjson.dumps(message), req or request())


def test_a_text_answer_reads_as_a_chat_completion() -> None:
    answer = parse(fx.TEXT_MESSAGE)
    choice = answer["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Hi! My name is Claude."}
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("stop", "end_turn")
    assert answer["usage"]["prompt_tokens"] == 2095
    assert answer["usage"]["completion_tokens"] == 503


def test_tool_use_and_thinking_become_tool_calls_and_reasoning() -> None:
    message = parse(fx.TOOL_MESSAGE)["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    assert message["message"]["reasoning"] == "The user wants the weather."
    assert message["message"]["content"] == "I'll check the weather."
    call = message["message"]["tool_calls"][0]
    assert call["id"] == "toolu_01A09q90qw90lq917835lq9"
    assert orjson.loads(call["function"]["arguments"]) == {"location": "San Francisco, CA",
                                                           "unit": "celsius"}


@pytest.mark.parametrize(("native", "finish"), [
    ("end_turn", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("stop_sequence", "stop"), ("refusal", "content_filter"), ("pause_turn", "stop"),
    ("model_context_window_exceeded", "length"), ("something_new", "stop")])
def test_every_stop_reason_maps_and_is_kept(native: str, finish: str) -> None:
    choice = parse({**fx.TEXT_MESSAGE, "stop_reason": native})["choices"][0]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == (finish, native)


def test_thinking_blocks_come_back_signed_in_reasoning_details() -> None:
    message = parse(fx.REDACTED_MESSAGE)["choices"][0]["message"]
    assert message["reasoning"] == "Let me analyze this step by step..."
    assert message["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Let me analyze this step by step...",
         "signature": fx.REDACTED_MESSAGE["content"][0]["signature"],
         "format": "anthropic-claude-v1", "index": 0},
        {"type": "reasoning.encrypted", "data": fx.REDACTED_MESSAGE["content"][1]["data"],
         "format": "anthropic-claude-v1", "index": 1}]


TOOL_LOOP: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "toolu_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "toolu_1", "content": "18 C"},
]
WEATHER_TOOL = [{"type": "function", "function": {"name": "get_weather",
                                                  "parameters": {"type": "object"}}}]


def test_signed_reasoning_details_go_back_as_the_thinking_blocks_they_were() -> None:
    answer = parse(fx.REDACTED_MESSAGE)["choices"][0]["message"]
    loop = [*TOOL_LOOP]
    loop[1] = {**loop[1], "reasoning_details": answer["reasoning_details"]}
    body = wire(request(messages=loop, tools=WEATHER_TOOL, max_tokens=4000,
                        reasoning={"max_tokens": 2000}))
    assert body["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": "Let me analyze this step by step...",
         "signature": fx.REDACTED_MESSAGE["content"][0]["signature"]},
        {"type": "redacted_thinking", "data": fx.REDACTED_MESSAGE["content"][1]["data"]}]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}


def test_a_tool_loop_without_its_thinking_goes_on_without_thinking() -> None:
    body = wire(request(messages=TOOL_LOOP, tools=WEATHER_TOOL, max_tokens=4000,
                        reasoning={"max_tokens": 2000}))
    assert "thinking" not in body  # Anthropic would refuse the unsigned tool turn
    assert body["messages"][1]["content"][0]["type"] == "tool_use"


def test_the_matched_stop_sequence_is_named() -> None:
    assert parse(fx.STOP_SEQUENCE_MESSAGE)["choices"][0]["stop_reason"] == "###"


def test_a_forced_json_tool_answer_is_plain_content() -> None:
    message = {**fx.TEXT_MESSAGE, "stop_reason": "tool_use", "content": [
        {"type": "tool_use", "id": "toolu_9", "name": JSON_TOOL, "input": {"name": "Ada"}}]}
    choice = parse(message)["choices"][0]
    assert orjson.loads(choice["message"]["content"]) == {"name": "Ada"}
    assert "tool_calls" not in choice["message"]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("stop", "tool_use")


def test_cache_reads_and_writes_add_to_the_prompt_and_are_billed_exactly() -> None:
    usage = parse(fx.CACHED_MESSAGE)["usage"]
    assert usage["prompt_tokens"] == 21 + 248 + 1800
    assert usage["prompt_tokens_details"] == {"cached_tokens": 1800, "cache_write_tokens": 248}
    counted = usage_from_openai(usage)
    assert counted is not None
    # 21 fresh at $1, 1,800 read at $0.10, 248 written at $1.25, 393 out at $5 (per 1M).
    assert cost_micro(counted, HAIKU) == 21 + 180 + 310 + 1965


@pytest.mark.parametrize(("raw", "failure"), [
    (b"", Failure.EMPTY), (b"{not json", Failure.MALFORMED), (b"[1]", Failure.MALFORMED),
    (b'{"type": "message", "content": "text"}', Failure.MALFORMED),
    (fx.error_body("overloaded_error", "Overloaded"), Failure.SERVER_ERROR)])
def test_broken_answers_fail_the_attempt(raw: bytes, failure: Failure) -> None:
    with pytest.raises(AttemptError) as caught:
        P.parse_completion(raw, request())
    assert caught.value.failure is failure


def test_a_missing_usage_is_left_for_the_router_to_estimate() -> None:
    message = {k: v for k, v in fx.TEXT_MESSAGE.items() if k != "usage"}
    assert "usage" not in parse(message)


# --- errors ------------------------------------------------------------------------------------


EXPECTED_FAILURES = {
    "invalid_request_error": Failure.CALLER_ERROR, "authentication_error": Failure.UPSTREAM_AUTH,
    "billing_error": Failure.UPSTREAM_AUTH, "permission_error": Failure.UPSTREAM_AUTH,
    "not_found_error": Failure.UPSTREAM_NOT_FOUND, "request_too_large": Failure.CALLER_ERROR,
    "rate_limit_error": Failure.RATE_LIMITED, "api_error": Failure.SERVER_ERROR,
    "timeout_error": Failure.UPSTREAM_TIMEOUT, "overloaded_error": Failure.SERVER_ERROR,
}


@pytest.mark.parametrize(("status", "kind", "message"), fx.ERRORS)
def test_every_error_type_maps_to_the_failover_table(status: int, kind: str,
                                                     message: str) -> None:
    error = P.classify(status, {"retry-after": "7"}, fx.error_body(kind, message))
    assert error.failure is EXPECTED_FAILURES[kind]
    assert error.message == message
    assert error.status == status
    assert error.retry_after_s == 7.0


def test_a_prompt_too_long_is_a_context_length_failure() -> None:
    error = P.classify(400, {}, fx.error_body("invalid_request_error", fx.PROMPT_TOO_LONG))
    assert error.failure is Failure.CONTEXT_LENGTH
    assert error.rule.fail_over


def test_the_spend_cap_429_is_not_waited_on() -> None:
    body = fx.error_body("rate_limit_error", "spend limit reached",
                         details={"error_code": "enforced_spend_limit_reached"})
    assert P.classify(429, {}, body).failure is Failure.UPSTREAM_AUTH


def test_an_error_body_that_is_not_json_still_classifies_by_status() -> None:
    error = P.classify(503, {}, b"<html>upstream connect error</html>")
    assert error.failure is Failure.SERVER_ERROR
    assert "upstream connect error" in error.message


# --- streams -----------------------------------------------------------------------------------


def translate(events: list[dict[str, Any]], req: ChatRequest | None = None
              ) -> tuple[list[dict[str, Any]], bool]:
    translator = P.stream_translator(req or request(stream=True))
    chunks: list[dict[str, Any]] = []
    for data in SSEDecoder().feed(fx.sse(*events)):
        chunks += translator.chunks(data)
    return chunks, translator.ended


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def test_a_text_stream_becomes_content_chunks_then_finish_then_usage() -> None:
    chunks, ended = translate(fx.TEXT_STREAM)
    assert ended
    assert "".join(d.get("content", "") for d in deltas(chunks)) == "Hello!"
    finish = chunks[-2]["choices"][0]
    assert (finish["finish_reason"], finish["native_finish_reason"]) == ("stop", "end_turn")
    assert chunks[-1]["choices"] == []
    # Input from message_start, output from message_delta.
    assert chunks[-1]["usage"]["prompt_tokens"] == 25
    assert chunks[-1]["usage"]["completion_tokens"] == 15
    assert {c["id"] for c in chunks} == {"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"}


def test_streamed_tool_calls_keep_their_own_index_and_arguments() -> None:
    chunks, _ = translate(fx.TOOL_STREAM)
    calls: dict[int, dict[str, Any]] = {}
    for delta in deltas(chunks):
        for piece in delta.get("tool_calls", ()):
            call = calls.setdefault(piece["index"], {"arguments": ""})
            call.update({k: piece[k] for k in ("id",) if k in piece})
            call["name"] = piece["function"].get("name", call.get("name"))
            call["arguments"] += piece["function"].get("arguments", "")
    assert sorted(calls) == [0, 1]  # chat numbers calls from 0; the blocks were 1 and 2
    assert calls[0]["id"] == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert orjson.loads(calls[0]["arguments"]) == {"location": "San Francisco, CA",
                                                   "unit": "fahrenheit"}
    assert orjson.loads(calls[1]["arguments"]) == {"tz": "PST"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_thinking_streams_as_reasoning_and_its_signature_as_reasoning_details() -> None:
    chunks, _ = translate(fx.THINKING_STREAM)
    reasoning = "".join(d.get("reasoning", "") for d in deltas(chunks))
    assert reasoning == "Let me solve this step by step:\n\n1. First break down 27 * 453"
    assert "".join(d.get("content", "") for d in deltas(chunks)) == "27 * 453 = 12,231"
    details = [x for d in deltas(chunks) for x in d.get("reasoning_details", ())]
    assert details == [{"type": "reasoning.text", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h",
                        "format": "anthropic-claude-v1", "index": 0}]


def test_a_streamed_json_tool_answer_is_content() -> None:
    events = [fx.TEXT_STREAM[0],
              {"type": "content_block_start", "index": 0, "content_block": {
                  "type": "tool_use", "id": "toolu_9", "name": JSON_TOOL, "input": {}}},
              {"type": "content_block_delta", "index": 0,
               "delta": {"type": "input_json_delta", "partial_json": "{\"a\": "}},
              {"type": "content_block_delta", "index": 0,
               "delta": {"type": "input_json_delta", "partial_json": "1}"}},
              {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
               "usage": {"output_tokens": 5}}]
    chunks, _ = translate(events)
    assert "".join(d.get("content", "") for d in deltas(chunks)) == "{\"a\": 1}"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(("data", "failure"), [
    (b"{not json", Failure.MALFORMED),
    (b"[]", Failure.MALFORMED),
    (b'{"type": "message_start"}', Failure.MALFORMED),
    (b'{"type": "content_block_delta", "index": 4, "delta": {"type": "input_json_delta", '
     b'"partial_json": "{"}}', Failure.MALFORMED),
    (orjson.dumps(fx.STREAM_ERROR), Failure.SERVER_ERROR),
    (orjson.dumps({"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}),
     Failure.RATE_LIMITED),
])
def test_broken_or_error_events_fail_the_attempt(data: bytes, failure: Failure) -> None:
    with pytest.raises(AttemptError) as caught:
        P.stream_translator(request(stream=True)).chunks(data)
    assert caught.value.failure is failure


def test_unknown_events_and_deltas_are_skipped() -> None:
    translator = P.stream_translator(request(stream=True))
    assert translator.chunks(b'{"type": "brand_new_event", "x": 1}') == []
    assert translator.chunks(b'{"type": "content_block_delta", "index": 0, "delta": '
                             b'{"type": "citations_delta", "citation": {}}}') == []


# --- through the router's stream session -------------------------------------------------------


def session_events(events: list[dict[str, Any]]) -> tuple[StreamSession, list[dict[str, Any]]]:
    req = request(stream=True)
    generation = Generation("test/model", streamed=True)
    attempt = Attempt(CLAUDE, started=0.0)
    generation.attempts.append(attempt)
    session = StreamSession(attempt, generation, req, P.stream_translator(req), 1 << 20)
    out = session.feed(fx.sse(*events), 1.0)
    parsed = [orjson.loads(line[6:]) for line in b"".join(out).split(b"\n\n") if line]
    return session, parsed


def test_message_stop_ends_the_session_like_done_and_usage_is_priced_once() -> None:
    session, chunks = session_events(fx.CACHED_STREAM)
    assert session.saw_done and session.error is None
    assert [c for c in chunks if "usage" in c] == [chunks[-1]]
    usage = chunks[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (2069, 393)
    assert usage["prompt_tokens_details"]["cached_tokens"] == 1800
    assert usage["crossroads"]["cost_micro_usd"] == 21 + 180 + 310 + 1965
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_an_error_event_before_content_fails_the_attempt_for_failover() -> None:
    with pytest.raises(AttemptError) as caught:
        session_events([fx.TEXT_STREAM[0], fx.STREAM_ERROR])
    assert caught.value.failure is Failure.SERVER_ERROR
    assert caught.value.rule.fail_over


def test_a_stream_that_stops_with_no_content_is_empty() -> None:
    with pytest.raises(AttemptError) as caught:
        session_events([fx.TEXT_STREAM[0], {"type": "message_stop"}])
    assert caught.value.failure is Failure.EMPTY


# --- configuration -----------------------------------------------------------------------------


CONFIG = """
[providers.claude]
name = "Claude"
base_url = "https://api.anthropic.com/v1"
dialect = "anthropic"

[[models]]
slug = "x/claude"
name = "Claude"

[[endpoints]]
model = "x/claude"
provider = "claude"
context_length = 1000
price = { prompt = 1, completion = 5 }

[[endpoints]]
model = "x/claude"
provider = "claude"
tag = "claude/openai-compatible"
dialect = "openai"
context_length = 1000
price = { prompt = 1, completion = 5 }
"""


def test_an_endpoint_takes_its_providers_dialect_unless_it_names_its_own(tmp_path: Path) -> None:
    path = tmp_path / "crossroads.toml"
    path.write_text(CONFIG)
    endpoints = load_settings(str(path), env={}).catalog.endpoints("x/claude")
    assert {e.tag: e.dialect for e in endpoints} == {"claude": "anthropic",
                                                     "claude/openai-compatible": "openai"}
    shipped = load_settings(env={}).catalog.endpoints("meta-llama/llama-4-scout")
    assert {e.dialect for e in shipped if e.provider != "bedrock"} == {"openai"}


def test_an_unknown_dialect_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "crossroads.toml"
    path.write_text(CONFIG.replace('dialect = "anthropic"', 'dialect = "smoke-signals"'))
    with pytest.raises(ConfigError,
                       match=r"providers\[\.\.\.\]\.dialect: Invalid enum value .smoke-signals."):
        load_settings(str(path), env={})


def test_the_openai_cache_convention_flag_is_refused_on_another_dialect(tmp_path: Path) -> None:
    path = tmp_path / "crossroads.toml"
    path.write_text(CONFIG.replace('price = { prompt = 1, completion = 5 }\n',
                                   'price = { prompt = 1, completion = 5 }\n'
                                   'usage_prompt_includes_cached = false\n', 1))
    with pytest.raises(ConfigError, match=r"usage_prompt_includes_cached: only for the openai"):
        load_settings(str(path), env={})
