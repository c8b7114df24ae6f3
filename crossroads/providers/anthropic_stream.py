"""Anthropic's Messages stream, event by event, as OpenAI-shaped chat chunks.

The event flow (https://docs.anthropic.com/en/docs/build-with-claude/streaming)::

    message_start                    the message: id, model, usage so far (input and cache)
    content_block_start  (index i)   a text, thinking or tool_use block
    content_block_delta  (index i)   text_delta / thinking_delta / input_json_delta /
                                     signature_delta / citations_delta
    content_block_stop   (index i)
    message_delta                    stop_reason, stop_sequence, usage (cumulative counts)
    message_stop
    ping, error                      anywhere

A translator lives for one attempt and keeps what the events spread out: the message id and
model, which content block is which tool call (Anthropic numbers blocks, chat numbers tool calls
from 0), and usage, which `message_start` opens and `message_delta` completes — its counts are
cumulative, so a field there replaces the one from `message_start`. At `message_delta` the
finish-reason chunk goes out, then a usage-only chunk, as an OpenAI stream ends; `message_stop`
ends the stream as `[DONE]` does. Unknown event and delta types are skipped: Anthropic adds
them over time and says clients should ignore what they do not know.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crossroads.providers import chat_answer
from crossroads.providers.anthropic_request import JSON_TOOL
from crossroads.providers.anthropic_shapes import (
    chat_usage,
    finish_reason,
    in_band,
    reasoning_detail,
)
from crossroads.providers.chat_answer import Chunk, malformed
from crossroads.sse import SSEDecoder


class AnthropicStream:
    __slots__ = ("_id", "_json_answer", "_json_blocks", "_model", "_tools", "_usage", "ended")

    def __init__(self, json_answer: bool) -> None:
        self._json_answer = json_answer
        self._id: str | None = None
        self._model: str | None = None
        self._usage: dict[str, Any] = {}
        self._tools: dict[int, int] = {}  # content block index → chat tool-call index
        self._json_blocks: set[int] = set()  # blocks of the forced JSON tool: content
        self.ended = False

    def framing(self, max_event_bytes: int) -> SSEDecoder:
        return SSEDecoder(max_event_bytes)

    def chunks(self, data: bytes) -> list[Chunk]:
        event = chat_answer.decode_event(data)
        if not isinstance(event, dict):
            raise chat_answer.non_object_event()
        handler = _HANDLERS.get(event.get("type"))  # type: ignore[arg-type]
        return [] if handler is None else handler(self, event)

    def _chunk(self, delta: dict[str, Any]) -> Chunk:
        return chat_answer.chunk(self._id, self._model, delta)

    # --- events -------------------------------------------------------------------------

    def _message_start(self, event: dict[str, Any]) -> list[Chunk]:
        message = event.get("message")
        if not isinstance(message, dict):
            raise malformed("message_start")
        self._id = message.get("id") if isinstance(message.get("id"), str) else None
        self._model = message.get("model") if isinstance(message.get("model"), str) else None
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._usage.update(usage)
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, event: dict[str, Any]) -> list[Chunk]:
        index = event.get("index")
        block = event.get("content_block")
        if not isinstance(index, int) or not isinstance(block, dict):
            raise malformed("content_block_start")
        kind = block.get("type")
        if kind == "tool_use":
            if self._json_answer and block.get("name") == JSON_TOOL:
                self._json_blocks.add(index)
                return []
            position = self._tools[index] = len(self._tools)
            return [self._chunk(chat_answer.tool_call_start(
                position, str(block.get("id") or ""), str(block.get("name") or "")))]
        # A block may start with text already in it; usually it is empty.
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": str(block["text"])})]
        if kind == "thinking" and block.get("thinking"):
            return [self._chunk({"reasoning": str(block["thinking"])})]
        return []

    def _block_delta(self, event: dict[str, Any]) -> list[Chunk]:
        index = event.get("index")
        delta = event.get("delta")
        if not isinstance(index, int) or not isinstance(delta, dict):
            raise malformed("content_block_delta")
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            return [self._chunk({"content": text})] if isinstance(text, str) and text \
                else []
        if kind == "thinking_delta":
            thought = delta.get("thinking")
            return [self._chunk({"reasoning": thought})] if isinstance(thought, str) \
                and thought else []
        if kind == "signature_delta":
            # The thinking block's signature, for a caller to send back with it (as
            # OpenRouter's `reasoning_details`; the text is the `reasoning` streamed before).
            signature = delta.get("signature")
            return [self._chunk({"reasoning_details": [reasoning_detail(
                index, signature=signature)]})] \
                if isinstance(signature, str) and signature else []
        if kind != "input_json_delta":
            return []  # citations_delta and whatever comes next
        piece = delta.get("partial_json")
        if not isinstance(piece, str):
            raise malformed("input_json_delta")
        if index in self._json_blocks:
            return [self._chunk({"content": piece})] if piece else []
        position = self._tools.get(index)
        if position is None:
            raise malformed("input_json_delta (for a block that is no tool call)")
        if not piece:
            return []
        return [self._chunk({"tool_calls": [{"index": position,
                                             "function": {"arguments": piece}}]})]

    def _message_delta(self, event: dict[str, Any]) -> list[Chunk]:
        delta = event.get("delta")
        usage = event.get("usage")
        if not isinstance(delta, dict):
            raise malformed("message_delta")
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})
        out: list[Chunk] = []
        stop = delta.get("stop_reason")
        if stop is not None:
            chunk = self._chunk({})
            choice = chunk["choices"][0]
            json_answered = bool(self._json_blocks) and not self._tools
            choice["finish_reason"] = finish_reason(stop, json_answered)
            choice["native_finish_reason"] = str(stop)
            if isinstance(delta.get("stop_sequence"), str):
                choice["stop_reason"] = delta["stop_sequence"]
            out.append(chunk)
        if self._usage:
            out.append(chat_answer.usage_chunk(self._id, self._model, chat_usage(self._usage)))
        return out

    def _message_stop(self, event: dict[str, Any]) -> list[Chunk]:
        self.ended = True
        return []

    def _error(self, event: dict[str, Any]) -> list[Chunk]:
        raise in_band(event)

    def _ignore(self, event: dict[str, Any]) -> list[Chunk]:
        return []


_HANDLERS: dict[str, Callable[[AnthropicStream, dict[str, Any]], list[Chunk]]] = {
    "message_start": AnthropicStream._message_start,
    "content_block_start": AnthropicStream._block_start,
    "content_block_delta": AnthropicStream._block_delta,
    "content_block_stop": AnthropicStream._ignore,
    "message_delta": AnthropicStream._message_delta,
    "message_stop": AnthropicStream._message_stop,
    "ping": AnthropicStream._ignore,
    "error": AnthropicStream._error,
}
