"""Live stats and breakers shared through Redis: one stream of attempt outcomes, read by all.

Theory of operation. Each replica keeps its own `LiveStats`, which routing reads without any
I/O. Every attempt it records goes into an outbox (a deque append: no await, no network on the
request's path). A flusher task wakes on the first outcome, waits `FLUSH_S` to gather company,
and publishes the whole outbox as ONE stream entry (`XADD crossroads:outcomes MINID ~ …`): one
round trip per flush however many requests it carries, so far below one per request. A reader
task follows the stream with a blocking `XREAD` and feeds every other replica's outcomes to
`LiveStats.absorb`: the same uptime windows, percentiles, outage window and breaker, learnt
second-hand. A breaker opened anywhere is therefore open everywhere one flush plus one read
later (~0.1–0.2 s), and a success anywhere closes it everywhere.

Why a stream rather than per-endpoint hashes or buckets: outcomes are facts to merge once, in
order, by every replica; a stream gives each reader exactly what it has not seen (its last id),
costs one blocking read instead of a poll per endpoint, and its trimming by id (`MINID`, which
is time) bounds Redis's memory to the last `catch_up_s` of traffic whatever the replica count.
A replica that starts reads that last stretch first, so it joins with the breakers already open
and the outage windows already filled.

When Redis is unreachable: each loop logs once (the reason, never the URL or its password),
`healthy()` turns False with that reason, the replica keeps routing on what it sees itself, and
both loops retry with backoff (`RETRY_FIRST_S` doubling to `RETRY_MAX_S`). Outcomes recorded
meanwhile wait in the bounded outbox and are published on return if they are still fresh
(younger than the outage window); the reader resumes from its last id, so nothing still in the
stream is missed. redis-py's own retries are off: this module decides when to try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from crossroads.errors import redact_url
from crossroads.routing.sticky import StickyTable
from crossroads.settings import BreakerConfig, RoutingConfig
from crossroads.shared_state import SharedStatus
from crossroads.shared_state.outcomes import (
    Batch,
    Outbox,
    Outcome,
    Pin,
    merge,
    merge_pins,
    pack,
    unpack,
)
from crossroads.shutdown import cancel_and_wait
from crossroads.stats import AttemptReport, LiveStats

log = logging.getLogger("crossroads.shared_state")

STREAM = "crossroads:outcomes"
FIELD = b"b"
FLUSH_S = 0.1
BLOCK_MS = 1000
READ_COUNT = 500
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 2.0
STOP_FLUSH_S = 0.5
CONNECT_TIMEOUT_S = 1.0
# Longer than the blocking read, so only a silent network trips it.
SOCKET_TIMEOUT_S = BLOCK_MS / 1000 + 4.0
# Errors that mean "Redis is not answering now", as opposed to a bug here.
UNREACHABLE = (RedisError, OSError, TimeoutError)


class _Link:
    """Whether Redis answered the last time each loop asked, logged on change only."""

    __slots__ = ("_reason", "_secret", "_up")

    def __init__(self, secret: str | None) -> None:
        self._up = False
        self._reason = "not connected yet"
        self._secret = secret

    def up(self) -> None:
        if not self._up and self._reason != "not connected yet":
            log.warning("shared state: Redis is reachable again; sharing resumes")
        self._up = True
        self._reason = ""

    def down(self, error: BaseException) -> None:
        reason = f"Redis unreachable: {type(error).__name__}: {error}"[:300]
        if self._secret:
            reason = reason.replace(self._secret, "***")
        if self._up or self._reason == "not connected yet":
            log.warning("shared state: %s; serving on this replica's own live stats", reason)
        self._up = False
        self._reason = reason

    def status(self) -> SharedStatus:
        return SharedStatus("redis", self._up, self._reason)


class RedisState:
    """Publishes this replica's outcomes and merges everyone else's (see the module doc)."""

    def __init__(self, url: str, stats: LiveStats, sticky: StickyTable, wall_offset: float,
                 routing: RoutingConfig, breaker: BreakerConfig,
                 flush_s: float = FLUSH_S) -> None:
        self._client = aioredis.Redis.from_url(
            url, protocol=2, retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S)
        self._stats = stats
        self._sticky = sticky
        self._wall_offset = wall_offset
        self._flush_s = flush_s
        self._fresh_s = routing.outage_window_s
        # A joining replica reads back far enough to see every breaker still open.
        self._catch_up_s = max(routing.outage_window_s, breaker.max_cooldown_s,
                               breaker.max_retry_after_s)
        self._replica = uuid.uuid4().hex
        self._outbox = Outbox()
        self._wake = asyncio.Event()
        self._link = _Link(urlsplit(url).password)
        self._tasks: list[asyncio.Task[None]] = []
        # Checked by both loops, since a cancellation can be swallowed (shutdown.py).
        self._stopping = False
        self._label = redact_url(url)

    # --- the protocol ----------------------------------------------------------------------

    async def start(self) -> None:
        self._stats.listen(self)
        self._sticky.listen(self)
        self._tasks = [asyncio.create_task(self._publish_loop(), name="shared-state-publish"),
                       asyncio.create_task(self._read_loop(), name="shared-state-read")]
        log.info("shared state: Redis at %s (replica %s)", self._label, self._replica[:8])
        # One PING now, so readiness is right from the start: the read loop's first answer
        # may be a blocking XREAD that returns only when its block ends.
        try:
            await asyncio.wait_for(self._client.ping(), CONNECT_TIMEOUT_S)
        except UNREACHABLE as error:
            self._link.down(error)
        else:
            self._link.up()

    async def stop(self) -> None:
        self._stats.listen(None)
        self._sticky.listen(None)
        self._stopping = True
        self._wake.set()
        await cancel_and_wait(self._tasks, STOP_FLUSH_S)
        self._tasks = []
        # Best effort and brief: a stop must not hang on a Redis that is gone.
        with contextlib.suppress(*UNREACHABLE):
            await asyncio.wait_for(self._flush(), STOP_FLUSH_S)
        with contextlib.suppress(*UNREACHABLE):
            await self._client.aclose()

    def healthy(self) -> bool:
        return self._link.status().healthy

    def status(self) -> SharedStatus:
        return self._link.status()

    # --- LiveStats' listener: on the request's path, so synchronous and O(1) ---------------

    def recorded(self, key: str, report: AttemptReport, at: float,
                 cooling_until: float) -> None:
        self._outbox.put(Outcome.of(key, report, at, cooling_until, self._wall_offset))
        self._wake.set()

    # --- StickyTable's listener: in the generation's sink, likewise -------------------------

    def pinned(self, conversation: str, key: str, at: float) -> None:
        self._outbox.pin(Pin(conversation, key, at + self._wall_offset))
        self._wake.set()

    # --- background ------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def _flush(self) -> bool:
        """Publish the outbox as one entry; False (outcomes kept) when Redis did not take it."""
        now_wall = self._now() + self._wall_offset
        outcomes, pins = self._outbox.take(now_wall, self._fresh_s)
        if not outcomes and not pins:
            return True
        oldest_kept = int((now_wall - self._catch_up_s) * 1000)
        try:
            await self._client.xadd(STREAM, {FIELD: pack(Batch(self._replica, outcomes, pins))},
                                    minid=oldest_kept, approximate=True)
        except UNREACHABLE as error:
            self._outbox.put_back(outcomes, pins)
            self._link.down(error)
            return False
        self._link.up()
        return True

    async def _publish_loop(self) -> None:
        delay = RETRY_FIRST_S
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self._flush_s)
            if await self._flush():
                delay = RETRY_FIRST_S
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            self._wake.set()

    async def _read_loop(self) -> None:
        last = f"{int((self._now() + self._wall_offset - self._catch_up_s) * 1000)}-0"
        delay = RETRY_FIRST_S
        while not self._stopping:
            try:
                reply = await self._client.xread({STREAM: last}, count=READ_COUNT,
                                                 block=BLOCK_MS)
            except UNREACHABLE as error:
                self._link.down(error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self._link.up()
            delay = RETRY_FIRST_S
            for entry_id, data in _entries(reply):
                last = entry_id
                self._merge(data)

    def _merge(self, data: bytes | None) -> None:
        batch = unpack(data) if data else None
        if batch is None or batch.replica == self._replica:
            return
        now = self._now()
        merge(self._stats, batch.outcomes, self._wall_offset, now)
        merge_pins(self._sticky, batch.pins, self._wall_offset, now)


def _entries(reply: object) -> list[tuple[str, bytes | None]]:
    """(id, packed batch) of each entry of a RESP2 `XREAD` reply on our one stream:
    `[[stream, [(id, {field: value}), …]]]`, or an empty list when the block timed out."""
    out: list[tuple[str, bytes | None]] = []
    if not isinstance(reply, list):
        return out
    for _stream, entries in reply:
        for entry_id, fields in entries:
            data = fields.get(FIELD) if isinstance(fields, dict) else None
            out.append((entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id),
                        data if isinstance(data, bytes) else None))
    return out
