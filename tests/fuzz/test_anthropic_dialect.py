"""The Anthropic dialect's parsers against anything an upstream might send: every failure is an
`AttemptError` (so the relay fails over or ends the stream in-band), never another exception,
and whatever passes is a chunk or completion the router can shape. Pure: no processes."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from crossroads.failures import AttemptError
from crossroads.generation import Attempt, Generation
from crossroads.providers import PROVIDERS
from crossroads.streaming import StreamSession
from tests.unit.factories import endpoint, request

P = PROVIDERS["anthropic"]
CLAUDE = endpoint("anthropic", dialect="anthropic")
EVENT_TYPES = ["message_start", "content_block_start", "content_block_delta",
               "content_block_stop", "message_delta", "message_stop", "ping", "error",
               "something_new"]
DELTA_TYPES = ["text_delta", "thinking_delta", "input_json_delta", "signature_delta",
               "citations_delta", "unknown_delta"]
BLOCK_TYPES = ["text", "thinking", "tool_use", "redacted_thinking", "server_tool_use"]
STOP_REASONS = ["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal", "pause_turn",
                "an_unknown_reason", None]

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
counts = st.one_of(st.integers(-5, 10**9), json_leaf)
usage = st.fixed_dictionaries({}, optional={
    "input_tokens": counts, "output_tokens": counts, "cache_read_input_tokens": counts,
    "cache_creation_input_tokens": counts})
index = st.one_of(st.integers(0, 3), json_leaf)


def _event(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {
        "message_start": st.fixed_dictionaries({"message": st.one_of(
            json_value, st.fixed_dictionaries({"id": json_leaf, "model": json_leaf,
                                               "usage": st.one_of(usage, json_value)}))}),
        "content_block_start": st.fixed_dictionaries({"index": index, "content_block": st.one_of(
            json_value, st.fixed_dictionaries({"type": st.sampled_from(BLOCK_TYPES)}, optional={
                "id": json_leaf, "name": json_leaf, "text": json_leaf, "thinking": json_leaf}))}),
        "content_block_delta": st.fixed_dictionaries({"index": index, "delta": st.one_of(
            json_value, st.fixed_dictionaries({"type": st.sampled_from(DELTA_TYPES)}, optional={
                "text": json_leaf, "thinking": json_leaf, "partial_json": json_leaf}))}),
        "message_delta": st.fixed_dictionaries({"delta": st.one_of(
            json_value, st.fixed_dictionaries({"stop_reason": st.sampled_from(STOP_REASONS)}))},
            optional={"usage": usage}),
        "error": st.fixed_dictionaries({"error": st.one_of(json_value, st.fixed_dictionaries(
            {"type": st.text(max_size=20), "message": json_leaf}))}),
    }.get(kind, st.fixed_dictionaries({}))
    return fields.map(lambda extra: {"type": kind, **extra})


events = st.sampled_from(EVENT_TYPES).flatmap(_event)
data = st.one_of(events.map(orjson.dumps), st.binary(max_size=64),
                 json_value.map(orjson.dumps))


@settings(max_examples=300, deadline=None)
@given(st.lists(data, max_size=12))
def test_a_translated_stream_fails_only_with_attempt_errors(payloads: list[bytes]) -> None:
    translator = P.stream_translator(request(stream=True))
    for payload in payloads:
        try:
            chunks = translator.chunks(payload)
        except AttemptError:
            return
        for chunk in chunks:
            assert isinstance(chunk.get("choices"), list)


@settings(max_examples=200, deadline=None)
@given(st.lists(events, max_size=12))
def test_the_stream_session_takes_any_event_sequence(sequence: list[dict[str, Any]]) -> None:
    req = request(stream=True)
    generation = Generation("test/model", streamed=True)
    attempt = Attempt(CLAUDE, started=0.0)
    session = StreamSession(attempt, generation, req, P.stream_translator(req), 1 << 20)
    framed = b"".join(b"data: %s\n\n" % orjson.dumps(e) for e in sequence)
    try:
        session.feed(framed, 1.0)
        session.end_of_body(2.0)
        if session.error is None:
            session.finish()
    except AttemptError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_value.map(orjson.dumps), st.binary(max_size=64),
                 st.fixed_dictionaries({"content": st.lists(json_value, max_size=3),
                                        "stop_reason": st.sampled_from(STOP_REASONS)},
                                       optional={"usage": usage}).map(orjson.dumps)))
def test_a_whole_answer_parses_or_fails_the_attempt(raw: bytes) -> None:
    try:
        answer = P.parse_completion(raw, request())
    except AttemptError:
        return
    assert isinstance(answer["choices"][0]["message"], dict)


@settings(max_examples=200, deadline=None)
@given(st.integers(100, 599), st.one_of(st.binary(max_size=64), json_value.map(orjson.dumps)),
       st.dictionaries(st.sampled_from(["retry-after", "retry-after-ms"]), st.text(max_size=30)))
def test_any_error_answer_classifies(status: int, body: bytes, headers: dict[str, str]) -> None:
    assert isinstance(P.classify(status, headers, body), AttemptError)
