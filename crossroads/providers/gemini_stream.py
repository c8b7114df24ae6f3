"""Gemini's `streamGenerateContent?alt=sse` stream, event by event, as OpenAI-shaped chunks.

Each SSE event is a whole GenerateContentResponse holding the next parts of the answer
(https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent): text, thought
text (`thought: true`), or a function call, which arrives whole in one part — a second call
comes in a later part or event, so calls are numbered across events. `usageMetadata` may come
with any event, but only the one that comes with the finish reason (or after it) is complete —
earlier ones count the prompt alone — so usage goes out from that event, never from an earlier
one; a stream that never sends it is estimated by the router, as any stream without usage.
`finishReason` comes with the last candidate. There is no end-of-stream event: the stream is
whole once the finish reason and usage have been sent (`StreamSession.complete_without_done`),
or when the body ends after the finish reason.

The translator keeps, per attempt: the response id and model version, how many calls it has
numbered, and whether the finish and the usage went out (usage goes out once, after the finish
reason, as an OpenAI stream ends).
"""

from __future__ import annotations

from typing import Any

from crossroads.failures import AttemptError, Failure
from crossroads.providers import chat_answer
from crossroads.providers.gemini_shapes import (
    Chunk,
    Pieces,
    blocked,
    chat_usage,
    finish_reason,
    in_band,
)
from crossroads.sse import SSEDecoder


class GeminiStream:
    __slots__ = ("_calls", "_finished", "_id", "_model", "_role_sent", "_usage_sent",
                 "ended")

    def __init__(self) -> None:
        self._id: str | None = None
        self._model: str | None = None
        self._calls = 0
        self._role_sent = False
        self._finished = False
        self._usage_sent = False
        self.ended = False  # Gemini has no closing event (module doc)

    def framing(self, max_event_bytes: int) -> SSEDecoder:
        return SSEDecoder(max_event_bytes)

    def _chunk(self, delta: dict[str, Any]) -> Chunk:
        if not self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent = True
        return chat_answer.chunk(self._id, self._model, delta)

    def _usage_chunk(self, usage: dict[str, Any]) -> Chunk:
        self._usage_sent = True
        return chat_answer.usage_chunk(self._id, self._model, chat_usage(usage))

    def chunks(self, data: bytes) -> list[Chunk]:
        event = chat_answer.decode_event(data)
        if isinstance(event, list) and len(event) == 1:
            event = event[0]  # Vertex wraps an error in a list
        if not isinstance(event, dict):
            raise chat_answer.non_object_event()
        if "error" in event:
            raise in_band(event)
        refusal = blocked(event)
        if refusal is not None:
            raise refusal
        if isinstance(event.get("responseId"), str):
            self._id = event["responseId"]
        if isinstance(event.get("modelVersion"), str):
            self._model = event["modelVersion"]
        usage = event.get("usageMetadata")
        out: list[Chunk] = []
        candidates = event.get("candidates")
        if candidates is not None and not isinstance(candidates, list):
            raise AttemptError(Failure.MALFORMED, "the provider sent candidates that are no list")
        candidate = candidates[0] if candidates else None
        if candidate is not None:
            if not isinstance(candidate, dict):
                raise AttemptError(Failure.MALFORMED, "the provider sent a non-object candidate")
            out += self._content(candidate)
        if self._finished and isinstance(usage, dict) and not self._usage_sent:
            out.append(self._usage_chunk(usage))
        return out

    def _content(self, candidate: dict[str, Any]) -> list[Chunk]:
        content = candidate.get("content")
        pieces = Pieces()
        pieces.read(content.get("parts") if isinstance(content, dict) else None, self._calls)
        self._calls += len(pieces.calls)
        out: list[Chunk] = []
        if pieces.reasoning:
            out.append(self._chunk({"reasoning": "".join(pieces.reasoning)}))
        if pieces.texts and "".join(pieces.texts):
            out.append(self._chunk({"content": "".join(pieces.texts)}))
        if pieces.calls:
            out.append(self._chunk({"tool_calls": pieces.calls}))
        if pieces.details:
            out.append(self._chunk({"reasoning_details": pieces.details}))
        native = candidate.get("finishReason")
        if native is not None and not self._finished:
            self._finished = True
            chunk = self._chunk({})
            choice = chunk["choices"][0]
            choice["finish_reason"] = finish_reason(str(native), self._calls > 0)
            choice["native_finish_reason"] = str(native)
            out.append(chunk)
        return out
