"""`Accounts`: keys, balances and rate limits as the request path uses them.

Everything a request needs is in memory and costs microseconds: the key's record and balance
are found by hash in a dict, the rate limit is one arithmetic step, the reservation another.
The store is touched only off the hot path: at start (every key, and the spend the ledger
holds), by a poll once per `POLL_S` (keys created or changed by the CLI or another process, and
`last_used_at` written back), and when a key is presented that this process has never seen
(one indexed read; misses are remembered until the next change).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import msgspec

from crossroads.accounts.balance import KEEP_DAYS, Balance
from crossroads.accounts.keys import KEY_SHAPE, KeyRecord, hash_key, same_hash
from crossroads.accounts.periods import DAY_S, day_start
from crossroads.accounts.rate_limit import Decision, RateLimiter
from crossroads.accounts.store import KeyStore
from crossroads.errors import Unauthorized
from crossroads.ledger.store import KeyRollup

if TYPE_CHECKING:
    from crossroads.accounts.shared import SharedAccounts

log = logging.getLogger("crossroads.accounts")

AuthMode = Literal["keys", "open"]
POLL_S = 1.0
MAX_MISSES = 10_000


class Caller(msgspec.Struct, frozen=True):
    """Who sent a request: a key (with its balance), or nobody (open mode only)."""

    record: KeyRecord | None = None
    balance: Balance | None = None

    @property
    def key_hash(self) -> str | None:
        return None if self.record is None else self.record.hash

    @property
    def management(self) -> bool:
        return self.record is not None and self.record.management


ANONYMOUS = Caller()


def bearer_token(authorization: str | None) -> str | None:
    if not authorization or authorization[:7].lower() != "bearer ":
        return None
    token = authorization[7:].strip()
    return token or None


class Accounts:
    """In-memory key table and balances over a `KeyStore`, for one router process."""

    def __init__(self, store: KeyStore, mode: AuthMode,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.mode = mode
        self.clock = clock
        self._records: dict[str, KeyRecord] = {}
        self._balances: dict[str, Balance] = {}
        self._misses: set[str] = set()
        self._revision = 0
        self._used: dict[str, int] = {}  # since the last write-back
        self._last_used: dict[str, int] = {}
        self.limiter = RateLimiter()
        # Set when Redis is configured: rate limits and credit are then checked there.
        self.shared: SharedAccounts | None = None
        self._task: asyncio.Task[None] | None = None

    # --- loading and keeping current -----------------------------------------------------------

    def load(self, spend_by_day: list[KeyRollup], lifetime: dict[str, int]) -> None:
        """Every key from the store, with the spend the ledger holds (recent days in full,
        older ones as one lifetime sum per key)."""
        for record in self.store.all():
            self._apply(record)
        self._last_used = self.store.last_used()
        for row in spend_by_day:
            balance = self._balances.get(row.key_id)
            if balance is not None and row.cost_micro:
                day = row.bucket_start
                balance.spent_by_day[day] = balance.spent_by_day.get(day, 0) + row.cost_micro
        for key_hash, total in lifetime.items():
            balance = self._balances.get(key_hash)
            if balance is not None:
                balance.lifetime = total

    @staticmethod
    def recent_days(now: float) -> int:
        """The first day `load` needs in full."""
        return day_start(now) - KEEP_DAYS * DAY_S

    def _apply(self, record: KeyRecord) -> None:
        self._records[record.hash] = record
        balance = self._balances.get(record.hash)
        if balance is None:
            self._balances[record.hash] = Balance(record)
        else:
            balance.replace_record(record)
        if record.rate_limit is None:
            self.limiter.forget(record.hash)
        self._revision = max(self._revision, record.revision)

    def apply(self, record: KeyRecord) -> None:
        """A key this process changed itself: effective at once."""
        self._apply(record)
        self._misses.clear()

    def _absorb(self, changed: list[KeyRecord]) -> None:
        for record in changed:
            self._apply(record)
        if changed:
            self._misses.clear()

    async def refresh(self) -> None:
        """Pick up keys created or changed elsewhere; write back when keys were last used.
        The store is read and written in a thread; the tables change only on the loop."""
        self._absorb(await asyncio.to_thread(self.store.changed_since, self._revision))
        used, self._used = self._used, {}
        await asyncio.to_thread(self.store.touch, used)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                await self.refresh()
            except Exception:
                log.exception("could not refresh API keys from the store; retrying")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self.refresh()

    # --- the request path ----------------------------------------------------------------------

    def _find(self, key_hash: str) -> KeyRecord | None:
        record = self._records.get(key_hash)
        if record is not None or key_hash in self._misses:
            return record
        # A key made a moment ago by the CLI, before the next poll: one indexed read.
        record = self.store.get(key_hash)
        if record is None:
            if len(self._misses) >= MAX_MISSES:
                self._misses.clear()
            self._misses.add(key_hash)
            return None
        self._apply(record)
        return record

    def authenticate(self, authorization: str | None) -> Caller:
        """The caller behind an Authorization header, or Unauthorized (401).

        In `keys` mode a key is required. In `open` mode a missing key is still refused (so
        clients are already shaped for keys), any unknown token is accepted anonymously, and a
        known key is used, limits and all: a disabled or expired one is refused, never treated
        as anonymous."""
        token = bearer_token(authorization)
        if token is None:
            raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>'",
                               metadata={"auth_mode": self.mode})
        record = None
        if KEY_SHAPE.match(token):
            computed = hash_key(token)
            record = self._find(computed)
            if record is not None and not same_hash(record.hash, computed):
                record = None
        if record is None:
            if self.mode == "open":
                return ANONYMOUS
            raise Unauthorized("Invalid API key", metadata={"auth_mode": self.mode})
        now = self.clock()
        reason = record.usable(now)
        if reason is not None:
            raise Unauthorized(reason, metadata={"auth_mode": self.mode})
        self._used[record.hash] = self._last_used[record.hash] = int(now)
        return Caller(record, self._balances[record.hash])

    def rate_check(self, caller: Caller) -> Decision | None:
        record = caller.record
        if record is None or record.rate_limit is None or self.shared is not None:
            return None
        return self.limiter.check(record.hash, record.rate_limit, self.clock())

    # --- management ----------------------------------------------------------------------------

    def record(self, key_hash: str) -> KeyRecord | None:
        record = self._records.get(key_hash)
        return None if record is None or record.deleted else record

    def balance(self, key_hash: str) -> Balance | None:
        return self._balances.get(key_hash)

    def live_keys(self) -> list[KeyRecord]:
        return sorted((r for r in self._records.values() if not r.deleted),
                      key=lambda r: (r.created_at, r.hash))

    def balances(self) -> list[Balance]:
        return [self._balances[r.hash] for r in self.live_keys()]

    def last_used(self, key_hash: str) -> int | None:
        return self._last_used.get(key_hash)
