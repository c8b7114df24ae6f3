"""Issue 18's rules, each on an injected clock: demotion from recent evidence, exploration and
its bound, the fast speed estimate, the cooldown cap, Balanced's price+speed shares."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import msgspec
import pytest

from crossroads.catalog import Catalog, endpoint_key
from crossroads.chat_request import ChatRequest
from crossroads.recent import DecayedCounts, RecentSamples
from crossroads.routing.plan import build_plan
from crossroads.routing.shares import traffic_weights
from crossroads.settings import BreakerConfig, RoutingConfig
from crossroads.stats import AttemptReport, LiveStats

from .factories import catalog, endpoint, request

OK = AttemptReport(ok=True, counts_against_uptime=True, trips_breaker=False)
FAIL = AttemptReport(ok=False, counts_against_uptime=True, trips_breaker=True)
SOFT_FAIL = AttemptReport(ok=False, counts_against_uptime=True, trips_breaker=False)
QUIET = RoutingConfig(expected_output_tokens=100, exploration_share=0.0)


def _key(cat: Catalog, tag: str) -> str:
    return next(endpoint_key(e) for e in cat.routable("test/model") if e.tag == tag)


def _first(cat: Catalog, req: ChatRequest, stats: LiveStats, now: float,
           routing: RoutingConfig = QUIET, seed: int = 1) -> str:
    return build_plan(req, cat, stats, routing, random.Random(seed), now).attempts[0].tag


def _fast(tokens_per_s: float) -> AttemptReport:
    return msgspec.structs.replace(OK, completion_tokens=100, generation_s=100 / tokens_per_s)


def test_decayed_counts_halve_per_half_life():
    counts = DecayedCounts(5.0)
    counts.add(False, 0.0)
    counts.add(True, 10.0)
    ok, failed = counts.read(10.0)
    assert ok == 1.0 and failed == pytest.approx(0.25)
    assert counts.read(15.0) == pytest.approx((0.5, 0.125))


def test_a_healed_endpoints_uptime_tier_recovers_within_seconds():
    cat = catalog(endpoint("cheap", 0.1), endpoint("dear", 1.0))
    stats = LiveStats(QUIET, BreakerConfig())
    cheap = _key(cat, "cheap")
    floor = request(model="test/model:floor")
    for i in range(100):                                   # 10 s of traffic at 10/s
        stats.record(cheap, OK, 100.0 + i / 10)
    for i in range(30):                                    # then 3 s of failures
        stats.record(cheap, SOFT_FAIL, 110.0 + i / 10)
    assert _first(cat, floor, stats, 113.0) == "dear"      # demoted (fallback only)
    back = None
    for t in range(113, 130):                              # healed: a success a second
        stats.record(cheap, OK, float(t))
        if back is None and _first(cat, floor, stats, t + 0.01) == "cheap":
            back = t
    assert back is not None and back - 113 <= 8, back
    # The endpoints API still shows the honest 30-minute uptime (it would demote for 30 min).
    shown = stats.endpoint_stats(cheap, 130.0).uptime_30m
    assert shown.samples == 147 and shown.ratio == pytest.approx(117 / 147)


def test_an_idle_demoted_endpoints_old_failures_fade():
    """No new evidence at all: the 30-minute window would demote it for 30 minutes; decayed
    evidence falls below the tiers' minimum weight within seconds."""
    cat = catalog(endpoint("cheap", 0.1), endpoint("dear", 1.0))
    stats = LiveStats(QUIET, BreakerConfig())
    cheap = _key(cat, "cheap")
    floor = request(model="test/model:floor")
    for i in range(200):
        stats.record(cheap, OK if i % 5 else SOFT_FAIL, 100.0 + i / 20)  # 80 % for 10 s
    assert _first(cat, floor, stats, 110.0) == "dear"
    assert _first(cat, floor, stats, 125.0) == "cheap"


def test_exploration_tries_a_demoted_preferred_endpoint_for_a_bounded_share():
    cat = catalog(endpoint("cheap", 0.1), endpoint("dear", 1.0))
    stats = LiveStats(QUIET, BreakerConfig())
    cheap = _key(cat, "cheap")
    for i in range(5):                                     # an outage: 5 of 5 failed
        stats.record(cheap, SOFT_FAIL, 100.0 + i / 10)
    floor = request(model="test/model:floor")
    explore = RoutingConfig(expected_output_tokens=100, exploration_share=0.05)
    rng = random.Random(7)
    firsts = Counter(build_plan(floor, cat, stats, explore, rng, 101.0).attempts[0].tag
                     for _ in range(4000))
    assert 140 < firsts["cheap"] < 260, firsts             # 5 % of 4,000 = 200
    rng = random.Random(7)
    again = Counter(build_plan(floor, cat, stats, explore, rng, 101.0).attempts[0].tag
                    for _ in range(4000))
    assert again == firsts                                 # deterministic under a seed
    assert {_first(cat, floor, stats, 101.0, seed=s) for s in range(200)} == {"dear"}


