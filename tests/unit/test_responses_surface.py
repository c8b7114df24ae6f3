"""The Responses surface as a pure translator: request bodies in, chat bodies out; chat answers
and chunks in, Responses objects and events out.

What the simulated fleet cannot produce (reasoning, refusals, parallel calls, encrypted
reasoning) is fed here as chat chunks, and every event is held to both crossroads' schema and
OpenAI's own types, strictly, then run through the SDK's stream accumulator.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pydantic
import pytest
from openai import omit
from openai.lib.streaming.responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent

from crossroads.errors import BadRequest
from crossroads.schema.check import violation
from crossroads.schema.responses import ResponseObject, ResponsesStreamEvent
from crossroads.surfaces.responses import ResponsesSurface, ResponsesTranslation

EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
HEAD = {"id": "gen-1-abc", "object": "chat.completion.chunk", "created": 5, "model": "a/m",
        "provider": "P"}
USAGE = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7,
         "prompt_tokens_details": {"cached_tokens": 1, "cache_write_tokens": 0},
         "completion_tokens_details": {"reasoning_tokens": 2}, "cost": 0.25,
         "cost_details": {"upstream_inference_cost": None,
                          "upstream_inference_prompt_cost": 0.05,
                          "upstream_inference_completions_cost": 0.2}, "is_byok": False}


def translate(**body: Any) -> ResponsesTranslation:
    return ResponsesSurface(lambda: 100.0).translate(orjson.dumps({"model": "a/m", **body}))


def chat_of(**body: Any) -> dict[str, Any]:
    return dict(orjson.loads(translate(**body).chat_body))


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None,
          **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {**HEAD, "choices": choices, **extra}


def stream(chunks: list[dict[str, Any]], done: bool = True) -> list[dict[str, Any]]:
    """The events, each checked against both schemas and fed to the SDK's accumulator."""
    translation = translate(input="hi", stream=True)
    frames = b"".join(e for c in chunks for e in translation.stream_event(c))
    if done:
        frames += b"".join(translation.stream_end())
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    events = []
    for frame in frames.split(b"\n\n")[:-1]:
        lines = frame.split(b"\n")
        if lines == [b"data: [DONE]"]:
            events.append({"type": "[DONE]"})
            continue
        name, data = lines[0].removeprefix(b"event: "), lines[1].removeprefix(b"data: ")
        assert violation(ResponsesStreamEvent, data) is None
        event = orjson.loads(data)
        assert event["type"].encode() == name
        state.handle_event(EVENTS.validate_python(event))
        events.append(event)
    return events


def test_reasoning_text_and_parallel_calls_stream_as_items() -> None:
    events = stream([
        chunk({"role": "assistant", "reasoning": "think "}),
        chunk({"reasoning": "hard"}),
        chunk({"content": "Hi"}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                               "function": {"name": "f", "arguments": '{"x":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                               "function": {"name": "g", "arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
        chunk(usage=USAGE),  # usage after the finish, in a chunk with no choices
    ])
    assert [e["sequence_number"] for e in events[:-1]] == list(range(len(events) - 1))
    assert events[-1] == {"type": "[DONE]"}
    added = [e["item"]["type"] for e in events if e["type"] == "response.output_item.added"]
    assert added == ["reasoning", "message", "function_call", "function_call"]
    final = Response.model_validate(events[-2]["response"])
    assert events[-2]["type"] == "response.completed" and final.status == "completed"
    reasoning, _, first, second = final.output
    assert reasoning.type == "reasoning" and reasoning.content is not None
    assert reasoning.content[0].text == "think hard"
    assert final.output_text == "Hi"
    assert (first.type, second.type) == ("function_call", "function_call")
    assert (first.call_id, first.name, first.arguments) == ("call_a", "f", '{"x":1}')
    assert (second.call_id, second.name, second.arguments) == ("call_b", "g", "{}")
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens == 2
    assert final.usage.input_tokens_details.cached_tokens == 1
    assert events[-2]["response"]["usage"]["cost"] == 0.25
    assert events[-2]["response"]["usage"]["cost_details"]["upstream_inference_output_cost"] == 0.2


def test_usage_in_the_finish_chunk_and_a_refusal_part() -> None:
    events = stream([chunk({"content": "No"}), chunk({"refusal": "I can't."}),
                     chunk({}, "stop", usage=USAGE)])
    kinds = [e["type"] for e in events]
    assert kinds.count("response.content_part.added") == 2
    assert "response.refusal.delta" in kinds and "response.refusal.done" in kinds
    final = events[-2]["response"]
    assert final["usage"]["input_tokens"] == 3
    assert [p["type"] for p in final["output"][0]["content"]] == ["output_text", "refusal"]


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_output_tokens"),
                                                ("content_filter", "content_filter")])
def test_a_cut_answer_is_incomplete(finish: str, reason: str) -> None:
    events = stream([chunk({"content": "so"}, finish, usage=USAGE)])
    last = events[-2]
    assert last["type"] == "response.incomplete"
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": reason}
    assert last["response"]["output"][0]["status"] == "incomplete"


