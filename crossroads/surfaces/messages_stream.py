"""A chat completion stream, re-told as Anthropic's Messages stream.

Anthropic's stream is a sequence of named events::

    message_start                      the message, with no content yet
    content_block_start   (index i)    one block at a time: thinking, text or tool_use
    content_block_delta…  (index i)    thinking_delta / text_delta / input_json_delta
    content_block_stop    (index i)
    …                                  the next block
    message_delta                      stop_reason, stop_sequence and the final usage
    message_stop

Chat chunks carry the same things, interleaved differently: reasoning, content and tool-call
pieces in deltas, the finish reason on one chunk, the priced usage on the last one. So a block
opens when its first piece arrives and closes when a piece of another kind (or another tool
call) comes; `message_delta` waits for `[DONE]`, when both the finish reason and the usage are
known. A chunk with a top-level `error` (the relay's in-band end of a broken stream) becomes
Anthropic's `error` event, after which nothing more is sent: no `message_stop`, so a client
never mistakes a cut answer for a whole one.
"""

from __future__ import annotations

from typing import Any

import orjson

from crossroads.surfaces import sse_event
from crossroads.surfaces.messages_shapes import (
    ZERO_USAGE,
    error_object,
    message_head,
    stop_of,
    tool_id,
    usage_of,
)


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return sse_event(orjson.dumps({"type": name, **payload}), name)


class MessagesStream:
    """The state of one translated stream: which block is open and what has been learnt."""

    __slots__ = ("_blocks", "_finish", "_generation_id", "_head", "_open", "_over", "_stops",
                 "_tools", "_usage")

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._head: dict[str, Any] | None = None
        self._generation_id = ""
        self._blocks = 0  # blocks started so far; the next one's index
        self._open: tuple[str, int] | None = None  # (kind, chat tool index or -1), if any
        self._tools: dict[int, int] = {}  # chat tool-call index → block index
        self._finish: dict[str, Any] | None = None  # the choice that carried finish_reason
        self._usage: Any = None
        self._over = False

    def event(self, chunk: dict[str, Any]) -> list[bytes]:
        if self._over:
            return []
        error = chunk.get("error")
        if isinstance(error, dict):
            return self._fail(error)
        out = self._start(chunk)
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
            delta = choice.get("delta")
            if isinstance(delta, dict):
                out += self._delta(delta)
            if choice.get("finish_reason") is not None:
                self._finish = choice
        if chunk.get("usage") is not None:
            self._usage = chunk["usage"]
        return out

    def end(self) -> list[bytes]:
        """At `[DONE]`: close the open block, then the message."""
        if self._over:
            return []
        self._over = True
        out = self._start({})
        out += self._close()
        stop_reason, stop_sequence = (stop_of(self._finish, self._stops) if self._finish
                                      else ("end_turn", None))
        out.append(_event("message_delta", {
            "delta": {"stop_reason": stop_reason or "end_turn", "stop_sequence": stop_sequence},
            "usage": usage_of(self._usage)}))
        out.append(_event("message_stop", {}))
        return out

    def _start(self, chunk: dict[str, Any]) -> list[bytes]:
        if self._head is not None:
            return []
        self._head = message_head(chunk)
        self._generation_id = str(chunk.get("id", ""))
        message = {**self._head, "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": dict(ZERO_USAGE)}
        return [_event("message_start", {"message": message})]

    def _fail(self, error: dict[str, Any]) -> list[bytes]:
        self._over = True
        code = error.get("code")
        metadata = error.get("metadata")
        body = error_object(code if isinstance(code, int) else 502,
                            str(error.get("message", "The provider failed mid-stream")),
                            metadata if isinstance(metadata, dict) else {})
        return [_event("error", {"error": body})]

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [_event("content_block_stop", {"index": self._blocks - 1})]

    def _open_block(self, kind: str, key: int, block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        self._open = (kind, key)
        self._blocks += 1
        out.append(_event("content_block_start",
                          {"index": self._blocks - 1, "content_block": block}))
        return out

    def _piece(self, kind: str, delta: dict[str, Any]) -> list[bytes]:
        """Text or thinking: continue the open block of that kind, or open one."""
        out: list[bytes] = []
        if self._open != (kind, -1):
            empty = ({"type": "thinking", "thinking": "", "signature": ""} if kind == "thinking"
                     else {"type": "text", "text": ""})
            out = self._open_block(kind, -1, empty)
        out.append(_event("content_block_delta", {"index": self._blocks - 1, "delta": delta}))
        return out

    def _delta(self, delta: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        reasoning = delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out += self._piece("thinking", {"type": "thinking_delta", "thinking": reasoning})
        content = delta.get("content")
        if isinstance(content, str) and content:
            out += self._piece("text", {"type": "text_delta", "text": content})
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                out += self._tool_piece(call)
        return out

    def _tool_piece(self, call: dict[str, Any]) -> list[bytes]:
        key = call.get("index")
        key = key if isinstance(key, int) and key >= 0 else 0
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        out: list[bytes] = []
        if key not in self._tools:
            block = {"type": "tool_use", "id": tool_id(call, self._generation_id, key),
                     "name": str(function.get("name") or ""), "input": {}}
            out = self._open_block("tool_use", key, block)
            self._tools[key] = self._blocks - 1
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            # A piece for a call whose block is already closed (a provider interleaving
            # parallel calls) still names that block's index, which is where clients put it.
            out.append(_event("content_block_delta", {
                "index": self._tools[key],
                "delta": {"type": "input_json_delta", "partial_json": arguments}}))
        return out
