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
Otherwise, with a window of W = clamp(⌈4 / mean share⌉, 20, 100) requests, the endpoint is
back in the first window (sliding one request at a time) in which it served at least
max(1, ½·Σ sᵢ) of the window's requests; `recovery_s` is the send time of the first request it
served in that window, minus `E`. It must then hold: if any later full window of
max(100, ⌈20 / mean share⌉) requests has it serving under ½·Σ sᵢ, it relapsed (`relapse_s`: the
end of that window, minus `E`). Recovered means back and held. Only requests sent before the
next event of the same endpoint count. `max_recovery_s` takes each applicable event's recovery
time, or, where it never recovered or relapsed, the lower bound (last send time minus `E`).
Floor: the healed cheapest gets half its traffic back; Nitro: the healed fastest; Balanced: half
of its 1/price² share.

**Reaction** to an event that starts at `S` (an incident, or a slowdown that costs the endpoint
its rank): compare, for each request sent while it lasts, the policy share of the endpoint on the
script without this event (`pᵢ`) and with it (`qᵢ`). When the mean drop is under 2 %, reaction is
"n/a". Otherwise, with W = clamp(⌈4 / mean pᵢ⌉, 20, 100) requests (all of them if fewer), the
router has reacted at the first full window in which the requests whose *first* attempt went to
the endpoint number at most Σqᵢ + ½·Σ(pᵢ − qᵢ), i.e. it has moved at least half of the traffic
the policy moves; reaction time is that window's first send time minus `S`. A router that keeps
sending first attempts to a dead endpoint has not reacted, however well its failover hides it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Final, Literal, NamedTuple, get_args

import msgspec

from crossroads.sim.profile import Event, Price, SimFleet
from crossroads.sim.timeline import INCIDENTS, state_at

__all__ = ["MODES", "Incident", "Mode", "Now", "Score", "Sent", "choices", "policy", "score",
           "snapshot"]

Mode = Literal["balanced", "nitro", "floor", "exacto"]
MODES: Final[tuple[Mode, ...]] = get_args(Mode)

MIN_SHARE: Final = 0.02
SHARE_HEAD: Final = 100
WINDOW_MIN: Final = 20
WINDOW_MAX: Final = 100
WINDOW_HITS: Final = 4
HELD_HITS: Final = 20
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
    router_cost_usd: float | None = None  # the answer's `usage.cost`, as the router billed it


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
    max_failed_per_s: int  # the most of those by requests sent within any one second
    expected_share: float | None  # the policy's share of the endpoint after it ends
    recovered: bool | None  # None: not applicable (no end, no traffic after, or no share)
    recovery_s: float | None  # wall seconds until it first had its share back
    relapse_s: float | None  # wall seconds after the end when it lost that share again
    reacted: bool | None  # None: not applicable (the policy moves no traffic)
    react_s: float | None  # wall seconds; a lower bound when it never reacted


class Score(msgspec.Struct, frozen=True, kw_only=True):
    mode: Mode
    requests: int
    succeeded: int
    success_rate: float
    cost_usd: float  # these four over the answers sent while some endpoint was healthy
    router_cost_usd: float  # what the router billed the same answers (micro-dollar rounding)
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
    max_react_s: float  # 0 when no event applies
    all_reacted: bool
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


def choices(fleet: SimFleet, sent: Sequence[Sent]) -> list[tuple[str | None, str | None]]:
    """(the cheapest healthy, the fastest healthy) endpoint at each request's send time."""
    mix = _mix(sent)
    out: list[tuple[str | None, str | None]] = []
    for s in sent:
        healthy = {n: v for n, v in snapshot(fleet, s.t).items() if not v.failing}
        if not healthy:
            out.append((None, None))
            continue
        out.append((next(iter(_cheapest(healthy, mix))), next(iter(_fastest(healthy, mix)))))
    return out


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


