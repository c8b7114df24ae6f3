"""What live stats tell about an endpoint, as frozen values: its health (breaker, outage,
recent evidence, speed and uptime), several endpoints' health at one moment, the public
statistics, and the attempt report stats learn from. `stats.LiveStats` computes them;
routing, the APIs and the shared state only read them.
"""

from __future__ import annotations

import msgspec


class Percentiles(msgspec.Struct, frozen=True):
    p50: float
    p75: float
    p90: float
    p99: float
    samples: int

    def at(self, name: str) -> float:
        value: float = getattr(self, name)
        return value


class Uptime(msgspec.Struct, frozen=True):
    ratio: float | None
    samples: int


class Speed(msgspec.Struct, frozen=True):
    """The slow-moving part of health: percentiles and uptimes."""

    throughput: Percentiles | None = None  # tokens/s, 5 min (30 min when 5 min is too thin)
    ttft_s: Percentiles | None = None
    latency_s: Percentiles | None = None
    uptime_5m: Uptime = Uptime(None, 0)
    uptime_30m: Uptime = Uptime(None, 0)
    uptime_1d: Uptime = Uptime(None, 0)


class Health(msgspec.Struct, frozen=True):
    cooling_until: float = 0.0
    probing: bool = False
    recent_attempts: int = 0
    recent_failures: int = 0
    speed: Speed = Speed()
    # Recent evidence (decayed successes and failures, fast speed estimates): what demotion
    # and the speed sorts read.
    decayed_ok: float = 0.0
    decayed_failed: float = 0.0
    fast_throughput: float | None = None
    fast_ttft_s: float | None = None
    breaker_open: bool = False  # it failed last: past `cooling_until`, the next attempt probes

    @property
    def recent_weight(self) -> float:
        return self.decayed_ok + self.decayed_failed

    @property
    def recent_uptime(self) -> float | None:
        weight = self.decayed_ok + self.decayed_failed
        return self.decayed_ok / weight if weight > 0 else None

    @property
    def uptime(self) -> float | None:
        return self.speed.uptime_30m.ratio

    @property
    def uptime_samples(self) -> int:
        return self.speed.uptime_30m.samples

    @property
    def throughput(self) -> float | None:
        return self.speed.throughput.p50 if self.speed.throughput else None

    @property
    def ttft(self) -> float | None:
        return self.speed.ttft_s.p50 if self.speed.ttft_s else None


class EndpointStats(msgspec.Struct, frozen=True):
    """Everything the endpoints API and the model page show, over 30 minutes."""

    throughput: Percentiles | None
    ttft_s: Percentiles | None
    latency_s: Percentiles | None
    uptime_5m: Uptime
    uptime_30m: Uptime
    uptime_1d: Uptime
    last_outage_at: float | None


NEVER_SEEN = Health()


class HealthSet(msgspec.Struct, frozen=True):
    """The health of several endpoints at one moment, in the order asked, with the extremes
    routing checks first: when none of them is cooling or failing, it can skip looking."""

    healths: tuple[Health, ...]
    latest_cooling: float  # the largest `cooling_until`; 0.0 for no endpoints
    most_recent_failures: int
    failing: tuple[int, ...]  # indices of those with recent failures, ascending
    lowest_uptime: float | None  # the lowest recent (decayed) uptime among those with one
    most_recent_weight: float  # the largest decayed weight of evidence

    @classmethod
    def of(cls, healths: tuple[Health, ...]) -> HealthSet:
        if not healths:
            return cls((), 0.0, 0, (), None, 0.0)
        ratios = [r for h in healths if (r := h.recent_uptime) is not None]
        return cls(
            healths,
            max(h.cooling_until for h in healths),
            max(h.recent_failures for h in healths),
            tuple(i for i, h in enumerate(healths) if h.recent_failures),
            min(ratios) if ratios else None,
            max(h.recent_weight for h in healths),
        )


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
    # When the attempt began (the loop clock), so the breaker hears outcomes in the order they
    # began; None: unknown, taken as the moment it is recorded.
    started: float | None = None
