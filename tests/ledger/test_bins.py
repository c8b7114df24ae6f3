"""The ledger's compact histograms agree with the live windows' dict histograms."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from crossroads.ledger.bins import Bins, merge, merge_blobs
from crossroads.windows import bin_of, quantiles_of

samples = st.lists(st.floats(min_value=1e-3, max_value=1e5), max_size=200)


def _bins(values: list[float]) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in values:
        out[bin_of(v)] = out.get(bin_of(v), 0) + 1
    return out


@given(samples, samples)
def test_merge_and_quantiles_match_the_live_histograms(a: list[float], b: list[float]) -> None:
    left, right = Bins.of(_bins(a)), Bins.of(_bins(b))
    merged = merge((left, right))
    assert merged.as_dict() == _bins(a + b)
    quantiles = (0.5, 0.9, 0.99)
    assert merged.quantiles(quantiles) == quantiles_of(_bins(a + b), quantiles)
    blob = merge_blobs(left.encode(), right.encode())
    assert blob is not None and Bins.decode(blob).as_dict() == _bins(a + b)


def test_encoding_round_trips_and_sql_null_is_no_histogram() -> None:
    rng = random.Random(3)
    bins = Bins.of(_bins([rng.lognormvariate(0, 1) for _ in range(500)]))
    assert Bins.decode(bins.encode()).as_dict() == bins.as_dict()
    assert merge_blobs(None, bins.encode()) == bins.encode()
    assert merge_blobs(bins.encode(), None) == bins.encode()
    assert merge(()).quantiles((0.5,)) == ((), 0)
    assert Bins.of({}).total == 0
