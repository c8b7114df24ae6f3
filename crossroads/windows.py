"""Rolling time windows with bounded memory: counts, and log-scale histograms for percentiles.

Time is cut into fixed slots (30 s by default); a window is the last N slots, so a "5 minute"
window covers between 4.5 and 5 minutes of data. Only slots that saw traffic are stored, and
never more than the window's span of them, so memory is bounded by the span whatever the traffic
or uptime.

Histogram bins are powers of `RATIO`: a value is filed under ⌊log(v) / log(RATIO)⌋ and read back
as the bin's geometric middle, so any percentile is within ±RATIO^(1/2) − 1 ≈ 2.5 % of a value
that was actually observed near that rank.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

RATIO = 1.05
_LOG_RATIO = math.log(RATIO)
PERCENTILES: tuple[float, ...] = (0.50, 0.75, 0.90, 0.99)


def bin_of(value: float) -> int:
    """The histogram bin a value is filed under (shared with the ledger's rollups)."""
    return math.floor(math.log(max(value, 1e-9)) / _LOG_RATIO)


def bin_value(bin_index: int) -> float:
    """The value a bin reads back as: its geometric middle."""
    return float(RATIO ** (bin_index + 0.5))


def quantiles_of(bins: dict[int, int], quantiles: Sequence[float] = PERCENTILES
                 ) -> tuple[tuple[float, ...], int]:
    """(one value per quantile, sample count) of a merged histogram; () when empty."""
    total = sum(bins.values())
    if not total:
        return (), 0
    ordered = sorted(bins.items())
    out: list[float] = []
    cumulative = 0
    position = 0
    for q in quantiles:
        rank = max(1, math.ceil(q * total))
        while cumulative < rank:
            cumulative += ordered[position][1]
            position += 1
        out.append(bin_value(ordered[position - 1][0]))
    return tuple(out), total


class RollingCounts:
    """Successes and failures per slot, summed over the last N slots."""

    __slots__ = ("_slot_s", "_slots", "_span")

    def __init__(self, slot_s: float, span_slots: int) -> None:
        self._slot_s = slot_s
        self._span = span_slots
        self._slots: deque[list[int]] = deque()  # [slot, ok, failed]

    def add(self, ok: bool, now: float) -> None:
        self.add_many(int(ok), int(not ok), now)

    def add_many(self, ok: int, failed: int, now: float) -> None:
        slot = int(now // self._slot_s)
        if not self._slots or self._slots[-1][0] != slot:
            self._slots.append([slot, 0, 0])
            while self._slots[0][0] <= slot - self._span:
                self._slots.popleft()
        last = self._slots[-1]
        last[1] += ok
        last[2] += failed

    def totals(self, now: float, slots: int) -> tuple[int, int]:
        """(successes, failures) over the last `slots` slots, the current one included."""
        first = int(now // self._slot_s) - slots + 1
        ok = failed = 0
        for slot, good, bad in reversed(self._slots):
            if slot < first:
                break
            ok += good
            failed += bad
        return ok, failed


class RollingHistogram:
    """A sparse log-scale histogram per slot; percentiles over the last N slots."""

    __slots__ = ("_slot_s", "_slots", "_span")

    def __init__(self, slot_s: float, span_slots: int) -> None:
        self._slot_s = slot_s
        self._span = span_slots
        self._slots: deque[tuple[int, dict[int, int]]] = deque()

    def _current(self, now: float) -> dict[int, int]:
        slot = int(now // self._slot_s)
        if not self._slots or self._slots[-1][0] != slot:
            self._slots.append((slot, {}))
            while self._slots[0][0] <= slot - self._span:
                self._slots.popleft()
        return self._slots[-1][1]

    def add(self, value: float, now: float) -> None:
        bins = self._current(now)
        index = bin_of(value)
        bins[index] = bins.get(index, 0) + 1

    def add_bins(self, counts: dict[int, int], now: float) -> None:
        """Merge an already-binned histogram into the current slot (a restart's reload)."""
        bins = self._current(now)
        for index, count in counts.items():
            bins[index] = bins.get(index, 0) + count

    def percentiles(self, now: float, slots: int,
                    quantiles: Sequence[float] = PERCENTILES) -> tuple[tuple[float, ...], int]:
        """(one value per quantile, sample count) over the last `slots` slots; () when empty."""
        first = int(now // self._slot_s) - slots + 1
        merged: dict[int, int] = {}
        for slot, bins in reversed(self._slots):
            if slot < first:
                break
            for index, count in bins.items():
                merged[index] = merged.get(index, 0) + count
        return quantiles_of(merged, quantiles)
