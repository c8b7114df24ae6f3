"""A chat completion stream retold as the Responses API's event stream.

Chat chunks carry deltas of three kinds — reasoning, text (or refusal), tool-call arguments —
and the Responses stream wraps each run of one kind in an output item::

    response.created, response.in_progress
    response.output_item.added            (reasoning | message | function_call)
      response.content_part.added         (reasoning_text | output_text | refusal)
        response.reasoning_text.delta | response.output_text.delta | response.refusal.delta …
      … .done, response.content_part.done
      (function calls: response.function_call_arguments.delta … .done, no parts)
    response.output_item.done
    … the next item …
    response.completed | response.incomplete  (the whole response, usage included)

A delta of another kind (or another tool call's index) closes the open item and opens the next.
The chat stream's finish reason and usage may come in one chunk or in two (usage in a chunk with
no choices); the closing event waits for `[DONE]`, when both are known. A chunk with a top-level
`error` is the relay's in-band end of a broken stream: the open item is left incomplete and the
stream ends with `response.failed`, never with a completed response.

Every event has a `sequence_number` and is framed with its type as the SSE `event:` name, the way
OpenAI's SDKs read it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from crossroads.surfaces import sse_event
from crossroads.surfaces.responses_output import (
    envelope,
    extras_of,
    function_call_item,
    item_id,
    message_item,
    output_text,
    reasoning_item,
    reasoning_text,
    refusal,
    response_error,
    status_of,
    usage,
)
from crossroads.surfaces.responses_request import Echo

Emit = Callable[..., None]
DONE_EVENT: Final = b"data: [DONE]\n\n"
# A content part's kind: (its part builder, its delta event, its done event, the done's field).
_PARTS: Final[dict[str, tuple[Callable[[str], dict[str, Any]], str, str, str]]] = {
    "output_text": (output_text, "response.output_text.delta", "response.output_text.done",
                    "text"),
    "refusal": (refusal, "response.refusal.delta", "response.refusal.done", "refusal"),
    "reasoning_text": (reasoning_text, "response.reasoning_text.delta",
                       "response.reasoning_text.done", "text"),
}


class _Item:
    """One output item while it streams: reasoning or a message, made of content parts."""

    __slots__ = ("details", "emit", "id", "index", "parts")
    prefix = "msg"

    def __init__(self, emit: Emit, response_id: str, index: int) -> None:
        self.emit = emit
        self.index = index
        self.id = item_id(self.prefix, response_id, index)
        self.parts: list[tuple[str, str]] = []  # (kind, text so far)
        self.details: list[Any] = []
        emit("response.output_item.added", output_index=index, item=self.snapshot("in_progress"))

    def snapshot(self, status: str) -> dict[str, Any]:
        return message_item(self.id, [_PARTS[k][0](t) for k, t in self.parts], status)

    def _where(self) -> dict[str, Any]:
        return {"item_id": self.id, "output_index": self.index,
                "content_index": len(self.parts) - 1}

    def delta(self, kind: str, text: str) -> None:
        if not self.parts or self.parts[-1][0] != kind:
            self._close_part()
            self.parts.append((kind, ""))
            self.emit("response.content_part.added", **self._where(), part=_PARTS[kind][0](""))
        self.parts[-1] = (kind, self.parts[-1][1] + text)
        extra: dict[str, Any] = {"logprobs": []} if kind == "output_text" else {}
        self.emit(_PARTS[kind][1], **self._where(), delta=text, **extra)

    def _close_part(self) -> None:
        if not self.parts:
            return
        kind, text = self.parts[-1]
        build, _, done, field = _PARTS[kind]
        extra: dict[str, Any] = {"logprobs": []} if kind == "output_text" else {}
        self.emit(done, **self._where(), **{field: text}, **extra)
        self.emit("response.content_part.done", **self._where(), part=build(text))

    def close(self, status: str) -> dict[str, Any]:
        if not self.parts and self.prefix == "msg":
            self.delta("output_text", "")  # a message has at least its (empty) text
        self._close_part()
        item = self.snapshot(status)
        self.emit("response.output_item.done", output_index=self.index, item=item)
        return item


class _Reasoning(_Item):
    __slots__ = ()
    prefix = "rs"

    def snapshot(self, status: str) -> dict[str, Any]:
        return reasoning_item(self.id, "".join(t for _, t in self.parts), status, self.details)


class _Call:
    """One function call while its arguments stream."""

    __slots__ = ("arguments", "call_id", "emit", "id", "index", "name", "position")

    def __init__(self, emit: Emit, response_id: str, index: int, position: int,
                 call_id: str, name: str) -> None:
        self.emit = emit
        self.index = index
        self.position = position  # the chat tool call's index
        self.id = item_id("fc", response_id, index)
        self.call_id = call_id
        self.name = name
        self.arguments = ""
        emit("response.output_item.added", output_index=index, item=self.snapshot("in_progress"))

    def snapshot(self, status: str) -> dict[str, Any]:
        return function_call_item(self.id, self.call_id, self.name, self.arguments, status)

    def delta(self, text: str) -> None:
        self.arguments += text
        self.emit("response.function_call_arguments.delta", item_id=self.id,
                  output_index=self.index, delta=text)

    def close(self, status: str) -> dict[str, Any]:
        self.emit("response.function_call_arguments.done", item_id=self.id,
                  output_index=self.index, name=self.name, arguments=self.arguments)
        item = self.snapshot(status)
        self.emit("response.output_item.done", output_index=self.index, item=item)
        return item


class ResponsesStream:
    """The event stream of one response, fed chat chunks in order (see the module doc)."""

    __slots__ = ("_clock", "_created", "_echo", "_ended", "_events", "_extras", "_finish",
                 "_id", "_model", "_open", "_output", "_seq", "_usage")

    def __init__(self, echo: Echo, clock: Callable[[], float]) -> None:
        self._echo = echo
        self._clock = clock
        self._seq = 0
        self._events: list[bytes] = []
        self._id: str | None = None
        self._created = 0
        self._model = ""
        self._extras: dict[str, Any] = {}
        self._output: list[dict[str, Any]] = []
        self._open: _Item | _Call | None = None
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None
        self._ended = False

    def _emit(self, kind: str, **fields: Any) -> None:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        self._events.append(sse_event(orjson.dumps(payload), kind))

    def _flush(self) -> list[bytes]:
        events, self._events = self._events, []
        return events

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        output = list(self._output)
        return envelope(self._id or "", self._created, self._model, self._echo, status=status,
                        output=output, extras=self._extras, **fields)

    def _start(self, chunk: dict[str, Any]) -> None:
        self._id = str(chunk.get("id") or "gen-unknown")
        created = chunk.get("created")
        self._created = created if isinstance(created, int) else int(self._clock())
        self._model = str(chunk.get("model") or "")
        self._extras = extras_of(chunk)
        self._emit("response.created", response=self._response("in_progress"))
        self._emit("response.in_progress", response=self._response("in_progress"))

    def _close(self, status: str = "completed") -> None:
        if self._open is not None:
            self._output.append(self._open.close(status))
            self._open = None

    def _item(self, kind: type[_Item]) -> _Item:
        if type(self._open) is not kind:
            self._close()
            self._open = kind(self._emit, self._id or "", len(self._output))
        assert isinstance(self._open, _Item)
        return self._open

    def _tool_call(self, delta: dict[str, Any]) -> None:
        position = delta.get("index", 0)
        function = delta.get("function") or {}
        call = self._open
        if not isinstance(call, _Call) or call.position != position:
            self._close()
            call = self._open = _Call(self._emit, self._id or "", len(self._output), position,
                                      str(delta.get("id") or ""),
                                      str(function.get("name") or ""))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            call.delta(arguments)

    def _delta(self, delta: dict[str, Any]) -> None:
        thought = delta.get("reasoning") or delta.get("reasoning_content")
        if isinstance(thought, str) and thought:
            self._item(_Reasoning).delta("reasoning_text", thought)
        details = delta.get("reasoning_details")
        if isinstance(details, list) and details:
            self._item(_Reasoning).details.extend(details)
        for kind, key in (("output_text", "content"), ("refusal", "refusal")):
            text = delta.get(key)
            if isinstance(text, str) and text:
                self._item(_Item).delta(kind, text)
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._tool_call(call)

    def chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        """The events one chat chunk adds."""
        if self._ended:
            return []
        if self._id is None:
            self._start(chunk)
        if chunk.get("error") is not None:
            self._fail(chunk["error"])
            return self._flush()
        choices = chunk.get("choices") or ()
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        delta = choice.get("delta")
        if isinstance(delta, dict):
            self._delta(delta)
        if isinstance(choice.get("finish_reason"), str):
            self._finish = choice["finish_reason"]
        if isinstance(chunk.get("usage"), dict):
            self._usage = usage(chunk["usage"])
        return self._flush()

    def _fail(self, error: Any) -> None:
        if self._open is not None:
            self._output.append(self._open.snapshot("incomplete"))
            self._open = None
        body, error_type = response_error(error)
        response = self._response("failed", error=body, response_usage=self._usage)
        if error_type is not None:
            response["error_type"] = error_type
        self._emit("response.failed", response=response)
        self._ended = True

    def end(self) -> list[bytes]:
        """The chat stream's `[DONE]`: close the open item and the response."""
        if self._ended:
            return []
        if self._id is None:
            self._start({})
        status, incomplete = status_of(self._finish)
        self._close(status if status == "incomplete" else "completed")
        self._emit(f"response.{status}", response=self._response(
            status, completed_at=int(self._clock()), response_usage=self._usage,
            incomplete=incomplete))
        self._ended = True
        return [*self._flush(), DONE_EVENT]
