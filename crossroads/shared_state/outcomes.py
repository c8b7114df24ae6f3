"""What replicas exchange: attempt outcomes and sticky pins, their wire form, the outbox, the merge.

A replica publishes what `LiveStats.record` learnt and merges what the others published with
`LiveStats.absorb`; likewise the conversations `StickyTable` pinned, through `StickyTable.adopt`.
Times cross the wire as unix time, because each process's loop clock has its own origin: they
are converted with the replica's own wall offset on the way out and on the way in (so replicas
on several machines need their clocks in step, as NTP keeps them — a skew of a second moves a
breaker's reopening by that second, nothing more).

Everything here is pure and synchronous: the Redis module owns the I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TypeVar

import msgspec

from crossroads.routing.sticky import StickyTable
from crossroads.stats import AttemptReport, LiveStats

# Outcomes held while Redis is away; beyond this the oldest are dropped (they would be stale).
OUTBOX_LIMIT = 10_000
_T = TypeVar("_T")


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
    # When the attempt began (unix): a success begun before a breaker opened does not close it
    # on any replica. Last, so batches of replicas that lack it still decode (and vice versa).
    started: float | None = None

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
            started=None if report.started is None else report.started + wall_offset,
        )

    def report(self, wall_offset: float = 0.0) -> AttemptReport:
        """Back to an `AttemptReport`, its start on the loop clock whose offset is given."""
        return AttemptReport(
            ok=self.ok,
            counts_against_uptime=self.counts_against_uptime,
            trips_breaker=self.trips_breaker,
            ttft_s=self.ttft_s,
            latency_s=self.latency_s,
            completion_tokens=self.completion_tokens,
            generation_s=self.generation_s,
            started=None if self.started is None else self.started - wall_offset,
        )


class Pin(msgspec.Struct, frozen=True, array_like=True):
    """A conversation pinned to the endpoint that cached its prompt; `at` in unix seconds."""

    conversation: str
    key: str
    at: float


class Batch(msgspec.Struct, frozen=True, array_like=True):
    """What one flush publishes: the replica it came from, its outcomes and pins, oldest first."""

    replica: str
    outcomes: list[Outcome]
    pins: list[Pin] = []


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


def _put_back(pending: deque[_T], items: list[_T]) -> None:
    """A flush that failed: its items go before anything queued since, as many as fit (the
    oldest are the ones dropped)."""
    room = (pending.maxlen or 0) - len(pending)
    if room > 0:
        pending.extendleft(reversed(items[max(len(items) - room, 0):]))


class Outbox:
    """Outcomes and pins waiting to be published, bounded; `take` hands over the fresh ones."""

    __slots__ = ("_pending", "_pins")

    def __init__(self, limit: int = OUTBOX_LIMIT) -> None:
        self._pending: deque[Outcome] = deque(maxlen=limit)
        self._pins: deque[Pin] = deque(maxlen=limit)

    def put(self, outcome: Outcome) -> None:
        self._pending.append(outcome)

    def pin(self, pin: Pin) -> None:
        self._pins.append(pin)

    def take(self, now_wall: float, max_age_s: float) -> tuple[list[Outcome], list[Pin]]:
        """Everything pending, less outcomes older than `max_age_s`: after an outage of Redis
        the others have moved on, and an old failure would only reopen a healed breaker.
        Pins stay good for as long as the sticky idle time, so all of them go."""
        horizon = now_wall - max_age_s
        taken = [o for o in self._pending if o.at >= horizon]
        pins = list(self._pins)
        self._pending.clear()
        self._pins.clear()
        return taken, pins

    def put_back(self, outcomes: list[Outcome], pins: list[Pin]) -> None:
        _put_back(self._pending, outcomes)
        _put_back(self._pins, pins)

    def __len__(self) -> int:
        return len(self._pending) + len(self._pins)


def merge(stats: LiveStats, outcomes: Iterable[Outcome], wall_offset: float,
          now: float) -> int:
    """Absorb another replica's outcomes into this one's live stats; returns how many."""
    merged = 0
    for outcome in outcomes:
        cooling = outcome.cooling_until - wall_offset if outcome.cooling_until else 0.0
        stats.absorb(outcome.key, outcome.report(wall_offset), outcome.at - wall_offset, cooling,
                     now)
        merged += 1
    return merged


def merge_pins(table: StickyTable, pins: Iterable[Pin], wall_offset: float, now: float) -> None:
    """Adopt another replica's pins (no later than now: a clock ahead must not make one
    outlive its idle time here)."""
    for pin in pins:
        table.adopt(pin.conversation, pin.key, min(pin.at - wall_offset, now))
