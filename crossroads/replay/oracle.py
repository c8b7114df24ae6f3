"""The oracle of a replay: what a router that knew the fleet's script would have done.

Everything here is pure: the fleet file and the requests as sent and answered go in, numbers come
out, so the same replay can be scored again and the rules can be tested with made-up requests.

At each request's send time `t` (script seconds), the timeline (crossroads.sim.timeline) says for
each endpoint its price, its speed (tokens/s after slowdowns) and whether an *incident* lasts
(outage, error burst, rate limit). An endpoint without one is **healthy**: the endpoint's own
`fault_rates` count as normal weather, not as an incident. Over the healthy endpoints:

* the **oracle** serves Balanced, Floor and Exacto requests at the cheapest healthy endpoint
  (blended price, ties to the faster) and Nitro requests at the fastest (ties to the cheaper);
  cost ÷ oracle cost and speed ÷ oracle speed compare every mode with both;
* each mode's **policy** is its rule applied to the healthy endpoints only: Balanced the 1/price²
  draw (its expected cost is Σ pᵢ·wᵢ / Σ wᵢ, wᵢ = 1/pᵢ²), Floor and Exacto the cheapest (no
  quantization in a simulated fleet, so Exacto's first choice is its cheapest), Nitro the fastest.
  A request sent while no endpoint is healthy has no oracle and is left out of the ratios.

Speeds compared are the served endpoint's scripted speed at the send time, not the measured
one: the client's measurement of a 64-token answer is mostly noise, while which endpoint served is
exactly what routing decides. Costs are priced here from each answer's tokens at the script's
price at the send time (the router's `usage.cost` is rounded to micro-dollars, and does not see
price events).

**Recovery** after an incident (and after a slowdown) that ends at `E`: take the requests sent
from `E` on, in order, and each one's policy share `sᵢ` of the healed endpoint. When the mean share
over the first 100 is under 2 %, the mode would not use the endpoint anyway and recovery is "n/a".
Otherwise, with a window of W = clamp(⌈4 / mean share⌉, 20, 100) requests, the endpoint has
recovered in the first window (sliding one request at a time) in which it served at least
max(1, ½·Σ sᵢ) of the window's requests; recovery time is the send time of the first request it
served in that window, minus `E`. Never: recovered is false and the time is a lower bound (the
last send time minus `E`). Floor: the healed cheapest gets half its traffic back; Nitro: the
healed fastest; Balanced: half of its 1/price² share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Literal, get_args

import msgspec

from crossroads.sim.profile import Event, Price, SimFleet
from crossroads.sim.timeline import INCIDENTS, state_at

__all__ = ["MODES", "Incident", "Mode", "Now", "Score", "Sent", "policy", "score", "snapshot"]

Mode = Literal["balanced", "nitro", "floor", "exacto"]
MODES: Final[tuple[Mode, ...]] = get_args(Mode)

MIN_SHARE: Final = 0.02
SHARE_HEAD: Final = 100
WINDOW_MIN: Final = 20
WINDOW_MAX: Final = 100
WINDOW_HITS: Final = 4
RECOVERS: Final = INCIDENTS | {"slowdown"}


class Sent(msgspec.Struct, frozen=True, kw_only=True):
    """One replayed request as the client saw it, with its attempts as the ledger lists them."""

    t: float  # script seconds after the start at which it was sent
    ok: bool
    endpoint: str | None = None  # the one that served it
    status: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = None
    latency_s: float = 0.0
    attempts: tuple[str, ...] = ()  # endpoints tried, in order; () when unknown
    error: str | None = None


class Now(msgspec.Struct, frozen=True):
    """One endpoint at one instant of the script."""

    price: Price
    speed: float
    failing: bool


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    """One event of the timeline and how the router took it."""

    endpoint: str
    kind: str
    at_s: float
    end_s: float | None
    failed_attempts: int  # attempts there by requests sent meanwhile that it did not serve
    expected_share: float | None  # the policy's share of the endpoint after it ends
    recovered: bool | None  # None: not applicable (no end, no traffic after, or no share)
    recovery_s: float | None  # wall seconds; a lower bound when not recovered


class Score(msgspec.Struct, frozen=True, kw_only=True):
    mode: Mode
    requests: int
    succeeded: int
    success_rate: float
    cost_usd: float
    oracle_cost_usd: float
    policy_cost_usd: float
    cost_vs_oracle: float | None
    cost_vs_policy: float | None
    throughput_vs_oracle: float | None
    ttft_p50_s: float | None
    ttft_p99_s: float | None
    measured_tokens_per_s_p50: float | None
    wasted_attempts: int
    failovers: int
    max_recovery_s: float  # 0 when no incident applies
    all_recovered: bool
    no_oracle: int  # requests sent while no endpoint was healthy
    served: dict[str, int]
    incidents: tuple[Incident, ...]


def snapshot(fleet: SimFleet, t: float) -> dict[str, Now]:
    """Every endpoint's price, speed and health at script second `t`."""
    out = {}
    for p in fleet.endpoints:
        state = state_at(fleet.timeline, p.name, t)
        price = state.price or p.price
        if price is None:
            raise ValueError(f"endpoint {p.name!r} has no price")
        out[p.name] = Now(price, p.tokens_per_s / state.speed_factor, state.failing)
    return out


