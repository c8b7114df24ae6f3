"""Per-key request rate limits: at most `requests` in any window of `interval`, exactly.

A sliding log: the admission times of the last `requests` requests of each key. A request is
admitted when fewer than `requests` of them fall in the last `interval`; otherwise the caller
learns exactly when the oldest one leaves the window. Bursts up to the limit are fine; no
window of that length, wherever it starts, ever holds more. Memory is one float per request
allowed per window for each rate-limited key in use (a key's `requests` is capped at
MAX_REQUESTS); the Redis implementation for several replicas is a sorted set per key.
"""

from __future__ import annotations

from collections import deque

import msgspec

from crossroads.accounts.keys import RateLimit

MAX_REQUESTS = 100_000


class Decision(msgspec.Struct, frozen=True):
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # unix seconds when the oldest counted request leaves the window
    retry_after_s: float  # 0 when allowed


class RateLimiter:
    """In-process logs for every rate-limited key."""

    __slots__ = ("_logs",)

    def __init__(self) -> None:
        self._logs: dict[str, deque[float]] = {}

    def check(self, key: str, rule: RateLimit, now: float) -> Decision:
        """Admit one request now, or say when one would be admitted."""
        interval = float(rule.interval_s)
        log = self._logs.get(key)
        if log is None or log.maxlen != rule.requests:
            log = self._logs[key] = deque(log or (), maxlen=rule.requests)
        horizon = now - interval
        while log and log[0] <= horizon:
            log.popleft()
        if len(log) >= rule.requests:
            reset = log[0] + interval
            return Decision(False, rule.requests, 0, reset, retry_after_s=reset - now)
        log.append(now)
        return Decision(True, rule.requests, rule.requests - len(log), log[0] + interval, 0.0)

    def forget(self, key: str) -> None:
        self._logs.pop(key, None)
