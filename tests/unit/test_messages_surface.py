"""The Messages surface's translators, values in and values out: the cases the simulated fleet
cannot produce (reasoning, cache writes, stop sequences it names, interleaved blocks, bad input).
Everything produced is also held to the published schema."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from crossroads.errors import BadRequest, NoProviderAvailable, PayloadTooLarge, Unauthorized
from crossroads.schema.check import stream_violations, violation
from crossroads.schema.messages import (
    MessagesErrorResponse,
    MessagesResult,
    MessagesStreamEvent,
)
from crossroads.surfaces.messages import MESSAGES, MessagesTranslation

GEN = "gen-1700000000-abc"


def translate(**body: Any) -> tuple[MessagesTranslation, dict[str, Any]]:
    request = {"model": "a/b", "max_tokens": 100,
               "messages": [{"role": "user", "content": "hi"}], **body}
    translation = MESSAGES.translate(orjson.dumps(request))
    return translation, orjson.loads(translation.chat_body)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None,
          **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish,
                                         **extra}]
    return {"id": GEN, "object": "chat.completion.chunk", "created": 1, "model": "a/b",
            "provider": "Alpha", "choices": choices}


USAGE = {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050,
         "prompt_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 300},
         "completion_tokens_details": {"reasoning_tokens": 20}, "cost": 0.001}


def events(translation: MessagesTranslation, chunks: list[dict[str, Any]],
           done: bool = True) -> list[tuple[str, dict[str, Any]]]:
    raw = b"".join(b"".join(translation.stream_event(c)) for c in chunks)
    if done:
        raw += b"".join(translation.stream_end())
    assert stream_violations(MessagesStreamEvent, raw) == []
    out = []
    for block in raw.decode().split("\n\n")[:-1]:
        name, data = block.split("\n")
        out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def test_stream_opens_one_block_at_a_time_and_closes_with_the_usage():
    translation, _ = translate(stream=True)
    got = events(translation, [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning": "Let me think"}),
        chunk({"reasoning": " hard."}),
        chunk({"content": "Calling."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "f", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_2", "function": {
            "name": "g", "arguments": "{}"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({}, "tool_calls"),
        {**chunk(), "usage": USAGE},
    ])
    shape = [(name, data.get("index")) for name, data in got]
    assert shape == [
        ("message_start", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_stop", 1),
        ("content_block_start", 2), ("content_block_delta", 2), ("content_block_stop", 2),
        ("content_block_start", 3), ("content_block_delta", 3),
        # A late piece of the first call still names its block.
        ("content_block_delta", 2),
        ("content_block_stop", 3), ("message_delta", None), ("message_stop", None),
    ]
    start = got[0][1]["message"]
    assert start["id"] == f"msg_{GEN}" and start["provider"] == "Alpha"
    assert got[1][1]["content_block"]["type"] == "thinking"
    assert got[8][1]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "f",
                                          "input": {}}
    delta = got[-2][1]
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    usage = delta["usage"]
    assert (usage["input_tokens"], usage["cache_read_input_tokens"],
            usage["cache_creation_input_tokens"], usage["output_tokens"]) == (100, 600, 300, 50)
    assert usage["output_tokens_details"] == {"thinking_tokens": 20}


def test_in_band_error_ends_the_stream_without_message_stop():
    translation, _ = translate(stream=True)
    error = {**chunk({"content": ""}, "error"), "error": {
        "code": 502, "message": "The provider failed mid-stream: cut",
        "metadata": {"error_type": "provider_unavailable", "provider_name": "Alpha"}}}
    got = events(translation, [chunk({"content": "Hel"}), error])
    assert [name for name, _ in got] == ["message_start", "content_block_start",
                                         "content_block_delta", "error"]
    assert got[-1][1]["error"] == {"type": "api_error", "error_type": "provider_unavailable",
                                   "message": "The provider failed mid-stream: cut"}
    assert translation.stream_end() == []
    assert translation.stream_event(chunk({"content": "x"})) == []


def test_error_before_any_content_is_only_an_error_event():
    translation, _ = translate(stream=True)
    failed = {**chunk({"content": ""}, "error"), "error": {
        "code": 503, "message": "Every provider is cooling down",
        "metadata": {"error_type": "provider_unavailable"}}}
    got = events(translation, [failed], done=False)
    assert got == [("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "Every provider is cooling down",
        "error_type": "provider_unavailable"}})]


@pytest.mark.parametrize(("stops", "choice", "expected"), [
    ([], {"finish_reason": "stop"}, ("end_turn", None)),
    (["END", "STOP"], {"finish_reason": "stop", "stop_reason": "STOP"},
     ("stop_sequence", "STOP")),
    (["END"], {"finish_reason": "stop", "native_finish_reason": "stop_sequence"},
     ("stop_sequence", "END")),
    (["END", "STOP"], {"finish_reason": "stop", "native_finish_reason": "stop_sequence"},
     ("stop_sequence", None)),
    (["END"], {"finish_reason": "stop", "native_finish_reason": "eos"}, ("end_turn", None)),
    ([], {"finish_reason": "length"}, ("max_tokens", None)),
    ([], {"finish_reason": "content_filter"}, ("refusal", None)),
], ids=["plain", "vllm-names-it", "single-stop", "ambiguous", "eos", "length", "filter"])
def test_stop_reasons(stops, choice, expected):
    translation, _ = translate(stop_sequences=stops)
    body = orjson.loads(translation.answer({
        "id": GEN, "model": "a/b", "usage": USAGE,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, **choice}]}))
    assert (body["stop_reason"], body["stop_sequence"]) == expected


def test_answer_blocks_thinking_text_and_tools():
    translation, _ = translate()
    raw = translation.answer({
        "id": GEN, "model": "a/b", "provider": "Alpha", "usage": USAGE,
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Let me look.", "reasoning": "Need data.",
            "reasoning_details": [{"type": "reasoning.text", "text": "Need data.",
                                   "signature": "sig=="}],
            "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "f", "arguments": '{"q": "x"}'}},
                {"type": "function", "function": {"name": "g", "arguments": "{not json"}},
            ]}}]})
    assert violation(MessagesResult, raw) is None
    body = orjson.loads(raw)
    assert body["content"] == [
        {"type": "thinking", "thinking": "Need data.", "signature": "sig=="},
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "call_1", "name": "f", "input": {"q": "x"}},
        {"type": "tool_use", "id": f"toolu_{GEN}_1", "name": "g",
         "input": {"_raw_arguments": "{not json"}},
    ]
    assert body["stop_reason"] == "tool_use" and body["usage"]["input_tokens"] == 100


def test_documents_tool_result_images_and_history_thinking():
    _, body = translate(messages=[
        {"role": "user", "content": [
            {"type": "document", "title": "spec.pdf",
             "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
            {"type": "document", "source": {"type": "text", "data": "plain notes"}},
            {"type": "text", "text": "Read these.", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "redacted_thinking", "data": "xyz"},
            {"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": [
                {"type": "text", "text": "here"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": "iVBO"}}]}]},
    ])
    assert body["messages"] == [
        {"role": "user", "content": [
            {"type": "file", "file": {"filename": "spec.pdf",
                                      "file_data": "data:application/pdf;base64,JVBE"}},
            {"type": "text", "text": "plain notes"},
            {"type": "text", "text": "Read these."}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "shot", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "here"},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}]},
    ]


def test_reasoning_options():
    _, body = translate(thinking={"type": "adaptive", "display": "omitted"},
                        output_config={"effort": "low"})
    assert body["reasoning"] == {"enabled": True, "effort": "low", "exclude": True}
    _, body = translate(thinking={"type": "disabled"})
    assert "reasoning" not in body


@pytest.mark.parametrize(("change", "fragment"), [
    ({"max_tokens": None}, "max_tokens"),
    ({"messages": [{"role": "system", "content": "x"}]}, "role"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {
        "type": "file", "file_id": "f_1"}}]}]}, "Files API"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "web_search_20250305"),
    ({"tools": [{"name": "f"}]}, "input_schema"),
    ({"fallbacks": [{"model": "a/c"}] * 4}, "fallbacks"),
    ({"fallbacks": [{"model": "a/c", "max_tokens": 5}]}, "fallbacks"),
    ({"messages": [{"role": "assistant", "content": [{"type": "tool_result",
                                                      "tool_use_id": "x"}]}]}, "assistant"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "x", "name": "f",
                                                 "input": {}}]}]}, "assistant turn"),
], ids=["no-max-tokens", "bad-role", "file-source", "server-tool", "no-schema",
        "too-many-fallbacks", "fallback-extras", "result-in-assistant", "use-in-user"])
def test_bad_requests_are_400s_that_say_why(change, fragment):
    request = {"model": "a/b", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}],
               **change}
    request = {k: v for k, v in request.items() if v is not None}
    with pytest.raises(BadRequest) as info:
        MESSAGES.translate(orjson.dumps(request))
    assert fragment in info.value.message


@pytest.mark.parametrize(("error", "kind"), [
    (BadRequest("bad"), "invalid_request_error"),
    (Unauthorized("who"), "authentication_error"),
    (PayloadTooLarge("big"), "request_too_large"),
    (NoProviderAvailable("busy"), "overloaded_error"),
])
def test_error_envelope(error, kind):
    raw = MESSAGES.error_body(error)
    assert violation(MessagesErrorResponse, raw) is None
    body = orjson.loads(raw)
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert body["error"]["message"] == error.message and body["request_id"] is None
