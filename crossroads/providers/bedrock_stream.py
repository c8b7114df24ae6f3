"""Bedrock's ConverseStream, event by event, as OpenAI-shaped chat chunks.

The stream is AWS's binary event stream (`eventstream.EventStreamFraming` splits it); its events
are the ConverseStreamOutput union
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html)::

    messageStart        {"role"}
    contentBlockStart   {"contentBlockIndex", "start": {"toolUse": {"toolUseId", "name"}}}
    contentBlockDelta   {"contentBlockIndex", "delta": {"text"} | {"toolUse": {"input"}} |
                                                       {"reasoningContent": {"text"} |
                                                        {"signature"} | {"redactedContent"}}}
    contentBlockStop    {"contentBlockIndex"}
    messageStop         {"stopReason", "additionalModelResponseFields"}
    metadata            {"usage", "metrics", "trace"}
    internalServerException, modelStreamErrorException, validationException,
    throttlingException, serviceUnavailableException    {"message"}

A text block has no start event: its first delta opens it. A tool call's input arrives as pieces
of a JSON string across deltas, passed on as the chat stream's argument pieces. `messageStop`
gives the finish reason; `metadata`, which follows it, the usage, and it ends the stream. A stream
that stops without `metadata` is still whole (the session estimates the usage and says so).
Unknown events are skipped, as AWS adds members to the union over time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crossroads.providers import chat_answer
from crossroads.providers.bedrock_shapes import (
    STREAM_STATUSES,
    chat_usage,
    finish_reason,
    in_band,
    reasoning_detail,
)
from crossroads.providers.chat_answer import Chunk, malformed
from crossroads.providers.eventstream import EventStreamFraming


class BedrockStream:
    __slots__ = ("_tools", "ended")

    def __init__(self) -> None:
        self._tools: dict[int, int] = {}  # content block index → chat tool-call index
        self.ended = False

    def framing(self, max_event_bytes: int) -> EventStreamFraming:
        return EventStreamFraming(max_event_bytes)

    def chunks(self, data: bytes) -> list[Chunk]:
        event = chat_answer.decode_event(data)
        if not isinstance(event, dict) or len(event) != 1:
            raise chat_answer.non_object_event()
        [(name, payload)] = event.items()
        handler = _HANDLERS.get(name)
        if handler is not None:
            if not isinstance(payload, dict):
                raise malformed(name)
            return handler(self, payload)
        if name == "error" or name.lower() in STREAM_STATUSES or name.endswith("Exception"):
            raise in_band(name, payload)
        return []

    @staticmethod
    def _chunk(delta: dict[str, Any]) -> Chunk:
        return chat_answer.chunk(None, None, delta)

    # --- events -------------------------------------------------------------------------

    def _message_start(self, event: dict[str, Any]) -> list[Chunk]:
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, event: dict[str, Any]) -> list[Chunk]:
        index = event.get("contentBlockIndex")
        start = event.get("start")
        if not isinstance(index, int) or not isinstance(start, dict):
            raise malformed("contentBlockStart")
        use = start.get("toolUse")
        if not isinstance(use, dict):
            return []
        position = self._tools[index] = len(self._tools)
        return [self._chunk(chat_answer.tool_call_start(
            position, str(use.get("toolUseId") or ""), str(use.get("name") or "")))]

    def _block_delta(self, event: dict[str, Any]) -> list[Chunk]:
        index = event.get("contentBlockIndex")
        delta = event.get("delta")
        if not isinstance(index, int) or not isinstance(delta, dict):
            raise malformed("contentBlockDelta")
        if "text" in delta:
            text = delta["text"]
            if not isinstance(text, str):
                raise malformed("contentBlockDelta text")
            return [self._chunk({"content": text})] if text else []
        if "toolUse" in delta:
            use = delta["toolUse"]
            piece = use.get("input") if isinstance(use, dict) else None
            position = self._tools.get(index)
            if not isinstance(piece, str) or position is None:
                raise malformed("contentBlockDelta toolUse")
            return [self._chunk({"tool_calls": [{"index": position,
                                                 "function": {"arguments": piece}}]})] \
                if piece else []
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            return self._reasoning(index, reasoning)
        return []  # citations and whatever AWS adds next

    def _reasoning(self, index: int, reasoning: dict[str, Any]) -> list[Chunk]:
        text = reasoning.get("text")
        if isinstance(text, str):
            return [self._chunk({"reasoning": text})] if text else []
        signature = reasoning.get("signature")
        if isinstance(signature, str) and signature:
            return [self._chunk({"reasoning_details": [
                reasoning_detail(index, signature=signature)]})]
        redacted = reasoning.get("redactedContent")
        if isinstance(redacted, str) and redacted:
            return [self._chunk({"reasoning_details": [reasoning_detail(index, data=redacted)]})]
        return []

    def _message_stop(self, event: dict[str, Any]) -> list[Chunk]:
        stop = event.get("stopReason")
        chunk = self._chunk({})
        choice = chunk["choices"][0]
        choice["finish_reason"] = finish_reason(stop)
        choice["native_finish_reason"] = None if stop is None else str(stop)
        return [chunk]

    def _metadata(self, event: dict[str, Any]) -> list[Chunk]:
        self.ended = True
        usage = event.get("usage")
        if not isinstance(usage, dict):
            return []
        return [chat_answer.usage_chunk(None, None, chat_usage(usage))]

    def _ignore(self, event: dict[str, Any]) -> list[Chunk]:
        return []


_HANDLERS: dict[str, Callable[[BedrockStream, dict[str, Any]], list[Chunk]]] = {
    "messageStart": BedrockStream._message_start,
    "contentBlockStart": BedrockStream._block_start,
    "contentBlockDelta": BedrockStream._block_delta,
    "contentBlockStop": BedrockStream._ignore,
    "messageStop": BedrockStream._message_stop,
    "metadata": BedrockStream._metadata,
}
