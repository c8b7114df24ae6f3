"""UTC periods: the day, week (from Monday) and month a moment falls in, at their edges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crossroads.accounts.periods import day_start, month_start, period, week_start


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(t: int | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()[:19]


@pytest.mark.parametrize(("moment", "day", "week", "month"), [
    # A Wednesday in the middle of a month.
    ("2026-12-02T13:45:00", "2026-12-02", "2026-11-30", "2026-12-01"),
    # The first second of a Monday that is also the 1st.
    ("2027-02-01T00:00:00", "2027-02-01", "2027-02-01", "2027-02-01"),
    # The last second of a Sunday, a month end and a year end.
    ("2028-12-31T23:59:59", "2028-12-31", "2028-12-25", "2028-12-01"),
    # Leap day (2028 is a leap year); its week began in February's last week.
    ("2028-02-29T12:00:00", "2028-02-29", "2028-02-28", "2028-02-01"),
    # The epoch was a Thursday: its week began on Monday 1969-12-29.
    ("1970-01-01T00:00:00", "1970-01-01", "1969-12-29", "1970-01-01"),
])
def test_day_week_and_month_starts(moment: str, day: str, week: str, month: str) -> None:
    t = at(moment)
    assert iso(day_start(t)) == f"{day}T00:00:00"
    assert iso(week_start(t)) == f"{week}T00:00:00"
    assert iso(month_start(t)) == f"{month}T00:00:00"
    assert datetime.fromtimestamp(week_start(t), UTC).weekday() == 0


@pytest.mark.parametrize(("reset", "moment", "start", "end"), [
    ("daily", "2026-12-31T23:59:59", "2026-12-31T00:00:00", "2027-01-01T00:00:00"),
    ("daily", "2027-01-01T00:00:00", "2027-01-01T00:00:00", "2027-01-02T00:00:00"),
    ("weekly", "2026-12-06T23:59:59", "2026-11-30T00:00:00", "2026-12-07T00:00:00"),
    ("weekly", "2026-12-07T00:00:00", "2026-12-07T00:00:00", "2026-12-14T00:00:00"),
    ("monthly", "2026-12-31T23:59:59", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
    ("monthly", "2027-01-31T10:00:00", "2027-01-01T00:00:00", "2027-02-01T00:00:00"),
    ("monthly", "2027-02-28T23:59:59", "2027-02-01T00:00:00", "2027-03-01T00:00:00"),
    ("monthly", "2028-02-29T23:59:59", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),
    ("monthly", "2026-04-30T12:00:00", "2026-04-01T00:00:00", "2026-05-01T00:00:00"),
])
def test_limit_periods_end_where_the_next_begins(reset, moment, start, end) -> None:
    t = at(moment)
    began, ends = period(t, reset)
    assert (iso(began), iso(ends)) == (start, end)
    assert ends is not None and period(ends, reset)[0] == ends


def test_a_limit_without_reset_is_one_endless_period() -> None:
    assert period(at("2030-06-15T00:00:00"), None) == (0, None)
