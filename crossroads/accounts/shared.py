"""Rate limits and credit shared by every replica through Redis (`[server] redis_url`).

Without Redis none of this exists and admission stays the synchronous, in-memory path of
admission.py. With it, a request of a rate-limited or credit-limited key costs ONE Redis round
trip to be admitted: the ADMIT script (redis_scripts.py) checks the sliding log, then
`spent in the limit period (all replicas) + reserved in flight (all replicas) + this request's
worst case <= limit`, and records both, atomically. Settling is off the request's path: a task
runs SETTLE (the reservation leaves, the real cost joins the day's spend); a settle that fails
waits in a queue the heartbeat drains. Keys without either limit never touch Redis.

Each replica also keeps its own `Balance` as before (what `GET /key` reports of it, and the
seed of a key's shared spend the first time any replica needs it).

Redis unreachable: never unlimited. Each replica admits against its share —
(limit − last known shared spend − last known shared reserved) ÷ live replicas (the heartbeat
set's size when last seen, else `[server] replicas_hint`) — and rate limits at
requests ÷ replicas (at least 1). What it settles meanwhile is queued and added to the shared
spend when Redis answers again; then the shares are dropped and the shared account rules again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from crossroads.accounts.admission import payment_required, rate_limited
from crossroads.accounts.balance import Balance
from crossroads.accounts.keys import KeyRecord, RateLimit
from crossroads.accounts.periods import DAY_S, day_start, period
from crossroads.accounts.rate_limit import Decision, RateLimiter
from crossroads.accounts.redis_scripts import (
    ADMIT,
    ADMIT_KEYS,
    NEEDS_SEED,
    OVER_LIMIT,
    RATE_LIMITED,
    SETTLE,
    account_keys,
)
from crossroads.accounts.redis_wire import ScriptWire
from crossroads.accounts.reservation import Reservation, plan_reservation, prompt_bound
from crossroads.accounts.service import Caller
from crossroads.catalog import MICRO, Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.settings import AuthConfig
from crossroads.shared_state import SharedStatus
from crossroads.shutdown import cancel_and_wait

log = logging.getLogger("crossroads.accounts")

REPLICAS = "crossroads:replicas"
HEARTBEAT_S = 1.0
REPLICA_GONE_S = 5.0  # a replica not heard from for this long no longer counts
TIMEOUT_S = 1.0
STALE_DAYS = 41  # spend older than this is never read (balance.KEEP_DAYS + 1)
UNREACHABLE = (RedisError, OSError, TimeoutError)


Seeder = Callable[[Balance], Awaitable[Balance]]


class Verdict(msgspec.Struct, frozen=True):
    """What one admission decided: a rate decision (None without a rate limit), whether the
    credit fits, and the shared sums the script saw (for the 402's message and the fallback)."""

    decision: Decision | None
    admitted: bool
    spent: int = 0
    reserved: int = 0
    hold_id: str = ""


class _Settle(msgspec.Struct, frozen=True):
    key_hash: str
    hold_id: str
    cost: int
    created: float


class SharedAccounts:
    """One replica's side of the shared account (see the module doc)."""

    def __init__(self, url: str, replicas_hint: int, hold_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._client = aioredis.Redis.from_url(
            url, protocol=2, retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S)
        self._admit = ScriptWire(self._client, ADMIT)
        self._settle = ScriptWire(self._client, SETTLE)
        self._secret = urlsplit(url).password
        self._clock = clock
        self._hold_s = hold_s
        self._replica = uuid.uuid4().hex
        self._serial = itertools.count()
        self._replicas = max(1, replicas_hint)
        self._up = True
        self._reason = ""
        self._last: dict[str, tuple[int, int]] = {}  # key → (spent, reserved) last seen
        self._share_used: dict[str, int] = {}  # key → held + spent here while degraded
        self._share_rates = RateLimiter()
        self._pending: list[_Settle] = []  # settles Redis did not take, for the heartbeat
        self._outbox: list[_Settle] = []  # settles for the running flush to send next
        self._flusher: asyncio.Task[None] | None = None
        self._settling: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False  # checked by the heartbeat: a cancel can be swallowed
        self.seeder: Seeder | None = None
        """Where a key's first seed comes from: the ledger, merged with this replica's count
        (ledger_view.py); None seeds from this replica's count alone."""

    # --- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._heartbeat_loop(), name="shared-accounts")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            await cancel_and_wait([self._task], TIMEOUT_S)
        await self.settled(TIMEOUT_S)
        with contextlib.suppress(*UNREACHABLE):
            await asyncio.wait_for(self._drain(), TIMEOUT_S)
            await self._client.zrem(REPLICAS, self._replica)
        with contextlib.suppress(*UNREACHABLE):
            await self._client.aclose()

    async def settled(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) for the settles sent so far to be answered."""
        if self._settling:
            await asyncio.wait(set(self._settling), timeout=timeout_s)

    def status(self) -> SharedStatus:
        return SharedStatus("redis", self._up, self._reason)

    def _down(self, error: BaseException) -> None:
        reason = f"Redis unreachable: {type(error).__name__}: {error}"[:300]
        if self._secret:
            reason = reason.replace(self._secret, "***")
        if self._up:
            log.warning("shared accounts: %s; each replica admits against its share "
                        "(1/%d of what is left)", reason, self._replicas)
        self._up, self._reason = False, reason

    # --- the request path ------------------------------------------------------------------

    async def admit(self, caller: Caller, request: ChatRequest,
                    attempts: tuple[Endpoint, ...], body_bytes: int,
                    auth: AuthConfig) -> Reservation | None:
        """Rate limit and reserve in one round trip: 429, 402, or what `settle` must get."""
        record, balance = caller.record, caller.balance
        assert record is not None and balance is not None
        reservation = None
        if record.limit_micro is not None:
            bound = prompt_bound(body_bytes, request.message_count, request.image_count,
                                 auth.image_token_bound)
            reservation = plan_reservation(attempts, bound, request.max_tokens,
                                           request.image_count,
                                           round(auth.max_reservation_usd * MICRO))
        amount = None if reservation is None else reservation.amount
        if record.rate_limit is None and amount is None:
            balance.hold(0)
            return None
        now = self._clock()
        seeder = self.seeder

        async def seed() -> tuple[dict[int, int], int]:
            view = balance if seeder is None else await seeder(balance)
            return view.spent_by_day, view.lifetime

        verdict = await self.verdict(record, balance.spent_by_day, balance.lifetime,
                                     amount, now, seed)
        if verdict.decision is not None and not verdict.decision.allowed:
            raise rate_limited(verdict.decision, caller)
        if not verdict.admitted:
            assert record.limit_micro is not None and amount is not None
            remaining = max(0, record.limit_micro - verdict.spent)
            raise payment_required(remaining, max(0, remaining - verdict.reserved), amount)
        balance.hold(amount or 0)
        if reservation is not None:
            reservation.hold_id = verdict.hold_id
        return reservation

    async def verdict(self, record: KeyRecord, spent_by_day: dict[int, int], lifetime: int,
                      amount: int | None, now: float,
                      fresh: Callable[[], Awaitable[tuple[dict[int, int], int]]] | None = None,
                      ) -> Verdict:
        """The shared decision for one request (the degraded one when Redis does not answer);
        `spent_by_day` and `lifetime` (or what `fresh` reads, when given) seed the key's shared
        spend if nobody has yet."""
        try:
            verdict = await self._run_admit(record, amount, now, None)
            if verdict is None:
                if fresh is not None:
                    # Read only now: a seed is needed once per key and Redis lifetime.
                    spent_by_day, lifetime = await fresh()
                seed = [str(v) for pair in spent_by_day.items() for v in pair]
                verdict = await self._run_admit(record, amount, now,
                                                [*seed, "life", str(lifetime)])
        except UNREACHABLE as error:
            self._down(error)
            return self._degraded(record, spent_by_day, amount, now)
        assert verdict is not None
        return verdict

    async def _run_admit(self, record: KeyRecord, amount: int | None, now: float,
                         seed: list[str] | None) -> Verdict | None:
        rule = record.rate_limit
        limit = -1 if record.limit_micro is None or amount is None else record.limit_micro
        start, end = period(now, record.limit_reset)
        hold_id = f"{self._replica}:{next(self._serial)}"
        reply = await self._admit.run(len(ADMIT_KEYS), [
            *account_keys(record.hash), repr(now), 0 if rule is None else rule.requests,
            0 if rule is None else rule.interval_s, f"{now!r}:{hold_id}", limit, amount or 0,
            -1 if end is None else start, hold_id, repr(now + self._hold_s),
            "0" if seed is None else "1", *(seed or ())])
        status, rl_limit, rl_left, rl_reset, spent, reserved = reply
        if status == NEEDS_SEED:
            return None
        decision = None
        if rule is not None:
            reset = float(rl_reset)
            refused = status == RATE_LIMITED
            decision = Decision(not refused, int(rl_limit), int(rl_left), reset,
                                max(0.0, reset - now) if refused else 0.0)
        if limit >= 0 and status != RATE_LIMITED:
            self._last[record.hash] = (int(spent), int(reserved))
        return Verdict(decision, status not in (RATE_LIMITED, OVER_LIMIT), int(spent),
                       int(reserved), hold_id if limit >= 0 else "")

    def _degraded(self, record: KeyRecord, spent_by_day: dict[int, int], amount: int | None,
                  now: float) -> Verdict:
        """This replica's share of what is left, while Redis does not answer."""
        replicas = self._replicas
        decision = None
        rule = record.rate_limit
        if rule is not None:
            share = RateLimit(max(1, rule.requests // replicas), rule.interval)
            decision = self._share_rates.check(record.hash, share, now)
            if not decision.allowed:
                return Verdict(decision, admitted=False)
        if record.limit_micro is None or amount is None:
            return Verdict(decision, admitted=True)
        start, end = period(now, record.limit_reset)
        known = sum(v for d, v in spent_by_day.items() if end is None or d >= start)
        spent, reserved = self._last.get(record.hash, (known, 0))
        share_left = max(0, record.limit_micro - spent - reserved) // replicas
        used = self._share_used.get(record.hash, 0)
        if used + amount > share_left:
            return Verdict(decision, False, record.limit_micro - share_left + used, 0)
        self._share_used[record.hash] = used + amount
        return Verdict(decision, admitted=True)

    def settle(self, caller: Caller, reservation: Reservation | None, cost: int,
               created: float) -> None:
        """The request is over: settled here at once, and in Redis by a task of its own (a
        client gone mid-request must not cancel it)."""
        balance, record = caller.balance, caller.record
        assert balance is not None and record is not None
        balance.settle(0 if reservation is None else reservation.amount, cost, created)
        if reservation is None:
            return
        if not reservation.hold_id:  # admitted from the share while degraded
            used = self._share_used.get(record.hash)
            if used is not None:
                self._share_used[record.hash] = max(0, used - reservation.amount + cost)
            if not cost:
                return
        self._outbox.append(_Settle(record.hash, reservation.hold_id, cost, created))
        if self._flusher is None or self._flusher.done():
            # One task sends what gathered meanwhile as one batch: settles are nobody's wait.
            task = self._flusher = asyncio.get_running_loop().create_task(self._flush())
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    async def _flush(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            try:
                await self._run_settles(batch)
            except UNREACHABLE as error:
                self._down(error)
                self._pending.extend(batch)

    async def _run_settles(self, batch: list[_Settle]) -> None:
        calls = []
        for entry in batch:
            day = day_start(entry.created)
            calls.append([*account_keys(entry.key_hash)[1:], entry.hold_id, entry.cost, day,
                          day - STALE_DAYS * DAY_S])
        await self._settle.run_many(3, calls)

    # --- background ------------------------------------------------------------------------

    async def _drain(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._run_settles(batch)
            except BaseException:
                self._pending = batch + self._pending
                raise

    async def _beat(self) -> None:
        now = self._clock()
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.zadd(REPLICAS, {self._replica: now})
            pipe.zremrangebyscore(REPLICAS, "-inf", now - REPLICA_GONE_S)
            pipe.zcard(REPLICAS)
            replies = await pipe.execute()
        self._replicas = max(1, int(replies[-1]))
        await self._drain()
        if not self._up:
            log.warning("shared accounts: Redis is reachable again; the shared account rules")
        # Converged: what was spent meanwhile is in the shared spend now.
        self._up, self._reason = True, ""
        self._share_used.clear()
        self._share_rates = RateLimiter()

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            try:
                await self._beat()
            except UNREACHABLE as error:
                self._down(error)
            await asyncio.sleep(HEARTBEAT_S)
