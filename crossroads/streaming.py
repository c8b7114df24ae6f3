"""One upstream stream turned into the caller's stream, with no I/O.

`StreamSession` splits the provider's bytes into events with the dialect's own framing (SSE,
or Bedrock's binary event stream), has the attempt's dialect translate each event into
OpenAI-shaped chunks (`providers.base.StreamTranslator`), checks every chunk,
rewrites it as ours (id, model, provider, priced usage) and tells the relay when real content
has arrived, so the relay knows when to commit. `ClientStream` is the caller's side,
implemented by the HTTP layer.

The last chunk. OpenRouter ends a stream with a usage-only chunk whose `choices` is empty, and
OpenAI does the same when asked (`stream_options.include_usage`); but the loop in OpenAI's own
docs reads `chunk.choices[0]` on every chunk and raises on that one. So unless the caller asked
for OpenAI's usage chunk, the chunk that carries the finish reason waits for the next event, and
when that is the usage-only chunk the two go out as one: usage still arrives exactly once, in
the last chunk before `[DONE]`, and every chunk has a `choices[0]`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import orjson

from crossroads.chat_request import ChatRequest
from crossroads.chat_response import shape_chunk
from crossroads.failures import AttemptError, Failure
from crossroads.generation import Attempt, Generation, estimate_usage
from crossroads.pricing import usage_from_openai
from crossroads.providers.base import StreamTranslator
from crossroads.reasoning import shape_reasoning
from crossroads.sse import DONE, DONE_EVENT, GARBLED, SSEOverflowError, encode

Splice = Callable[[dict[str, Any]], None]
"""Rewrites a continuation's chunk in place so it joins the answer already sent (resume.py)."""


class ClientStream(Protocol):
    """The caller's end of a streamed response."""

    @property
    def started(self) -> bool:
        """Response headers (200, text/event-stream) have been sent."""
        ...

    @property
    def committed(self) -> bool:
        """An endpoint's content has been sent; no failover is possible any more."""
        ...

    def keepalive_due(self, interval_s: float) -> float:
        """Loop time at which the next keep-alive comment is due."""
        ...

    async def keepalive(self) -> None: ...

    async def commit(self) -> None: ...

    async def write(self, data: bytes) -> None: ...


def _has_content(choice: dict[str, Any]) -> bool:
    delta = choice.get("delta")
    if choice.get("finish_reason"):
        return True
    if not isinstance(delta, dict):
        return False
    return bool(delta.get("content") or delta.get("tool_calls") or delta.get("reasoning")
                or delta.get("reasoning_content") or delta.get("function_call"))


