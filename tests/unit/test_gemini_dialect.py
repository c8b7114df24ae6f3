"""The Gemini dialect as pure translation: request building (Gemini API and Vertex URLs),
answers, streams (alone and through the router's StreamSession), errors and usage, against
fixtures written from Google's API reference (tests/unit/gemini_fixtures.py)."""

from __future__ import annotations

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
from crossroads.streaming import StreamSession

from . import gemini_fixtures as fx
from .factories import endpoint, request

P = PROVIDERS["gemini"]
FLASH = Pricing(prompt=300_000, completion=2_500_000, cache_read=75_000)
STUDIO = endpoint("google-ai-studio", dialect="gemini",
                  base_url="https://generativelanguage.googleapis.com/v1beta",
                  upstream_model="gemini-2.5-flash", max_output=65_536, pricing=FLASH,
                  supported_parameters=frozenset({"tools", "reasoning", "max_tokens"}))
VERTEX_URL = ("https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/"
              "us-central1/publishers/google")


def wire(req: ChatRequest, max_tokens: int | None = None) -> dict[str, Any]:
    built = P.build(STUDIO, None, req, max_tokens)
    return dict(orjson.loads(built.body))


# --- requests ---------------------------------------------------------------------------------


def test_the_model_and_method_are_in_the_url_for_the_gemini_api_and_vertex() -> None:
    plain = P.build(STUDIO, None, request())
    assert plain.url == ("https://generativelanguage.googleapis.com/v1beta/models/"
                         "gemini-2.5-flash:generateContent")
    assert "authorization" not in plain.headers and "x-goog-api-key" not in plain.headers
    streamed = P.build(endpoint("vertex", dialect="gemini", base_url=VERTEX_URL,
                                upstream_model="gemini-2.5-flash"), None, request(stream=True))
    assert streamed.url == VERTEX_URL + "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert streamed.headers["accept"] == "text/event-stream"


def test_system_messages_become_the_system_instruction_and_turns_alternate() -> None:
    body = wire(request(messages=[
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hi."},
        {"role": "developer", "content": "Use French."},
        {"role": "assistant", "content": "Bonjour."},
        {"role": "user", "content": [{"type": "text", "text": "Encore."}]}],
        max_tokens=50, temperature=0.3, top_p=0.9, top_k=40, seed=7, stop="END",
        presence_penalty=0.5, frequency_penalty=0.25))
    assert body["systemInstruction"] == {"parts": [{"text": "Be terse."}, {"text": "Use French."}]}
    assert [t["role"] for t in body["contents"]] == ["user", "model", "user"]
    assert body["generationConfig"] == {
        "maxOutputTokens": 50, "temperature": 0.3, "topP": 0.9, "topK": 40, "seed": 7,
        "presencePenalty": 0.5, "frequencyPenalty": 0.25, "stopSequences": ["END"]}


def test_a_reservations_bound_replaces_max_tokens() -> None:
    assert wire(request(max_tokens=500), max_tokens=120)["generationConfig"] == \
        {"maxOutputTokens": 120}


def test_images_become_inline_or_file_data() -> None:
    body = wire(request(messages=[{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png?size=2"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/photo"}}]}]))
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
        {"fileData": {"mimeType": "image/png",
                      "fileUri": "https://example.com/cat.png?size=2"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/photo"}}]


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather now",
    "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                   "properties": {"city": {"type": "object", "properties": {
                       "name": {"type": "string"}}, "additionalProperties": False}},
                   "required": ["city"], "additionalProperties": False}}}


def test_tools_calls_and_answers_become_declarations_calls_and_responses() -> None:
    body = wire(request(tools=[WEATHER], tool_choice={"type": "function",
                                                      "function": {"name": "get_weather"}},
                        messages=[
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_a", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": {"name": "Paris"}}'}},
            {"id": "call_b", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": {"name": "Rome"}}'}}],
         "reasoning_details": [{"type": "reasoning.encrypted", "data": "c2ln", "id": "call_a",
                                "format": "google-gemini-v1", "index": 0}]},
        {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 18}'},
        {"role": "tool", "tool_call_id": "call_b", "content": "21 C"},
        {"role": "user", "content": "Thanks."}]))
    assert body["tools"] == [{"functionDeclarations": [{
        "name": "get_weather", "description": "Weather now",
        "parameters": {"type": "object", "properties": {"city": {
            "type": "object", "properties": {"name": {"type": "string"}}}},
            "required": ["city"]}}]}]
    assert body["toolConfig"] == {"functionCallingConfig": {
        "mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    model, answers = body["contents"][1], body["contents"][2]
    # The signature goes back on the call it came with, and only there.
    assert model == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": {"name": "Paris"}}},
         "thoughtSignature": "c2ln"},
        {"functionCall": {"name": "get_weather", "args": {"city": {"name": "Rome"}}}}]}
    # Both answers in one user turn (with the next words), named after their calls.
    assert answers == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
        {"functionResponse": {"name": "get_weather", "response": {"content": "21 C"}}},
        {"text": "Thanks."}]}