class _Recovery(NamedTuple):
    expected: float | None = None
    recovered: bool | None = None
    recovery_s: float | None = None  # when it first had its share back
    relapse_s: float | None = None  # when, after that, a long window fell under half its share
    waited_s: float | None = None  # what max_recovery_s counts: recovery_s, or a lower bound


def _recovery(event: Event, sent: Sequence[Sent], shares: Sequence[dict[str, float]],
              next_start: float, compress: float) -> _Recovery:
    """How the endpoint of `event` got its share back after the end; see the module doc."""
    end = event.end
    after = [i for i, s in enumerate(sent) if end <= s.t < next_start]
    if not after or math.isinf(end):
        return _Recovery()
    share = [shares[i].get(event.endpoint, 0.0) for i in after]
    head = share[:SHARE_HEAD]
    mean = sum(head) / len(head)
    if mean < MIN_SHARE:
        return _Recovery(expected=mean)
    lower_bound = (sent[after[-1]].t - end) / compress
    hit = [sent[i].ok and sent[i].endpoint == event.endpoint for i in after]
    width = max(WINDOW_MIN, min(WINDOW_MAX, math.ceil(WINDOW_HITS / mean)))
    back = next((k for k in range(len(after))
                 if sum(hit[k:k + width]) >= max(1.0, 0.5 * sum(share[k:k + width]))), None)
    if back is None:
        return _Recovery(expected=mean, recovered=False, waited_s=lower_bound)
    first = next(j for j in range(back, len(after)) if hit[j])
    took = (sent[after[first]].t - end) / compress
    # Held: every full window long enough for HELD_HITS expected answers keeps half of them.
    held = max(WINDOW_MAX, math.ceil(HELD_HITS / mean))
    for k in range(first, len(after) - held + 1):
        if sum(hit[k:k + held]) < 0.5 * sum(share[k:k + held]):
            relapse = (sent[after[k + held - 1]].t - end) / compress
            return _Recovery(mean, False, took, relapse, lower_bound)
    return _Recovery(mean, True, took, None, took)


def _first(sent: Sent) -> str | None:
    return sent.attempts[0] if sent.attempts else sent.endpoint


def _reaction(event: Event, sent: Sequence[Sent], shares: Sequence[dict[str, float]],
              without: Sequence[dict[str, float]],
              compress: float) -> tuple[bool | None, float | None]:
    """(reacted, wall seconds) after `event` starts; see the module doc."""
    during = [i for i, s in enumerate(sent) if event.at <= s.t < event.end]
    if not during:
        return None, None
    before = [without[i].get(event.endpoint, 0.0) for i in during]
    now = [shares[i].get(event.endpoint, 0.0) for i in during]
    if (sum(before) - sum(now)) / len(during) < MIN_SHARE:
        return None, None
    width = max(WINDOW_MIN, min(WINDOW_MAX, math.ceil(WINDOW_HITS * len(during) / sum(before))))
    width = min(width, len(during))
    first = [_first(sent[i]) == event.endpoint for i in during]
    for k in range(len(during) - width + 1):
        window = range(k, k + width)
        allowed = sum(now[j] + 0.5 * (before[j] - now[j]) for j in window)
        if sum(first[j] for j in window) <= allowed:
            return True, (sent[during[k]].t - event.at) / compress
    return False, (sent[during[-1]].t - event.at) / compress


def _failed_attempts(event: Event, sent: Sequence[Sent]) -> tuple[int, int]:
    """(failed attempts at the event's endpoint by requests sent while it lasts, the most of
    them by requests sent within one second: a burst the breaker should have held back)."""
    failed: list[tuple[float, int]] = []
    for s in sent:
        if event.at <= s.t < event.end:
            tries = s.attempts.count(event.endpoint)
            tries -= 1 if s.ok and s.endpoint == event.endpoint else 0
            if tries:
                failed.append((s.t, tries))
    burst = start = running = 0
    for t, tries in failed:
        running += tries
        while failed[start][0] <= t - 1.0:
            running -= failed[start][1]
            start += 1
        burst = max(burst, running)
    return sum(tries for _, tries in failed), burst


