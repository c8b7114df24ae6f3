"""Acting out a served request: the timing of a healthy answer and of every stream fault.

A healthy stream sends its headers with the first token after the sampled TTFT, then paces tokens
at the sampled rate. Sleeps are at least `MIN_STEP` long; tokens that fell due meanwhile go out
together as separate events in one write, which keeps a 2600 tok/s stream cheap while still
showing the gaps a client measures. With no delays at all a play answers synchronously and the
connection never creates a task.

Outcomes that end in an error status never get here; the chat handler answers those itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, Final, Literal, Protocol

from crossroads.sim.answer import Answer, StepFrames, completion, compose
from crossroads.sim.continuation import continue_answer, prefill_of
from crossroads.sim.options import PLAIN
from crossroads.sim.profile import Outcome, SimProfile
from crossroads.sim.prompt import ChatRequest
from crossroads.sim.render import (
    DONE,
    JUNK_LINE,
    MALFORMED_EVENT,
    MALFORMED_JSON,
    TextFrames,
    chunk_head,
    completion_body,
    completion_text,
    stream_head,
    usage_event,
)
from crossroads.sim.wire import Exchange


class Frames(Protocol):
    """A stream in steps, one token each: OpenAI's chunks, or Anthropic's events."""

    @property
    def n(self) -> int: ...

    def event(self, i: int) -> bytes: ...


__all__ = ["BLOCK_PLAYS", "MIN_STEP", "STREAM_PLAYS", "Play", "Reply", "WholeAnswer"]

MIN_STEP: Final = 0.005
_MALFORMED_AFTER: Final = 3

Pending = Coroutine[Any, Any, None] | None


class WholeAnswer(Protocol):
    """What a non-streamed play needs of its answer: a chat `Reply`, or an embeddings one
    (`embeddings.py`), so both fail in exactly the same scripted ways."""

    @property
    def ex(self) -> Exchange: ...

    @property
    def ttft(self) -> float: ...

    @property
    def slow_first_s(self) -> float: ...

    @property
    def generation_s(self) -> float: ...

    def body(self) -> bytes: ...


class Reply:
    """One request about to be answered: what to say, and when.

    A plain request (one choice of text from a model that does not reason, no tools, none of the
    options in options.py) keeps to the pre-encoded fast path of render.py; anything else is an
    `Answer` (answer.py).
    """

    __slots__ = (
        "answer",
        "completion_id",
        "created",
        "ex",
        "fault_at",
        "finish_reason",
        "n",
        "per_token",
        "req",
        "slow_first_s",
        "started",
        "ttft",
        "usage",
    )

    def __init__(
        self,
        ex: Exchange,
        req: ChatRequest,
        profile: SimProfile,
        *,
        completion_id: str,
        created: int,
        cached: int,
        timing: tuple[float, float],
    ) -> None:
        self.ex = ex
        self.req = req
        self.completion_id = completion_id
        self.created = created
        self.ttft, self.per_token = timing
        self.slow_first_s = profile.slow_first_token_s
        # Where a mid-stream fault strikes, in tokens streamed; None: its own default.
        self.fault_at = profile.fault_after_tokens
        self.started = time.monotonic()
        self.answer: Answer | None = None
        prefill = prefill_of(req)
        if prefill is not None:
            self.answer = continue_answer(req, profile, completion_id, prefill)
            self.n = self.answer.longest
            self.finish_reason = self.answer.choices[0].finish_reason
            completion_tokens = self.answer.completion_tokens
        elif req.options is PLAIN and not req.tools and not profile.reasoning:
            full = profile.completion_tokens
            limit = req.max_tokens
            self.n = full if limit is None else min(full, limit)
            self.finish_reason = "length" if self.n < full else "stop"
            completion_tokens = self.n
        else:
            self.answer = compose(req, profile, completion_id)
            self.n = self.answer.longest
            self.finish_reason = self.answer.choices[0].finish_reason
            completion_tokens = self.answer.completion_tokens
        prompt = (
            req.prompt_tokens
            if profile.usage_prompt_includes_cached
            else req.prompt_tokens - cached
        )
        self.usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        }
        if profile.cache:
            self.usage["prompt_tokens_details"] = {"cached_tokens": cached, "cache_write_tokens": 0}
        if profile.reasoning and self.answer is not None:
            self.usage["completion_tokens_details"] = {
                "reasoning_tokens": self.answer.reasoning_tokens
            }

    @property
    def generation_s(self) -> float:
        return self.per_token * self.n

    def body(self) -> bytes:
        if self.answer is not None:
            head = {"id": self.completion_id, "object": "chat.completion",
                    "created": self.created, "model": self.req.model}  # fmt: skip
            return completion(self.answer, head, self.usage)
        return completion_body(
            self.completion_id,
            self.created,
            self.req.model,
            message={"role": "assistant", "content": completion_text(self.n)},
            finish_reason=self.finish_reason,
            usage=self.usage,
        )

    def frames(self) -> Frames:
        if self.answer is not None:
            head = stream_head(self.completion_id, self.created, self.req.model)
            return StepFrames(head, self.answer)
        head = chunk_head(self.completion_id, self.created, self.req.model)
        return TextFrames(head, self.n, self.finish_reason)

    def empty_stream(self) -> bytes:
        """The whole of a stream that says nothing (the `empty_200` fault)."""
        return DONE

    def tail(self, done: bool) -> bytes:
        usage = b""
        if self.req.include_usage:
            usage = usage_event(self.completion_id, self.created, self.req.model, self.usage)
        return usage + DONE if done else usage


Play = Callable[[Reply], Pending]
BlockPlay = Callable[[WholeAnswer], Pending]


async def _later(delay: float, action: Callable[[], None]) -> None:
    await asyncio.sleep(delay)
    action()


def _at(delay: float, action: Callable[[], None]) -> Pending:
    if delay <= 0:
        action()
        return None
    return _later(delay, action)


# Non-streaming plays.


def _block_ok(r: WholeAnswer) -> Pending:
    delay = r.ttft + r.generation_s
    if delay > 0:
        return _later(delay, lambda: r.ex.send(200, r.body()))
    r.ex.send(200, r.body())  # the time_scale=0 hot path: no closure, no task
    return None


def _block_slow(r: WholeAnswer) -> Pending:
    return _at(max(r.slow_first_s, r.ttft + r.generation_s), lambda: r.ex.send(200, r.body()))


async def _block_cut(r: WholeAnswer) -> None:
    await asyncio.sleep(r.ttft + r.generation_s)
    body = r.body()
    r.ex.send_partial(200, body[: len(body) // 2], len(body))
    r.ex.abort(rst=False)


async def _block_stall(r: WholeAnswer) -> None:
    await asyncio.sleep(r.ttft)
    r.ex.send_partial(200, b"", len(r.body()))
    await r.ex.wait_closed()


def _block_malformed(r: WholeAnswer) -> Pending:
    return _at(r.ttft + r.generation_s, lambda: r.ex.send(200, MALFORMED_JSON))


def _block_empty(r: WholeAnswer) -> Pending:
    return _at(r.ttft, lambda: r.ex.send(200, b""))


def _reset(r: WholeAnswer) -> Pending:
    r.ex.abort(rst=True)
    return None


def _no_answer(r: WholeAnswer) -> Pending:
    return r.ex.wait_closed()


# Streaming plays.


def _events(frames: Frames, start: int, stop: int, inject_after: int,
            inject: bytes = MALFORMED_EVENT) -> bytes:
    out = []
    for k in range(start, stop):
        out.append(frames.event(k))
        if k + 1 == inject_after:
            out.append(inject)
    return b"".join(out)


def _stream(
    r: Reply,
    *,
    cut: Literal["abort", "stall"] | None = None,
    inject_after: int = -1,
    inject: bytes = MALFORMED_EVENT,
    done: bool = True,
    slow: bool = False,
) -> Pending:
    frames = r.frames()
    if r.ttft == 0 and r.per_token == 0 and cut is None and not slow:
        r.ex.send_stream(_events(frames, 0, frames.n, inject_after, inject) + r.tail(done))
        return None
    stop = frames.n
    if cut:
        stop = max(1, frames.n // 2) if r.fault_at is None else min(r.fault_at, frames.n)
    return _paced(
        r, frames, stop=stop, cut=cut, inject_after=inject_after, inject=inject,
        tail=r.tail(done), slow=slow,
    )


def _injected(r: Reply, inject: bytes) -> Pending:
    at = min(_MALFORMED_AFTER, r.n) if r.fault_at is None else r.fault_at
    return _stream(r, inject_after=at, inject=inject)


async def _paced(
    r: Reply,
    frames: Frames,
    *,
    stop: int,
    cut: Literal["abort", "stall"] | None,
    inject_after: int,
    inject: bytes,
    tail: bytes,
    slow: bool,
) -> None:
    ex = r.ex
    loop = asyncio.get_running_loop()
    if r.ttft > 0:
        await asyncio.sleep(r.ttft)
    started = slow
    if slow:
        # Headers on time, then silence until the first token: the shape that needs a
        # first-token timeout distinct from the header timeout.
        ex.start_stream()
        wait = r.started + r.slow_first_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
    t0 = loop.time()
    sent = 0
    while True:
        due = stop
        if r.per_token > 0:
            due = min(stop, int((loop.time() - t0) / r.per_token) + 1)
        data = _events(frames, sent, due, inject_after, inject)
        sent = due
        if sent >= stop and cut is None:
            if started:
                ex.end_stream(data + tail)
            else:
                ex.send_stream(data + tail)
            return
        if started:
            ex.stream(data)
        else:
            ex.start_stream(data)
            started = True
        if sent >= stop:
            break
        await ex.drain()
        await asyncio.sleep(max(MIN_STEP, t0 + sent * r.per_token - loop.time()))
    if cut == "abort":
        ex.abort(rst=False)
    else:
        await ex.wait_closed()


def _empty_stream(r: Reply) -> Pending:
    return _at(r.ttft, lambda: r.ex.send_stream(r.empty_stream()))


BLOCK_PLAYS: Final[dict[Outcome, BlockPlay]] = {
    "ok": _block_ok,
    "no_done": _block_ok,
    "slow_first_token": _block_slow,
    "stream_cut": _block_cut,
    "stream_stall": _block_stall,
    "malformed_sse": _block_malformed,
    "junk_line": _block_ok,
    "empty_200": _block_empty,
    "reset": _reset,
    "no_answer": _no_answer,
}

STREAM_PLAYS: Final[dict[Outcome, Play]] = {
    "ok": _stream,
    "no_done": lambda r: _stream(r, done=False),
    "slow_first_token": lambda r: _stream(r, slow=True),
    "stream_cut": lambda r: _stream(r, cut="abort"),
    "stream_stall": lambda r: _stream(r, cut="stall"),
    "malformed_sse": lambda r: _injected(r, MALFORMED_EVENT),
    "junk_line": lambda r: _injected(r, JUNK_LINE),
    "empty_200": _empty_stream,
    "reset": _reset,
    "no_answer": _no_answer,
}
