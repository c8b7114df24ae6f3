"""What a key has spent and holds reserved: the arithmetic that makes overdrafts impossible.

A `Balance` is one key's money, in integer micro-dollars, kept in memory by the process that
serves the key:

* `spent_by_day` — settled spend per UTC day (the last `KEEP_DAYS` days), from which the current
  day, week, month and limit period are summed. It is rebuilt at start from the ledger's per-key
  daily rollup, so it always equals what the ledger holds.
* `lifetime` — settled spend since the key was created.
* `reserved` — the worst-case cost of every request in flight.

The rule: a request is admitted only if `spent_in_period + reserved + its worst case <= limit`,
checked and reserved in one step with nothing awaited in between (`try_reserve`), so however many
requests race on one key, the limit can never be passed. When the generation ends, its real cost
(never more than what it reserved — the relay caps it) moves from `reserved` to spent.
Reservations live only in memory: after a crash they are simply gone, and what the ledger's
journal replays is exactly what was settled.
"""

from __future__ import annotations

from crossroads.accounts.keys import KeyRecord
from crossroads.accounts.periods import DAY_S, day_start, month_start, period, week_start

KEEP_DAYS = 40  # a month and a week of daily spend: every period a limit or `GET /key` reads


class Balance:
    __slots__ = ("_period_end", "_period_spent", "_period_start", "lifetime", "record",
                 "requests_in_flight", "reserved", "spent_by_day")

    def __init__(self, record: KeyRecord) -> None:
        self.record = record
        self.spent_by_day: dict[int, int] = {}
        self.lifetime = 0
        self.reserved = 0
        self.requests_in_flight = 0
        # The limit period the cached sum belongs to: recomputed when the clock leaves it.
        self._period_start = 0
        self._period_end: float | None = -1.0
        self._period_spent = 0

    # --- reading -------------------------------------------------------------------------

    def spent_since(self, start: int) -> int:
        return sum(v for day, v in self.spent_by_day.items() if day >= start)

    def _roll(self, now: float) -> None:
        end = self._period_end
        if end is not None and (end < 0 or now >= end):
            start, new_end = period(now, self.record.limit_reset)
            self._period_start, self._period_end = start, new_end
            self._period_spent = self.lifetime if new_end is None else self.spent_since(start)

    def period_spent(self, now: float) -> int:
        """Settled spend in the current limit period (since creation for a limit that never
        resets)."""
        self._roll(now)
        return self._period_spent

    def limit_remaining(self, now: float) -> int | None:
        """The limit less what was settled in this period; None for an unlimited key.

        Never negative: settled spend never passes the limit (module docstring)."""
        limit = self.record.limit_micro
        return None if limit is None else max(0, limit - self.period_spent(now))

    def available(self, now: float) -> int | None:
        """What a new request may still reserve: the remaining limit less reservations."""
        remaining = self.limit_remaining(now)
        return None if remaining is None else max(0, remaining - self.reserved)

    def usage(self, now: float) -> tuple[int, int, int, int]:
        """(lifetime, today, this week, this month) in micro-dollars, UTC."""
        return (self.lifetime, self.spent_since(day_start(now)),
                self.spent_since(week_start(now)), self.spent_since(month_start(now)))

    # --- changing --------------------------------------------------------------------------

    def try_reserve(self, amount: int, now: float) -> bool:
        """Reserve `amount` if the limit allows it; the check and the reservation are one step."""
        available = self.available(now)
        if available is not None and amount > available:
            return False
        self.reserved += amount
        self.requests_in_flight += 1
        return True

    def hold(self, amount: int) -> None:
        """Count a reservation that the shared account (accounts/shared.py) admitted."""
        self.reserved += amount
        self.requests_in_flight += 1

    def settle(self, reserved: int, cost: int, created: float) -> None:
        """A generation that reserved `reserved` ended costing `cost` (0 when nothing was billed),
        filed under the UTC day of `created`, as the ledger files it."""
        self.reserved -= reserved
        self.requests_in_flight -= 1
        if cost:
            self.add_spent(cost, created)

    def add_spent(self, cost: int, created: float) -> None:
        day = day_start(created)
        self.spent_by_day[day] = self.spent_by_day.get(day, 0) + cost
        self.lifetime += cost
        end = self._period_end
        # The cached period sum counts it if it falls in that period (a limit without reset
        # has one endless period); an unset cache (-1) is recomputed from the days on read.
        if end is None or (end >= 0 and self._period_start <= created < end):
            self._period_spent += cost
        if len(self.spent_by_day) > KEEP_DAYS + 1:
            oldest = day_start(created) - KEEP_DAYS * DAY_S
            for stale in [d for d in self.spent_by_day if d < oldest]:
                del self.spent_by_day[stale]

    def merged(self, ledger_by_day: dict[int, int], ledger_lifetime: int) -> Balance:
        """A copy for reporting: each day the larger of this process's count and the ledger's.

        With several workers or replicas a process counts only the requests it settled
        itself, while the ledger holds everyone's except its newest batch (≤ 20 ms old); the
        larger of the two is exact for a key served by one process, and otherwise at most
        one batch window short."""
        view = Balance(self.record)
        days = self.spent_by_day.keys() | ledger_by_day.keys()
        view.spent_by_day = {day: max(self.spent_by_day.get(day, 0), ledger_by_day.get(day, 0))
                             for day in days}
        view.lifetime = max(self.lifetime, ledger_lifetime)
        view.reserved = self.reserved
        view.requests_in_flight = self.requests_in_flight
        return view

    def replace_record(self, record: KeyRecord) -> None:
        """A changed key (new limit or reset): the period sum is recomputed on next read."""
        self.record = record
        self._period_end = -1.0
