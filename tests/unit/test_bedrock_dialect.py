"""The Bedrock Converse dialect as pure translation: request building, whole answers, errors and
usage, against fixtures written from AWS's API reference (tests/unit/bedrock_fixtures.py);
streams are tests/unit/test_bedrock_stream.py."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from crossroads.catalog import Pricing
from crossroads.chat_request import ChatRequest
from crossroads.credentials import CredentialRejected
from crossroads.errors import BadRequest
from crossroads.failures import AttemptError, Failure
from crossroads.providers import PROVIDERS
from crossroads.settings import load_settings

from . import bedrock_fixtures as fx
from .factories import endpoint, request

P = PROVIDERS["bedrock-converse"]
PRICES = Pricing(prompt=170_000, completion=660_000, cache_read=17_000, cache_write=212_500)
SCOUT = endpoint("bedrock", dialect="bedrock-converse",
                 base_url="https://bedrock-runtime.us-east-1.amazonaws.com",
                 upstream_model="us.meta.llama4-scout-17b-instruct-v1:0", max_output=8192,
                 pricing=PRICES, supported_parameters=frozenset({"tools", "max_tokens"}))
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
         "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def wire(req: ChatRequest, max_tokens: int | None = None) -> dict[str, Any]:
    return dict(orjson.loads(P.build(SCOUT, None, req, max_tokens).body))


# --- requests ---------------------------------------------------------------------------------


def test_the_model_is_a_percent_encoded_path_segment_and_nothing_is_signed_here() -> None:
    whole = P.build(SCOUT, None, request())
    streamed = P.build(SCOUT, None, request(stream=True))
    base = "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
    assert whole.url == base + "us.meta.llama4-scout-17b-instruct-v1%3A0/converse"
    assert streamed.url == base + "us.meta.llama4-scout-17b-instruct-v1%3A0/converse-stream"
    assert streamed.headers["accept"] == "application/vnd.amazon.eventstream"
    assert "authorization" not in whole.headers and "model" not in wire(request())


def test_messages_system_images_and_inference_config() -> None:
    body = wire(request(
        messages=[{"role": "system", "content": "Be terse."},
                  {"role": "user", "content": [
                      {"type": "text", "text": "What is this?",
                       "cache_control": {"type": "ephemeral"}},
                      {"type": "image_url", "image_url": {"url": PIXEL}}]}],
        temperature=1.5, top_p=0.9, stop="END"), max_tokens=300)
    assert body["system"] == [{"text": "Be terse."}]
    assert body["messages"] == [{"role": "user", "content": [
        {"text": "What is this?"}, {"cachePoint": {"type": "default"}},
        {"image": {"format": "png", "source": {"bytes": PIXEL.split(",", 1)[1]}}}]}]
    assert body["inferenceConfig"] == {"maxTokens": 300, "temperature": 1.0, "topP": 0.9,
                                       "stopSequences": ["END"]}


def test_max_tokens_defaults_to_the_endpoint_limit() -> None:
    assert wire(request())["inferenceConfig"] == {"maxTokens": 8192}


def test_an_image_by_url_is_refused_as_the_callers_to_inline() -> None:
    with pytest.raises(BadRequest, match="data: URL"):
        wire(request(messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]))


def test_tools_tool_calls_and_results_round_trip_as_converse_blocks() -> None:
    tool = {"type": "function", "function": {"name": "top_song", "description": "Top song",
                                              "parameters": {"type": "object"}}}
    body = wire(request(tools=[tool], tool_choice="required", messages=[
        {"role": "user", "content": "Top song on WZPZ?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "tooluse_1", "type": "function",
             "function": {"name": "top_song", "arguments": '{"sign": "WZPZ"}'}}]},
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "Elemental Hotel"},
        {"role": "user", "content": "Thanks"}]))
    assert body["toolConfig"] == {"tools": [{"toolSpec": {
        "name": "top_song", "description": "Top song",
        "inputSchema": {"json": {"type": "object"}}}}], "toolChoice": {"any": {}}}
    assert body["messages"][1] == {"role": "assistant", "content": [{"toolUse": {
        "toolUseId": "tooluse_1", "name": "top_song", "input": {"sign": "WZPZ"}}}]}
    assert body["messages"][2] == {"role": "user", "content": [
        {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "Elemental Hotel"}]}},
        {"text": "Thanks"}]}


def test_tool_choice_none_drops_the_tools_unless_the_history_needs_them() -> None:
    tool = {"type": "function", "function": {"name": "f"}}
    assert "toolConfig" not in wire(request(tools=[tool], tool_choice="none"))
    named = wire(request(tools=[tool], tool_choice={"type": "function",
                                                    "function": {"name": "f"}}))
    assert named["toolConfig"]["toolChoice"] == {"tool": {"name": "f"}}


def test_tool_choice_none_keeps_the_tools_a_tool_history_needs() -> None:
    tool = {"type": "function", "function": {"name": "f"}}
    body = wire(request(tools=[tool], tool_choice="none", messages=[
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "done"}]))
    assert body["toolConfig"] == {"tools": [{"toolSpec": {
        "name": "f", "inputSchema": {"json": {"type": "object", "properties": {}}}}}]}


def test_signed_reasoning_sent_back_becomes_reasoning_content_blocks_first() -> None:
    body = wire(request(messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello.", "reasoning_details": [
            {"type": "reasoning.text", "text": "greet", "signature": "sig", "index": 0},
            {"type": "reasoning.encrypted", "data": "b64=", "index": 1},
            {"type": "reasoning.text", "text": "unsigned: cannot go back", "index": 2}]},
        {"role": "user", "content": "again"}]))
    assert body["messages"][1]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "greet", "signature": "sig"}}},
        {"reasoningContent": {"redactedContent": "b64="}},
        {"text": "Hello."}]


def test_a_json_schema_is_asked_for_in_the_system_prompt() -> None:
    body = wire(request(response_format={"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}}))
    assert '"a":{"type":"integer"}' in body["system"][-1]["text"]


def test_reasoning_goes_as_a_thinking_budget_only_where_the_endpoint_lists_it() -> None:
    claude = endpoint("bedrock", dialect="bedrock-converse", max_output=8000,
                      supported_parameters=frozenset({"reasoning"}))
    req = request(reasoning={"effort": "low"}, temperature=0.3)
    body = orjson.loads(P.build(claude, None, req).body)
    assert body["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 1600}}
    assert "temperature" not in body["inferenceConfig"]
    assert "additionalModelRequestFields" not in wire(req)


def test_the_catalog_rows_load_with_their_region() -> None:
    settings = load_settings(env={"AWS_ACCESS_KEY_ID": "x"})
    rows = [e for e in settings.catalog.all_endpoints() if e.dialect == "bedrock-converse"]
    assert {e.model for e in rows} == {"meta-llama/llama-4-scout", "meta-llama/llama-4-maverick"}
    assert all(e.credentials is not None and e.credentials.kind == "aws"
               and e.credentials.option("region") == "us-east-1"
               and e.upstream_model.startswith("us.meta.llama4-") for e in rows)


# --- whole answers -----------------------------------------------------------------------------


def test_a_text_answer() -> None:
    answer = P.parse_completion(orjson.dumps(fx.TEXT_RESPONSE))
    choice = answer["choices"][0]
    assert choice["message"] == {"role": "assistant",
                                 "content": "Hello! How can I help you today?"}
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("stop", "end_turn")
    assert answer["usage"]["prompt_tokens"] == 12


def test_a_tool_use_answer() -> None:
    choice = P.parse_completion(orjson.dumps(fx.TOOL_RESPONSE))["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"
    assert orjson.loads(call["function"]["arguments"]) == {"sign": "WZPZ"}


def test_cache_reads_and_writes_are_inside_prompt_tokens() -> None:
    usage = P.parse_completion(orjson.dumps(fx.CACHED_RESPONSE))["usage"]
    assert usage == {"prompt_tokens": 2820, "completion_tokens": 393, "total_tokens": 3213,
                     "prompt_tokens_details": {"cached_tokens": 1800,
                                               "cache_write_tokens": 1000}}


def test_reasoning_blocks_become_reasoning_and_details() -> None:
    message = P.parse_completion(orjson.dumps(fx.REASONING_RESPONSE))["choices"][0]["message"]
    assert message["content"] == "Hi there."
    assert message["reasoning"] == "The user greets me."
    assert [d["type"] for d in message["reasoning_details"]] == [
        "reasoning.text", "reasoning.encrypted"]
    assert message["reasoning_details"][0]["signature"] == "EqoBCkgIARABGAIiQL"


@pytest.mark.parametrize(("reason", "finish"), [
    ("guardrail_intervened", "content_filter"), ("content_filtered", "content_filter"),
    ("model_context_window_exceeded", "length"), ("stop_sequence", "stop"),
    ("a_reason_from_next_year", "stop")])
def test_stop_reasons_map_and_the_native_one_is_kept(reason: str, finish: str) -> None:
    choice = P.parse_completion(orjson.dumps(dict(fx.TEXT_RESPONSE, stopReason=reason))
                                )["choices"][0]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == (finish, reason)


def test_a_missing_usage_is_left_for_the_router_to_estimate() -> None:
    raw = {k: v for k, v in fx.TEXT_RESPONSE.items() if k != "usage"}
    assert "usage" not in P.parse_completion(orjson.dumps(raw))


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"output": {}}', b'{"output": {"message":'
                                 b' {"content": [1]}}}'])
def test_a_broken_answer_fails_over(raw: bytes) -> None:
    with pytest.raises(AttemptError) as caught:
        P.parse_completion(raw)
    assert caught.value.rule.fail_over


# --- errors ------------------------------------------------------------------------------------


EXPECTED = [Failure.RATE_LIMITED, Failure.SERVER_ERROR, Failure.SERVER_ERROR,
            Failure.UPSTREAM_TIMEOUT, Failure.SERVER_ERROR, Failure.SERVER_ERROR,
            Failure.UPSTREAM_AUTH, Failure.UPSTREAM_NOT_FOUND, Failure.CONTEXT_LENGTH,
            Failure.CONTEXT_LENGTH, Failure.CONTENT_FILTER, Failure.CALLER_ERROR,
            Failure.UPSTREAM_AUTH, Failure.UPSTREAM_AUTH, Failure.UPSTREAM_AUTH]


@pytest.mark.parametrize(("error", "failure"), list(zip(fx.ERRORS, EXPECTED, strict=True)))
def test_every_error_shape_is_classified(error: tuple[int, str, str], failure: Failure) -> None:
    status, kind, message = error
    classified = P.classify(status, {"x-amzn-errortype": kind, "retry-after": "2"},
                            orjson.dumps({"message": message}))
    assert classified.failure is failure
    assert classified.message == message and classified.status == status
    assert classified.retry_after_s == 2.0
    signature = kind in ("InvalidSignatureException", "UnrecognizedClientException",
                         "ExpiredTokenException")
    assert isinstance(classified, CredentialRejected) is signature


def test_an_error_named_only_in_the_body_and_one_that_is_not_json() -> None:
    assert P.classify(400, {}, b'{"__type": "com.amazon.coral#ThrottlingException", '
                               b'"Message": "slow"}').failure is Failure.RATE_LIMITED
    assert P.classify(502, {}, b"<html>bad gateway</html>").failure is Failure.SERVER_ERROR