@pytest.mark.parametrize(("choice", "mode"), [("auto", "AUTO"), ("none", "NONE"),
                                               ("required", "ANY")])
def test_tool_choice_words_become_function_calling_modes(choice: str, mode: str) -> None:
    body = wire(request(tools=[WEATHER], tool_choice=choice))
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_reasoning_becomes_a_thinking_budget_or_none_at_all() -> None:
    budget = wire(request(max_tokens=4000, reasoning={"max_tokens": 2048}))
    assert budget["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048,
                                                            "includeThoughts": True}
    effort = wire(request(max_tokens=4000, reasoning={"effort": "low", "exclude": True}))
    assert effort["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 800,
                                                            "includeThoughts": False}
    off = wire(request(reasoning={"effort": "none"}))
    assert off["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    unasked = wire(request())
    assert "generationConfig" not in unasked  # the model's own default


def test_json_schema_is_a_response_schema_without_what_gemini_refuses() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}},
              "additionalProperties": False}
    body = wire(request(response_format={"type": "json_schema", "json_schema": {
        "name": "x", "schema": schema, "strict": True}}))
    assert body["generationConfig"] == {"responseMimeType": "application/json",
                                        "responseSchema": {"type": "object", "properties": {
                                            "n": {"type": "integer"}}}}
    assert wire(request(response_format={"type": "json_object"}))["generationConfig"] == \
        {"responseMimeType": "application/json"}


def test_an_unsupported_content_part_is_a_400() -> None:
    with pytest.raises(BadRequest, match="not supported by the Gemini dialect"):
        wire(request(messages=[{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]}]))


# --- whole answers ---------------------------------------------------------------------------


def parse(answer: dict[str, Any]) -> dict[str, Any]:
    return P.parse_completion(orjson.dumps(answer), request())


def test_a_text_answer_reads_as_a_chat_completion() -> None:
    answer = parse(fx.TEXT)
    choice = answer["choices"][0]
    assert choice["message"] == {"role": "assistant",
                                 "content": "Hi! How can I help you today?"}
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("stop", "STOP")
    assert (answer["id"], answer["model"]) == ("mYxkaKzTKLvNvdIPp8WvqQs", "gemini-2.5-flash")
    assert answer["usage"] == {"prompt_tokens": 8, "completion_tokens": 9,
                               "total_tokens": 17, "prompt_tokens_details": {"cached_tokens": 0}}


def test_thoughts_become_reasoning_and_a_call_keeps_its_signature() -> None:
    choice = parse(fx.TOOL)["choices"][0]
    message = choice["message"]
    assert choice["finish_reason"] == "tool_calls"
    assert message["content"] is None
    assert message["reasoning"] == "The user wants the weather; I should call the tool."
    [call] = message["tool_calls"]
    assert call["function"] == {"name": "get_current_temperature",
                                "arguments": '{"location":"London"}'}
    assert call["id"].startswith("call_")
    assert message["reasoning_details"] == [{
        "type": "reasoning.encrypted", "data": "CiQB0e2Kb1XN7cT3KcD0rJrIYEz0D5yV",
        "id": call["id"], "format": "google-gemini-v1", "index": 0}]
    usage = parse(fx.TOOL)["usage"]
    # Thinking is output: billed at the completion price, and reported as reasoning.
    assert usage["completion_tokens"] == 15 + 42
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 42}


