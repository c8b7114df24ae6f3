"""Recent evidence about an endpoint: what routing decides on, as opposed to what it displays.

The rolling windows (`windows.py`) answer "how did this endpoint do over 5 or 30 minutes" for
the endpoints API and the model page. Routing needs a different question answered: "how is it
doing *now*". Two small estimators answer it, both bounded in memory:

* `DecayedCounts`: successes and failures, each weighted by 2^(-age / half-life). A healed
  endpoint's last few successes outweigh failures half a minute old, and when an endpoint
  stops getting traffic its evidence fades instead of pinning it down for 30 minutes.
* `RecentSamples`: the last few speed samples (throughput, TTFT), forgotten after
  `memory_s`. Their median reacts to a change within about half of them, and once they are
  forgotten the estimate falls back to its prior (the 5-minute median): an endpoint ranked
  down for a slowdown is tried again, so it can be seen to have recovered.
"""

from __future__ import annotations

import math
import statistics
from collections import deque


class DecayedCounts:
    """Successes and failures with exponentially decaying weight (half-life `half_life_s`)."""

    __slots__ = ("_at", "_failed", "_half_life", "_ok")

    def __init__(self, half_life_s: float) -> None:
        self._half_life = half_life_s
        self._ok = 0.0
        self._failed = 0.0
        self._at = 0.0

    def _decay(self, now: float) -> None:
        if now > self._at:
            if self._ok or self._failed:
                factor = 0.5 ** ((now - self._at) / self._half_life) if self._half_life > 0 \
                    else 0.0
                self._ok *= factor
                self._failed *= factor
            self._at = now

    def add(self, ok: bool, now: float) -> None:
        # An outcome filed a little out of order (another replica's) counts as of now: the
        # difference is at most a flush, far below a half-life.
        self._decay(now)
        if ok:
            self._ok += 1.0
        else:
            self._failed += 1.0

    def read(self, now: float) -> tuple[float, float]:
        """(successes, failures) weighted as of `now`."""
        self._decay(now)
        return self._ok, self._failed


class RecentSamples:
    """The last `size` samples of one measure, each forgotten `memory_s` after it was taken."""

    __slots__ = ("_memory", "_samples")

    def __init__(self, size: int, memory_s: float) -> None:
        self._memory = memory_s
        self._samples: deque[tuple[float, float]] = deque(maxlen=size)

    def add(self, value: float, now: float) -> None:
        if math.isfinite(value):
            self._samples.append((now, value))

    def estimate(self, now: float, prior: float | None, enough: int) -> float | None:
        """The median of the fresh samples when there are at least `enough`; with fewer, the
        prior joins them as one more sample (so one odd sample cannot flip a ranking, and the
        estimate is the prior alone once every sample is forgotten)."""
        horizon = now - self._memory
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()
        values = [v for _, v in self._samples]
        if len(values) < enough and prior is not None:
            values.append(prior)
        return statistics.median(values) if values else None

    def fresh_until(self) -> float:
        """When the oldest sample will be forgotten (inf when there is none)."""
        return self._samples[0][0] + self._memory if self._samples else math.inf
