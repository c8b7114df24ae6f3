"""RedisState against a real Redis: replicas in one process, each with its own LiveStats."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest

from crossroads.catalog import Pricing
from crossroads.routing.sticky import StickyTable
from crossroads.settings import BreakerConfig, RoutingConfig
from crossroads.shared_state.redis_state import STREAM, RedisState
from crossroads.stats import AttemptReport, LiveStats
from tests.redis_server import RedisServer
from tests.support import free_port
from tests.unit.factories import endpoint

FAIL = AttemptReport(ok=False, counts_against_uptime=True, trips_breaker=True)
OK = AttemptReport(ok=True, counts_against_uptime=True, trips_breaker=False)
ROUTING = RoutingConfig()
BREAKER = BreakerConfig(base_cooldown_s=60.0, max_cooldown_s=120.0)


def replica(url: str, sticky: StickyTable | None = None) -> tuple[LiveStats, RedisState]:
    stats = LiveStats(ROUTING, BREAKER)
    wall_offset = time.time() - asyncio.get_running_loop().time()
    return stats, RedisState(url, stats, StickyTable() if sticky is None else sticky,
                             wall_offset, ROUTING, BREAKER)


def now() -> float:
    return asyncio.get_running_loop().time()


async def until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = now() + timeout_s
    while now() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


def cooling(stats: LiveStats, key: str) -> bool:
    return stats.health(key, now()).cooling_until > now()


def test_a_breaker_opened_on_one_replica_opens_on_the_others_within_2_s(redis_url: str):
    async def scenario() -> None:
        (a, a_shared), (b, b_shared) = replica(redis_url), replica(redis_url)
        await a_shared.start()
        await b_shared.start()
        try:
            assert await until(lambda: a_shared.healthy() and b_shared.healthy(), 5)
            a.record("alpha", FAIL, now())
            assert await until(lambda: cooling(b, "alpha"), 2.0)
            assert not b.try_begin("alpha", now())
            assert not cooling(b, "bravo")
            # The success that closes it, anywhere, closes it everywhere.
            a.record("alpha", OK, now())
            assert await until(lambda: not cooling(b, "alpha"), 2.0)
            assert b.try_begin("alpha", now())
            # A replica never merges its own outcomes a second time.
            assert a.health("alpha", now()).recent_attempts == 2
            assert b.health("alpha", now()).recent_attempts == 2
        finally:
            await a_shared.stop()
            await b_shared.stop()

    run(scenario)


def test_a_conversation_pinned_on_one_replica_is_pinned_on_the_others(redis_url: str):
    caching = endpoint("alpha", pricing=Pricing(prompt=1_000_000, completion=1_000_000,
                                                cache_read=250_000))

    async def scenario() -> None:
        here, there = StickyTable(), StickyTable()
        _, a_shared = replica(redis_url, here)
        _, b_shared = replica(redis_url, there)
        await a_shared.start()
        await b_shared.start()
        try:
            here.remember("s:chat", caching, now())
            assert await until(lambda: there.lookup("s:chat", now()) == caching.key, 2.0)
        finally:
            await a_shared.stop()
            await b_shared.stop()

    run(scenario)


def test_a_replica_that_starts_later_joins_with_the_open_breakers(redis_url: str):
    async def scenario() -> None:
        a, a_shared = replica(redis_url)
        await a_shared.start()
        try:
            a.record("alpha", FAIL, now())
            await a_shared.stop()  # its last outcomes are flushed on the way out
            late, late_shared = replica(redis_url)
            await late_shared.start()
            try:
                assert await until(lambda: cooling(late, "alpha"), 2.0)
            finally:
                await late_shared.stop()
        finally:
            await a_shared.stop()

    run(scenario)


def test_a_flush_carries_many_outcomes_in_one_entry(redis_server: RedisServer,
                                                    redis_url: str):
    async def scenario() -> None:
        a, a_shared = replica(redis_url)
        await a_shared.start()
        try:
            for _ in range(200):  # one burst of requests: one flush, one round trip
                a.record("alpha", OK, now())
            with redis_server.client() as client:
                assert await until(lambda: client.xlen(STREAM) > 0, 2.0)
                await asyncio.sleep(0.3)  # time for a second flush, had there been one
                assert client.xlen(STREAM) == 1
        finally:
            await a_shared.stop()

    run(scenario)


def test_unreachable_redis_degrades_without_blocking_or_leaking_the_password(
        caplog: pytest.LogCaptureFixture):
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"  # nothing listens there

    async def scenario() -> None:
        a, shared = replica(url)
        started = now()
        await shared.start()
        for _ in range(100):
            a.record("alpha", FAIL, now())  # never waits on Redis
        assert now() - started < 0.5
        assert await until(lambda: shared.status().reason.startswith("Redis unreachable"), 5)
        assert not shared.healthy()
        assert cooling(a, "alpha")  # local state works as ever
        await asyncio.sleep(0.5)  # a few retries, to show they are logged once
        stopping = now()
        await shared.stop()
        assert now() - stopping < 2.0
        assert "hunter2" not in shared.status().reason

    with caplog.at_level(logging.WARNING, logger="crossroads.shared_state"):
        run(scenario)
    lines = [r.getMessage() for r in caplog.records]
    assert "hunter2" not in "\n".join(lines)
    assert sum("unreachable" in line for line in lines) == 1, lines
