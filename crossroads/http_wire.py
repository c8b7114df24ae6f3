"""The wire half of the HTTP client: one socket's protocol object and one exchange's response.

See `http_client.py` for the theory of operation; this module holds the per-connection state
machine (httptools callbacks) and the streamed `HttpResponse` with its flow control.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Protocol

import httptools

HIGH_WATER = 1024 * 1024
MAX_IDLE_PER_POOL = 256
DISCARD_LIMIT = 64 * 1024
DISCARD_WAIT_S = 5.0
# Both accept a zlib or gzip header: "deflate" servers send either.
_AUTO_WBITS = 32 + zlib.MAX_WBITS

class HttpError(Exception):
    """Base of everything this client raises."""


class ConnectFailed(HttpError):
    """No response arrived: refused, unreachable, TLS failure, or closed/garbled before headers."""


class HeadersTimeout(HttpError):
    """The status line and headers did not arrive in time."""


class ResponseBroken(HttpError):
    """The connection died or sent garbage after the body had begun."""


_EXPIRED = object()


class WhileWaiting(Protocol):
    """Something to do periodically while waiting on a response (a router keeps its own
    caller's connection alive meanwhile)."""

    def due(self) -> float:
        """Loop time at which `fire` is next due."""
        ...

    async def fire(self) -> None: ...


class DeadlinePassed(Exception):
    """A wait given a deadline reached it with no news. Not an `HttpError`: the exchange is
    intact, and the caller decides whether that is a failure (and closes) or not."""


class BodyTooLarge(HttpError):
    """The body exceeded the caller's limit."""


class Headers(Mapping[str, str]):
    """Response headers with lower-cased keys; lookups are case-insensitive."""

    __slots__ = ("_items",)

    def __init__(self, items: dict[str, str]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class Pool:
    __slots__ = ("closed", "host", "host_line", "idle", "port", "ssl")

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, host_line: bytes) -> None:
        self.host = host
        self.port = port
        self.ssl = tls
        self.host_line = host_line
        self.idle: deque[Connection] = deque()
        self.closed = False


class Connection(asyncio.Protocol):
    __slots__ = ("closed", "fd", "idle_since", "parser", "pool", "response", "reused",
                 "transport")

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set at once
        self.parser = httptools.HttpResponseParser(self)
        self.response: HttpResponse | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self.fd = -1

    def abort(self) -> None:
        self.closed = True
        self.response = None
        self.transport.abort()

    # --- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.fd = sock.fileno()

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:
            # Nothing was asked: a server talking on an idle socket cannot be trusted again.
            self.abort()
            return
        response.started = True
        try:
            self.parser.feed_data(data)
        except Exception as exc:
            if self.response is response:
                response.fail(f"unparsable response: {type(exc).__name__}")
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        response, self.response = self.response, None
        if response is not None:
            response.connection_lost(exc)

    # --- httptools callbacks (only while a response is in flight) ----------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.response is not None
        headers = self.response.raw_headers
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        assert self.response is not None
        self.response.headers_complete(self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        assert self.response is not None
        self.response.body(body)

    def on_message_complete(self) -> None:
        assert self.response is not None
        self.response.message_complete(self.parser.should_keep_alive())


def put_back(conn: Connection) -> None:
    """Pool `conn`, or close it when it cannot be reused."""
    pool = conn.pool
    if conn.closed or pool.closed or len(pool.idle) >= MAX_IDLE_PER_POOL:
        conn.abort()
        return
    conn.reused = True
    conn.idle_since = asyncio.get_running_loop().time()
    pool.idle.append(conn)


class HttpResponse:
    """One exchange: status and headers when returned by `post`, then the body, streamed."""

    __slots__ = ("_chunks", "_conn", "_discard_timer", "_done", "_inflater", "_keep_alive",
                 "_loop", "_paused", "_until_close", "_waiter", "buffered", "error", "headers",
                 "raw_headers", "released", "started", "status")

    def __init__(self, conn: Connection, loop: asyncio.AbstractEventLoop) -> None:
        self._conn: Connection | None = conn
        self._loop = loop
        self.status = 0
        self.raw_headers: dict[str, str] = {}
        self.headers: Mapping[str, str] = Headers(self.raw_headers)
        self._chunks: list[bytes] = []
        self.buffered = 0
        self._waiter: asyncio.Future[object] | None = None
        self.error: HttpError | None = None
        self._done = False
        self._keep_alive = False
        self._until_close = False
        self._inflater: zlib._Decompress | None = None
        self._paused = False
        self._discard_timer: asyncio.TimerHandle | None = None
        self.started = False
        self.released = False

    # --- fed by the connection ---------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def fail(self, message: str) -> None:
        if self.error is None and not self._done:
            kind = ResponseBroken if self.status else ConnectFailed
            self.error = kind(message)
        self._wake()

    def expire_headers(self) -> None:
        if not self.status and self.error is None:
            self.error = HeadersTimeout("no response headers in time")
            self._wake()

    def headers_complete(self, status: int) -> None:
        if 100 <= status < 200:
            # An interim answer (100 Continue, 103 Early Hints): the real one follows.
            self.raw_headers.clear()
            return
        self.status = status
        raw = self.raw_headers
        if raw.get("content-encoding") in ("gzip", "deflate", "x-gzip"):
            self._inflater = zlib.decompressobj(_AUTO_WBITS)
        self._until_close = ("content-length" not in raw and "transfer-encoding" not in raw
                             and status not in (204, 304))
        self._wake()

    def body(self, data: bytes) -> None:
        if not self.status:
            return
        if self._inflater is not None:
            data = self._inflater.decompress(data)
        if self.released:
            self.buffered += len(data)
            if self.buffered > DISCARD_LIMIT:
                self.close()
            return
        if data:
            self._chunks.append(data)
            self.buffered += len(data)
            if self.buffered > HIGH_WATER and not self._paused and self._conn is not None:
                self._paused = True
                self._conn.transport.pause_reading()
            self._wake()

    def message_complete(self, keep_alive: bool) -> None:
        if not self.status:
            return  # the end of an interim answer
        self._finish()
        self._keep_alive = keep_alive
        if self.released:
            # The consumer let go early; now the socket is clean and can be reused.
            if self._discard_timer is not None:
                self._discard_timer.cancel()
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.response = None
                if keep_alive:
                    put_back(conn)
                else:
                    conn.abort()
            return
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self._conn = None
        if self._done:
            return
        if self.status and self._until_close and exc is None:
            self._finish()  # the body was delimited by the close itself
            self._wake()
            return
        reason = f": {exc}" if exc else ""
        self.fail(f"the connection closed{' mid-body' if self.status else ''}{reason}")

    def _finish(self) -> None:
        self._done = True
        if self._inflater is not None:
            tail = self._inflater.flush()
            self._inflater = None
            if tail and not self.released:
                self._chunks.append(tail)
                self.buffered += len(tail)

    # --- used by the consumer ----------------------------------------------------------------

    async def wait(self, deadline: float | None = None,
                   while_waiting: WhileWaiting | None = None) -> None:
        """Sleep until the connection has news, or `while_waiting` falls due (it is fired, and
        the caller looks again); cancellation abandons the connection.

        With a loop-time `deadline`, `DeadlinePassed` if it comes first. One timer handle per
        sleep is all this costs: no task, no `asyncio.timeout` context, and on the hot path
        (data already buffered) not even that, since nothing sleeps."""
        tick = while_waiting.due() if while_waiting is not None else None
        ticking = tick is not None and (deadline is None or tick < deadline)
        until = tick if ticking else deadline
        waiter = self._waiter = self._loop.create_future()
        timer = None if until is None else self._loop.call_at(until, self._expire)
        try:
            woken_by = await waiter
            if woken_by is _EXPIRED and ticking:
                assert while_waiting is not None
                # News arriving meanwhile is kept on the response; the caller's loop sees it.
                await while_waiting.fire()
        except BaseException:
            self.close()
            raise
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        if woken_by is _EXPIRED and not ticking:
            raise DeadlinePassed

    def _expire(self) -> None:
        # The waiter's result says who woke it: news from the connection resolves it with
        # None first, and then this timer finds it done.
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(_EXPIRED)

    async def next_chunk(self, deadline: float | None = None,
                         while_waiting: WhileWaiting | None = None) -> bytes:
        """Everything buffered, waiting if nothing is; b"" at a clean end of body;
        `DeadlinePassed` if nothing arrived by `deadline`."""
        while not self._chunks:
            if self.error is not None:
                raise self.error
            if self._done:
                return b""
            await self.wait(deadline, while_waiting)
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        if self._paused:
            # The buffer is empty, far below any low-water mark: read again.
            self._paused = False
            if self._conn is not None:
                self._conn.transport.resume_reading()
        return data

    async def read(self, limit: int, deadline: float | None = None) -> bytes:
        """The whole body; `BodyTooLarge` once it exceeds `limit` bytes, `DeadlinePassed` if it
        is not complete by `deadline`."""
        parts: list[bytes] = []
        size = 0
        while chunk := await self.next_chunk(deadline):
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"the response exceeded {limit} bytes")
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        """Abandon the exchange: the socket is aborted at once and never pooled."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()
        if self._discard_timer is not None:
            self._discard_timer.cancel()

    def release(self) -> None:
        """The consumer is done with the body: pool the connection if it can carry another."""
        if self.released:
            return
        self.released = True
        conn = self._conn
        if conn is None:
            return
        if self.error is not None or (self._done and not self._keep_alive):
            self.close()
            return
        self._chunks.clear()
        self.buffered = 0
        if self._done:
            self._conn = None
            conn.response = None
            put_back(conn)
            return
        # The consumer saw the end of its stream (e.g. `[DONE]`) before the message's final
        # bytes arrived; they usually follow at once. Wait briefly instead of wasting the socket.
        if self._paused:
            self._paused = False
            conn.transport.resume_reading()
        self._discard_timer = self._loop.call_later(DISCARD_WAIT_S, self.close)


class NothingArrived(ConnectFailed):
    """A reused connection failed while the request was being written, before any byte of it
    reached the socket: the request is safe to resend."""
