"""A simulated answer written the way Anthropic's Messages API writes it.

The same answer as the OpenAI surface (`Reply`: its text, tool calls, reasoning, timing and
faults), other bytes: a `message` object, or the event stream of
https://docs.anthropic.com/en/docs/build-with-claude/streaming — `message_start` with the input
usage, one content block at a time (thinking, text, then each tool call, whose input streams as
`input_json_delta` pieces of 8 characters), `message_delta` with the stop reason and the output
tokens, `message_stop`. One step of the stream is one token of the answer, as on the OpenAI
surface, so the plays pace and cut both alike.

Usage is reported as Anthropic does: `input_tokens` is only the part of the prompt neither read
from nor written to the cache; `cache_read_input_tokens` and `cache_creation_input_tokens` are
apart from it and add to it.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from crossroads.sim.play import Frames, Reply
from crossroads.sim.render import WORDS

__all__ = ["AnthropicFrames", "AnthropicReply", "anthropic_error"]

STOP_REASONS: Final[dict[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
}
SIGNATURE: Final = "c2ltdWxhdGVkIHRoaW5raW5n"  # any opaque string: nobody checks it here
_ARGUMENT_PIECE: Final = 8


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (name.encode(), orjson.dumps({"type": name, **payload}))


def anthropic_error(kind: str, message: str) -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message},
                         "request_id": "req_sim"})


class AnthropicFrames:
    """Step i of the stream: token i's events, with the block starts and stops around it."""

    __slots__ = ("_steps", "n")

    def __init__(self, steps: list[bytes]) -> None:
        self._steps = steps
        self.n = len(steps)

    def event(self, i: int) -> bytes:
        return self._steps[i]


class AnthropicReply(Reply):
    """A `Reply` that answers in Anthropic's shapes; `cached` and `written` are the prompt
    tokens read from and written to the prompt cache."""

    __slots__ = ("anthropic_usage", "message_id")

    def __init__(self, *args: Any, written: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cached: int = kwargs["cached"]
        self.message_id = "msg_" + self.completion_id.removeprefix("chatcmpl-")
        self.anthropic_usage = {
            "input_tokens": max(self.req.prompt_tokens - cached - written, 0),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": cached,
            "output_tokens": self.usage["completion_tokens"],
        }

    # --- what the answer says, as blocks -------------------------------------------------

    def _pieces(self) -> tuple[list[str], list[dict[str, Any]], list[str], bool]:
        """(thinking pieces, tool calls, text pieces, whether thinking is shown)."""
        answer = self.answer
        if answer is None:
            return [], [], [WORDS[i % len(WORDS)] + " " for i in range(self.n)], False
        choice = answer.choices[0]
        return answer.reasoning, choice.calls, choice.pieces, answer.reasoning_shown

    def _stop(self) -> tuple[str, str | None]:
        """(stop_reason, stop_sequence)."""
        matched = self.answer.choices[0].stop_sequence if self.answer is not None else None
        if matched is not None:
            return "stop_sequence", matched
        return STOP_REASONS.get(self.finish_reason, "end_turn"), None

    def body(self) -> bytes:
        thinking, calls, text, shown = self._pieces()
        content: list[dict[str, Any]] = []
        if thinking and shown:
            content.append({"type": "thinking", "thinking": "".join(thinking),
                            "signature": SIGNATURE})
        if text or not calls:
            content.append({"type": "text", "text": "".join(text)})
        for call in calls:
            content.append({"type": "tool_use", "id": "toolu_" + call["id"].removeprefix("call_"),
                            "name": call["function"]["name"],
                            "input": orjson.loads(call["function"]["arguments"])})
        stop_reason, stop_sequence = self._stop()
        return orjson.dumps({"id": self.message_id, "type": "message", "role": "assistant",
                             "model": self.req.model, "content": content,
                             "stop_reason": stop_reason, "stop_sequence": stop_sequence,
                             "usage": self.anthropic_usage})

    # --- the stream -----------------------------------------------------------------------

    def frames(self) -> Frames:
        thinking, calls, text, shown = self._pieces()
        start = dict(self.anthropic_usage, output_tokens=1)
        head = _event("message_start", {"message": {
            "id": self.message_id, "type": "message", "role": "assistant",
            "model": self.req.model, "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": start}})
        steps: list[bytes] = []
        blocks = 0

        def block(first: bytes, opening: dict[str, Any]) -> None:
            nonlocal blocks
            close = _event("content_block_stop", {"index": blocks - 1}) if blocks else b""
            steps.append(close + _event("content_block_start",
                                        {"index": blocks, "content_block": opening}) + first)
            blocks += 1

        def delta(payload: dict[str, Any]) -> bytes:
            return _event("content_block_delta", {"index": blocks - 1, "delta": payload})

        if thinking and shown:
            block(b"", {"type": "thinking", "thinking": ""})
            steps[-1] += delta({"type": "thinking_delta", "thinking": thinking[0]})
            steps += [delta({"type": "thinking_delta", "thinking": p}) for p in thinking[1:]]
            steps[-1] += delta({"type": "signature_delta", "signature": SIGNATURE})
        else:
            steps += [b""] * len(thinking)  # hidden thinking: silence, as long as it takes
        if text or not calls:
            block(b"", {"type": "text", "text": ""})
            if text:
                steps[-1] += delta({"type": "text_delta", "text": text[0]})
                steps += [delta({"type": "text_delta", "text": p}) for p in text[1:]]
        for call in calls:
            block(b"", {"type": "tool_use", "id": "toolu_" + call["id"].removeprefix("call_"),
                        "name": call["function"]["name"], "input": {}})
            arguments: str = call["function"]["arguments"]
            steps += [delta({"type": "input_json_delta",
                             "partial_json": arguments[at:at + _ARGUMENT_PIECE]})
                      for at in range(0, len(arguments), _ARGUMENT_PIECE)]
        steps[0] = head + steps[0]
        return AnthropicFrames(steps)

    def tail(self, done: bool) -> bytes:
        thinking, calls, text, shown = self._pieces()
        blocks = bool(thinking and shown) + bool(text or not calls) + len(calls)
        close = _event("content_block_stop", {"index": blocks - 1})
        stop_reason, stop_sequence = self._stop()
        ending = _event("message_delta", {
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": {"output_tokens": self.anthropic_usage["output_tokens"]}})
        return close + ending + (_event("message_stop", {}) if done else b"")
