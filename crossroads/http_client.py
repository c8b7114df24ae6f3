"""A pooled HTTP/1.1 client on asyncio.Protocol + httptools: the transport under `upstream.py`.

Why it exists: per proxied request aiohttp's client costs ~290 µs of CPU, a protocol object
feeding httptools ~100 µs (bench/stack/RESULTS.md), and the router's reason to be is overhead.
It does only what a router needs: POST a body, get the status and headers, stream the body.

Theory of operation
-------------------
A `_Connection` is one socket. It is also the httptools callback target and forwards every
callback to the `HttpResponse` in flight (at most one: no pipelining). A response therefore owns
the state of its exchange, and a stale response object can never see the next exchange's bytes.

Pools are keyed by (scheme, host, port) and hold idle connections LIFO, so the hottest socket
(least likely to have been closed by the server) is reused first; the oldest are reaped on
acquire once idle longer than `keepalive_s`.

Body bytes are appended to the response's buffer and wake the one waiter; `next_chunk()` hands
back everything buffered. Past `HIGH_WATER` unread bytes the socket stops being read until the
consumer drains the buffer, so an endless body costs bounded memory.

Resending. A request is resent only when it provably never reached the server, since a
provider that read it may run (and charge for) the generation. A pooled connection is reused
only if it is open and has nothing to read: a server that closed it while idle left an EOF (or
a reset) in the socket, seen by a zero-timeout poll before any byte is written, and such a
connection is dropped, not written to. If the write itself fails at once on a reused
connection (the transport closes inside `write`: nothing reached the socket), the request goes
once more on a fresh connection. A connection that dies after the write went out — before or
after the first response byte — is the attempt's failure, never resent here.

Waiters are only ever resolved with a value (`None` for news, a sentinel when a wait's own
deadline passed) and errors are stored on the response, so a waiter whose task went away never
leaves an unretrieved exception behind. Deadlines are timer handles on the loop, one per wait
that actually waits: a passed deadline raises `DeadlinePassed` and leaves the exchange intact
for the caller to judge (a stream's keep-alive tick is not a failure). Cancelling a task that
waits for headers or body aborts the connection: its state is unknown, so it must never be
pooled.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from crossroads.http_wire import (
    HIGH_WATER,
    BodyTooLarge,
    ConnectFailed,
    Connection,
    DeadlinePassed,
    Headers,
    HeadersTimeout,
    HttpError,
    HttpResponse,
    NothingArrived,
    Pool,
    ResponseBroken,
    WhileWaiting,
)

MAX_TARGETS = 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}

__all__ = [
    "HIGH_WATER",
    "BodyTooLarge",
    "ConnectFailed",
    "DeadlinePassed",
    "FrozenHeaders",
    "Headers",
    "HeadersTimeout",
    "HttpClient",
    "HttpError",
    "HttpResponse",
    "ResponseBroken",
    "WhileWaiting",
]

def _readable(fd: int) -> bool:
    """Has the socket anything to read (data, EOF, reset) that the loop has not yet seen?
    On an idle connection any of it means the server is done with it."""
    if fd < 0:
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def header_lines(headers: Mapping[str, str]) -> bytes:
    """`name: value` lines for a request head, refusing CR or LF anywhere in them."""
    lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
    # Each header adds exactly one CR and one LF; any more would smuggle a header or a body.
    if lines.count("\n") != len(headers) or lines.count("\r") != len(headers):
        raise ValueError("a header name or value contains CR or LF")
    return lines.encode("latin-1")


class FrozenHeaders(Headers):
    """Request headers that never change once built, encoded once, when built, instead of on
    every request that sends them."""

    __slots__ = ("encoded",)

    def __init__(self, items: Mapping[str, str]) -> None:
        super().__init__({name.lower(): value for name, value in items.items()})
        self.encoded = header_lines(self)

    def __repr__(self) -> str:
        # Values may be credentials: never print them.
        return f"FrozenHeaders({sorted(self)})"


class HttpClient:
    """Owns the connection pools; one per process, created and closed by the app's lifespan."""

    def __init__(self, *, connect_timeout_s: float, keepalive_s: float = 60.0,
                 user_agent: str | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._connect_timeout_s = connect_timeout_s
        self._keepalive_s = keepalive_s
        self._agent_line = f"user-agent: {user_agent}\r\n".encode() if user_agent else b""
        self._ssl = ssl_context
        self._pools: dict[tuple[str, str, int], Pool] = {}
        # url -> (pool, request head up to the caller's headers), so a hot URL is parsed once.
        self._targets: dict[str, tuple[Pool, bytes]] = {}
        self._closed = False

    async def post(self, url: str, headers: Mapping[str, str], body: bytes,
                   timeout_s: float, while_waiting: WhileWaiting | None = None) -> HttpResponse:
        """Send; return once the status and headers arrived, within `timeout_s` in all.

        `headers` must not carry host, content-length or transfer-encoding: they are ours.
        `while_waiting` is fired whenever it falls due before the headers have arrived (a
        router keeps its own caller's connection alive meanwhile).
        """
        if self._closed:
            raise ConnectFailed("the HTTP client is closed")
        target = self._targets.get(url) or self._target(url)
        block = headers.encoded if isinstance(headers, FrozenHeaders) else header_lines(headers)
        payload = b"".join((target[1], block,
                            b"content-length: %d\r\n\r\n" % len(body), body))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        pool = target[0]
        try:
            return await self._exchange(await self._acquire(pool, loop, deadline),
                                        payload, loop, deadline, while_waiting)
        except NothingArrived:
            pass
        return await self._exchange(await self._connect(pool, loop, deadline),
                                    payload, loop, deadline, while_waiting)

    async def close(self) -> None:
        """Close idle connections; connections still in use close when their response ends."""
        self._closed = True
        for pool in self._pools.values():
            pool.closed = True
            while pool.idle:
                conn = pool.idle.pop()
                conn.closed = True
                conn.transport.close()
        self._pools.clear()
        self._targets.clear()

    # --- internals ---------------------------------------------------------------------------

    def _target(self, url: str) -> tuple[Pool, bytes]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        try:
            port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
        except ValueError:
            port = 0
        if scheme not in _DEFAULT_PORTS or not host or not port:
            raise ConnectFailed(f"unsupported URL {url!r}")
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            name = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
            if port != _DEFAULT_PORTS[scheme]:
                name = f"{name}:{port}"
            tls = self._tls() if scheme == "https" else None
            pool = self._pools[key] = Pool(host, port, tls, f"host: {name}\r\n".encode())
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = b"POST %s HTTP/1.1\r\n%s%s" % (path.encode("ascii"), pool.host_line,
                                               self._agent_line)
        if len(self._targets) >= MAX_TARGETS:
            self._targets.clear()
        target = self._targets[url] = (pool, head)
        return target

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def _acquire(self, pool: Pool, loop: asyncio.AbstractEventLoop,
                       deadline: float) -> Connection:
        idle = pool.idle
        if idle:
            expired = loop.time() - self._keepalive_s
            while idle and idle[0].idle_since < expired:
                conn = idle.popleft()
                conn.closed = True
                conn.transport.close()
            while idle:
                conn = idle.pop()
                if not conn.closed and not conn.transport.is_closing():
                    if not _readable(conn.fd):
                        return conn
                    # Idle yet readable: an EOF, a reset or stray bytes, none of it ours.
                    conn.abort()
        return await self._connect(pool, loop, deadline)

    async def _connect(self, pool: Pool, loop: asyncio.AbstractEventLoop,
                       deadline: float) -> Connection:
        limit = min(self._connect_timeout_s, deadline - loop.time())
        try:
            async with asyncio.timeout(limit):
                _, conn = await loop.create_connection(
                    lambda: Connection(pool), pool.host, pool.port, ssl=pool.ssl,
                    server_hostname=pool.host if pool.ssl is not None else None,
                )
        except TimeoutError:
            if loop.time() >= deadline:
                raise HeadersTimeout("no response headers in time (still connecting)") \
                    from None
            raise ConnectFailed(f"connecting to {pool.host}:{pool.port} timed out") from None
        except OSError as exc:
            raise ConnectFailed(f"could not connect to {pool.host}:{pool.port}: "
                                f"{exc.strerror or exc or type(exc).__name__}") from None
        return conn

    async def _exchange(self, conn: Connection, payload: bytes,
                        loop: asyncio.AbstractEventLoop, deadline: float,
                        while_waiting: WhileWaiting | None) -> HttpResponse:
        response = HttpResponse(conn, loop)
        conn.response = response
        conn.transport.write(payload)
        # The transport was open before `write`: closing inside it means the write failed
        # at once and no byte of the request reached the socket.
        unsent = conn.transport.is_closing()
        timer = loop.call_at(deadline, response.expire_headers)
        try:
            # The headers deadline is `timer`'s: it fails the response, which wakes the wait.
            while not response.status and response.error is None:
                await response.wait(None, while_waiting)
        finally:
            timer.cancel()
        error = response.error
        if error is not None:
            response.close()
            if conn.reused and unsent and isinstance(error, ConnectFailed):
                raise NothingArrived(str(error))
            raise error
        return response