def test_an_in_band_error_fails_the_response_and_nothing_follows() -> None:
    error = {"code": 502, "message": "Provider Alpha failed mid-stream",
             "metadata": {"error_type": "provider_unavailable", "provider_name": "Alpha"}}
    translation = translate(input="hi", stream=True)
    translation.stream_event(chunk({"content": "par"}))
    frames = translation.stream_event(chunk({"content": ""}, "error", error=error))
    assert translation.stream_end() == []
    assert translation.stream_event(chunk({"content": "late"})) == []
    [failed] = [orjson.loads(f.split(b"data: ")[1]) for f in frames]
    assert failed["type"] == "response.failed"
    response = Response.model_validate(failed["response"])
    assert response.status == "failed" and response.error is not None
    assert (response.error.code, response.error.message) == ("server_error", error["message"])
    assert failed["response"]["error_type"] == "provider_unavailable"
    assert response.output[0].status == "incomplete" and response.output_text == "par"


def test_an_error_before_any_content_still_opens_the_response() -> None:
    events = stream([chunk({"content": ""}, "error",
                           error={"code": 429, "message": "busy", "metadata": {
                               "error_type": "rate_limit_exceeded"}})], done=False)
    assert [e["type"] for e in events] == ["response.created", "response.in_progress",
                                           "response.failed"]
    assert events[-1]["response"]["error"]["code"] == "rate_limit_exceeded"


def test_whole_answer_with_reasoning_details() -> None:
    chat = {**HEAD, "object": "chat.completion", "system_fingerprint": None, "usage": USAGE,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": "Yes.", "reasoning": "Because.",
                "reasoning_details": [
                    {"type": "reasoning.summary", "summary": "Thought it through."},
                    {"type": "reasoning.encrypted", "data": "opaque=="}]}}]}
    body = translate(input="hi", metadata={"k": "v"}).answer(chat)
    assert violation(ResponseObject, body) is None
    response = Response.model_validate_json(body)
    reasoning, message = response.output
    assert reasoning.type == "reasoning"
    assert [s.text for s in reasoning.summary] == ["Thought it through."]
    assert reasoning.encrypted_content == "opaque=="
    assert message.type == "message" and response.output_text == "Yes."
    assert response.metadata == {"k": "v"} and response.completed_at == 100
    assert orjson.loads(body)["provider"] == "P"


def test_input_items_become_chat_messages() -> None:
    body = chat_of(instructions="Be brief.", input=[
        {"role": "developer", "content": "Use metric units."},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Weather?"},
            {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;"
             "base64,AAAA"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [
            {"type": "summary_text", "text": "Need a tool."}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "function_call_output", "call_id": "c2",
         "output": [{"type": "input_text", "text": "two"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Done",
                                           "annotations": []}]},
    ])
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Use metric units."},
        {"role": "user", "content": [
            {"type": "text", "text": "Weather?"},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA",
                                      "filename": "a.pdf"}}]},
        {"role": "assistant", "content": None, "reasoning": "Need a tool.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "two"}]},
        {"role": "assistant", "content": "Done"},
    ]


def test_fields_translate_and_routing_fields_pass() -> None:
    body = chat_of(input="hi", max_output_tokens=9, text={"format": {"type": "text"}},
                   reasoning={"effort": "high", "summary": "detailed"}, top_k=4, seed=1,
                   models=["b/m"], route="fallback", include=["reasoning.encrypted_content"],
                   truncation="auto", metadata={"a": "b"}, store=False, stream=True)
    assert body == {"model": "a/m", "messages": [{"role": "user", "content": "hi"}],
                    "max_tokens": 9, "reasoning": {"effort": "high"}, "top_k": 4, "seed": 1,
                    "models": ["b/m"], "route": "fallback", "stream": True}


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "x", "conversation": "conv_1"}, "conversation"),
    ({"input": "x", "background": True}, "background"),
    ({"input": "x", "prompt": {"id": "pmpt_1"}}, "prompt"),
    ({"input": "x", "instructions": ["not", "text"]}, "instructions"),
    ({"input": "x", "tool_choice": {"type": "file_search"}}, "tool_choice"),
    ({"input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    ({"input": "x", "metadata": {"n": 1}}, "metadata"),
    ({"input": "x", "truncation": "middle"}, "truncation"),
    ({"input": "x", "reasoning": "high"}, "reasoning"),
    ({"input": "x", "text": {"format": {"type": "json_schema", "name": "w"}}},
     "text.format.schema"),
    ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0].type"),
    ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
    ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
     "input[0].content[0].type"),
    ({"input": [{"role": "assistant", "content": [
        {"type": "input_image", "image_url": "https://x.test/a.png"}]}]}, "input[0].content"),
    ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
     "input[0].call_id"),
    ({"input": [{"type": "reasoning", "summary": []}]}, "input"),
])
def test_refusals_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequest) as refused:
        translate(**body)
    assert refused.value.metadata["param"] == param
    assert refused.value.message.startswith(param + ":")


def test_a_body_that_is_not_an_object_is_refused() -> None:
    surface = ResponsesSurface()
    for raw in (b"[1]", b"{"):
        with pytest.raises(BadRequest):
            surface.translate(raw)
    assert surface.name == "responses" and surface.credential_headers == (b"authorization",)
    error = BadRequest("nope")
    assert msgspec.json.decode(surface.error_body(error))["error"]["code"] == 400
