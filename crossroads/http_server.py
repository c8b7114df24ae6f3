"""uvicorn's httptools protocol with two costs of a router's hot path taken out.

uvicorn stays in charge of parsing, limits, keep-alive, pipelining and graceful shutdown; this
subclass only changes how responses leave and how a disconnect is noticed.

One write per response. uvicorn writes the status line and headers in one `write(2)` and the
body in another. On loopback every socket write runs the receiver's TCP stack inline, so the
second system call was the single most expensive line of a non-streamed answer at low load
(bench/profile_router.py and the per-phase trace in bench/RESULTS.md). `CorkedTransport` holds
every write made during one turn of the event loop and sends them as one at the end of that
turn (`call_soon`), so the head and body of an answer — or a stream's head and first events —
go out together, and nothing ever waits longer than the current callback.

Disconnects without a task. ASGI can only report a client that left through `receive()`, which
costs a watcher task per request. The protocol already knows (`connection_lost`), so it offers
`scope["extensions"]["crossroads.disconnect"]`: a function that registers a callback for this
request and returns its unregister function (`api/http.py` uses it when present).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DISCONNECT_EXTENSION = "crossroads.disconnect"


class CorkedTransport:
    """A transport whose writes within one loop turn leave in one system call."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))

    def flush(self) -> None:
        held = self._held
        if not held:
            return
        data = held[0] if len(held) == 1 else b"".join(held)
        held.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        # is_closing, get_extra_info, pause_reading, set_protocol, …: the real transport's.
        return getattr(self._transport, name)


class RouterHttpProtocol(HttpToolsProtocol):
    """`uvicorn.Config(http=RouterHttpProtocol)`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        corked = CorkedTransport(transport, self.loop)
        super().connection_made(corked)  # type: ignore[arg-type]
        self._watchers: dict[int, Callable[[], None]] = {}
        self._next_watcher = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # ASGI types extensions as dict[str, dict[object, object]]; ours is a function.
        extensions: dict[str, Any] = {DISCONNECT_EXTENSION: self._watch}
        self.scope["extensions"] = extensions

    def _watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        token = self._next_watcher
        self._next_watcher += 1
        self._watchers[token] = callback

        def unwatch() -> None:
            self._watchers.pop(token, None)

        return unwatch

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        watchers = list(self._watchers.values())
        self._watchers.clear()
        for callback in watchers:
            callback()
