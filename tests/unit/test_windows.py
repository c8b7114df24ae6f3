from __future__ import annotations

import math
import random

import pytest

from crossroads.settings import BreakerConfig, RoutingConfig
from crossroads.stats import AttemptReport, LiveStats
from crossroads.windows import RollingCounts, RollingHistogram, bin_of


def exact(values, q):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def test_histogram_percentiles_within_two_and_a_half_percent():
    rng = random.Random(3)
    values = [rng.lognormvariate(-3.0, 0.5) for _ in range(20_000)]
    h = RollingHistogram(30.0, 60)
    for i, v in enumerate(values):
        h.add(v, i * 0.01)  # 200 s of traffic: seven 30-second slots
    got, samples = h.percentiles(200.0, 60)
    assert samples == len(values)
    for q, value in zip((0.5, 0.75, 0.9, 0.99), got, strict=True):
        assert value == pytest.approx(exact(values, q), rel=0.03)


def test_windows_forget_old_slots_and_stay_bounded():
    h = RollingHistogram(30.0, 10)
    c = RollingCounts(30.0, 10)
    for second in range(0, 24 * 3600, 5):  # a day of traffic
        h.add(1.0 + second % 7, float(second))
        c.add(second % 10 != 0, float(second))
    assert len(h._slots) <= 10 and len(c._slots) <= 10
    now = 24 * 3600.0
    assert c.totals(now, 10)[0] + c.totals(now, 10)[1] <= 10 * 6
    assert h.percentiles(now + 3600, 10) == ((), 0)  # an hour of silence: nothing left


def test_uptime_windows_and_speed_percentiles_from_reports():
    stats = LiveStats(RoutingConfig(), BreakerConfig())
    ok = AttemptReport(ok=True, counts_against_uptime=True, trips_breaker=False, ttft_s=0.2,
                       latency_s=1.0, completion_tokens=100, generation_s=0.8)
    bad = AttemptReport(ok=False, counts_against_uptime=True, trips_breaker=False)
    for i in range(80):
        stats.record("k", ok, 1000.0 + i)
    for i in range(20):
        stats.record("k", bad, 1080.0 + i)
    view = stats.endpoint_stats("k", 1100.0)
    assert view.uptime_5m.ratio == pytest.approx(0.8) and view.uptime_5m.samples == 100
    assert view.uptime_1d.samples == 100
    assert view.throughput is not None and view.throughput.p50 == pytest.approx(125, rel=0.03)
    assert view.ttft_s is not None and view.ttft_s.p99 == pytest.approx(0.2, rel=0.03)
    # Ten minutes later the 5-minute window is empty, the 30-minute one still counts.
    later = stats.endpoint_stats("k", 1700.0)
    assert later.uptime_5m.ratio is None and later.uptime_30m.ratio == pytest.approx(0.8)
    assert later.last_outage_at is not None


def test_seeded_history_counts_over_30_minutes_but_not_5_and_ages_out() -> None:
    stats = LiveStats(RoutingConfig(), BreakerConfig())
    now = 10_000.0
    latency_bins = {bin_of(0.5): 7, bin_of(2.0): 3}
    stats.seed("m::a", 8, 2, {"latency": latency_bins, "ttft": {bin_of(0.2): 10}}, now)
    seen = stats.endpoint_stats("m::a", now)
    assert seen.uptime_30m.ratio == 0.8 and seen.uptime_30m.samples == 10
    assert seen.uptime_5m.samples == 0            # what this process sees, only
    assert seen.uptime_1d.samples == 10
    assert seen.latency_s is not None and abs(seen.latency_s.p50 - 0.5) / 0.5 < 0.025
    assert seen.latency_s.samples == 10
    later = stats.endpoint_stats("m::a", now + 30 * 60)
    assert later.uptime_30m.samples == 0 and later.latency_s is None
