"""Live health and speed of every endpoint, measured on real traffic, held in memory.

Three things per endpoint, all bounded in memory however long the router runs:

* a circuit breaker: a provider-caused failure opens it for a cooldown that doubles with each
  consecutive failure (base → max), or for the upstream's Retry-After when that is longer. Once
  the cooldown has passed, exactly one request at a time may probe the endpoint; a success closes
  the breaker. This is what keeps a failing endpoint from being hammered.
* recent outcomes (the outage window, 30 s by default) for Balanced's outage demotion, and
  per-minute success/failure buckets for uptime tiers;
* exponentially weighted speed (throughput, TTFT, latency), seeded by the catalog's priors.

Routing reads it through `StatsView`, which never blocks and never performs I/O.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import msgspec

from crossroads.settings import BreakerConfig, RoutingConfig

UPTIME_MINUTES = 30
SPEED_ALPHA = 0.2


class Health(msgspec.Struct, frozen=True):
    cooling_until: float = 0.0
    probing: bool = False
    recent_attempts: int = 0
    recent_failures: int = 0
    uptime: float | None = None
    uptime_samples: int = 0
    throughput: float | None = None
    ttft_s: float | None = None
    latency_s: float | None = None


_NEVER_SEEN = Health()


class StatsView(Protocol):
    """What routing may know about an endpoint, keyed by `endpoint_key`."""

    def health(self, key: str, now: float) -> Health: ...


class AttemptReport(msgspec.Struct, frozen=True):
    """The part of an attempt that live stats learn from."""

    ok: bool
    counts_against_uptime: bool
    trips_breaker: bool
    retry_after_s: float | None = None
    ttft_s: float | None = None
    latency_s: float | None = None
    completion_tokens: int = 0
    generation_s: float | None = None


class _EndpointState:
    __slots__ = (
        "bad", "buckets", "cached", "cached_until", "consecutive_failures", "cooling_until",
        "good", "latency_s", "probing", "recent", "recent_failures", "throughput", "ttft_s",
    )

    def __init__(self) -> None:
        self.consecutive_failures = 0
        self.cooling_until = 0.0
        self.probing = False
        self.recent: deque[tuple[float, bool]] = deque()
        self.recent_failures = 0
        self.buckets: deque[list[int]] = deque()  # [minute, successes, failures]
        self.good = 0
        self.bad = 0
        self.throughput: float | None = None
        self.ttft_s: float | None = None
        self.latency_s: float | None = None
        # Routing asks for health on every request; it only changes when an attempt ends or
        # an old sample leaves a window, so the snapshot is reused until then.
        self.cached: Health | None = None
        self.cached_until = 0.0


def _ewma(old: float | None, new: float) -> float:
    return new if old is None else old + SPEED_ALPHA * (new - old)


class LiveStats:
    """The in-memory implementation of `StatsView`, fed by the relay."""

    def __init__(self, routing: RoutingConfig, breaker: BreakerConfig) -> None:
        self._window = routing.outage_window_s
        self._breaker = breaker
        self._states: dict[str, _EndpointState] = {}

    def _state(self, key: str) -> _EndpointState:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _EndpointState()
        return state

    def _trim(self, state: _EndpointState, now: float) -> None:
        horizon = now - self._window
        while state.recent and state.recent[0][0] < horizon:
            if not state.recent.popleft()[1]:
                state.recent_failures -= 1
        minute = int(now // 60)
        while state.buckets and state.buckets[0][0] <= minute - UPTIME_MINUTES:
            _, good, bad = state.buckets.popleft()
            state.good -= good
            state.bad -= bad

    def health(self, key: str, now: float) -> Health:
        state = self._states.get(key)
        if state is None:
            return _NEVER_SEEN
        if state.cached is not None and now < state.cached_until:
            return state.cached
        self._trim(state, now)
        samples = state.good + state.bad
        state.cached = Health(
            cooling_until=state.cooling_until,
            probing=state.probing,
            recent_attempts=len(state.recent),
            recent_failures=state.recent_failures,
            uptime=state.good / samples if samples else None,
            uptime_samples=samples,
            throughput=state.throughput,
            ttft_s=state.ttft_s,
            latency_s=state.latency_s,
        )
        expiries = [(int(now // 60) + 1) * 60.0]
        if state.recent:
            expiries.append(state.recent[0][0] + self._window)
        state.cached_until = min(expiries)
        return state.cached

    def try_begin(self, key: str, now: float) -> bool:
        """May an attempt start now? False while cooling, or while another request probes."""
        state = self._state(key)
        if now < state.cooling_until:
            return False
        if state.consecutive_failures:
            if state.probing:
                return False
            state.probing = True
            state.cached = None
        return True

    def record(self, key: str, report: AttemptReport, now: float) -> None:
        state = self._state(key)
        state.probing = False
        state.cached = None
        self._trim(state, now)
        if report.counts_against_uptime or report.ok:
            state.recent.append((now, report.ok))
            minute = int(now // 60)
            if not state.buckets or state.buckets[-1][0] != minute:
                state.buckets.append([minute, 0, 0])
            if report.ok:
                state.buckets[-1][1] += 1
                state.good += 1
            else:
                state.buckets[-1][2] += 1
                state.bad += 1
                state.recent_failures += 1
        if report.ok:
            state.consecutive_failures = 0
            state.cooling_until = 0.0
            self._learn_speed(state, report)
        elif report.trips_breaker:
            state.consecutive_failures += 1
            if report.retry_after_s is not None:
                # The provider said exactly when to come back; believe it (within reason).
                cooldown = min(report.retry_after_s, self._breaker.max_cooldown_s)
            else:
                cooldown = min(
                    self._breaker.base_cooldown_s * 2 ** (state.consecutive_failures - 1),
                    self._breaker.max_cooldown_s,
                )
            state.cooling_until = now + cooldown

    def release(self, key: str) -> None:
        """An attempt ended without a verdict on the endpoint (e.g. the caller left)."""
        state = self._states.get(key)
        if state is not None:
            state.probing = False
            state.cached = None

    @staticmethod
    def _learn_speed(state: _EndpointState, report: AttemptReport) -> None:
        if report.ttft_s is not None:
            state.ttft_s = _ewma(state.ttft_s, report.ttft_s)
        if report.latency_s is not None:
            state.latency_s = _ewma(state.latency_s, report.latency_s)
        if report.generation_s and report.completion_tokens > 1:
            state.throughput = _ewma(
                state.throughput, report.completion_tokens / report.generation_s
            )