def blended(price: Price, mix: tuple[float, float]) -> float:
    """Dollars per 1M tokens of a request of (prompt, completion) tokens."""
    prompt, completion = mix
    total = prompt + completion
    if total <= 0:
        return price.completion
    return (price.prompt * prompt + price.completion * completion) / total


def _cheapest(healthy: Mapping[str, Now], mix: tuple[float, float]) -> dict[str, float]:
    best = min(healthy, key=lambda n: (blended(healthy[n].price, mix), -healthy[n].speed, n))
    return {best: 1.0}


def _fastest(healthy: Mapping[str, Now], mix: tuple[float, float]) -> dict[str, float]:
    best = min(healthy, key=lambda n: (-healthy[n].speed, blended(healthy[n].price, mix), n))
    return {best: 1.0}


def _inverse_square(healthy: Mapping[str, Now], mix: tuple[float, float]) -> dict[str, float]:
    weights = {n: 1.0 / max(blended(v.price, mix), 1e-9) ** 2 for n, v in healthy.items()}
    total = sum(weights.values())
    return {n: w / total for n, w in weights.items()}


_POLICIES: Final[dict[Mode, Callable[[Mapping[str, Now], tuple[float, float]],
                                     dict[str, float]]]] = {
    "balanced": _inverse_square,
    "floor": _cheapest,
    "exacto": _cheapest,
    "nitro": _fastest,
}


def policy(mode: Mode, now: Mapping[str, Now], mix: tuple[float, float]) -> dict[str, float]:
    """The mode's share of each healthy endpoint; empty when none is healthy."""
    healthy = {n: v for n, v in now.items() if not v.failing}
    return _POLICIES[mode](healthy, mix) if healthy else {}


def _dollars(price: Price, prompt: int, completion: int) -> float:
    return (price.prompt * prompt + price.completion * completion) / 1e6


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _mix(sent: Sequence[Sent]) -> tuple[float, float]:
    done = [s for s in sent if s.ok]
    if not done:
        return (1.0, 1.0)
    return (sum(s.prompt_tokens for s in done) / len(done),
            sum(s.completion_tokens for s in done) / len(done))


def _recovery(event: Event, sent: Sequence[Sent], shares: Sequence[dict[str, float]],
              compress: float) -> tuple[float | None, bool | None, float | None]:
    """(expected share, recovered, wall seconds) after `event` ends; see the module doc."""
    end = event.end
    after = [i for i, s in enumerate(sent) if s.t >= end]
    if not after or math.isinf(end):
        return None, None, None
    share = [shares[i].get(event.endpoint, 0.0) for i in after]
    head = share[:SHARE_HEAD]
    mean = sum(head) / len(head)
    if mean < MIN_SHARE:
        return mean, None, None
    width = max(WINDOW_MIN, min(WINDOW_MAX, math.ceil(WINDOW_HITS / mean)))
    hit = [sent[i].ok and sent[i].endpoint == event.endpoint for i in after]
    for k in range(len(after)):
        window = range(k, min(k + width, len(after)))
        served = sum(hit[j] for j in window)
        if served >= max(1.0, 0.5 * sum(share[j] for j in window)):
            first = next(j for j in window if hit[j])
            return mean, True, (sent[after[first]].t - end) / compress
    return mean, False, (sent[after[-1]].t - end) / compress


