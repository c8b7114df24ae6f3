"""Live health and speed of every endpoint, measured on real traffic, held in memory.

Per endpoint, all bounded in memory however long the router runs:

* a circuit breaker: a provider-caused failure opens it for a cooldown that doubles with each
  consecutive failure (base → max), or exactly the upstream's Retry-After when it gave one. Once
  the cooldown has passed, exactly one request at a time may probe the endpoint; a success closes
  the breaker. This is what keeps a failing endpoint from being hammered.
* the outage window (30 s by default): recent outcomes, for Balanced's outage demotion, and the
  time of the last outage;
* uptime over 5 minutes, 30 minutes and 1 day: successes ÷ (successes + provider-caused
  failures); caller errors (400, 413) and rate limits (429) never count;
* percentiles (p50/p75/p90/p99) of time to first token, latency (the attempt's full round trip)
  and throughput (completion tokens ÷ generation time, streamed answers only) over 5 and 30
  minutes, from rolling log-scale histograms (`windows.py`, ±2.5 %);
* recent evidence (`recent.py`), what demotion and the speed sorts decide on: successes and
  failures decayed with a short half-life (`routing.health_half_life_s`), and the median of
  the last few throughput and TTFT samples, with the 5-minute median as prior. The windows
  above are for display: a healed endpoint must not wait 30 minutes for its failures to age
  out, nor a slowed one for the 5-minute median to move (issue 18).

Routing reads `health()`, which never blocks: breaker and outage fields are always current; the
percentile and uptime part is recomputed at most once per `SNAPSHOT_S` per endpoint, because
routing asks on every request and a second-old percentile routes just as well.

Reads are cheap because nothing is rebuilt that did not change: each endpoint keeps its last
`Health` until a report, a probe, its outage window or its snapshot moves, and `health_set()`
keeps the health of a fixed tuple of endpoints (a model's routable endpoints, asked on every
request) current by re-reading only the endpoints that changed since it was last asked.

With several replicas (`shared_state/`), every `record` is also handed to a listener that
publishes it, and what the other replicas saw comes back through `absorb`: the same windows and
breaker, learnt second-hand, so routing still reads only this process's memory.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Protocol

from crossroads.endpoint_health import (
    NEVER_SEEN,
    AttemptReport,
    EndpointStats,
    Health,
    HealthSet,
    Percentiles,
    Speed,
    Uptime,
)
from crossroads.recent import DecayedCounts, RecentSamples
from crossroads.settings import BreakerConfig, RoutingConfig
from crossroads.windows import RollingCounts, RollingHistogram

__all__ = ["AttemptReport", "EndpointStats", "Health", "HealthSet", "LiveStats", "OutcomeListener",
           "Percentiles", "Speed", "StatsView", "Uptime", "read_health"]

SLOT_S = 30.0
SLOTS_5M = 10
SLOTS_30M = 60
DAY_SLOT_S = 300.0
DAY_SLOTS = 288
SNAPSHOT_S = 1.0
MIN_SPEED_SAMPLES = 3
# The fast speed estimate: the median of the last FAST_SAMPLES samples younger than
# FAST_MEMORY_S, the 5-minute median joining them while fewer than FAST_ENOUGH are fresh. Three
# slow samples out of five move it (a slowdown is seen within a second or two of traffic), and
# forgetting after 8 s re-measures an endpoint ranked down for a slowdown: its estimate falls
# back to the prior, it is tried again, and regains its rank within 10 s of recovering.
FAST_SAMPLES = 5
FAST_ENOUGH = 3
FAST_MEMORY_S = 8.0
# Health sets kept current at once; routing asks one per model, so this only bounds misuse.
MAX_HEALTH_SETS = 4096


class StatsView(Protocol):
    """What routing may know about an endpoint, keyed by `endpoint_key`."""

    def health(self, key: str, now: float) -> Health: ...


def read_health(view: StatsView, keys: tuple[str, ...], now: float,
                stable: bool = False) -> HealthSet:
    """`view.health(key, now)` for every key, as a set. `stable`: this same tuple is asked again
    and again (a model's routable endpoints), so live stats may keep its set current."""
    if stable and isinstance(view, LiveStats):
        return view.health_set(keys, now)
    health = view.health
    return HealthSet.of(tuple([health(key, now) for key in keys]))


class OutcomeListener(Protocol):
    """Told of every attempt this process records (the shared state publishes them)."""

    def recorded(self, key: str, report: AttemptReport, at: float,
                 cooling_until: float) -> None: ...


BreakerListener = Callable[[str, bool, float, int, bool], None]
"""Told when an endpoint's breaker opens (again) or closes: (key, opened, cooldown_s,
consecutive failures, local) — local is False for what another replica reported."""


class _EndpointState:
    __slots__ = (
        "changed_at",
        "consecutive_failures",
        "cooling_until",
        "day",
        "decayed",
        "fast_throughput",
        "fast_ttft",
        "fine",
        "health",
        "last_outage_at",
        "latency",
        "opened_at",
        "probing",
        "recent",
        "recent_failures",
        "retry_until",
        "speed",
        "speed_until",
        "throughput",
        "ttft",
    )

    def __init__(self, half_life_s: float) -> None:
        self.decayed = DecayedCounts(half_life_s)
        self.fast_throughput = RecentSamples(FAST_SAMPLES, FAST_MEMORY_S)
        self.fast_ttft = RecentSamples(FAST_SAMPLES, FAST_MEMORY_S)
        self.consecutive_failures = 0
        self.cooling_until = 0.0
        self.opened_at = -math.inf  # when the breaker last opened: older successes keep it open
        # When it last opened or closed: an attempt that began before then says nothing about
        # the breaker's state now (it changes uptime and speed only).
        self.changed_at = -math.inf
        self.retry_until = 0.0  # a provider's Retry-After: no success cuts it short
        self.probing = False
        self.recent: deque[tuple[float, bool]] = deque()
        self.recent_failures = 0
        self.last_outage_at: float | None = None
        self.fine = RollingCounts(SLOT_S, SLOTS_30M)
        self.day = RollingCounts(DAY_SLOT_S, DAY_SLOTS)
        self.ttft = RollingHistogram(SLOT_S, SLOTS_30M)
        self.latency = RollingHistogram(SLOT_S, SLOTS_30M)
        self.throughput = RollingHistogram(SLOT_S, SLOTS_30M)
        self.speed = Speed()
        self.speed_until = 0.0
        self.health: Health | None = None  # the last Health read; None once anything moved


class _Watched:
    """One health set kept current: per member, its health, what `HealthSet` summarises, and
    when time alone will change it (its oldest outage-window outcome ages out, or its snapshot
    is due). Members whose state changed are listed in `stale` by `LiveStats._touch`."""

    __slots__ = ("coolings", "failing", "failures", "healths", "keys", "oldest", "ratios",
                 "snapshot", "snapshot_due", "speed_until", "stale", "trims_at", "weights")

    def __init__(self, keys: tuple[str, ...]) -> None:
        n = len(keys)
        self.keys = keys
        self.stale: set[int] = set(range(n))
        self.healths: list[Health] = [NEVER_SEEN] * n
        self.coolings = [0.0] * n
        self.failures = [0] * n
        self.failing: set[int] = set()
        self.ratios = [math.inf] * n  # inf: no uptime yet
        self.weights = [0.0] * n
        self.trims_at = [math.inf] * n  # time of the oldest outcome in the outage window
        self.speed_until = [math.inf] * n
        self.oldest = math.inf
        self.snapshot_due = math.inf
        self.snapshot = HealthSet.of(())


def _percentiles(histogram: RollingHistogram, now: float, slots: int) -> Percentiles | None:
    values, samples = histogram.percentiles(now, slots)
    if samples < MIN_SPEED_SAMPLES:
        return None
    p50, p75, p90, p99 = values
    return Percentiles(p50=p50, p75=p75, p90=p90, p99=p99, samples=samples)


def _recent_first(histogram: RollingHistogram, now: float) -> Percentiles | None:
    return _percentiles(histogram, now, SLOTS_5M) or _percentiles(histogram, now, SLOTS_30M)


def _uptime(counts: RollingCounts, now: float, slots: int) -> Uptime:
    ok, failed = counts.totals(now, slots)
    return Uptime(ok / (ok + failed) if ok + failed else None, ok + failed)


class LiveStats:
    """The in-memory implementation of `StatsView`, fed by the relay."""

    def __init__(self, routing: RoutingConfig, breaker: BreakerConfig) -> None:
        self._window = routing.outage_window_s
        self._half_life = routing.health_half_life_s
        self._outage_failures = routing.outage_min_failures
        self._outage_ratio = routing.outage_failure_ratio
        self._breaker = breaker
        self._states: dict[str, _EndpointState] = {}
        self._sets: dict[tuple[str, ...], _Watched] = {}
        self._watchers: dict[str, list[tuple[_Watched, int]]] = {}
        self._listener: OutcomeListener | None = None
        self._on_breaker: BreakerListener | None = None

    def listen(self, listener: OutcomeListener | None) -> None:
        self._listener = listener

    def on_breaker(self, listener: BreakerListener | None) -> None:
        self._on_breaker = listener

    def _state(self, key: str) -> _EndpointState:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _EndpointState(self._half_life)
            self._touch(key)
        return state

    def _touch(self, key: str) -> None:
        """Something `health(key)` shows may have changed: the sets holding it re-read it."""
        watchers = self._watchers.get(key)
        if watchers:
            for watched, index in watchers:
                watched.stale.add(index)

    def _changed(self, key: str, state: _EndpointState) -> None:
        state.health = None
        self._touch(key)

    def _trim(self, state: _EndpointState, now: float) -> bool:
        """Forget outcomes older than the outage window; True when any was forgotten."""
        horizon = now - self._window
        trimmed = False
        while state.recent and state.recent[0][0] < horizon:
            trimmed = True
            if not state.recent.popleft()[1]:
                state.recent_failures -= 1
        return trimmed

    def _speed(self, state: _EndpointState, now: float) -> Speed:
        if now >= state.speed_until:
            state.speed = Speed(
                throughput=_recent_first(state.throughput, now),
                ttft_s=_recent_first(state.ttft, now),
                latency_s=_recent_first(state.latency, now),
                uptime_5m=_uptime(state.fine, now, SLOTS_5M),
                uptime_30m=_uptime(state.fine, now, SLOTS_30M),
                uptime_1d=_uptime(state.day, now, DAY_SLOTS),
            )
            state.speed_until = now + SNAPSHOT_S
        return state.speed

    def health(self, key: str, now: float) -> Health:
        state = self._states.get(key)
        if state is None:
            return NEVER_SEEN
        moved = self._trim(state, now)
        if now >= state.speed_until:
            self._speed(state, now)
            moved = True
        if moved:
            self._changed(key, state)
        health = state.health
        if health is None:
            speed = state.speed
            ok, failed = state.decayed.read(now)
            health = state.health = Health(
                cooling_until=state.cooling_until,
                probing=state.probing,
                recent_attempts=len(state.recent),
                recent_failures=state.recent_failures,
                speed=speed,
                decayed_ok=ok,
                decayed_failed=failed,
                fast_throughput=state.fast_throughput.estimate(
                    now, speed.throughput.p50 if speed.throughput else None, FAST_ENOUGH),
                fast_ttft_s=state.fast_ttft.estimate(
                    now, speed.ttft_s.p50 if speed.ttft_s else None, FAST_ENOUGH),
                breaker_open=state.consecutive_failures > 0,
            )
        return health

    def health_set(self, keys: tuple[str, ...], now: float) -> HealthSet:
        """`health(key, now)` for every key, as `read_health` gives it, read in O(changes): the
        set is kept between calls and only members that changed, or that time has moved (their
        outage window or snapshot), are read again."""
        watched = self._sets.get(keys)
        if watched is None:
            watched = self._watch(keys)
        if watched.stale or now >= watched.snapshot_due or watched.oldest < now - self._window:
            self._refresh(watched, now)
        return watched.snapshot

    def _watch(self, keys: tuple[str, ...]) -> _Watched:
        if len(self._sets) >= MAX_HEALTH_SETS:
            self._sets.clear()
            self._watchers.clear()
        watched = self._sets[keys] = _Watched(keys)
        for index, key in enumerate(keys):
            self._watchers.setdefault(key, []).append((watched, index))
        return watched

    def _refresh(self, watched: _Watched, now: float) -> None:
        horizon = now - self._window
        due = watched.stale
        watched.stale = set()
        if watched.oldest < horizon:
            due.update(i for i, at in enumerate(watched.trims_at) if at < horizon)
        if now >= watched.snapshot_due:
            due.update(i for i, at in enumerate(watched.speed_until) if now >= at)
        keys, states = watched.keys, self._states
        read: set[int] = set()
        while due:
            read |= due
            for index in due:
                key = keys[index]
                health = watched.healths[index] = self.health(key, now)
                ratio = health.recent_uptime
                watched.coolings[index] = health.cooling_until
                watched.failures[index] = health.recent_failures
                if health.recent_failures:
                    watched.failing.add(index)
                else:
                    watched.failing.discard(index)
                watched.ratios[index] = math.inf if ratio is None else ratio
                watched.weights[index] = health.recent_weight
                state = states.get(key)
                watched.trims_at[index] = (
                    state.recent[0][0] if state is not None and state.recent else math.inf)
                watched.speed_until[index] = math.inf if state is None else state.speed_until
            # Reading a key touches every member holding it: a key listed twice is read again.
            due = watched.stale - read
            watched.stale = set()
        if not keys:
            return
        watched.oldest = min(watched.trims_at)
        watched.snapshot_due = min(watched.speed_until)
        lowest = min(watched.ratios)
        watched.snapshot = HealthSet(
            tuple(watched.healths),
            max(watched.coolings),
            max(watched.failures),
            tuple(sorted(watched.failing)),
            None if lowest == math.inf else lowest,
            max(watched.weights),
        )

    def endpoint_stats(self, key: str, now: float) -> EndpointStats:
        state = self._state(key)
        return EndpointStats(
            throughput=_percentiles(state.throughput, now, SLOTS_30M),
            ttft_s=_percentiles(state.ttft, now, SLOTS_30M),
            latency_s=_percentiles(state.latency, now, SLOTS_30M),
            uptime_5m=_uptime(state.fine, now, SLOTS_5M),
            uptime_30m=_uptime(state.fine, now, SLOTS_30M),
            uptime_1d=_uptime(state.day, now, DAY_SLOTS),
            last_outage_at=state.last_outage_at,
        )

    def try_begin(self, key: str, now: float) -> bool:
        """May an attempt start now? False while cooling, or while another request probes."""
        state = self._state(key)
        if now < state.cooling_until:
            return False
        if state.consecutive_failures:
            if state.probing:
                return False
            state.probing = True
            self._changed(key, state)
        return True

    def _count(self, state: _EndpointState, ok: bool, at: float, now: float) -> None:
        """One outcome into the outage window (at `at`) and the uptime windows (at `now`)."""
        state.fine.add(ok, now)
        state.day.add(ok, now)
        state.decayed.add(ok, now)
        if at < now - self._window:
            return
        if state.recent and at < state.recent[-1][0]:
            at = state.recent[-1][0]  # kept in order, so trimming from the left stays right
        state.recent.append((at, ok))
        if not ok:
            state.recent_failures += 1
            if (state.recent_failures >= self._outage_failures
                    and state.recent_failures >= self._outage_ratio * len(state.recent)):
                state.last_outage_at = at

    def record(self, key: str, report: AttemptReport, now: float) -> None:
        state = self._state(key)
        state.probing = False
        self._trim(state, now)
        if report.counts_against_uptime or report.ok:
            self._count(state, report.ok, now, now)
        # Outcomes in the order their attempts began: a stream that was already running when
        # the breaker opened neither closes it by finishing well nor doubles its cooldown by
        # failing too (issue 18); only a Retry-After always counts.
        current = (report.started if report.started is not None else now) >= state.changed_at
        if report.ok:
            if current and state.consecutive_failures:
                if self._on_breaker is not None:
                    self._on_breaker(key, False, 0.0, 0, True)
                state.consecutive_failures = 0
                state.changed_at = now
                state.cooling_until = state.retry_until if state.retry_until > now else 0.0
            self._learn_speed(state, report, now)
        elif report.trips_breaker and (current or report.retry_after_s is not None):
            if current:
                state.consecutive_failures += 1
            if report.retry_after_s is not None:
                # The provider said exactly when to come back; believe it (within reason).
                cooldown = min(report.retry_after_s, self._breaker.max_retry_after_s)
                state.retry_until = max(state.retry_until, now + cooldown)
            else:
                # The exponent is capped: a long outage must not overflow the float.
                doublings = min(max(state.consecutive_failures, 1) - 1, 32)
                cooldown = min(self._breaker.base_cooldown_s * 2.0**doublings,
                               self._breaker.max_cooldown_s)
            if current:
                state.cooling_until = now + cooldown
            else:  # a Retry-After from an attempt the breaker's last change overtook
                state.cooling_until = max(state.cooling_until, now + cooldown)
            state.opened_at = state.changed_at = now
            if self._on_breaker is not None:
                self._on_breaker(key, True, cooldown, max(state.consecutive_failures, 1), True)
        self._changed(key, state)
        if self._listener is not None:
            self._listener.recorded(key, report, now, state.cooling_until)

    def absorb(self, key: str, report: AttemptReport, at: float, cooling_until: float,
               now: float) -> None:
        """Learn an attempt another replica made at `at` (this process's clock), whose breaker
        it left cooling until `cooling_until`. Unlike `record`, it never ends a probe here.

        The uptime windows and percentiles file it now (it is at most a flush old; their slots
        are 30 s); the outage window files it in order, no earlier than its latest outcome, and
        not at all once it is older than the window. A failure that opened a breaker there
        opens it here until the same moment; a success there closes it here unless the breaker
        opened after that success began (after it ended, when its start is unknown).
        """
        state = self._state(key)
        self._trim(state, now)
        at = min(at, now)
        if report.counts_against_uptime or report.ok:
            self._count(state, report.ok, at, now)
        if report.ok:
            began = min(report.started, at) if report.started is not None else at
            if began >= state.opened_at:
                if state.consecutive_failures:
                    if self._on_breaker is not None:
                        self._on_breaker(key, False, 0.0, 0, False)
                    state.changed_at = max(state.changed_at, at)
                state.consecutive_failures = 0
                state.cooling_until = state.retry_until if state.retry_until > now else 0.0
            self._learn_speed(state, report, now)
        elif report.trips_breaker:
            state.consecutive_failures += 1
            state.cooling_until = max(state.cooling_until, cooling_until)
            state.opened_at = max(state.opened_at, at)
            state.changed_at = max(state.changed_at, at)
            if self._on_breaker is not None:
                self._on_breaker(key, True, max(state.cooling_until - now, 0.0),
                                 state.consecutive_failures, False)
        self._changed(key, state)

    def seed(self, key: str, successes: int, failures: int, bins: dict[str, dict[int, int]],
             now: float) -> None:
        """Start an endpoint from measurements a previous process made (the ledger's last hour
        of rollups), so a restart does not send routing back to its priors.

        They are filed one slot past the 5-minute window: Balanced's outage demotion and the
        5-minute percentiles stay about what this process sees, while the 30-minute figures and
        the day's uptime start from history and let it age out as usual. Call before traffic.
        """
        state = self._state(key)
        at = now - (SLOTS_5M + 1) * SLOT_S
        state.fine.add_many(successes, failures, at)
        state.day.add_many(successes, failures, at)
        for metric, histogram in (("ttft", state.ttft), ("latency", state.latency),
                                  ("throughput", state.throughput)):
            counts = bins.get(metric)
            if counts:
                histogram.add_bins(counts, at)
        self._changed(key, state)

    def answering(self, key: str, started: float) -> None:
        """An attempt begun at `started` is streaming content: when the breaker opened before
        it began, it has proved the endpoint works, so the breaker closes now rather than when
        the stream ends (seconds later for a slow endpoint). Its own outcome still counts: the
        breaker's last change is dated at its start."""
        state = self._states.get(key)
        if state is None or not state.consecutive_failures or started < state.changed_at:
            return
        if self._on_breaker is not None:
            self._on_breaker(key, False, 0.0, 0, True)
        state.consecutive_failures = 0
        state.changed_at = started
        state.probing = False
        state.cooling_until = state.retry_until if state.retry_until > started else 0.0
        self._changed(key, state)

    def release(self, key: str) -> None:
        """An attempt ended without a verdict on the endpoint (e.g. the caller left)."""
        state = self._states.get(key)
        if state is not None and state.probing:
            state.probing = False
            self._changed(key, state)

    @staticmethod
    def _learn_speed(state: _EndpointState, report: AttemptReport, now: float) -> None:
        if report.ttft_s is not None:
            state.ttft.add(report.ttft_s, now)
            state.fast_ttft.add(report.ttft_s, now)
        if report.latency_s is not None:
            state.latency.add(report.latency_s, now)
        if report.generation_s and report.completion_tokens > 1:
            speed = report.completion_tokens / report.generation_s
            state.throughput.add(speed, now)
            state.fast_throughput.add(speed, now)
