"""The shared account's Lua scripts against a real Redis: several replicas in one process, each
its own `SharedAccounts`, with the clock passed in so windows and expiries are exact."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis

from crossroads.accounts.balance import Balance
from crossroads.accounts.keys import KeyRecord, RateLimit
from crossroads.accounts.periods import DAY_S
from crossroads.accounts.reservation import Reservation
from crossroads.accounts.service import Caller
from crossroads.accounts.shared import SharedAccounts
from tests.support import free_port

T0 = 1_800_000_000.0 - 1_800_000_000.0 % DAY_S + 3600.0  # an hour into a UTC day


def key(limit: int | None = None, rate: RateLimit | None = None,
        reset: str | None = "daily") -> KeyRecord:
    return KeyRecord(hash="h" * 64, name="k", label="k", limit_micro=limit,
                     limit_reset=reset if limit is not None else None,  # type: ignore[arg-type]
                     rate_limit=rate, created_at=int(T0) - DAY_S)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


def replicas(url: str, count: int, hold_s: float = 600.0) -> list[SharedAccounts]:
    return [SharedAccounts(url, 2, hold_s) for _ in range(count)]


def test_three_replicas_reserve_up_to_the_limit_and_no_further(redis_url: str):
    async def scenario() -> None:
        a, b, c = replicas(redis_url, 3)
        record = key(limit=1000)
        verdicts = await asyncio.gather(*(
            r.verdict(record, {}, 0, 100, T0) for r in (a, b, c) for _ in range(5)))
        assert sum(v.admitted for v in verdicts) == 10
        refused = [v for v in verdicts if not v.admitted]
        assert len(refused) == 5 and all(v.reserved == 1000 for v in refused)
        assert (await a.verdict(record, {}, 0, 1, T0)).admitted is False
    run(scenario)


def test_settle_moves_the_real_cost_from_reserved_to_spent(redis_url: str):
    async def scenario() -> None:
        a, b = replicas(redis_url, 2)
        record = key(limit=1000)
        first = await a.verdict(record, {}, 0, 600, T0)
        assert first.admitted and first.reserved == 600
        assert not (await b.verdict(record, {}, 0, 600, T0)).admitted
        caller = Caller(record, Balance(record))
        caller.balance.hold(600)  # type: ignore[union-attr]
        a.settle(caller, Reservation(amount=600, ceilings={}, max_tokens={},
                                     hold_id=first.hold_id), 250, T0)
        await a.settled(5)
        after = await b.verdict(record, {}, 0, 750, T0)
        assert after.admitted and after.spent == 250 and after.reserved == 750
        assert not (await b.verdict(record, {}, 0, 1, T0)).admitted
        # The next day the daily limit starts over; the spend is filed under its day.
        assert (await b.verdict(record, {}, 0, 1000, T0 + DAY_S)).admitted
    run(scenario)


def test_a_dead_replicas_reservation_is_reclaimed_when_it_expires(redis_url: str):
    async def scenario() -> None:
        dead, alive = SharedAccounts(redis_url, 2, 30.0), SharedAccounts(redis_url, 2, 30.0)
        record = key(limit=1000)
        assert (await dead.verdict(record, {}, 0, 900, T0)).admitted
        assert not (await alive.verdict(record, {}, 0, 900, T0 + 29)).admitted
        reclaimed = await alive.verdict(record, {}, 0, 900, T0 + 30)
        assert reclaimed.admitted and reclaimed.reserved == 900
    run(scenario)


def test_the_spend_is_seeded_once_however_many_replicas_race(redis_url: str):
    async def scenario() -> None:
        rs = replicas(redis_url, 3)
        record = key(limit=1000)
        today = int(T0 - T0 % DAY_S)
        seed = {today: 400, today - DAY_S: 5000}
        verdicts = await asyncio.gather(*(r.verdict(record, seed, 5400, 0, T0) for r in rs))
        assert [v.spent for v in verdicts] == [400, 400, 400]
        # A later replica with a different idea of the spend does not overwrite it.
        late = await SharedAccounts(redis_url, 2, 600.0).verdict(record, {today: 1}, 1, 0, T0)
        assert late.spent == 400
        lifetime = key(limit=6000, reset=None)
        assert (await rs[0].verdict(lifetime, {}, 0, 600, T0)).admitted
        assert not (await rs[1].verdict(lifetime, {}, 0, 1, T0)).admitted
    run(scenario)


def test_the_rate_window_is_exact_across_replicas(redis_url: str):
    async def scenario() -> None:
        a, b, c = replicas(redis_url, 3)
        record = key(rate=RateLimit(3, "10s"))
        for at, replica in ((T0, a), (T0 + 1, b), (T0 + 2, c)):
            decision = (await replica.verdict(record, {}, 0, None, at)).decision
            assert decision is not None and decision.allowed
        assert decision.remaining == 0 and decision.reset_at == T0 + 10
        refused = (await a.verdict(record, {}, 0, None, T0 + 3)).decision
        assert refused is not None and not refused.allowed
        assert refused.retry_after_s == 7 and refused.limit == 3
        assert not (await b.verdict(record, {}, 0, None, T0 + 9.999)).decision.allowed  # type: ignore[union-attr]
        again = (await c.verdict(record, {}, 0, None, T0 + 10)).decision
        assert again is not None and again.allowed and again.reset_at == T0 + 11
    run(scenario)


def test_without_redis_a_replica_admits_only_its_share(redis_url: str):
    async def scenario() -> None:
        gone = SharedAccounts(f"redis://127.0.0.1:{free_port()}/0", 2, 600.0)
        today = int(T0 - T0 % DAY_S)
        record = key(limit=1000, rate=RateLimit(6, "1m"))
        first = await gone.verdict(record, {today: 200}, 200, 300, T0)
        assert first.admitted and not gone.status().healthy
        assert "Redis unreachable" in gone.status().reason
        assert not (await gone.verdict(record, {today: 200}, 200, 101, T0)).admitted
        assert (await gone.verdict(record, {today: 200}, 200, 100, T0)).admitted
        rated = await gone.verdict(record, {today: 200}, 200, 0, T0)
        assert rated.decision is not None and not rated.decision.allowed  # 6/min ÷ 2
    run(scenario)


def test_a_redis_that_lost_its_scripts_is_given_them_again(redis_url: str):
    async def scenario() -> None:
        (a,) = replicas(redis_url, 1)
        record = key(limit=1000)
        assert (await a.verdict(record, {}, 0, 100, T0)).admitted
        client = redis.Redis.from_url(redis_url)
        client.script_flush()  # what a restarted Redis looks like to EVALSHA
        second = await a.verdict(record, {}, 0, 100, T0)
        assert second.admitted and second.reserved == 200 and a.status().healthy
        client.script_flush()  # and for the settles, sent in batches
        caller = Caller(record, Balance(record))
        caller.balance.hold(100)  # type: ignore[union-attr]
        a.settle(caller, Reservation(amount=100, ceilings={}, max_tokens={},
                                     hold_id=second.hold_id), 40, T0)
        await a.settled(5)
        third = await a.verdict(record, {}, 0, 1, T0)
        assert (third.spent, third.reserved) == (40, 101) and a.status().healthy
        client.close()
    run(scenario)
