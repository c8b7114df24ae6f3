"""A `ClientStream` that speaks a surface's events: chat chunks in, the surface's SSE out.

The relay writes framed chat completion chunks; this decodes them again (they are whole events,
so the decoder never waits), hands each to the surface's `Translation` and sends what it
returns. Keep-alive comments, commit and the end of the response pass straight through, so the
relay's rules (commit on first content, in-band error after it) hold for every surface.
"""

from __future__ import annotations

import orjson

from crossroads.api.http import ASGIClientStream
from crossroads.sse import DONE, SSEDecoder
from crossroads.surfaces import Translation


class TranslatingStream:
    __slots__ = ("_decoder", "_inner", "_translation")

    def __init__(self, inner: ASGIClientStream, translation: Translation) -> None:
        self._inner = inner
        self._translation = translation
        self._decoder = SSEDecoder()

    @property
    def started(self) -> bool:
        return self._inner.started

    @property
    def committed(self) -> bool:
        return self._inner.committed

    def keepalive_due(self, interval_s: float) -> float:
        return self._inner.keepalive_due(interval_s)

    async def keepalive(self) -> None:
        await self._inner.keepalive()

    async def commit(self) -> None:
        await self._inner.commit()

    async def write(self, data: bytes) -> None:
        events: list[bytes] = []
        for payload in self._decoder.feed(data):
            if payload == DONE:
                events += self._translation.stream_end()
            else:
                events += self._translation.stream_event(orjson.loads(payload))
        if events:
            await self._inner.write(b"".join(events))

    async def end(self) -> None:
        await self._inner.end()
