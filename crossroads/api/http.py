"""The thin ASGI layer: reading bodies within limits, sending JSON and SSE, watching disconnects.

No framework: a route table and these helpers are all the router needs, and every layer a
framework adds is paid on every request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from crossroads.errors import CrossroadsError, PayloadTooLarge, RequestTimeout
from crossroads.http_server import DISCONNECT_EXTENSION
from crossroads.metrics import OverheadTimer
from crossroads.sse import KEEPALIVE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON_HEADERS: Headers = [(b"content-type", b"application/json")]
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class ClientGone(Exception):
    """The caller disconnected before its request was complete; there is no one to answer."""


async def read_body(scope: Scope, receive: Receive, limit: int, timeout_s: float) -> bytes:
    """The whole request body, refused with 413 as soon as it is known to exceed `limit`, and
    with 408 if it does not arrive within `timeout_s`."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
    # A bare timer that cancels this task, not an `asyncio.timeout` context: this runs on every
    # request, and the body has nearly always arrived with the headers.
    task = asyncio.current_task()
    assert task is not None
    expired: list[bool] = []

    def expire() -> None:
        expired.append(True)
        task.cancel()

    timer = asyncio.get_running_loop().call_later(timeout_s, expire)
    try:
        return await _read_chunks(receive, limit)
    except asyncio.CancelledError:
        if not expired:
            raise
        task.uncancel()
        raise RequestTimeout(
            f"The request body did not arrive within {timeout_s:g} s") from None
    finally:
        timer.cancel()


async def _read_chunks(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_json(send: Send, status: int, body: bytes, extra: Headers | None = None) -> None:
    # With a length the server writes the body as is, not as chunks, and clients know its end.
    headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(body))]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: CrossroadsError, extra: Headers | None = None) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    await send_json(send, error.status, error.body(), headers + (extra or []))


class ASGIClientStream:
    """`streaming.ClientStream` over an ASGI `send`."""

    __slots__ = ("_committed", "_extra", "_last_sent", "_overhead", "_send", "_started")

    def __init__(self, send: Send, extra: Headers, now: float,
                 overhead: OverheadTimer | None = None) -> None:
        self._send = send
        self._extra = extra
        self._overhead = overhead
        self._started = False
        self._committed = False
        self._last_sent = now

    @property
    def started(self) -> bool:
        return self._started

    @property
    def committed(self) -> bool:
        return self._committed

    def keepalive_due(self, interval_s: float) -> float:
        return self._last_sent + interval_s

    async def _start(self) -> None:
        if not self._started:
            self._started = True
            headers = SSE_HEADERS + self._extra
            if self._overhead is not None:
                headers.append(self._overhead.header())
            await self._send({"type": "http.response.start", "status": 200,
                              "headers": headers})

    async def keepalive(self) -> None:
        await self._start()
        await self.write(KEEPALIVE)

    async def commit(self) -> None:
        await self._start()
        self._committed = True

    async def write(self, data: bytes) -> None:
        self._last_sent = asyncio.get_running_loop().time()
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        if self._started:
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})


async def _wait_for_disconnect(receive: Receive, victim: asyncio.Task[Any],
                               fired: list[bool]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            fired.append(True)
            victim.cancel()
            return


async def cancel_on_disconnect(scope: Scope, receive: Receive,
                               work: Awaitable[Any]) -> tuple[bool, Any]:
    """Run `work`; if the client disconnects first, cancel it. Returns (disconnected, result).

    Under our own protocol (`http_server.py`) the connection itself calls back; under any other
    ASGI server a watcher task waits on `receive()` for `http.disconnect`."""
    task = asyncio.current_task()
    assert task is not None
    fired: list[bool] = []
    watch = scope.get("extensions", {}).get(DISCONNECT_EXTENSION)
    if watch is not None:
        def left() -> None:
            fired.append(True)
            task.cancel()
        stop: Callable[[], object] = watch(left)
    else:
        stop = asyncio.create_task(_wait_for_disconnect(receive, task, fired)).cancel
    try:
        return False, await work
    except asyncio.CancelledError:
        if not fired:
            raise
        task.uncancel()
        return True, None
    finally:
        stop()