def _failed_attempts(event: Event, sent: Sequence[Sent]) -> int:
    count = 0
    for s in sent:
        if event.at <= s.t < event.end:
            tries = s.attempts.count(event.endpoint)
            count += tries - (1 if s.ok and s.endpoint == event.endpoint else 0)
    return count


def score(fleet: SimFleet, mode: Mode, sent: Sequence[Sent], *,
          compress: float = 1.0) -> Score:
    """Score replayed requests against the oracle of `fleet`'s script (see the module doc)."""
    sent = sorted(sent, key=lambda s: s.t)
    mix = _mix(sent)
    nows = [snapshot(fleet, s.t) for s in sent]
    shares = [policy(mode, now, mix) for now in nows]
    cost = oracle_cost = policy_cost = speed = oracle_speed = 0.0
    no_oracle = 0
    served: dict[str, int] = {}
    for s, now, share in zip(sent, nows, shares, strict=True):
        if not share:
            no_oracle += 1
        if not s.ok or s.endpoint not in now:
            continue
        served[s.endpoint] = served.get(s.endpoint, 0) + 1
        if not share:
            continue
        healthy = {n: v for n, v in now.items() if not v.failing}
        price_of = {n: _dollars(v.price, s.prompt_tokens, s.completion_tokens)
                    for n, v in now.items()}
        cost += price_of[s.endpoint]
        oracle_cost += price_of[next(iter(_cheapest(healthy, mix)))]
        policy_cost += sum(price_of[n] * w for n, w in share.items())
        speed += now[s.endpoint].speed
        oracle_speed += now[next(iter(_fastest(healthy, mix)))].speed
    incidents = []
    for event in fleet.timeline:
        expected, recovered, took = (_recovery(event, sent, shares, compress)
                                     if event.kind in RECOVERS else (None, None, None))
        incidents.append(Incident(
            endpoint=event.endpoint, kind=event.kind, at_s=event.at,
            end_s=None if math.isinf(event.end) else event.end,
            failed_attempts=_failed_attempts(event, sent) if event.kind in INCIDENTS else 0,
            expected_share=expected, recovered=recovered, recovery_s=took))
    times = [i.recovery_s for i in incidents if i.recovery_s is not None]
    ok = [s for s in sent if s.ok]
    speeds = [s.completion_tokens / (s.latency_s - s.ttft_s) for s in ok
              if s.ttft_s is not None and s.latency_s > s.ttft_s and s.completion_tokens > 1]
    return Score(
        mode=mode, requests=len(sent), succeeded=len(ok),
        success_rate=len(ok) / len(sent) if sent else 0.0,
        cost_usd=cost, oracle_cost_usd=oracle_cost, policy_cost_usd=policy_cost,
        cost_vs_oracle=cost / oracle_cost if oracle_cost else None,
        cost_vs_policy=cost / policy_cost if policy_cost else None,
        throughput_vs_oracle=speed / oracle_speed if oracle_speed else None,
        ttft_p50_s=_percentile([s.ttft_s for s in ok if s.ttft_s is not None], 0.50),
        ttft_p99_s=_percentile([s.ttft_s for s in ok if s.ttft_s is not None], 0.99),
        measured_tokens_per_s_p50=_percentile(speeds, 0.50),
        wasted_attempts=sum(max(0, len(s.attempts) - (1 if s.ok else 0)) for s in sent),
        failovers=sum(1 for s in sent if len(s.attempts) > 1),
        max_recovery_s=max(times) if times else 0.0,
        all_recovered=all(i.recovered is not False for i in incidents),
        no_oracle=no_oracle, served=dict(sorted(served.items())), incidents=tuple(incidents))
