"""A log-scale histogram as one compact value: the ledger stores one per (bucket, endpoint,
metric), so a 72-hour chart reads a few thousand rows, not the hundred thousand that a row per
bin would take (bench/analytics_bench.py measured 400 ms for those).

`Bins` holds the counts of a contiguous run of bins (`windows.bin_of` indices) starting at
`first`. Encoded it is a little-endian int32 `first` followed by uint32 counts; bins that are
zero inside the run are kept, which costs 4 bytes each and makes merging and quantiles array
work (C speed) rather than dict work. Merging is addition, so any range's histogram is the sum
of its buckets' and its quantiles are exact to the bin width (±2.5 %).
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate

from crossroads.windows import bin_value

_HEADER = struct.Struct("<i")
_LITTLE = sys.byteorder == "little"


class Bins:
    """Counts per bin for bins `first`, `first + 1`, …; immutable by convention."""

    __slots__ = ("counts", "first")

    def __init__(self, first: int, counts: array[int]) -> None:
        self.first = first
        self.counts = counts

    @classmethod
    def of(cls, counts: Mapping[int, int]) -> Bins:
        """From a sparse {bin: count} (what the writer collects)."""
        if not counts:
            return cls(0, array("I"))
        first, last = min(counts), max(counts)
        dense = array("I", bytes(4 * (last - first + 1)))
        for index, count in counts.items():
            dense[index - first] += count
        return cls(first, dense)

    @classmethod
    def decode(cls, blob: bytes) -> Bins:
        (first,) = _HEADER.unpack_from(blob)
        counts = array("I")
        counts.frombytes(blob[_HEADER.size:])
        if not _LITTLE:
            counts.byteswap()
        return cls(first, counts)

    def encode(self) -> bytes:
        counts = self.counts
        if not _LITTLE:
            counts = array("I", counts)
            counts.byteswap()
        return _HEADER.pack(self.first) + counts.tobytes()

    @property
    def total(self) -> int:
        return sum(self.counts)

    def as_dict(self) -> dict[int, int]:
        return {self.first + i: c for i, c in enumerate(self.counts) if c}

    def quantiles(self, quantiles: Sequence[float]) -> tuple[tuple[float, ...], int]:
        """(one value per quantile, sample count); () when empty. Same ranks as
        `windows.quantiles_of`: the value of the bin holding the ⌈q·n⌉-th sample."""
        cumulative = list(accumulate(self.counts))
        total = cumulative[-1] if cumulative else 0
        if not total:
            return (), 0
        out = []
        for q in quantiles:
            rank = max(1, math.ceil(q * total))
            out.append(bin_value(self.first + bisect_left(cumulative, rank)))
        return tuple(out), total


def merge(parts: Iterable[Bins]) -> Bins:
    """The sum of several histograms: padded to one run of bins, then added column-wise."""
    runs = [p for p in parts if len(p.counts)]
    if not runs:
        return Bins(0, array("I"))
    if len(runs) == 1:
        return runs[0]
    first = min(p.first for p in runs)
    width = max(p.first + len(p.counts) for p in runs) - first
    padded = []
    for p in runs:
        left = p.first - first
        right = width - left - len(p.counts)
        padded.append(array("I", bytes(4 * left)) + p.counts + array("I", bytes(4 * right)))
    return Bins(first, array("I", map(sum, zip(*padded, strict=True))))


def merge_blobs(stored: bytes | None, added: bytes | None) -> bytes | None:
    """SQL function for the rollup UPSERT: the stored histogram plus the batch's."""
    if stored is None:
        return added
    if added is None:
        return stored
    return merge((Bins.decode(stored), Bins.decode(added))).encode()
