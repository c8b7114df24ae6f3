"""A simulated answer written the way Gemini writes it.

The same answer as the OpenAI surface (`Reply`: its text, tool calls, reasoning, timing and
faults), other bytes: a GenerateContentResponse, or `streamGenerateContent?alt=sse`'s events —
one per token of the answer, each a GenerateContentResponse holding that token's part (thought
text marked `thought: true`, then text; each function call whole, in one event of its own),
with the finish reason and the full usage in the last (https://ai.google.dev/api/generate-content).
Events end in CRLF CRLF, as Google's do.

Usage is reported as Gemini does: `promptTokenCount` is the whole prompt, the cached part
included; `cachedContentTokenCount` that part (when there is one); `candidatesTokenCount` the
answer without its thinking, which is `thoughtsTokenCount`. A function call made while thinking
carries a `thoughtSignature`, which the caller is to send back with it.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from crossroads.sim.play import Reply
from crossroads.sim.render import WORDS

__all__ = ["GeminiFrames", "GeminiReply", "event"]

FINISH: Final[dict[str, str]] = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}
SIGNATURE: Final = "c2ltdWxhdGVkIGdlbWluaSB0aG91Z2h0"
MODEL_VERSION_SUFFIX: Final = "-001"


def event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"


class GeminiFrames:
    __slots__ = ("_steps", "n")

    def __init__(self, steps: list[bytes]) -> None:
        self._steps = steps
        self.n = len(steps)

    def event(self, i: int) -> bytes:
        return self._steps[i]


class GeminiReply(Reply):
    """A `Reply` in Gemini's shapes; `cached` is the prompt tokens read from the cache."""

    __slots__ = ("gemini_usage", "include_thoughts", "response_id")

    def __init__(self, *args: Any, include_thoughts: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cached: int = kwargs["cached"]
        self.include_thoughts = include_thoughts
        self.response_id = "sim-" + self.completion_id.removeprefix("chatcmpl-")
        details = self.usage.get("completion_tokens_details") or {}
        thoughts = int(details.get("reasoning_tokens") or 0)
        completion = int(self.usage["completion_tokens"])
        prompt = self.req.prompt_tokens
        usage: dict[str, Any] = {"promptTokenCount": prompt,
                                 "candidatesTokenCount": completion - thoughts,
                                 "totalTokenCount": prompt + completion}
        if cached:
            usage["cachedContentTokenCount"] = cached
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        self.gemini_usage = usage

    def _pieces(self) -> tuple[list[str], list[dict[str, Any]], list[str], bool]:
        """(thought pieces, tool calls, text pieces, whether thoughts are shown)."""
        answer = self.answer
        if answer is None:
            return [], [], [WORDS[i % len(WORDS)] + " " for i in range(self.n)], False
        choice = answer.choices[0]
        shown = answer.reasoning_shown and self.include_thoughts
        return answer.reasoning, choice.calls, choice.pieces, shown

    def _head(self) -> dict[str, Any]:
        return {"modelVersion": self.req.model + MODEL_VERSION_SUFFIX,
                "responseId": self.response_id}

    def _call_parts(self, calls: list[dict[str, Any]], thinking: bool) -> list[dict[str, Any]]:
        parts = []
        for i, call in enumerate(calls):
            part: dict[str, Any] = {"functionCall": {
                "name": call["function"]["name"],
                "args": orjson.loads(call["function"]["arguments"])}}
            if thinking and i == 0:
                part["thoughtSignature"] = SIGNATURE
            parts.append(part)
        return parts

    def body(self) -> bytes:
        thoughts, calls, text, shown = self._pieces()
        parts: list[dict[str, Any]] = []
        if thoughts and shown:
            parts.append({"text": "".join(thoughts), "thought": True})
        if text or not calls:
            parts.append({"text": "".join(text)})
        parts += self._call_parts(calls, bool(thoughts))
        candidate = {"content": {"role": "model", "parts": parts},
                     "finishReason": FINISH.get(self.finish_reason, "STOP"), "index": 0}
        return orjson.dumps({"candidates": [candidate], "usageMetadata": self.gemini_usage,
                             **self._head()})

    # --- the stream -----------------------------------------------------------------------

    def _event(self, parts: list[dict[str, Any]]) -> bytes:
        # Gemini repeats the prompt's size in every event; the answer's only at the end.
        prompt = self.gemini_usage["promptTokenCount"]
        return event({"candidates": [{"content": {"role": "model", "parts": parts},
                                      "index": 0}],
                      "usageMetadata": {"promptTokenCount": prompt, "totalTokenCount": prompt},
                      **self._head()})

    def frames(self) -> GeminiFrames:
        thoughts, calls, text, shown = self._pieces()
        steps: list[bytes] = []
        if shown:
            steps += [self._event([{"text": piece, "thought": True}]) for piece in thoughts]
        else:
            steps += [b""] * len(thoughts)  # hidden thinking: silence, as long as it takes
        steps += [self._event([{"text": piece}]) for piece in text]
        steps += [self._event([part]) for part in self._call_parts(calls, bool(thoughts))]
        if not steps:
            steps.append(self._event([{"text": ""}]))
        return GeminiFrames(steps)

    def tail(self, done: bool) -> bytes:
        # Gemini has no end-of-stream marker: the last event, with the finish reason and the
        # usage, is the end whether or not the play "forgets" one.
        candidate = {"content": {"role": "model", "parts": [{"text": ""}]},
                     "finishReason": FINISH.get(self.finish_reason, "STOP"), "index": 0}
        return event({"candidates": [candidate], "usageMetadata": self.gemini_usage,
                      **self._head()})
