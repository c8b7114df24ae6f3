"""The Bedrock dialect's parsers against anything an upstream might send: any bytes through the
event-stream framing (bad CRCs, cut preludes, lengths that lie), any event sequence (missing
metadata, unknown stop reasons, deltas for blocks that never started), any answer and any error.
Every failure is an `AttemptError` (so the relay fails over or ends the stream in-band), never
another exception, and whatever passes is a chunk or completion the router can shape. Pure."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from crossroads.failures import AttemptError
from crossroads.generation import Attempt, Generation
from crossroads.providers import PROVIDERS
from crossroads.sim.eventstream import event_message, exception_message, message
from crossroads.streaming import StreamSession
from tests.unit.factories import endpoint, request

P = PROVIDERS["bedrock-converse"]
BEDROCK = endpoint("bedrock", dialect="bedrock-converse")
EVENT_TYPES = ["messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop",
               "messageStop", "metadata", "somethingNew"]
EXCEPTIONS = ["throttlingException", "modelStreamErrorException", "validationException",
              "internalServerException", "serviceUnavailableException", "brandNewException"]
STOP_REASONS = ["end_turn", "max_tokens", "tool_use", "stop_sequence", "guardrail_intervened",
                "content_filtered", "model_context_window_exceeded", "an_unknown_reason", None]

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
counts = st.one_of(st.integers(-5, 10**9), json_leaf)
usage = st.fixed_dictionaries({}, optional={
    "inputTokens": counts, "outputTokens": counts, "totalTokens": counts,
    "cacheReadInputTokens": counts, "cacheWriteInputTokens": counts})
index = st.one_of(st.integers(0, 3), json_leaf)
deltas = st.one_of(
    json_value,
    st.fixed_dictionaries({"text": json_leaf}),
    st.fixed_dictionaries({"toolUse": st.one_of(json_value,
                                                st.fixed_dictionaries({"input": json_leaf}))}),
    st.fixed_dictionaries({"reasoningContent": st.one_of(json_value, st.fixed_dictionaries(
        {}, optional={"text": json_leaf, "signature": json_leaf,
                      "redactedContent": json_leaf}))}))


def _event(kind: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    fields: st.SearchStrategy[dict[str, Any]] = {
        "messageStart": st.fixed_dictionaries({"role": json_leaf}),
        "contentBlockStart": st.fixed_dictionaries({"contentBlockIndex": index, "start": st.one_of(
            json_value, st.fixed_dictionaries({"toolUse": st.one_of(json_value,
                st.fixed_dictionaries({"toolUseId": json_leaf, "name": json_leaf}))}))}),
        "contentBlockDelta": st.fixed_dictionaries({"contentBlockIndex": index,
                                                    "delta": deltas}),
        "contentBlockStop": st.fixed_dictionaries({"contentBlockIndex": index}),
        "messageStop": st.fixed_dictionaries({"stopReason": st.sampled_from(STOP_REASONS)}),
        "metadata": st.fixed_dictionaries({}, optional={"usage": st.one_of(usage, json_value),
                                                        "metrics": json_value}),
    }.get(kind, st.fixed_dictionaries({"x": json_value}))
    return fields.map(lambda payload: (kind, payload))


events = st.sampled_from(EVENT_TYPES).flatmap(_event)
frames = st.one_of(
    events.map(lambda e: event_message(*e)),
    st.tuples(st.sampled_from(EXCEPTIONS), st.text(max_size=20)).map(
        lambda e: exception_message(*e)),
    # A well-framed message with any headers and any payload (not JSON, no event type, …).
    st.tuples(st.dictionaries(st.sampled_from([":message-type", ":event-type",
                                               ":exception-type", ":error-code"]),
                              st.text(max_size=12), max_size=3),
              st.binary(max_size=32)).map(lambda m: message(*m)),
    st.binary(max_size=40))


@settings(max_examples=300, deadline=None)
@given(st.lists(frames, max_size=10), st.integers(1, 64), st.data())
def test_any_bytes_through_framing_and_translator_fail_only_with_attempt_errors(
        pieces: list[bytes], step: int, draw: st.DataObject) -> None:
    raw = bytearray(b"".join(pieces))
    if raw and draw.draw(st.booleans()):
        raw[draw.draw(st.integers(0, len(raw) - 1))] ^= draw.draw(st.integers(1, 255))
    translator = P.stream_translator(request(stream=True))
    framing = translator.framing(4096)
    try:
        for at in range(0, len(raw), step):
            for data in framing.feed(bytes(raw[at:at + step])):
                for chunk in translator.chunks(data):
                    assert isinstance(chunk.get("choices"), list)
        framing.close()
    except AttemptError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(events, max_size=12))
def test_the_stream_session_takes_any_event_sequence(
        sequence: list[tuple[str, dict[str, Any]]]) -> None:
    req = request(stream=True)
    generation = Generation("test/model", streamed=True)
    attempt = Attempt(BEDROCK, started=0.0)
    session = StreamSession(attempt, generation, req, P.stream_translator(req), 1 << 20)
    try:
        session.feed(b"".join(event_message(*e) for e in sequence), 1.0)
        session.end_of_body(2.0)
        if session.error is None:
            session.finish()
    except AttemptError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_value.map(orjson.dumps), st.binary(max_size=64),
                 st.fixed_dictionaries(
                     {"output": st.one_of(json_value, st.fixed_dictionaries({"message": st.one_of(
                         json_value, st.fixed_dictionaries({"content": st.lists(
                             st.one_of(json_value, deltas), max_size=3)}))})),
                      "stopReason": st.sampled_from(STOP_REASONS)},
                     optional={"usage": st.one_of(usage, json_value)}).map(orjson.dumps)))
def test_a_whole_answer_parses_or_fails_the_attempt(raw: bytes) -> None:
    try:
        answer = P.parse_completion(raw, request())
    except AttemptError:
        return
    assert isinstance(answer["choices"][0]["message"], dict)


@settings(max_examples=200, deadline=None)
@given(st.integers(100, 599), st.one_of(st.binary(max_size=64), json_value.map(orjson.dumps)),
       st.dictionaries(st.sampled_from(["retry-after", "x-amzn-errortype"]),
                       st.text(max_size=30)))
def test_any_error_answer_classifies(status: int, body: bytes, headers: dict[str, str]) -> None:
    assert isinstance(P.classify(status, headers, body), AttemptError)
