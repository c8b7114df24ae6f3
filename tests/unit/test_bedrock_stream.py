"""The Bedrock Converse dialect's streams as pure translation: AWS's binary event-stream framing
(botocore's decoder: splits, bad CRCs, cut and oversized messages), ConverseStream events alone
and through the router's StreamSession (usage priced once, missing metadata, in-stream
exceptions), against fixtures written from AWS's API reference (tests/unit/bedrock_fixtures.py)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import orjson
import pytest

from crossroads.failures import AttemptError, Failure
from crossroads.generation import Attempt, Generation
from crossroads.providers import PROVIDERS
from crossroads.providers.eventstream import EventStreamFraming
from crossroads.streaming import StreamSession

from . import bedrock_fixtures as fx
from .factories import request
from .test_bedrock_dialect import SCOUT

P = PROVIDERS["bedrock-converse"]


# --- framing -----------------------------------------------------------------------------------


def test_the_framing_decodes_across_any_split_and_keys_events_by_type() -> None:
    data = fx.framed(*fx.TEXT_STREAM) + fx.exception("throttlingException", "slow")
    framing = EventStreamFraming(1 << 20)
    events = [e for i in range(0, len(data), 7) for e in framing.feed(data[i:i + 7])]
    assert [next(iter(orjson.loads(e))) for e in events] == [
        *(name for name, _ in fx.TEXT_STREAM), "throttlingException"]
    assert not framing.close()


def test_a_bad_crc_is_malformed_and_a_cut_message_is_pending_at_close() -> None:
    data = bytearray(fx.framed(*fx.TEXT_STREAM))
    data[30] ^= 0xFF
    with pytest.raises(AttemptError) as caught:
        EventStreamFraming(1 << 20).feed(bytes(data))
    assert caught.value.failure is Failure.MALFORMED
    framing = EventStreamFraming(1 << 20)
    framing.feed(bytes(fx.framed(*fx.TEXT_STREAM))[:-5])
    assert framing.close()


def test_sse_bytes_an_oversized_message_and_a_too_short_prelude_are_refused() -> None:
    with pytest.raises(AttemptError) as sse:
        EventStreamFraming(1 << 20).feed(b"data: {}\n\ndata: [DONE]\n\n")
    assert sse.value.failure is Failure.MALFORMED
    with pytest.raises(AttemptError) as large:
        EventStreamFraming(64).feed(fx.framed(("metadata", {"pad": "x" * 200})))
    assert large.value.failure is Failure.TOO_LARGE
    promise = struct.pack(">II", 20 << 20, 0)
    with pytest.raises(AttemptError) as early:  # refused on its prelude, not 20 MiB later
        EventStreamFraming(1 << 20).feed(promise + struct.pack(">I", zlib.crc32(promise)))
    assert early.value.failure is Failure.TOO_LARGE
    short = struct.pack(">II", 8, 0)
    short += struct.pack(">I", zlib.crc32(short))
    with pytest.raises(AttemptError) as tiny:
        EventStreamFraming(1 << 20).feed(short + b"\0" * 8)
    assert tiny.value.failure is Failure.MALFORMED


# --- streams -----------------------------------------------------------------------------------


def translate(events: list[tuple[str, dict[str, Any]]]) -> tuple[list[dict[str, Any]], bool]:
    translator = P.stream_translator(request(stream=True))
    framing = translator.framing(1 << 20)
    chunks: list[dict[str, Any]] = []
    for data in framing.feed(fx.framed(*events)):
        chunks += translator.chunks(data)
    return chunks, translator.ended


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def test_a_text_stream_then_finish_then_usage_and_metadata_ends_it() -> None:
    chunks, ended = translate(fx.TEXT_STREAM)
    assert ended
    assert "".join(d.get("content") or "" for d in deltas(chunks)) == "Hello there."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-2]["choices"][0]["native_finish_reason"] == "end_turn"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3


def test_tool_input_split_across_deltas_becomes_argument_pieces_of_one_call() -> None:
    chunks, _ = translate(fx.TOOL_STREAM)
    calls = [c for d in deltas(chunks) for c in d.get("tool_calls") or ()]
    assert calls[0]["id"] == "tooluse_2SZvIIQGQmuMyCeXK2oX6A" and calls[0]["index"] == 0
    assert {c["index"] for c in calls} == {0}
    assert orjson.loads("".join(c["function"]["arguments"] for c in calls)) == {"sign": "WZPZ"}
    assert len([c for c in calls if c["function"]["arguments"]]) == 3
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_reasoning_streams_as_reasoning_and_its_signature_as_details() -> None:
    chunks, ended = translate(fx.REASONING_STREAM)
    assert not ended  # no metadata: the session ends it at the end of the body
    assert deltas(chunks)[1] == {"reasoning": "The user greets me."}
    assert deltas(chunks)[2]["reasoning_details"][0]["signature"] == "EqoBCkgIARABGAIiQL"


@pytest.mark.parametrize(("name", "message", "status"), fx.STREAM_EXCEPTIONS)
def test_every_stream_exception_fails_the_attempt(name: str, message: str, status: int) -> None:
    translator = P.stream_translator(request(stream=True))
    [data] = translator.framing(1 << 20).feed(fx.exception(name, message))
    with pytest.raises(AttemptError) as caught:
        translator.chunks(data)
    assert (caught.value.status, caught.value.message) == (status, message)
    expected = {500: Failure.SERVER_ERROR, 424: Failure.SERVER_ERROR, 400: Failure.CALLER_ERROR,
                429: Failure.RATE_LIMITED, 503: Failure.SERVER_ERROR}[status]
    assert caught.value.failure is expected


@pytest.mark.parametrize("data", [b"{", b"[]", b'{"a": 1, "b": 2}',
                                  b'{"contentBlockDelta": {"delta": {"text": "x"}}}',
                                  b'{"contentBlockDelta": {"contentBlockIndex": 4, "delta": '
                                  b'{"toolUse": {"input": "{}"}}}}',
                                  b'{"messageStart": 3}'])
def test_malformed_events_fail_the_attempt(data: bytes) -> None:
    with pytest.raises(AttemptError) as caught:
        P.stream_translator(request(stream=True)).chunks(data)
    assert caught.value.failure is Failure.MALFORMED


def test_unknown_events_and_deltas_are_skipped() -> None:
    translator = P.stream_translator(request(stream=True))
    assert translator.chunks(b'{"brandNewEvent": {"x": 1}}') == []
    assert translator.chunks(b'{"contentBlockDelta": {"contentBlockIndex": 0, "delta": '
                             b'{"citation": {}}}}') == []


# --- through the router's stream session -------------------------------------------------------


def session(events: list[tuple[str, dict[str, Any]]], tail: bytes = b""
            ) -> tuple[StreamSession, list[dict[str, Any]]]:
    req = request(stream=True)
    generation = Generation("test/model", streamed=True)
    attempt = Attempt(SCOUT, started=0.0)
    generation.attempts.append(attempt)
    stream = StreamSession(attempt, generation, req, P.stream_translator(req), 1 << 20)
    out = stream.feed(fx.framed(*events), 1.0)
    if tail:
        out += stream.feed(tail, 1.5)
    if not stream.saw_done and stream.error is None:
        out += stream.end_of_body(2.0)
        out += [stream.finish()]
    parsed = [orjson.loads(line[6:]) for line in b"".join(out).split(b"\n\n")
              if line and line != b"data: [DONE]"]
    return stream, parsed


def test_cached_usage_is_priced_to_the_micro_dollar_once_at_the_end() -> None:
    stream, chunks = session(fx.CACHED_STREAM)
    assert stream.saw_done and stream.error is None
    assert [c for c in chunks if "usage" in c] == [chunks[-1]]
    usage = chunks[-1]["usage"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 1800, "cache_write_tokens": 1000}
    # 20 fresh at $0.17, 1800 read at $0.017, 1000 written at $0.2125, 393 out at $0.66 per
    # MTok: 3.4 + 30.6 + 212.5 + 259.38 = 505.88 micro-dollars, rounded once.
    assert usage["crossroads"]["cost_micro_usd"] == 506
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_a_stream_without_metadata_is_whole_with_its_usage_estimated() -> None:
    stream, chunks = session(fx.REASONING_STREAM)
    assert stream.error is None and stream.finish_reason == "stop"
    assert "usage" in chunks[-1]


def test_an_exception_before_content_fails_over_and_garbage_after_content_ends_in_band() -> None:
    with pytest.raises(AttemptError) as caught:
        session(fx.TEXT_STREAM[:1], fx.exception("throttlingException", "slow"))
    assert caught.value.failure is Failure.RATE_LIMITED
    # After content the relay sends what it has and ends the stream with an in-band error.
    with pytest.raises(AttemptError) as garbage:
        session(fx.TEXT_STREAM[:3], b"garbage bytes that are no frame")
    assert garbage.value.failure is Failure.MALFORMED