def test_parallel_calls_get_ids_of_their_own() -> None:
    calls = parse(fx.PARALLEL)["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["power_disco_ball", "start_music"]
    assert len({c["id"] for c in calls}) == 2


@pytest.mark.parametrize(("native", "finish"), fx.FINISH_REASONS)
def test_every_finish_reason_maps_and_is_kept(native: str, finish: str) -> None:
    answer = {**fx.TEXT, "candidates": [{**fx.TEXT["candidates"][0], "finishReason": native}]}
    choice = parse(answer)["choices"][0]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == (finish, native)


def test_cached_tokens_are_inside_the_prompt_and_billed_exactly() -> None:
    usage = usage_from_openai(parse(fx.CACHED)["usage"])
    assert usage is not None
    assert (usage.prompt_tokens, usage.cached_tokens) == (2300, 2000)
    # 300 fresh at $0.30, 2000 read at $0.075, 50 out at $2.50 per 1M: 90 + 150 + 125 µ$.
    assert cost_micro(usage, FLASH) == 365


def test_a_blocked_prompt_is_a_content_filter_for_the_caller() -> None:
    with pytest.raises(AttemptError) as caught:
        parse(fx.BLOCKED)
    assert caught.value.failure is Failure.CONTENT_FILTER
    assert not caught.value.rule.fail_over
    assert "SAFETY" in caught.value.message


@pytest.mark.parametrize(("raw", "failure"), [
    (b"", Failure.EMPTY), (b"{not json", Failure.MALFORMED), (b"[1, 2]", Failure.MALFORMED),
    (b"{}", Failure.EMPTY), (b'{"candidates": []}', Failure.EMPTY),
    (b'{"candidates": [{"content": {"parts": "text"}}]}', Failure.MALFORMED),
    (b'{"candidates": [{"content": {"parts": [7]}}]}', Failure.MALFORMED),
])
def test_broken_answers_fail_the_attempt(raw: bytes, failure: Failure) -> None:
    with pytest.raises(AttemptError) as caught:
        P.parse_completion(raw, request())
    assert caught.value.failure is failure


def test_a_missing_usage_is_left_for_the_router_to_estimate() -> None:
    answer = {k: v for k, v in fx.TEXT.items() if k != "usageMetadata"}
    assert "usage" not in parse(answer)


# --- errors -----------------------------------------------------------------------------------


EXPECTED = [Failure.CALLER_ERROR, Failure.UPSTREAM_AUTH, Failure.CONTEXT_LENGTH,
            Failure.UPSTREAM_AUTH, Failure.UPSTREAM_AUTH, Failure.UPSTREAM_AUTH,
            Failure.UPSTREAM_NOT_FOUND, Failure.RATE_LIMITED, Failure.SERVER_ERROR,
            Failure.SERVER_ERROR, Failure.UPSTREAM_TIMEOUT]


@pytest.mark.parametrize(("error", "failure"), list(zip(fx.ERRORS, EXPECTED, strict=True)))
def test_every_error_status_maps_to_the_failover_table(
        error: tuple[int, str, str, Any], failure: Failure) -> None:
    status, name, message, details = error
    classified = P.classify(status, {}, fx.error_body(status, name, message, details))
    assert classified.failure is failure
    assert classified.status == status and classified.message == message


def test_a_429_waits_as_long_as_its_retry_info_says() -> None:
    status, name, message, details = fx.ERRORS[7]
    assert P.classify(429, {}, fx.error_body(status, name, message, details)).retry_after_s == 21
    assert P.classify(429, {"retry-after": "3"},
                      fx.error_body(status, name, message, details)).retry_after_s == 3


def test_vertex_wraps_errors_in_a_list_and_non_json_classifies_by_status() -> None:
    body = b"[" + fx.error_body(503, "UNAVAILABLE", "overloaded", None) + b"]"
    assert P.classify(503, {}, body).failure is Failure.SERVER_ERROR
    assert P.classify(502, {}, b"<html>Bad Gateway</html>").failure is Failure.SERVER_ERROR
    assert P.classify(429, {}, b"").failure is Failure.RATE_LIMITED


# --- streams ----------------------------------------------------------------------------------


def translate(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    translator = P.stream_translator(request(stream=True))
    return [chunk for event in events for chunk in translator.chunks(orjson.dumps(event))]


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def test_a_text_stream_becomes_content_chunks_then_finish_then_usage() -> None:
    chunks = translate(fx.TEXT_STREAM)
    assert deltas(chunks)[0] == {"role": "assistant", "content": "The"}
    assert "".join(d.get("content", "") for d in deltas(chunks)) == "The sky is blue."
    finish = chunks[-2]["choices"][0]
    assert (finish["finish_reason"], finish["native_finish_reason"]) == ("stop", "STOP")
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 10, "completion_tokens": 12, "total_tokens": 22,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 7}}
    assert [c for c in chunks if "usage" in c] == [chunks[-1]]  # once, at the end
    assert {c["id"] for c in chunks} == {"c3RyZWFt"}


