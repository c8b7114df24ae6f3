"""POST /responses under fuzz: well-formed Responses requests get a response object (or its
event stream), anything else a clean 4xx — whatever value sits in whatever field, item, part,
tool or format."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import MODEL
from tests.fuzz.strategies import DATA_URI, json_values, text
from tests.fuzz.support import Client, Reply, check, check_no_leak, fuzz_settings

PATHS = st.sampled_from(["/api/v1/responses", "/v1/responses"])
TOOL = {"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}
parts = st.one_of(
    st.builds(lambda t: {"type": "input_text", "text": t}, text),
    st.just({"type": "input_image", "image_url": DATA_URI}),
    st.just({"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"}),
)
items = st.one_of(
    st.builds(lambda role, t: {"role": role, "content": t},
              st.sampled_from(["user", "system", "developer", "assistant"]), text),
    st.builds(lambda ps: {"type": "message", "role": "user", "content": ps},
              st.lists(parts, min_size=1, max_size=3)),
    st.just({"type": "message", "role": "assistant",
             "content": [{"type": "output_text", "text": "ok", "annotations": []}]}),
)
formats = st.sampled_from([
    {"type": "text"}, {"type": "json_object"},
    {"type": "json_schema", "name": "w", "strict": True,
     "schema": {"type": "object", "properties": {"a": {"type": "string"}},
                "required": ["a"]}}])


def _images(items: list[dict[str, Any]]) -> int:
    return sum(1 for item in items if isinstance(item["content"], list)
               for part in item["content"] if part["type"] == "input_image")


@st.composite
def valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL}
    # The router counts 1,000 tokens an image: more than 3 (+ max_tokens) overflow the 8K
    # contexts of the only endpoints that take images.
    body["input"] = draw(st.one_of(text, st.lists(items, min_size=1, max_size=4).filter(
        lambda its: _images(its) <= 3)))
    optional = {
        "instructions": text, "max_output_tokens": st.integers(1, 64),
        "temperature": st.floats(0, 2), "top_p": st.floats(0, 1), "stream": st.booleans(),
        "text": formats.map(lambda f: {"format": f}), "store": st.just(False),
        "metadata": st.dictionaries(st.text("abc", min_size=1, max_size=5), text, max_size=3),
        "reasoning": st.sampled_from([{"effort": "low"}, {"effort": "high", "summary": "auto"}]),
        "tools": st.just([TOOL]), "tool_choice": st.sampled_from(
            ["auto", "none", {"type": "function", "name": "get_weather"}]),
        "parallel_tool_calls": st.booleans(), "user": text,
        "truncation": st.sampled_from(["auto", "disabled"]),
    }
    for key in draw(st.sets(st.sampled_from(sorted(optional)))):
        body[key] = draw(optional[key])
    if "tool_choice" in body:
        body["tools"] = [TOOL]
    return body


def post(client: Client, body: Any, path: str = "/api/v1/responses") -> Reply:
    return client.chat(body, path=path)


def check_response(reply: Reply, body: Any) -> None:
    """A 200 is a response object, or an event stream that ends completed and with [DONE]."""
    streamed = isinstance(body, dict) and body.get("stream") is True
    if reply.status != 200 or not streamed:
        check(reply)
    if reply.status != 200:
        return
    if not streamed:
        answer = reply.json
        assert answer["object"] == "response" and answer["id"].startswith("gen-")
        assert answer["status"] in ("completed", "incomplete"), answer
        return
    check_no_leak(reply)
    assert reply.headers.get("content-type") == "text/event-stream", reply.headers
    data = [line[6:] for line in reply.body.split(b"\n") if line.startswith(b"data: ")]
    assert data[-1] == b"[DONE]", reply.body[-500:]
    events = [json.loads(d) for d in data[:-1]]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] in ("response.completed", "response.incomplete"), events[-1]


@fuzz_settings(120)
@given(body=valid_requests(), path=PATHS)
def test_valid_requests_succeed(client: Client, body: dict[str, Any], path: str) -> None:
    reply = post(client, body, path)
    assert reply.status == 200, (reply.status, reply.body[:1000], body)
    check_response(reply, body)


TOP_LEVEL = ["input", "instructions", "tools", "tool_choice", "text", "reasoning",
             "max_output_tokens", "metadata", "previous_response_id", "store", "background",
             "conversation", "prompt", "truncation", "stream", "temperature", "include",
             "parallel_tool_calls", "user", "model", "provider"]


def _place(body: dict[str, Any], where: str, key: str, value: Any) -> None:
    if where == "top":
        body[key] = value
    elif where == "item":
        body["input"] = [value]
    elif where == "item_field":
        body["input"] = [{"type": "message", "role": "user", "content": "x", key: value}]
    elif where == "part":
        body["input"] = [{"role": "user", "content": [{"type": "input_text", "text": "x",
                                                       key: value}]}]
    elif where == "call":
        body["input"] = [{"type": "function_call", "call_id": "c", "name": "f",
                          "arguments": "{}", key: value},
                         {"type": "function_call_output", "call_id": "c", "output": "r"}]
    elif where == "tool":
        body["tools"] = [{**TOOL, key: value}]
    else:
        body["text"] = {"format": {"type": "json_schema", "name": "w",
                                   "schema": {"type": "object"}, key: value}}


@fuzz_settings(300)
@given(where=st.sampled_from(["top", "top", "item", "item_field", "part", "call", "tool",
                              "format"]),
       data=st.data(), value=json_values, stream=st.booleans())
def test_any_value_in_any_field_is_a_200_or_a_clean_4xx(
        client: Client, where: str, data: st.DataObject, value: Any, stream: bool) -> None:
    keys = {"top": TOP_LEVEL, "item": ["-"], "item_field": ["role", "content", "type"],
            "part": ["type", "text", "image_url"], "call": ["type", "call_id", "arguments"],
            "tool": ["type", "name", "parameters", "strict", "function"],
            "format": ["type", "name", "schema", "strict"]}[where]
    key = data.draw(st.sampled_from(keys), label="key")
    body: dict[str, Any] = {"model": MODEL, "input": "hello", "stream": stream}
    _place(body, where, key, value)
    check_response(post(client, body), body)


@fuzz_settings(40)
@given(raw=st.one_of(st.binary(max_size=64), json_values.map(
    lambda v: json.dumps(v).encode())))
def test_any_body_is_a_200_or_a_clean_4xx(client: Client, raw: bytes) -> None:
    check(post(client, raw))