def score(fleet: SimFleet, mode: Mode, sent: Sequence[Sent], *,
          compress: float = 1.0) -> Score:
    """Score replayed requests against the oracle of `fleet`'s script (see the module doc)."""
    sent = sorted(sent, key=lambda s: s.t)
    mix = _mix(sent)
    nows = [snapshot(fleet, s.t) for s in sent]
    shares = [policy(mode, now, mix) for now in nows]

    def shares_without(event: Event) -> list[dict[str, float]]:
        script = msgspec.structs.replace(
            fleet, timeline=tuple(e for e in fleet.timeline if e is not event))
        return [policy(mode, snapshot(script, s.t), mix) if event.at <= s.t < event.end else {}
                for s in sent]
    cost = billed = oracle_cost = policy_cost = speed = oracle_speed = 0.0
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
        billed += s.router_cost_usd or 0.0
        oracle_cost += price_of[next(iter(_cheapest(healthy, mix)))]
        policy_cost += sum(price_of[n] * w for n, w in share.items())
        speed += now[s.endpoint].speed
        oracle_speed += now[next(iter(_fastest(healthy, mix)))].speed
    incidents = []
    waits = []
    for event in fleet.timeline:
        after = _Recovery()
        failed, burst = _failed_attempts(event, sent) if event.kind in INCIDENTS else (0, 0)
        if event.kind in RECOVERS:
            later = [e.at for e in fleet.timeline
                     if e.endpoint == event.endpoint and e.kind in RECOVERS and e.at >= event.end]
            after = _recovery(event, sent, shares, min(later, default=math.inf), compress)
        if after.waited_s is not None:
            waits.append(after.waited_s)
        reacted, react = (_reaction(event, sent, shares, shares_without(event), compress)
                          if event.kind in RECOVERS else (None, None))
        incidents.append(Incident(
            endpoint=event.endpoint, kind=event.kind, at_s=event.at,
            end_s=None if math.isinf(event.end) else event.end,
            failed_attempts=failed, max_failed_per_s=burst,
            expected_share=after.expected, recovered=after.recovered,
            recovery_s=after.recovery_s, relapse_s=after.relapse_s, reacted=reacted,
            react_s=react))
    reactions = [i.react_s for i in incidents if i.react_s is not None]
    ok = [s for s in sent if s.ok]
    speeds = [s.completion_tokens / (s.latency_s - s.ttft_s) for s in ok
              if s.ttft_s is not None and s.latency_s > s.ttft_s and s.completion_tokens > 1]
    return Score(
        mode=mode, requests=len(sent), succeeded=len(ok),
        success_rate=len(ok) / len(sent) if sent else 0.0,
        cost_usd=cost, router_cost_usd=billed,
        oracle_cost_usd=oracle_cost, policy_cost_usd=policy_cost,
        cost_vs_oracle=cost / oracle_cost if oracle_cost else None,
        cost_vs_policy=cost / policy_cost if policy_cost else None,
        throughput_vs_oracle=speed / oracle_speed if oracle_speed else None,
        ttft_p50_s=_percentile([s.ttft_s for s in ok if s.ttft_s is not None], 0.50),
        ttft_p99_s=_percentile([s.ttft_s for s in ok if s.ttft_s is not None], 0.99),
        measured_tokens_per_s_p50=_percentile(speeds, 0.50),
        wasted_attempts=sum(max(0, len(s.attempts) - (1 if s.ok else 0)) for s in sent),
        failovers=sum(1 for s in sent if len(s.attempts) > 1),
        max_recovery_s=max(waits) if waits else 0.0,
        all_recovered=all(i.recovered is not False for i in incidents),
        max_react_s=max(reactions) if reactions else 0.0,
        all_reacted=all(i.reacted is not False for i in incidents),
        no_oracle=no_oracle, served=dict(sorted(served.items())), incidents=tuple(incidents))