def test_a_dead_endpoint_costs_at_most_one_failed_attempt_per_cooldown():
    """10 requests a second for 60 s, each walking its plan as the relay does, every attempt
    taking 0.5 s: the dead cheapest endpoint is tried once per cooldown, never more, however
    many requests are in flight and whatever exploration draws."""
    cat = catalog(endpoint("cheap", 0.1), endpoint("dear", 1.0))
    routing = RoutingConfig(expected_output_tokens=100, exploration_share=0.5)
    stats = LiveStats(routing, BreakerConfig())
    cheap = _key(cat, "cheap")
    rng = random.Random(3)
    pending: list[tuple[float, str, float]] = []           # (ends, key, started)
    failed_at: list[float] = []
    for tick in range(600):
        now = 100.0 + tick / 10
        for ends, key, started in sorted(p for p in pending if p[0] <= now):
            pending.remove((ends, key, started))
            report = FAIL if key == cheap else OK
            stats.record(key, msgspec.structs.replace(report, started=started), ends)
            if key == cheap:
                failed_at.append(ends)
        for e in build_plan(request(model="test/model:floor"), cat, stats, routing, rng,
                            now).attempts:
            if stats.try_begin(endpoint_key(e), now):
                pending.append((now + 0.5, endpoint_key(e), now))
                break
    # The five requests sent before the first failure came back were already running there
    # (the first 0.5 s); from the first failure on, the breaker (1 s doubling to 5 s, one probe
    # at a time) lets one attempt through per cooldown, exploration or not.
    assert failed_at[:5] == pytest.approx([100.5, 100.6, 100.7, 100.8, 100.9])
    later = failed_at[4:]
    gaps = [b - a for a, b in itertools.pairwise(later)]
    assert gaps and all(g >= 1.0 for g in gaps), later
    assert len(later) <= 1 + 60 / 5 + 3, later
    # …and probed about every 5 s: cooldown, plus the attempt's 0.5 s, plus a tick or two
    # while exploration's dice say no to a demoted one.
    assert max(gaps) <= 6.0, gaps


def test_a_healed_endpoint_gets_traffic_within_10_s_of_a_60_s_outage():
    cat = catalog(endpoint("cheap", 0.1), endpoint("dear", 1.0))
    routing = RoutingConfig(expected_output_tokens=100)    # default exploration share
    stats = LiveStats(routing, BreakerConfig())
    cheap = _key(cat, "cheap")
    rng = random.Random(5)
    pending: list[tuple[float, str, float]] = []
    served_after: list[float] = []
    for tick in range(900):                                # 90 s; down from 100 to 160
        now = 100.0 + tick / 10
        for ends, key, started in sorted(p for p in pending if p[0] <= now):
            pending.remove((ends, key, started))
            dead = key == cheap and started < 160.0
            stats.record(key, msgspec.structs.replace(FAIL if dead else OK, started=started),
                         ends)
            if key == cheap and not dead:
                served_after.append(started)
        for e in build_plan(request(model="test/model:floor"), cat, stats, routing, rng,
                            now).attempts:
            if stats.try_begin(endpoint_key(e), now):
                pending.append((now + 0.3, endpoint_key(e), now))
                break
    assert served_after and served_after[0] - 160.0 <= 10.0, served_after[:3]
    # …and it is the first choice again: it serves most of what follows.
    assert len([t for t in served_after if t <= 175.0]) >= 50


def test_breaker_cooldown_doubles_to_a_short_cap():
    stats = LiveStats(QUIET, BreakerConfig())              # defaults: 1 s doubling to 5 s
    for t in range(10):
        stats.record("k", msgspec.structs.replace(FAIL, started=t * 10.0), t * 10.0)
    assert stats.health("k", 90.0).cooling_until == 95.0


def test_recent_samples_median_and_prior():
    samples = RecentSamples(5, 8.0)
    assert samples.estimate(0.0, 2000.0, 3) == 2000.0      # nothing fresh: the prior
    samples.add(400.0, 1.0)
    assert samples.estimate(1.0, 2000.0, 3) == 1200.0      # one sample does not flip it
    samples.add(400.0, 1.1)
    samples.add(400.0, 1.2)
    assert samples.estimate(1.2, 2000.0, 3) == 400.0       # three do
    assert samples.estimate(9.5, 2000.0, 3) == 2000.0      # forgotten: back to the prior


def test_nitro_leaves_a_slowdown_within_samples_and_returns_after_it():
    cat = catalog(endpoint("rocket", 1.0, nominal_throughput=2000),
                  endpoint("turbo", 1.0, nominal_throughput=1000))
    stats = LiveStats(QUIET, BreakerConfig())
    rocket, turbo = _key(cat, "rocket"), _key(cat, "turbo")
    nitro = request(model="test/model:nitro")
    for i in range(50):
        stats.record(rocket, _fast(2000), 100.0 + i / 10)
        stats.record(turbo, _fast(1000), 100.0 + i / 10)
    assert _first(cat, nitro, stats, 105.0) == "rocket"
    for i in range(3):                                     # slowed 5×: three samples
        stats.record(rocket, _fast(400), 105.1 + i / 10)
    assert _first(cat, nitro, stats, 105.4) == "turbo"     # ranked down at once
    # Unused, its slow samples are forgotten within FAST_MEMORY_S and it is measured again.
    assert _first(cat, nitro, stats, 112.0) == "turbo"
    assert _first(cat, nitro, stats, 114.5) == "rocket"
    for i in range(3):                                     # still slow: down again
        stats.record(rocket, _fast(400), 114.6 + i / 10)
    assert _first(cat, nitro, stats, 115.0) == "turbo"


