"""Per-key rate limits: exact counts in any window, bursts, and when to retry."""

from __future__ import annotations

from crossroads.accounts.keys import RateLimit, parse_rate_limit
from crossroads.accounts.rate_limit import RateLimiter


def test_a_full_burst_then_refusals_until_the_oldest_leaves_the_window() -> None:
    limiter = RateLimiter()
    rule = RateLimit(3, "3s")
    decisions = [limiter.check("k", rule, 100.0) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    refused = decisions[3]
    assert refused.retry_after_s == 3.0 and refused.limit == 3
    assert not limiter.check("k", rule, 102.999).allowed
    assert limiter.check("k", rule, 103.0).allowed
    # Keys are independent.
    assert limiter.check("other", rule, 101.0).allowed


def test_no_window_admits_more_than_the_limit() -> None:
    limiter = RateLimiter()
    rule = RateLimit(10, "1m")
    admitted = [t / 10 for t in range(0, 3000) if limiter.check("k", rule, t / 10).allowed]
    for i, start in enumerate(admitted):
        in_window = [t for t in admitted[i:] if t < start + 60]
        assert len(in_window) <= 10
    assert len(admitted) >= 10 * (300 // 60)


def test_rate_limit_text() -> None:
    assert parse_rate_limit("100/1m") == RateLimit(100, "1m")
    assert RateLimit(5, "2h").interval_s == 7200
    for bad in ("100", "0/1m", "10/1w", "x/1m", "10/0s"):
        try:
            parse_rate_limit(bad)
        except ValueError as exc:
            assert "REQUESTS/INTERVAL" in str(exc)
        else:
            raise AssertionError(bad)
