"""The live state of each simulated endpoint and the rule that picks a request's outcome.

The order of the rule is part of the contract (tests elsewhere script against it):
  0. a scripted outcome, if one is queued (FIFO);
  1. an outage (`down`, or now inside an `outages` window) gives `outage_outcome`;
(every step reads the profile as the fleet's timeline has it now: `profile_at`, timeline.py);
  2. the request itself: too long for the context, `max_tokens` above `max_output`, images or
     tools the endpoint does not take, or a `[[sim:OUTCOME]]` marker in a message;
  3. one draw from the endpoint's seeded RNG against `fault_rates`;
  4. ok.
Outcomes and timing draw from two separate RNGs, so `time_scale` never changes which outcome a
request gets.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import time
from collections import Counter, deque
from collections.abc import Coroutine
from typing import Any, Final

import msgspec

from crossroads.sim.google_auth import GoogleAuthority
from crossroads.sim.profile import Event, Outcome, SimFleet, SimProfile
from crossroads.sim.prompt import ChatRequest, PrefixCache
from crossroads.sim.timeline import effective, state_at

__all__ = ["EndpointState", "LogEntry", "SimState", "derive_seed"]

LOG_SIZE: Final = 1000
_TIMING_SALT: Final = 0x5EED_71E5


# gc=False: nothing a log entry holds can refer back to it, so the collector may skip it.
class LogEntry(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One chat request as the endpoint saw it (served by GET /_sim/endpoints/NAME/requests)."""

    t: float
    outcome: str
    stream: bool
    model: str | None
    prompt_tokens: int
    cached_tokens: int
    max_tokens: int | None
    has_images: bool
    body: Any


def derive_seed(fleet_seed: int, name: str) -> int:
    # hash() of a str is salted per process; a digest keeps runs repeatable.
    digest = hashlib.sha256(f"{fleet_seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class EndpointState:
    """Counters, log, script, prompt cache and RNGs of one endpoint; owned by one SimState."""

    __slots__ = (
        "_now",
        "active",
        "cache",
        "compress",
        "events",
        "fleet_seed",
        "log",
        "name",
        "original",
        "outcomes",
        "profile",
        "requests",
        "rng",
        "script",
        "timing_rng",
    )

    def __init__(self, profile: SimProfile, fleet_seed: int, events: tuple[Event, ...] = (),
                 compress: float = 1.0) -> None:
        self.name = profile.name
        self.events = tuple(e for e in events if e.endpoint == profile.name)
        self.compress = compress
        # The last effective profile, by the events it applied and the profile it started from.
        self._now: tuple[tuple[int, ...], SimProfile, SimProfile] | None = None
        self.original = profile
        self.fleet_seed = fleet_seed
        self.profile = profile
        self.requests = 0
        self.active = 0
        self.outcomes: Counter[str] = Counter()
        self.log: deque[LogEntry] = deque(maxlen=LOG_SIZE)
        self.script: deque[Outcome] = deque()
        self.cache = PrefixCache()
        self.rng = random.Random()
        self.timing_rng = random.Random()
        self.reseed()

    def reseed(self) -> None:
        seed = self.profile.seed
        if seed is None:
            seed = derive_seed(self.fleet_seed, self.name)
        self.rng.seed(seed)
        self.timing_rng.seed(seed ^ _TIMING_SALT)

    def reset(self) -> None:
        self.profile = self.original
        self.requests = 0
        self.outcomes.clear()
        self.log.clear()
        self.script.clear()
        self.cache.clear()
        self.reseed()

    def set_profile(self, profile: SimProfile) -> None:
        reseed = profile.seed != self.profile.seed
        self.profile = profile
        if reseed:
            self.reseed()

    def profile_at(self, elapsed_s: float) -> SimProfile:
        """The profile as the timeline has it `elapsed_s` wall seconds after the start."""
        if not self.events:
            return self.profile
        t = elapsed_s * self.compress
        key = tuple(i for i, e in enumerate(self.events) if e.at <= t < e.end)
        now = self._now
        if now is not None and now[0] == key and now[1] is self.profile:
            return now[2]
        current = effective(self.profile, state_at(self.events, self.name, t))
        self._now = (key, self.profile, current)
        return current

    def decide(self, req: ChatRequest, elapsed_s: float) -> tuple[Outcome, str | None]:
        """The outcome for this request, and a message when the request itself caused a 400."""
        if self.script:
            return self.script.popleft(), None
        p = self.profile_at(elapsed_s)
        if p.down or (p.outages and any(a <= elapsed_s < b for a, b in p.outages)):
            return p.outage_outcome, None
        if req.prompt_tokens + (req.max_tokens or 0) > p.context_length:
            return "context_length", None
        if req.max_tokens is not None and req.max_tokens > p.max_output:
            return "http_400", (
                f"max_tokens is too large: {req.max_tokens}. This endpoint supports at most "
                f"{p.max_output} completion tokens."
            )
        if req.images and not p.supports_images:
            return "http_400", "This endpoint does not support image input."
        if req.tools and not p.supports_tools:
            return "http_400", "This endpoint does not support tool use."
        if req.marker is not None:
            return req.marker, None
        if p.fault_rates:
            draw = self.rng.random()
            for outcome, rate in p.fault_rates.items():
                draw -= rate
                if draw < 0:
                    return outcome, None
        return "ok", None

    def sample_timing(self, time_scale: float,
                      elapsed_s: float | None = None) -> tuple[float, float]:
        """(seconds to first token, seconds per token), lognormal around the profile's medians
        (as the timeline has them at `elapsed_s`, when given)."""
        if time_scale == 0:
            return 0.0, 0.0
        p = self.profile if elapsed_s is None else self.profile_at(elapsed_s)
        rng = self.timing_rng
        ttft = p.ttft_ms / 1000.0
        if p.ttft_sigma > 0:
            ttft *= math.exp(rng.gauss(0.0, p.ttft_sigma))
        tps = p.tokens_per_s
        if p.tps_sigma > 0:
            tps *= math.exp(rng.gauss(0.0, p.tps_sigma))
        return ttft * time_scale, time_scale / tps

    def finished(self, _task: asyncio.Task[None]) -> None:
        """Done-callback of a request's task: it is no longer in flight."""
        self.active -= 1

    def start(self, pending: Coroutine[Any, Any, None] | None) -> asyncio.Task[None] | None:
        """Run a play that has more to do, counted in flight until it ends. A task, not a
        wrapping coroutine: cancelling a task that never started closes its coroutine cleanly,
        and the done-callback runs either way."""
        if pending is None:
            return None
        task = asyncio.get_running_loop().create_task(pending)
        self.active += 1
        task.add_done_callback(self.finished)
        return task

    def record(self, entry: LogEntry) -> None:
        self.outcomes[entry.outcome] += 1
        self.log.append(entry)


class SimState:
    """Every endpoint of one running sim, the sim's clock, and its time scale."""

    __slots__ = ("endpoints", "fleet", "google", "started", "time_scale")

    def __init__(self, fleet: SimFleet) -> None:
        self.fleet = fleet
        # The fleet's Google OAuth endpoint and the tokens it issued (Vertex's surfaces).
        self.google = GoogleAuthority()
        self.endpoints = {p.name: EndpointState(p, fleet.seed, fleet.timeline, fleet.compress)
                          for p in fleet.endpoints}
        self.time_scale = fleet.time_scale
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def reset(self) -> None:
        # The clock restarts too, so outage windows can be written relative to a reset.
        for ep in self.endpoints.values():
            ep.reset()
        self.time_scale = self.fleet.time_scale
        self.google.reset()
        self.started = time.monotonic()
