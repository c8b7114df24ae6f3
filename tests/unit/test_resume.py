"""Tolerant SSE parsing (sse.py), the resume splice and its decisions (resume.py), and the
price of an answer made of parts (generation.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from crossroads.failures import AttemptError, Failure
from crossroads.generation import Attempt, Generation
from crossroads.pricing import Usage, cost_micro, usage_sum
from crossroads.providers import PROVIDERS
from crossroads.resume import Resume, Splice
from crossroads.sse import GARBLED, SSEDecoder
from crossroads.streaming import StreamSession

from .factories import endpoint, request

CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"hi "}}]}\n\n'


# --- sse.py: what is skipped, what is an error -------------------------------------------------


@pytest.mark.parametrize("line", [
    b"~~ garbled keep-alive ~~\n\n",  # no colon: an unknown field
    b"x-proxy: hello\n\n",  # an unknown field
    b"data:\n\n",  # an event with nothing in it
    b"data:   \n\n",
    b"\x00\xff\xfe\n\n",  # bytes no one can read, with no `{`
])
def test_a_line_that_cannot_hold_a_chunk_is_skipped_and_counted(line: bytes) -> None:
    decoder = SSEDecoder()
    assert decoder.feed(CHUNK + line + CHUNK) == [CHUNK[6:-2]] * 2
    assert decoder.skipped == 1


@pytest.mark.parametrize("line", [
    b": keep-alive\n\n", b"event: ping\n\n", b"id: 7\n\n", b"retry: 100\n\n",
])
def test_sse_itself_is_ignored_without_counting(line: bytes) -> None:
    decoder = SSEDecoder()
    assert decoder.feed(CHUNK + line + CHUNK) == [CHUNK[6:-2]] * 2
    assert decoder.skipped == 0


@pytest.mark.parametrize("line", [
    b'dta: {"choices":[{"delta":{"content":"lost"}}]}\n\n',  # a mangled `data:`
    b'{"choices":[{"delta":{"content":"lost"}}]}\n\n',  # no field name at all
])
def test_a_line_that_may_have_held_a_chunk_is_garbled_in_order(line: bytes) -> None:
    decoder = SSEDecoder()
    events = decoder.feed(CHUNK + line + CHUNK)
    assert events[0] == CHUNK[6:-2] and events[1] is GARBLED and events[2] == CHUNK[6:-2]
    assert decoder.skipped == 0


def _session(req: Any = None) -> StreamSession:
    req = req or request(stream=True)
    attempt = Attempt(endpoint("alpha"), 0.0)
    generation = Generation("test/model", True)
    generation.attempts.append(attempt)
    return StreamSession(attempt, generation, req, PROVIDERS["openai"].stream_translator(req),
                         1 << 20)


def test_the_stream_skips_junk_and_notes_it_on_the_attempt() -> None:
    session = _session()
    out = session.feed(CHUNK + b"garbage\n\n" + CHUNK, 1.0)
    assert len(out) == 2 and session.error is None
    assert session.attempt.skipped_events == 1


def test_the_stream_refuses_a_garbled_line_and_invalid_json() -> None:
    session = _session()
    session.feed(CHUNK + b'dta: {"choices": []}\n\n' + CHUNK, 1.0)
    assert session.error is not None and session.error.failure is Failure.MALFORMED
    assert session.text == ["hi "]  # what was delivered before it, nothing after
    session = _session()
    session.feed(CHUNK + b'data: {"choices": [\n\n', 1.0)
    assert session.error is not None and session.error.failure is Failure.MALFORMED


# --- resume.py: the splice -----------------------------------------------------------------


def _chunk(content: str | None, **delta: Any) -> dict[str, Any]:
    return {"created": 5, "choices": [{"index": 0, "delta": {"content": content, **delta}}]}


def test_the_splice_drops_role_reasoning_and_the_repeated_whitespace() -> None:
    splice = Splice("  ", created=1)
    first = _chunk(" ", role="assistant", reasoning="hmm")
    splice(first)
    assert first["created"] == 1 and first["choices"][0]["delta"] == {"content": ""}
    second = _chunk(" fox ")
    splice(second)
    assert second["choices"][0]["delta"]["content"] == "fox "
    third = _chunk("  jumps")  # the overlap is spent: text is never cut again
    splice(third)
    assert third["choices"][0]["delta"]["content"] == "  jumps"


def test_a_continuation_without_the_whitespace_loses_nothing() -> None:
    splice = Splice(" ", created=None)
    chunk = _chunk("fox")
    splice(chunk)
    assert chunk["choices"][0]["delta"]["content"] == "fox" and chunk["created"] == 5


# --- resume.py: when to resume ---------------------------------------------------------------

CUT = AttemptError(Failure.CUT, "cut")


def _broken(body: dict[str, Any] | None = None, text: bytes = CHUNK * 3,
            ) -> tuple[Resume, StreamSession, Generation]:
    req = request(stream=True, **(body or {}))
    resume = Resume(req)
    session = _session(req)
    resume.watch(session)
    session.feed(text, 1.0)
    return resume, session, session.generation


PREFILL = endpoint("bravo", supports_prefill=True)


def test_a_cut_text_stream_is_resumed_with_the_text_as_prefill() -> None:
    resume, session, generation = _broken({"max_tokens": 10})
    assert resume.resumes(session.attempt, CUT, generation, [PREFILL], True)
    assert resume.request.body["messages"][-1] == {"role": "assistant", "content": "hi hi hi"}
    assert resume.request.max_tokens == 10 - 3 and resume.request.body["max_tokens"] == 7
    assert generation.prior == [session.attempt]
    usage = session.attempt.usage
    assert usage is not None and usage.estimated and usage.completion_tokens == 3
    later = Attempt(PREFILL, 2.0)
    resume.begin(later)
    assert later.prefill_chars == len("hi hi hi ")
    # Only an endpoint that takes a prefill, of the same model, may continue it.
    assert not resume.accepts(endpoint("charlie"))
    assert not resume.accepts(endpoint("delta", supports_prefill=True, model="other/model"))


def test_a_callers_own_prefill_and_the_answer_make_one_assistant_turn() -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Sure, "}]
    resume, session, generation = _broken({"messages": messages})
    assert resume.resumes(session.attempt, CUT, generation, [PREFILL], True)
    assert resume.request.body["messages"] == [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "Sure, hi hi hi"}]


@pytest.mark.parametrize(("body", "queue", "error", "left"), [
    ({}, [endpoint("bravo")], CUT, True),  # nobody takes a prefill
    ({}, [PREFILL], CUT, False),  # no attempts or time left
    ({}, [PREFILL], AttemptError(Failure.CONTENT_FILTER, "no"), True),  # a refusal
    ({"response_format": {"type": "json_object"}}, [PREFILL], CUT, True),
    ({"n": 2}, [PREFILL], CUT, True),
])
def test_when_a_stream_is_not_resumed(body: dict[str, Any], queue: list[Any],
                                      error: AttemptError, left: bool) -> None:
    resume, session, generation = _broken(body)
    assert not resume.resumes(session.attempt, error, generation, queue, left)
    assert generation.prior == []


def test_tool_calls_and_reasoning_only_are_not_resumed() -> None:
    call = {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "c", "type": "function",
         "function": {"name": "f", "arguments": "{"}}]}}]}
    resume, session, generation = _broken(text=b"data: " + orjson.dumps(call) + b"\n\n")
    assert not resume.resumes(session.attempt, CUT, generation, [PREFILL], True)
    thought = {"choices": [{"index": 0, "delta": {"reasoning": "let me think"}}]}
    resume, session, generation = _broken(text=b"data: " + orjson.dumps(thought) + b"\n\n")
    assert not resume.resumes(session.attempt, CUT, generation, [PREFILL], True)


# --- generation.py: one answer, several parts ------------------------------------------------


def test_a_resumed_answer_costs_each_part_at_its_own_price() -> None:
    first, second = Attempt(endpoint("alpha", 1.0), 0.0), Attempt(endpoint("bravo", 3.0), 1.0)
    generation = Generation("test/model", True)
    head = Usage(prompt_tokens=10, completion_tokens=40, estimated=True)
    first.usage, first.cost_micro = head, cost_micro(head, first.endpoint.pricing)
    generation.prior.append(first)
    tail = Usage(prompt_tokens=60, completion_tokens=20)
    payload = generation.price(second, tail)
    assert generation.usage == usage_sum([head, tail])
    assert payload["prompt_tokens"] == 70 and payload["completion_tokens"] == 60
    assert payload["crossroads"]["estimated"] is True
    assert generation.cost_micro == 50 * 1 + 80 * 3 == first.cost_micro + second.cost_micro
    assert generation.completion_cost_micro == 40 + 60
    generation.finish_reason = "error"
    generation.price(second, tail)
    assert generation.cost_micro == 0  # a resumed answer that still failed is not billed
