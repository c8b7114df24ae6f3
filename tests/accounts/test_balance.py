"""A key's balance: reservations never pass the limit, and limits reset on the UTC calendar."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from crossroads.accounts.balance import Balance
from crossroads.accounts.keys import KeyRecord


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def balance(limit: int | None, reset: str | None = None) -> Balance:
    return Balance(KeyRecord(hash="h" * 64, name="t", label="l", limit_micro=limit,
                             limit_reset=reset, created_at=0))  # type: ignore[arg-type]


def test_reservations_and_spend_never_pass_the_limit() -> None:
    b = balance(1000)
    now = at("2026-12-03T10:00:00")
    assert b.try_reserve(600, now)
    assert not b.try_reserve(401, now)  # 400 left, of which none may be over-promised
    assert b.try_reserve(400, now)
    assert b.available(now) == 0 and b.limit_remaining(now) == 1000
    b.settle(600, 250, now)  # the first one cost less than its worst case
    assert (b.available(now), b.limit_remaining(now)) == (350, 750)
    b.settle(400, 0, now)  # the second failed: nothing billed, all released
    assert (b.available(now), b.limit_remaining(now), b.reserved) == (750, 750, 0)
    assert b.usage(now) == (250, 250, 250, 250)


def test_random_interleavings_keep_spend_within_the_limit() -> None:
    rng = random.Random(7)
    b = balance(10_000)
    now = at("2026-12-03T10:00:00")
    open_: list[int] = []
    for _ in range(5000):
        if open_ and rng.random() < 0.5:
            reserved = open_.pop(rng.randrange(len(open_)))
            b.settle(reserved, rng.randint(0, reserved), now)
        else:
            amount = rng.randint(1, 3000)
            if b.try_reserve(amount, now):
                open_.append(amount)
        remaining = b.limit_remaining(now)
        assert remaining is not None and remaining >= 0
        assert b.period_spent(now) + b.reserved <= 10_000
    assert b.period_spent(now) <= 10_000


def test_an_unlimited_key_reserves_anything_and_still_counts_spend() -> None:
    b = balance(None)
    now = at("2026-12-03T10:00:00")
    assert b.try_reserve(10**12, now)
    assert b.available(now) is None and b.limit_remaining(now) is None
    b.settle(10**12, 77, now)
    assert b.usage(now)[0] == 77 and b.requests_in_flight == 0


def test_a_daily_limit_resets_at_utc_midnight() -> None:
    b = balance(1000, "daily")
    evening = at("2026-12-31T23:00:00")
    assert b.try_reserve(0, evening)
    b.settle(0, 900, evening)
    assert b.limit_remaining(at("2026-12-31T23:59:59")) == 100
    assert not b.try_reserve(200, at("2026-12-31T23:59:59"))
    assert b.limit_remaining(at("2027-01-01T00:00:00")) == 1000
    assert b.try_reserve(200, at("2027-01-01T00:00:00"))
    lifetime, today, week, month = b.usage(at("2027-01-01T00:00:00"))
    assert (lifetime, today, month) == (900, 0, 0)
    assert week == 900  # 2026-12-28 is the Monday of that week: the week spans the new year


def test_a_weekly_limit_resets_on_monday_and_a_monthly_one_on_the_first() -> None:
    weekly = balance(1000, "weekly")
    weekly.add_spent(700, at("2026-12-06T23:00:00"))  # a Sunday
    assert weekly.limit_remaining(at("2026-12-06T23:59:59")) == 300
    assert weekly.limit_remaining(at("2026-12-07T00:00:00")) == 1000
    monthly = balance(1000, "monthly")
    monthly.add_spent(400, at("2027-02-01T00:00:00"))
    monthly.add_spent(500, at("2027-02-28T23:59:00"))
    assert monthly.limit_remaining(at("2027-02-28T23:59:59")) == 100
    assert monthly.limit_remaining(at("2027-03-01T00:00:00")) == 1000
    assert monthly.usage(at("2027-03-15T00:00:00"))[0] == 900


def test_a_generation_that_started_before_a_reset_counts_in_the_period_it_started() -> None:
    b = balance(1000, "daily")
    start = at("2026-12-03T23:59:58")
    assert b.try_reserve(500, start)
    # Settled after midnight: the ledger files it under the day it started, so does the key.
    assert b.limit_remaining(at("2026-12-04T00:00:01")) == 1000
    b.settle(500, 300, start)
    assert b.limit_remaining(at("2026-12-04T00:00:02")) == 1000
    assert b.usage(at("2026-12-04T00:00:02"))[1] == 0
    assert b.usage(at("2026-12-03T23:59:59"))[1] == 300


def test_changing_a_limit_applies_to_what_was_already_spent() -> None:
    b = balance(1000)
    now = at("2026-12-03T10:00:00")
    b.add_spent(800, now)
    b.replace_record(KeyRecord(hash="h" * 64, name="t", label="l", limit_micro=500,
                               created_at=0))
    assert b.limit_remaining(now) == 0 and not b.try_reserve(1, now)
