"""Attempt outcomes as replicas exchange them: the value, its wire form, the outbox, the merge.

A replica publishes what `LiveStats.record` learnt and merges what the others published with
`LiveStats.absorb`. Times cross the wire as unix time, because each process's loop clock has its
own origin: `at` and `cooling_until` are converted with the replica's own wall offset on the way
out and on the way in (so replicas on several machines need their clocks in step, as NTP keeps
them — a skew of a second moves a breaker's reopening by that second, nothing more).

Everything here is pure and synchronous: the Redis module owns the I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import msgspec

from crossroads.stats import AttemptReport, LiveStats

# Outcomes held while Redis is away; beyond this the oldest are dropped (they would be stale).
OUTBOX_LIMIT = 10_000


class Outcome(msgspec.Struct, frozen=True, array_like=True):
    """One attempt as another replica needs it; times are unix seconds."""

    key: str  # endpoint_key
    at: float
    ok: bool
    counts_against_uptime: bool
    trips_breaker: bool
    cooling_until: float  # 0.0 when the attempt left the breaker closed
    ttft_s: float | None = None
    latency_s: float | None = None
    completion_tokens: int = 0
    generation_s: float | None = None

    @classmethod
    def of(cls, key: str, report: AttemptReport, at: float, cooling_until: float,
           wall_offset: float) -> Outcome:
        """From `LiveStats.record`'s view (loop clock) to the wire's (unix time)."""
        return cls(
            key=key,
            at=at + wall_offset,
            ok=report.ok,
            counts_against_uptime=report.counts_against_uptime,
            trips_breaker=report.trips_breaker,
            cooling_until=cooling_until + wall_offset if cooling_until else 0.0,
            ttft_s=report.ttft_s,
            latency_s=report.latency_s,
            completion_tokens=report.completion_tokens,
            generation_s=report.generation_s,
        )

    def report(self) -> AttemptReport:
        return AttemptReport(
            ok=self.ok,
            counts_against_uptime=self.counts_against_uptime,
            trips_breaker=self.trips_breaker,
            ttft_s=self.ttft_s,
            latency_s=self.latency_s,
            completion_tokens=self.completion_tokens,
            generation_s=self.generation_s,
        )


class Batch(msgspec.Struct, frozen=True, array_like=True):
    """What one flush publishes: the replica it came from and its outcomes, oldest first."""

    replica: str
    outcomes: list[Outcome]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Batch)


def pack(batch: Batch) -> bytes:
    return _ENCODER.encode(batch)


def unpack(data: bytes) -> Batch | None:
    """None for anything that is not a batch (another version, another writer): skipped."""
    try:
        return _DECODER.decode(data)
    except msgspec.DecodeError:
        return None


class Outbox:
    """Outcomes waiting to be published, bounded; `take` hands over the fresh ones."""

    __slots__ = ("_pending",)

    def __init__(self, limit: int = OUTBOX_LIMIT) -> None:
        self._pending: deque[Outcome] = deque(maxlen=limit)

    def put(self, outcome: Outcome) -> None:
        self._pending.append(outcome)

    def take(self, now_wall: float, max_age_s: float) -> list[Outcome]:
        """Everything pending, less what is older than `max_age_s`: after an outage of Redis
        the others have moved on, and an old failure would only reopen a healed breaker."""
        horizon = now_wall - max_age_s
        taken = [o for o in self._pending if o.at >= horizon]
        self._pending.clear()
        return taken

    def put_back(self, outcomes: list[Outcome]) -> None:
        """A flush that failed: its outcomes go before anything recorded since, as many as
        fit (the oldest are the ones dropped)."""
        room = (self._pending.maxlen or 0) - len(self._pending)
        if room > 0:
            self._pending.extendleft(reversed(outcomes[max(len(outcomes) - room, 0):]))

    def __len__(self) -> int:
        return len(self._pending)


def merge(stats: LiveStats, outcomes: Iterable[Outcome], wall_offset: float,
          now: float) -> int:
    """Absorb another replica's outcomes into this one's live stats; returns how many."""
    merged = 0
    for outcome in outcomes:
        cooling = outcome.cooling_until - wall_offset if outcome.cooling_until else 0.0
        stats.absorb(outcome.key, outcome.report(), outcome.at - wall_offset, cooling, now)
        merged += 1
    return merged
