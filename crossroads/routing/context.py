"""What ordering may consult about one model's candidates: the request's needs, the candidates'
table and live health, the dice, the clock; and the tiers demotion sorts by (issue 18: on recent,
decayed evidence rather than the 30-minute window the endpoints API shows)."""

from __future__ import annotations

import random

from crossroads.catalog import EndpointTable
from crossroads.routing.filters import Needs
from crossroads.stats import Health, HealthSet

# Uptime tiers need this much decayed evidence (OpenRouter asks for 100 requests over its
# window): with the default 3-s half-life, steady traffic of 3.5 requests a second. Below it an
# endpoint is judged by its breaker and the outage rule alone, so a demoted endpoint that gets
# no traffic is forgiven as its evidence fades, within seconds instead of 30 minutes.
UPTIME_MIN_WEIGHT = 15.0
UPTIME_NORMAL = 0.95
UPTIME_FALLBACK_ONLY = 0.80
PREFERRED_FEATURES = frozenset({"tools", "response_format"})
MIN_PRICE = 1  # micro-dollars per 1M tokens; keeps free endpoints finite in 1/price²


class Context:
    """Everything ordering may consult: the request's needs, the candidates and their live
    health (aligned: `health.healths[i]` is `table.endpoints[i]`'s), the dice."""

    __slots__ = ("balanced", "expected_output", "exploration_share", "failure_ratio", "health",
                 "min_failures", "needs", "now", "rng", "sticky", "table")

    def __init__(
        self,
        needs: Needs,
        table: EndpointTable,
        health: HealthSet,
        rng: random.Random,
        expected_output: int,
        min_failures: int,
        failure_ratio: float,
        sticky: str | None = None,
        exploration_share: float = 0.0,
        balanced: str = "price",
        now: float = 0.0,
    ) -> None:
        self.now = now
        self.sticky = sticky
        self.exploration_share = exploration_share
        self.balanced = balanced
        self.needs = needs
        self.table = table
        self.health = health
        self.rng = rng
        self.expected_output = expected_output
        self.min_failures = min_failures
        self.failure_ratio = failure_ratio

    def tokens(self) -> tuple[int, int]:
        """(prompt, output) tokens the blended price weighs."""
        return self.needs.prompt_tokens, self.needs.max_tokens or self.expected_output

    def prices(self) -> list[float]:
        """Each candidate's blended price, exactly `max(Pricing.blended(...), MIN_PRICE)`."""
        prompt, output = self.tokens()
        total = max(prompt + output, 1)
        return [max((p * prompt + c * output) / total, MIN_PRICE)
                for p, c in zip(self.table.prompt, self.table.completion, strict=True)]

    def throughputs(self, percentile: str = "p50") -> list[float]:
        return [
            h.speed.throughput.at(percentile) if h.speed.throughput is not None
            else e.nominal_throughput
            for e, h in zip(self.table.endpoints, self.health.healths, strict=True)
        ]

    def ttfts_s(self, percentile: str = "p50") -> list[float]:
        return [
            h.speed.ttft_s.at(percentile) if h.speed.ttft_s is not None
            else e.nominal_ttft_ms / 1000
            for e, h in zip(self.table.endpoints, self.health.healths, strict=True)
        ]

    def fast_throughputs(self) -> list[float]:
        """What the speed sorts rank by: the recent estimate, else the catalog's prior."""
        return [
            h.fast_throughput if h.fast_throughput is not None
            else h.speed.throughput.p50 if h.speed.throughput is not None
            else e.nominal_throughput
            for e, h in zip(self.table.endpoints, self.health.healths, strict=True)
        ]

    def fast_ttfts_s(self) -> list[float]:
        return [
            h.fast_ttft_s if h.fast_ttft_s is not None
            else h.speed.ttft_s.p50 if h.speed.ttft_s is not None
            else e.nominal_ttft_ms / 1000
            for e, h in zip(self.table.endpoints, self.health.healths, strict=True)
        ]

    def tier(self, h: Health) -> int:
        """0 = healthy, 1 = demoted (outage or uptime 80-95 %), 2 = fallback only (< 80 %),
        all on recent (decayed) evidence: old failures weigh little against new successes."""
        ratio = h.recent_uptime
        if ratio is not None and h.recent_weight >= UPTIME_MIN_WEIGHT:
            if ratio < UPTIME_FALLBACK_ONLY:
                return 2
            if ratio < UPTIME_NORMAL:
                return 1
        if h.recent_failures < self.min_failures:
            return 0
        # Significant (enough failures in the outage window) and still mostly failing by
        # recency-weighted counts; fakes without decayed counts fall back to the window's.
        weight = h.recent_weight
        failed_share = (h.decayed_failed / weight if weight > 0
                        else h.recent_failures / max(h.recent_attempts, 1))
        return 1 if failed_share >= self.failure_ratio else 0

    def tiers(self) -> list[int] | None:
        """Each candidate's tier; None when every one is healthy. The set's extremes usually
        show that only an outage can demote, and an outage needs recent failures: then only
        the endpoints that failed recently are looked at."""
        hs = self.health
        uptime_fine = (hs.lowest_uptime is None or hs.lowest_uptime >= UPTIME_NORMAL
                       or hs.most_recent_weight < UPTIME_MIN_WEIGHT)
        if not uptime_fine or self.min_failures < 1:
            return [self.tier(h) for h in hs.healths]
        if hs.most_recent_failures < self.min_failures:
            return None
        healths = hs.healths
        demoted = [(i, tier) for i in hs.failing if (tier := self.tier(healths[i]))]
        if not demoted:
            return None
        tiers = [0] * len(healths)
        for i, tier in demoted:
            tiers[i] = tier
        return tiers