def test_traffic_shares_weigh_price_and_speed_with_an_edge():
    # Same price: the twice-as-fast one gets more; a far worse one keeps a tiny, nonzero share.
    w = traffic_weights([1.0, 1.0, 9.0], [200.0, 100.0, 100.0], [0.5, 0.5, 0.5],
                        [None, None, None], 100)
    assert w[0] > w[1] > w[2] > 0
    assert w[2] / w[0] < 1e-3                              # outside the edge: shrinks fast
    # Reliability adjusts the price: failing half the time costs like twice the price.
    r = traffic_weights([1.0, 1.0], [100.0, 100.0], [0.5, 0.5], [1.0, 0.5], 100)
    assert r[1] < r[0] / 3


def test_balanced_price_speed_draws_by_share():
    cat = catalog(endpoint("slow", 1.0, nominal_throughput=50),
                  endpoint("fast", 1.0, nominal_throughput=2000))
    stats = LiveStats(QUIET, BreakerConfig())
    routing = RoutingConfig(expected_output_tokens=100, balanced="price_speed")
    rng = random.Random(11)
    firsts = Counter(build_plan(request(), cat, stats, routing, rng, 0.0).attempts[0].tag
                     for _ in range(2000))
    # Nominal speeds (TTFT 1 s each): 3 s against 1.05 s for 100 tokens, outside the edge.
    slow, fast = traffic_weights([1.0, 1.0], [50.0, 2000.0], [1.0, 1.0], [None, None], 100)
    assert fast == 1.0 and slow == pytest.approx(0.35 * 0.7**2, rel=0.01)
    assert abs(firsts["slow"] / 2000 - slow / (1 + slow)) < 0.03, firsts
    rng = random.Random(11)
    price = Counter(build_plan(request(), cat, stats, QUIET, rng, 0.0).attempts[0].tag
                    for _ in range(2000))
    assert 850 < price["fast"] < 1150                      # 1/price² alone: a coin toss


def test_a_probe_that_streams_content_closes_the_breaker_before_it_ends():
    stats = LiveStats(QUIET, BreakerConfig())
    stats.record("k", msgspec.structs.replace(FAIL, started=99.0), 100.0)   # cooling to 101
    stats.answering("k", 98.0)                            # began before it opened: ignored
    assert stats.health("k", 100.5).cooling_until == 101.0
    assert stats.try_begin("k", 101.0)                     # the probe…
    assert not stats.try_begin("k", 101.1)
    stats.answering("k", 101.0)                            # …streams its first token
    assert stats.try_begin("k", 101.2) and stats.try_begin("k", 101.2)    # closed: no gating
    # The probe's own outcome still counts: cut mid-stream, it opens the breaker again.
    stats.record("k", msgspec.structs.replace(FAIL, started=101.0), 103.0)
    assert stats.health("k", 103.0).cooling_until == 104.0


def test_a_demoted_endpoint_whose_cooldown_is_over_is_probed_by_the_next_request():
    cat = catalog(endpoint("cheap", 0.1), endpoint("dear", 1.0))
    stats = LiveStats(QUIET, BreakerConfig())              # exploration share 0
    cheap = _key(cat, "cheap")
    floor = request(model="test/model:floor")
    for i in range(4):                                     # an outage: the breaker opens…
        stats.record(cheap, msgspec.structs.replace(FAIL, started=99.0 + i), 100.0 + i)
    assert stats.health(cheap, 103.5).cooling_until == 108.0           # 1, 2, 4, 8→5 s
    assert _first(cat, floor, stats, 107.0) == "dear"      # cooling: not tried at all
    assert _first(cat, floor, stats, 108.0) == "cheap"     # over: the probe goes first
    assert stats.try_begin(cheap, 108.0)
    assert _first(cat, floor, stats, 108.1) == "dear"      # being probed: the rest go on
    # Exacto has no fallback, but its probe does: the endpoint it would have used instead
    # stands behind, so a probe that fails is not the caller's one failed attempt.
    stats.release(cheap)
    exacto = request(model="test/model:exacto")
    plans = {tuple(a.tag for a in build_plan(exacto, cat, stats, QUIET, random.Random(s),
                                             108.2).attempts) for s in range(50)}
    assert plans == {("cheap", "dear")}
    assert stats.try_begin(cheap, 108.2)                   # once probed, Exacto stays put
    plans = {tuple(a.tag for a in build_plan(exacto, cat, stats, QUIET, random.Random(s),
                                             108.3).attempts) for s in range(50)}
    assert plans == {("dear",)}
