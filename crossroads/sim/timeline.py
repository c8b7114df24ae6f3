"""A fleet's timeline: what each endpoint is like at a given second of the script.

The sim asks `effective(profile, state_at(events, name, t))` for each request, so its answers
follow the script; `crossroads replay` asks `state_at` for the same instants to build its oracle,
so both read one definition. What each kind of event does while it lasts:

    outage      every request gets `outcome` (default http_503: the provider is up but refuses;
                "reset" drops the connection instead, the nearest a shared socket gets to a
                refused connection)
    slowdown    time to first token × `ttft_factor`, tokens/s ÷ `speed_factor`
    errors      `fault_rates` replace the endpoint's own rates (e.g. { http_500 = 0.3 })
    rate_limit  a share of requests (`share`, default all) get 429 with `Retry-After:
                retry_after_s`; the rest are served
    price       the endpoint charges `price` from then on (or for `for_s`); the sim serves as
                before, only a router catalog built from the fleet and the oracle price it

Events of one endpoint that overlap apply in file order: slowdowns multiply, and the later of two
errors/rate_limit events (or prices) wins. Outage, errors and rate_limit are *incidents*: while one
lasts the endpoint counts as unhealthy for the oracle; slowdowns and prices are not failures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from crossroads.sim.profile import Event, Outcome, Price, SimProfile

__all__ = ["CALM", "INCIDENTS", "State", "active_events", "effective", "state_at"]

INCIDENTS: Final = frozenset({"outage", "errors", "rate_limit"})


class State(msgspec.Struct, frozen=True, kw_only=True):
    """The timeline's effect on one endpoint at one instant (no event: the defaults)."""

    down: bool = False
    outage_outcome: Outcome = "http_503"
    fault_rates: dict[Outcome, float] | None = None
    retry_after_s: float | None = None
    speed_factor: float = 1.0
    ttft_factor: float = 1.0
    price: Price | None = None
    incidents: tuple[Event, ...] = ()

    @property
    def failing(self) -> bool:
        """An incident lasts: the oracle would not send this endpoint a request now."""
        return bool(self.incidents)


CALM: Final = State()

_Apply = Callable[[State, Event], State]


def _outage(s: State, e: Event) -> State:
    return msgspec.structs.replace(s, down=True, outage_outcome=e.outcome,
                                   incidents=(*s.incidents, e))


def _slowdown(s: State, e: Event) -> State:
    return msgspec.structs.replace(s, speed_factor=s.speed_factor * e.speed_factor,
                                   ttft_factor=s.ttft_factor * e.ttft_factor)


def _errors(s: State, e: Event) -> State:
    return msgspec.structs.replace(s, fault_rates=dict(e.fault_rates),
                                   incidents=(*s.incidents, e))


def _rate_limit(s: State, e: Event) -> State:
    return msgspec.structs.replace(s, fault_rates={"http_429_retry_after": e.share},
                                   retry_after_s=e.retry_after_s, incidents=(*s.incidents, e))


def _price(s: State, e: Event) -> State:
    return msgspec.structs.replace(s, price=e.price)


_APPLY: Final[dict[str, _Apply]] = {
    "outage": _outage,
    "slowdown": _slowdown,
    "errors": _errors,
    "rate_limit": _rate_limit,
    "price": _price,
}


def active_events(events: Sequence[Event], name: str, t: float) -> tuple[Event, ...]:
    """The events of endpoint `name` that apply at script second `t`, in file order."""
    return tuple(e for e in events if e.endpoint == name and e.at <= t < e.end)


def state_at(events: Sequence[Event], name: str, t: float) -> State:
    """Endpoint `name`'s state at script second `t` (the sum of its active events)."""
    state = CALM
    for event in active_events(events, name, t):
        state = _APPLY[event.kind](state, event)
    return state


def effective(profile: SimProfile, state: State) -> SimProfile:
    """The profile the sim serves while `state` holds (the profile itself when calm)."""
    if state == CALM:
        return profile
    return msgspec.structs.replace(
        profile,
        down=profile.down or state.down,
        outage_outcome=state.outage_outcome if state.down else profile.outage_outcome,
        fault_rates=profile.fault_rates if state.fault_rates is None else state.fault_rates,
        retry_after_s=(profile.retry_after_s if state.retry_after_s is None
                       else state.retry_after_s),
        ttft_ms=profile.ttft_ms * state.ttft_factor,
        tokens_per_s=profile.tokens_per_s / state.speed_factor,
        price=state.price or profile.price,
    )

