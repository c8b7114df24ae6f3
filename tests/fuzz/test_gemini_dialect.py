"""The Gemini dialect's parsers against anything an upstream might send: malformed events,
missing or nonsense usage, unknown finish reasons and part kinds. Every failure is an
`AttemptError` (so the relay fails over or ends the stream in-band), never another exception,
and whatever passes is a chunk or completion the router can shape. Pure: no processes."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from crossroads.failures import AttemptError
from crossroads.generation import Attempt, Generation
from crossroads.pricing import usage_from_openai
from crossroads.providers import PROVIDERS
from crossroads.streaming import StreamSession
from tests.unit.factories import endpoint, request

P = PROVIDERS["gemini"]
GEMINI = endpoint("google-ai-studio", dialect="gemini")
FINISH = ["STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER", "MALFORMED_FUNCTION_CALL",
          "FINISH_REASON_UNSPECIFIED", "A_REASON_FROM_THE_FUTURE", None]
STATUSES = ["INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL",
            "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "FAILED_PRECONDITION",
            "DEADLINE_EXCEEDED", "SOMETHING_NEW"]

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
counts = st.one_of(st.integers(-5, 10**9), json_leaf)
usage = st.one_of(json_value, st.fixed_dictionaries({}, optional={
    "promptTokenCount": counts, "cachedContentTokenCount": counts,
    "candidatesTokenCount": counts, "thoughtsTokenCount": counts,
    "toolUsePromptTokenCount": counts, "totalTokenCount": counts}))
part = st.one_of(json_value, st.fixed_dictionaries({}, optional={
    "text": json_leaf, "thought": json_leaf, "thoughtSignature": json_leaf,
    "functionCall": st.one_of(json_value, st.fixed_dictionaries(
        {"name": json_leaf}, optional={"args": json_value, "id": json_leaf})),
    "executableCode": json_value}))
candidate = st.one_of(json_value, st.fixed_dictionaries({}, optional={
    "content": st.one_of(json_value, st.fixed_dictionaries(
        {"role": st.just("model")}, optional={"parts": st.one_of(st.lists(part, max_size=3),
                                                                  json_leaf)})),
    "finishReason": st.sampled_from(FINISH), "index": json_leaf}))
response = st.fixed_dictionaries({}, optional={
    "candidates": st.one_of(st.lists(candidate, max_size=2), json_leaf),
    "usageMetadata": usage, "modelVersion": json_leaf, "responseId": json_leaf,
    "promptFeedback": st.one_of(json_value, st.fixed_dictionaries(
        {"blockReason": st.sampled_from(["SAFETY", "OTHER", "BLOCKLIST"])})),
    "error": st.one_of(json_value, st.fixed_dictionaries(
        {"code": counts, "status": st.sampled_from(STATUSES), "message": json_leaf},
        optional={"details": json_value}))})
data = st.one_of(response.map(orjson.dumps), st.binary(max_size=64),
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
            if "usage" in chunk:
                assert usage_from_openai(chunk["usage"]) is not None


@settings(max_examples=200, deadline=None)
@given(st.lists(response, max_size=10))
def test_the_stream_session_takes_any_event_sequence(sequence: list[dict[str, Any]]) -> None:
    req = request(stream=True)
    generation = Generation("test/model", streamed=True)
    attempt = Attempt(GEMINI, started=0.0)
    session = StreamSession(attempt, generation, req, P.stream_translator(req), 1 << 20)
    framed = b"".join(b"data: %s\r\n\r\n" % orjson.dumps(e) for e in sequence)
    try:
        session.feed(framed, 1.0)
        session.end_of_body(2.0)
        if session.error is None:
            session.finish()
    except AttemptError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.one_of(response.map(orjson.dumps), st.binary(max_size=64),
                 json_value.map(orjson.dumps)))
def test_a_whole_answer_parses_or_fails_the_attempt(raw: bytes) -> None:
    try:
        answer = P.parse_completion(raw, request())
    except AttemptError:
        return
    choice = answer["choices"][0]
    assert isinstance(choice["message"], dict)
    assert choice["finish_reason"] in {"stop", "length", "content_filter", "tool_calls"}
    if "usage" in answer:
        parsed = usage_from_openai(answer["usage"])
        assert parsed is not None and parsed.cached_tokens <= parsed.prompt_tokens


@settings(max_examples=200, deadline=None)
@given(st.integers(100, 599), st.one_of(st.binary(max_size=64), json_value.map(orjson.dumps),
                                        response.map(orjson.dumps)),
       st.dictionaries(st.sampled_from(["retry-after", "retry-after-ms"]), st.text(max_size=30)))
def test_any_error_answer_classifies(status: int, body: bytes, headers: dict[str, str]) -> None:
    assert isinstance(P.classify(status, headers, body), AttemptError)
