"""A simulated answer written the way Bedrock's Converse API writes it.

The same answer as the OpenAI surface (`Reply`: its text, tool calls, reasoning, timing and
faults), other bytes: a Converse response
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html), or a
ConverseStream in AWS's binary event stream
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html):
`messageStart`, each content block (reasoning, text, then each tool call, whose input streams as
JSON pieces of 8 characters after a `contentBlockStart` that names it), `messageStop` with the
stop reason, and `metadata` with the usage. One step of the stream is one token of the answer, as
on the OpenAI surface, so the plays pace and cut both alike; the `no_done` fault leaves out the
closing `metadata`, so the stream ends without its usage.

Usage is reported as Bedrock does: `inputTokens` is only the part of the prompt neither read from
nor written to the cache; `cacheReadInputTokens` and `cacheWriteInputTokens` add to it.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from crossroads.sim.eventstream import event_message
from crossroads.sim.play import Frames, Reply
from crossroads.sim.render import WORDS

__all__ = ["BedrockReply", "bedrock_error"]

STOP_REASONS: Final[dict[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
}
SIGNATURE: Final = "c2ltdWxhdGVkIHJlYXNvbmluZw=="
_ARGUMENT_PIECE: Final = 8


def bedrock_error(kind: str, message: str) -> tuple[bytes, bytes]:
    """(body, extra headers) of an AWS JSON-protocol error."""
    header = b"x-amzn-errortype: %s:http://internal.amazon.com/coral/com.amazon.bedrock/\r\n" \
        % kind.encode()
    return orjson.dumps({"message": message}), header + b"x-amzn-requestid: sim-request\r\n"


class BedrockFrames:
    __slots__ = ("_steps", "n")

    def __init__(self, steps: list[bytes]) -> None:
        self._steps = steps
        self.n = len(steps)

    def event(self, i: int) -> bytes:
        return self._steps[i]


class BedrockReply(Reply):
    """A `Reply` that answers in Converse's shapes; `cached` and `written` are the prompt tokens
    read from and written to the prompt cache."""

    __slots__ = ("bedrock_usage",)

    def __init__(self, *args: Any, written: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cached: int = kwargs["cached"]
        fresh = max(self.req.prompt_tokens - cached - written, 0)
        output = self.usage["completion_tokens"]
        self.bedrock_usage = {"inputTokens": fresh, "outputTokens": output,
                              "totalTokens": fresh + cached + written + output,
                              "cacheReadInputTokens": cached, "cacheWriteInputTokens": written}

    def _pieces(self) -> tuple[list[str], list[dict[str, Any]], list[str], bool]:
        """(reasoning pieces, tool calls, text pieces, whether reasoning is shown)."""
        answer = self.answer
        if answer is None:
            return [], [], [WORDS[i % len(WORDS)] + " " for i in range(self.n)], False
        choice = answer.choices[0]
        return answer.reasoning, choice.calls, choice.pieces, answer.reasoning_shown

    def _stop(self) -> str:
        matched = self.answer.choices[0].stop_sequence if self.answer is not None else None
        return "stop_sequence" if matched is not None else \
            STOP_REASONS.get(self.finish_reason, "end_turn")

    def body(self) -> bytes:
        thinking, calls, text, shown = self._pieces()
        content: list[dict[str, Any]] = []
        if thinking and shown:
            content.append({"reasoningContent": {"reasoningText": {
                "text": "".join(thinking), "signature": SIGNATURE}}})
        if text or not calls:
            content.append({"text": "".join(text)})
        for call in calls:
            content.append({"toolUse": {"toolUseId": "tooluse_" + call["id"].removeprefix("call_"),
                                        "name": call["function"]["name"],
                                        "input": orjson.loads(call["function"]["arguments"])}})
        return orjson.dumps({"output": {"message": {"role": "assistant", "content": content}},
                             "stopReason": self._stop(), "usage": self.bedrock_usage,
                             "metrics": {"latencyMs": int((self.ttft + self.generation_s) * 1000)}})

    def frames(self) -> Frames:
        thinking, calls, text, shown = self._pieces()
        steps: list[bytes] = []
        blocks = 0

        def block(opening: bytes = b"") -> None:
            nonlocal blocks
            close = event_message("contentBlockStop", {"contentBlockIndex": blocks - 1}) \
                if blocks else b""
            steps.append(close + opening)
            blocks += 1

        def delta(payload: dict[str, Any]) -> bytes:
            return event_message("contentBlockDelta",
                                 {"contentBlockIndex": blocks - 1, "delta": payload})

        if thinking and shown:
            block()
            steps[-1] += delta({"reasoningContent": {"text": thinking[0]}})
            steps += [delta({"reasoningContent": {"text": p}}) for p in thinking[1:]]
            steps[-1] += delta({"reasoningContent": {"signature": SIGNATURE}})
        else:
            steps += [b""] * len(thinking)  # hidden reasoning: silence, as long as it takes
        if text or not calls:
            block()  # a text block has no start event; its first delta opens it
            if text:
                steps[-1] += delta({"text": text[0]})
                steps += [delta({"text": p}) for p in text[1:]]
        for call in calls:
            block(event_message("contentBlockStart", {"contentBlockIndex": blocks, "start": {
                "toolUse": {"toolUseId": "tooluse_" + call["id"].removeprefix("call_"),
                            "name": call["function"]["name"]}}}))
            arguments: str = call["function"]["arguments"]
            steps += [delta({"toolUse": {"input": arguments[at:at + _ARGUMENT_PIECE]}})
                      for at in range(0, len(arguments), _ARGUMENT_PIECE)]
        steps[0] = event_message("messageStart", {"role": "assistant"}) + steps[0]
        return BedrockFrames(steps)

    def tail(self, done: bool) -> bytes:
        thinking, calls, text, shown = self._pieces()
        blocks = bool(thinking and shown) + bool(text or not calls) + len(calls)
        close = event_message("contentBlockStop", {"contentBlockIndex": blocks - 1})
        stop = event_message("messageStop", {"stopReason": self._stop()})
        if not done:
            return close + stop
        metrics = {"latencyMs": int((self.ttft + self.generation_s) * 1000)}
        return close + stop + event_message("metadata", {"usage": self.bedrock_usage,
                                                         "metrics": metrics})

    def empty_stream(self) -> bytes:
        return b""
