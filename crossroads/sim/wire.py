"""HTTP/1.1 on an asyncio.Protocol with httptools: just enough server for the sim, and fast.

A connection parses with llhttp and hands each complete request to the handler straight from the
parser's message-complete callback (the handler is fenced by its own try, so nothing it raises
reaches llhttp). A handler either answers at once and returns None — the no-task fast path that
keeps the sim above 10k requests/s — or returns the task it started, the connection's one task.
Requests that arrive meanwhile wait in order. Losing the connection cancels that task, which is
how a client's disconnect stops a stream.

Writes are corked until the end of the event-loop iteration: the responses computed for every
connection that became readable go out back to back, so a waiting client is woken once per burst
rather than once per response — on loopback in a VM those wake-ups cost more than the Python.
Anything that closes a connection flushes it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Final, cast

import httptools
import orjson

__all__ = ["JSON", "SSE", "Exchange", "Handler", "HttpConnection", "error_body"]

log = logging.getLogger(__name__)

Handler = Callable[["Exchange"], "asyncio.Task[None] | None"]

JSON: Final = b"content-type: application/json\r\n"
SSE: Final = b"content-type: text/event-stream\r\ncache-control: no-cache\r\n"
_REASONS: Final = {
    100: b"Continue",
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    402: b"Payment Required",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Payload Too Large",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
}
_STATUS: Final = {code: b"HTTP/1.1 %d %s\r\n" % (code, r) for code, r in _REASONS.items()}
_SERVER: Final = b"server: crossroads-sim\r\n"
_CLOSE: Final = b"connection: close\r\n"
_CHUNKED: Final = b"transfer-encoding: chunked\r\n"
_LAST_CHUNK: Final = b"0\r\n\r\n"
_LINGER_RST: Final = struct.pack("ii", 1, 0)
MAX_BODY: Final = 64 * 1024 * 1024

# Response progress of an exchange.
_NOTHING, _STARTED, _DONE = 0, 1, 2


def error_body(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> bytes:
    """An OpenAI-style error object."""
    error = {"message": message, "type": type_, "param": param, "code": code}
    return orjson.dumps({"error": error})


class Exchange:
    """One request and the means to answer it on its connection."""

    __slots__ = ("_conn", "_state", "body", "headers", "keep_alive", "method", "path", "query",
                 "stream_type")

    def __init__(
        self,
        conn: HttpConnection,
        method: bytes,
        path: str,
        *,
        headers: dict[bytes, bytes],
        body: bytes,
        keep_alive: bool,
        query: str = "",
    ) -> None:
        self._conn = conn
        self._state = _NOTHING
        self.method = method
        self.path = path
        self.query = query  # what follows "?", undecoded (Gemini's `alt=sse`)
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        # What a streamed answer is sent as: SSE, unless the surface speaks another framing
        # (Bedrock's binary event stream).
        self.stream_type = SSE

    @property
    def closed(self) -> bool:
        return self._conn.transport.is_closing()

    def _head(self, status: int, content_type: bytes, extra: bytes) -> bytes:
        line = _STATUS.get(status) or b"HTTP/1.1 %d Status\r\n" % status
        close = b"" if self.keep_alive else _CLOSE
        return line + _SERVER + content_type + extra + close

    def send(
        self, status: int, body: bytes, content_type: bytes = JSON, extra: bytes = b""
    ) -> None:
        """A complete response with a Content-Length."""
        head = self._head(status, content_type, extra)
        self._write(b"%scontent-length: %d\r\n\r\n%s" % (head, len(body), body))
        self._state = _DONE

    def send_partial(self, status: int, body: bytes, length: int) -> None:
        """Headers promising `length` bytes, then only `body` — for faults; leaves it unfinished."""
        head = self._head(status, JSON, b"")
        self._write(b"%scontent-length: %d\r\n\r\n%s" % (head, length, body))
        self._state = _STARTED

    def start_stream(self, first: bytes = b"") -> None:
        """Chunked stream headers, and optionally the first events in the same packet."""
        data = self._head(200, self.stream_type, _CHUNKED) + b"\r\n"
        if first:
            data += b"%x\r\n%s\r\n" % (len(first), first)
        self._write(data)
        self._state = _STARTED

    def stream(self, data: bytes) -> None:
        if data:
            self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_stream(self, last: bytes = b"") -> None:
        self._write((b"%x\r\n%s\r\n" % (len(last), last) if last else b"") + _LAST_CHUNK)
        self._state = _DONE

    def send_stream(self, data: bytes) -> None:
        """A whole chunked stream response in one write (nothing to pace)."""
        head = self._head(200, self.stream_type, _CHUNKED) + b"\r\n"
        chunk = b"%x\r\n%s\r\n" % (len(data), data) if data else b""
        self._write(head + chunk + _LAST_CHUNK)
        self._state = _DONE

    def abort(self, *, rst: bool = True) -> None:
        """Drop the connection now; with `rst`, linger 0 makes the kernel send RST, not FIN."""
        self._conn.flush()
        transport = self._conn.transport
        sock = transport.get_extra_info("socket") if rst else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        transport.abort()

    async def drain(self) -> None:
        """Wait while the peer is not reading (the transport's buffer is over its high mark)."""
        await self._conn.drain()

    async def wait_closed(self) -> None:
        """Block until the peer goes away; the connection's loss cancels this wait."""
        if not self.closed:
            await asyncio.get_running_loop().create_future()

    def _write(self, data: bytes) -> None:
        self._conn.write(data)


class _BodyTooLargeError(Exception):
    pass


class HttpConnection(asyncio.Protocol):
    """One client connection: parse, queue, dispatch, and keep-alive bookkeeping."""

    transport: asyncio.Transport

    def __init__(self, handler: Handler, registry: set[HttpConnection]) -> None:
        self._handler = handler
        self._registry = registry
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._queue: deque[Exchange] = deque()
        self._task: asyncio.Task[None] | None = None
        self._paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._out: list[bytes] = []

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport is not an asyncio.Transport subclass, only shaped like one.
        self.transport = cast(asyncio.Transport, transport)
        self._registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._registry.discard(self)
        self._out.clear()
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()
        self._wake_drain()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_drain()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            too_large = isinstance(exc.__context__, _BodyTooLargeError)
            self._reject(413 if too_large else 400, "malformed HTTP request")

    # httptools callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self._headers[name] = value
        # Answered while the header block is parsed; the whole block is already here anyway.
        if name == b"expect" and value.lower() == b"100-continue":
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.flush()

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_BODY:
            raise _BodyTooLargeError
        self._body.append(body)

    def on_message_complete(self) -> None:
        raw_path, _, raw_query = self._url.partition(b"?")
        path = raw_path.decode("utf-8", "replace")
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        parser = self._parser
        exchange = Exchange(
            self,
            parser.get_method(),
            path,
            headers=self._headers,
            body=body,
            keep_alive=parser.should_keep_alive(),
            query=raw_query.decode("utf-8", "replace"),
        )
        # Reset here rather than in on_message_begin: one parser callback fewer per request.
        self._url = b""
        self._headers = {}
        self._body = []
        self._body_size = 0
        if self._task is None and not self._queue:
            self._dispatch(exchange)
        else:
            self._queue.append(exchange)

    # dispatch

    def _dispatch(self, exchange: Exchange) -> None:
        if self.transport.is_closing():
            return
        try:
            pending = self._handler(exchange)
        except Exception:
            log.exception("sim handler failed")
            pending = None
        if pending is None:
            self._settle(exchange)
        else:
            self._task = pending
            pending.add_done_callback(functools.partial(self._task_done, exchange))

    def _run_queue(self) -> None:
        while self._queue and self._task is None and not self.transport.is_closing():
            self._dispatch(self._queue.popleft())

    def _task_done(self, exchange: Exchange, task: asyncio.Task[None]) -> None:
        self._task = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("sim handler failed", exc_info=exc)
        self._settle(exchange)
        self._run_queue()

    def _settle(self, exchange: Exchange) -> None:
        """After a handler: close what was left unfinished or asked to close."""
        if self.transport.is_closing():
            return
        if exchange._state == _NOTHING:
            exchange.send(500, error_body("sim handler produced no response", "server_error"))
        elif exchange._state == _STARTED:
            exchange.abort()
            return
        if not exchange.keep_alive:
            self.flush()
            self.transport.close()

    def _reject(self, status: int, message: str) -> None:
        if self._task is not None or self.transport.is_closing():
            self.transport.abort()
            return
        body = error_body(message, "invalid_request_error")
        head = b"%s%scontent-length: %d\r\n%s\r\n" % (_STATUS[status], JSON, len(body), _CLOSE)
        self.write(head + body)
        self.flush()
        self.transport.close()

    def write(self, data: bytes) -> None:
        """Queue bytes for the end of this loop iteration (see the module docstring)."""
        if self.transport.is_closing():
            return
        if not self._out:
            asyncio.get_running_loop().call_soon(self.flush)
        self._out.append(data)

    def flush(self) -> None:
        out = self._out
        if out:
            self._out = []
            if not self.transport.is_closing():
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    async def drain(self) -> None:
        if not self._paused or self.transport.is_closing():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._drain_waiter = waiter
        await waiter

    def _wake_drain(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