def test_calls_split_across_events_keep_their_own_index_and_signature() -> None:
    chunks = translate(fx.TOOL_STREAM)
    reasoning = [d["reasoning"] for d in deltas(chunks) if "reasoning" in d]
    assert reasoning == ["Two tools are needed."]
    calls = [call for d in deltas(chunks) for call in d.get("tool_calls", ())]
    assert [(c["index"], c["function"]["name"]) for c in calls] == [
        (0, "power_disco_ball"), (1, "start_music")]
    assert calls[0]["function"]["arguments"] == '{"power":true}'
    [detail] = [x for d in deltas(chunks) for x in d.get("reasoning_details", ())]
    assert (detail["id"], detail["data"]) == (calls[0]["id"], "c2lnLW9uZQ")
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["completion_tokens"] == 18


def test_usage_that_comes_after_the_finish_still_goes_out_once() -> None:
    last = dict(fx.TEXT_STREAM[-1])
    usage = last.pop("usageMetadata")
    # The earlier events' prompt-only usage is never mistaken for the whole.
    chunks = translate([*fx.TEXT_STREAM[:-1], last, {"usageMetadata": usage},
                        {"usageMetadata": usage}])
    assert [c["usage"]["total_tokens"] for c in chunks if "usage" in c] == [22]


def test_a_stream_whose_usage_never_completes_sends_none() -> None:
    last = {k: v for k, v in fx.TEXT_STREAM[-1].items() if k != "usageMetadata"}
    chunks = translate([*fx.TEXT_STREAM[:-1], last])
    assert not [c for c in chunks if "usage" in c]


@pytest.mark.parametrize(("data", "failure"), [
    (b"{broken", Failure.MALFORMED),
    (b"[1]", Failure.MALFORMED),
    (b'{"candidates": {"a": 1}}', Failure.MALFORMED),
    (b'{"candidates": [7]}', Failure.MALFORMED),
    (fx.error_body(503, "UNAVAILABLE", "The model is overloaded.", None), Failure.SERVER_ERROR),
    (b"[" + fx.error_body(429, "RESOURCE_EXHAUSTED", "quota", None) + b"]",
     Failure.RATE_LIMITED),
    (orjson.dumps(fx.BLOCKED), Failure.CONTENT_FILTER),
])
def test_broken_blocked_or_error_events_fail_the_attempt(data: bytes, failure: Failure) -> None:
    translator = P.stream_translator(request(stream=True))
    with pytest.raises(AttemptError) as caught:
        translator.chunks(data)
    assert caught.value.failure is failure


def test_events_without_candidates_or_with_unknown_parts_say_nothing() -> None:
    translator = P.stream_translator(request(stream=True))
    assert translator.chunks(b'{"usageMetadata": {"promptTokenCount": 3}}') == []
    assert translator.chunks(b'{"candidates": [{"content": {"parts": '
                             b'[{"executableCode": {"code": "1"}}]}}]}') == []


# --- through the router's stream session ------------------------------------------------------


def session_events(events: list[dict[str, Any]]) -> tuple[StreamSession, list[dict[str, Any]]]:
    req = request(stream=True)
    generation = Generation("test/model", streamed=True)
    attempt = Attempt(STUDIO, started=0.0)
    generation.attempts.append(attempt)
    session = StreamSession(attempt, generation, req, P.stream_translator(req), 1 << 20)
    out = session.feed(fx.sse(*events), 1.0)
    parsed = [orjson.loads(block[6:]) for block in b"".join(out).split(b"\n\n") if block]
    return session, parsed


def test_the_finish_and_usage_complete_the_stream_and_usage_is_priced_once() -> None:
    session, chunks = session_events(fx.TEXT_STREAM)
    assert session.error is None and session.complete_without_done()
    assert [c for c in chunks if "usage" in c] == [chunks[-1]]
    usage = chunks[-1]["usage"]
    # 6 fresh at $0.30, 4 read at $0.075, 12 out at $2.50 per 1M: 1.8 + 0.3 + 30 → 32 µ$.
    assert usage["crossroads"]["cost_micro_usd"] == 32
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_stream_that_ends_without_a_finish_reason_is_cut() -> None:
    session, _ = session_events(fx.TEXT_STREAM[:2])
    session.end_of_body(2.0)
    assert session.error is not None and session.error.failure is Failure.CUT


def test_an_error_event_before_content_fails_the_attempt_for_failover() -> None:
    with pytest.raises(AttemptError) as caught:
        session_events([{"usageMetadata": {"promptTokenCount": 3}},
                        orjson.loads(fx.error_body(503, "UNAVAILABLE", "overloaded", None))])
    assert caught.value.failure is Failure.SERVER_ERROR and caught.value.rule.fail_over
