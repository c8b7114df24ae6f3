"""UTC accounting periods: the day, the week (from Monday) and the month a moment falls in.

A key's credit limit resets at the start of each period of its `limit_reset` (OpenRouter's
rule: midnight UTC; weeks start on Monday; months on the 1st). All arithmetic is on unix seconds
so callers can inject any clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Reset = Literal["daily", "weekly", "monthly"]
RESETS: tuple[Reset, ...] = ("daily", "weekly", "monthly")
DAY_S = 86400


def day_start(t: float) -> int:
    s = int(t // 1)
    return s - s % DAY_S


def week_start(t: float) -> int:
    day = day_start(t)
    # 1970-01-01 was a Thursday: days since epoch + 3 is days since a Monday.
    return day - ((day // DAY_S + 3) % 7) * DAY_S


def month_start(t: float) -> int:
    moment = datetime.fromtimestamp(day_start(t), UTC)
    return int(moment.replace(day=1).timestamp())


def _next_month(start: int) -> int:
    moment = datetime.fromtimestamp(start, UTC)
    if moment.month == 12:
        return int(moment.replace(year=moment.year + 1, month=1).timestamp())
    return int(moment.replace(month=moment.month + 1).timestamp())


def period(t: float, reset: Reset | None) -> tuple[int, int | None]:
    """(start, end) of the period `t` falls in; a limit without reset is one endless period."""
    if reset is None:
        return 0, None
    if reset == "daily":
        start = day_start(t)
        return start, start + DAY_S
    if reset == "weekly":
        start = week_start(t)
        return start, start + 7 * DAY_S
    start = month_start(t)
    return start, _next_month(start)