class StreamSession:
    __slots__ = (
        "_decoder", "_exclude_reasoning", "_held", "_merge_usage", "_pending_finish", "_splice",
        "_translator", "attempt", "chars", "chunks", "created", "error", "finish_reason",
        "generation", "has_content", "request", "saw_done", "text", "tool_calls", "usage_sent",
    )

    def __init__(self, attempt: Attempt, generation: Generation, request: ChatRequest,
                 translator: StreamTranslator, max_event_bytes: int,
                 splice: Splice | None = None) -> None:
        self.attempt = attempt
        self._splice = splice
        self.generation = generation
        self.request = request
        self._translator = translator
        self._decoder = translator.framing(max_event_bytes)
        self._held: list[bytes] = []
        options = request.body.get("stream_options")
        self._exclude_reasoning = request.excludes_reasoning
        self._merge_usage = not (isinstance(options, dict) and options.get("include_usage"))
        # A finish-reason chunk waiting to be joined by the usage-only chunk (module doc).
        self._pending_finish: dict[str, Any] | None = None
        self.has_content = False
        self.finish_reason: str | None = None
        self.usage_sent = False
        self.saw_done = False
        self.chars = 0
        self.chunks = 0
        # The content text of this attempt, and whether it streamed tool calls: what a resume
        # continues from, or refuses to (resume.py).
        self.text: list[str] = []
        self.tool_calls = False
        self.created: int | None = None  # what its chunks say, once the first has arrived
        self.error: AttemptError | None = None

    @property
    def finished(self) -> bool:
        return self.saw_done

    def complete_without_done(self) -> bool:
        """Finish reason and usage both arrived: the answer is whole even without [DONE]."""
        return self.finish_reason is not None and self.usage_sent

    def feed(self, chunk: bytes, now: float) -> list[bytes]:
        """Events to send the caller, in order. Before content arrives they are held back.

        A bad event stops processing; the events before it are still returned and the error is
        left in `self.error` for the relay to raise once they are written. Before content, the
        error is raised at once: nothing was sent, so the relay can still fail over.
        """
        try:
            payloads = self._decoder.feed(chunk)
        except SSEOverflowError as exc:
            raise AttemptError(Failure.TOO_LARGE, str(exc)) from None
        self.attempt.skipped_events = self._decoder.skipped
        return self._consume(payloads, now)

    def end_of_body(self, now: float) -> list[bytes]:
        """The provider closed its body: decide whether the answer was whole."""
        if self._decoder.close():
            self.error = AttemptError(Failure.CUT, "the provider's stream ended mid-event")
        if self.error is None and not self.has_content:
            self.error = AttemptError(Failure.EMPTY, "the provider's stream ended with no content")
        if self.error is None and self.finish_reason is None and not self.saw_done:
            self.error = AttemptError(Failure.CUT, "the provider's stream ended mid-answer")
        return self._consume([], now)

    def _consume(self, payloads: list[bytes], now: float) -> list[bytes]:
        out: list[bytes] = []
        translator = self._translator
        for data in payloads:
            if data is GARBLED:
                self.error = AttemptError(Failure.MALFORMED, "the provider sent a garbled line "
                                          "that may have held content")
                break
            if data != DONE:
                try:
                    for payload in translator.chunks(data):
                        out += self._events(payload, now)
                except AttemptError as error:
                    self.error = error
                    break
                if not translator.ended:
                    continue
            # `[DONE]`, or the dialect's own last event (Anthropic's `message_stop`).
            self.saw_done = True
            if not self.has_content:
                self.error = AttemptError(Failure.EMPTY,
                                          "the provider's stream ended with no content")
            break
        if not self.has_content:
            self._held.extend(out)
            if self.error is not None:
                raise self.error
            return []
        if self._held:
            out = self._held + out
            self._held = []
        return out

    def _events(self, payload: dict[str, Any], now: float) -> list[bytes]:
        """The caller's events for one upstream chunk, with the last-chunk merge (module doc)."""
        pending = self._pending_finish
        self._pending_finish = None
        self._event(payload, now)
        if pending is not None:
            if not payload["choices"] and "usage" in payload:
                pending["usage"] = payload["usage"]
                return [encode(orjson.dumps(pending))]
            if self._holds(payload):
                return [encode(orjson.dumps(pending))]
            return [encode(orjson.dumps(pending)), encode(orjson.dumps(payload))]
        if self._holds(payload):
            return []
        return [encode(orjson.dumps(payload))]

    def _holds(self, payload: dict[str, Any]) -> bool:
        """Keep a finish-reason chunk without usage back until the next event."""
        choices = payload["choices"]
        if (self._merge_usage and choices and "usage" not in payload
                and choices[-1].get("finish_reason") is not None):
            self._pending_finish = payload
            return True
        return False

    def _event(self, payload: dict[str, Any], now: float) -> None:
        """Check and rewrite one upstream chunk as ours, in place."""
        finish, native = shape_chunk(payload, self.generation.created)
        if self._splice is not None:
            self._splice(payload)
        if self.created is None:
            self.created = payload["created"]
        choices = payload["choices"]
        if choices:
            choice = choices[0]
            delta = choice["delta"]
            if not self.has_content and _has_content(choice):
                self.has_content = True
                self.attempt.first_token_at = now
            if self._exclude_reasoning or "reasoning_content" in delta:
                shape_reasoning(delta, self._exclude_reasoning)
            if isinstance(delta.get("content"), str):
                self.chars += len(delta["content"])
                self.chunks += 1
                self.text.append(delta["content"])
            if delta.get("tool_calls") or delta.get("function_call"):
                self.tool_calls = True
            if finish is not None:
                self.finish_reason = finish
                self.generation.native_finish_reason = native
        usage = usage_from_openai(payload.get("usage"), self.request.image_count,
                                  self.attempt.endpoint.usage_prompt_includes_cached)
        self.generation.stamp(payload, self.attempt.endpoint)
        if usage is not None:
            self.generation.finish_reason = self.finish_reason
            payload["usage"] = self.generation.price(self.attempt, usage)
            self.usage_sent = True
        elif "usage" in payload:
            del payload["usage"]

    def settle_partial(self) -> None:
        """The caller left mid-answer: bill what was generated and sent, marked as estimated,
        unless the provider's own usage already arrived."""
        if self.has_content and not self.usage_sent:
            usage = estimate_usage(self.request, self.chars, self.chunks)
            self.generation.price(self.attempt, usage)

    def finish(self) -> bytes:
        """The closing bytes of a complete stream: usage if the provider sent none, then DONE."""
        self.generation.finish_reason = self.finish_reason or "stop"
        pending = self._pending_finish
        self._pending_finish = None
        if self.usage_sent:
            return (b"" if pending is None else encode(orjson.dumps(pending))) + DONE_EVENT
        usage = estimate_usage(self.request, self.chars, self.chunks)
        payload: dict[str, Any] = pending or {
            "object": "chat.completion.chunk",
            "created": self.generation.created,
            "choices": [],
        }
        self.generation.stamp(payload, self.attempt.endpoint)
        payload["usage"] = self.generation.price(self.attempt, usage)
        return encode(orjson.dumps(payload)) + DONE_EVENT
