"""Minimal hand-rolled HTTP/1.1 keep-alive client: asyncio.Protocol + httptools.

Reference only (no TLS, no redirects, no chunked request bodies, no retry on
stale connections, no timeouts) -- it shows the floor a Python client can reach.
"""

import asyncio
from collections import deque

import httptools


class _Conn(asyncio.Protocol):
    __slots__ = ("chunks", "closed", "fut", "keep_alive", "parser", "transport")

    def __init__(self):
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.fut = None
        self.chunks = []
        self.closed = False
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(e)
            self.transport.close()

    def connection_lost(self, exc):
        self.closed = True
        self._fail(exc or ConnectionResetError("upstream closed connection"))

    def _fail(self, exc):
        fut, self.fut = self.fut, None
        if fut is not None and not fut.done():
            fut.set_exception(exc)

    # httptools callbacks
    def on_message_begin(self):
        self.chunks = []

    def on_body(self, body):
        self.chunks.append(body)

    def on_message_complete(self):
        self.keep_alive = self.parser.should_keep_alive()
        fut, self.fut = self.fut, None
        if fut is not None and not fut.done():
            fut.set_result((self.parser.get_status_code(), b"".join(self.chunks)))


class RawPool:
    """One idle-connection LIFO per (host, port); unbounded like TCPConnector(limit=0)."""

    def __init__(self, host, port, path, max_idle=1024):
        self.host, self.port, self.max_idle = host, port, max_idle
        self.idle = deque()
        self.head = (
            b"POST "
            + path.encode()
            + b" HTTP/1.1\r\nhost: "
            + f"{host}:{port}".encode()
            + b"\r\ncontent-type: application/json\r\ncontent-length: "
        )

    async def _acquire(self):
        idle = self.idle
        while idle:
            c = idle.pop()
            if not c.closed:
                return c
        loop = asyncio.get_running_loop()
        _, c = await loop.create_connection(_Conn, self.host, self.port)
        return c

    async def post(self, body: bytes):
        c = await self._acquire()
        fut = asyncio.get_running_loop().create_future()
        c.fut = fut
        c.transport.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        try:
            status, data = await fut
        except BaseException:
            c.transport.close()
            raise
        if c.keep_alive and not c.closed and len(self.idle) < self.max_idle:
            self.idle.append(c)
        else:
            c.transport.close()
        return status, data

    async def close(self):
        while self.idle:
            self.idle.pop().transport.close()
