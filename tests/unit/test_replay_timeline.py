"""The fleet timeline: parsing, the state at an instant, and what the sim serves then."""

from __future__ import annotations

import math
from typing import Any

import pytest

from crossroads.sim.endpoint import EndpointState
from crossroads.sim.profile import Price, SimConfigError, SimProfile, parse_fleet
from crossroads.sim.prompt import parse_chat
from crossroads.sim.timeline import CALM, effective, state_at


def endpoint(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "context_length": 8192, "max_output": 4096, "ttft_ms": 100,
            "tokens_per_s": 1000, "price": {"prompt": 0.1, "completion": 0.2}, **extra}


def fleet_with(*events: dict[str, Any], **top: Any) -> Any:
    return parse_fleet({"endpoint": [endpoint("a"), endpoint("b")], "event": list(events),
                        **top})


def test_a_timeline_parses_with_its_defaults():
    fleet = fleet_with({"at": 5, "endpoint": "a", "kind": "outage", "for_s": 14},
                       {"at": 7, "endpoint": "b", "kind": "price",
                        "price": {"prompt": 1, "completion": 2}})
    outage, price = fleet.timeline
    assert (outage.at, outage.end, outage.outcome) == (5, 19, "http_503")
    assert math.isinf(price.end) and price.price == Price(prompt=1, completion=2)
    assert fleet.compress == 1.0 and fleet.replay.rate == 10.0
    assert fleet.endpoints[0].price == Price(prompt=0.1, completion=0.2)


@pytest.mark.parametrize(("event", "words"), [
    ({"at": 1, "endpoint": "nobody", "kind": "outage"}, "names no endpoint"),
    ({"at": 1, "endpoint": "a", "kind": "outage", "speed_factor": 5}, "no field 'speed_factor'"),
    ({"at": 1, "endpoint": "a", "kind": "errors"}, "needs 'fault_rates'"),
    ({"at": 1, "endpoint": "a", "kind": "price"}, "needs 'price'"),
    ({"at": 1, "endpoint": "a", "kind": "errors", "fault_rates": {"http_500": 0.7,
                                                                   "http_502": 0.6}},
     "sum to at most 1"),
    ({"at": 1, "endpoint": "a", "kind": "meteor"}, "kind"),
    ({"at": -1, "endpoint": "a", "kind": "outage"}, "at"),
    ({"at": 1, "endpoint": "a", "kind": "slowdown", "speed_factor": 0}, "speed_factor"),
])
def test_a_wrong_event_is_refused_with_its_reason(event: dict[str, Any], words: str):
    with pytest.raises(SimConfigError) as info:
        fleet_with(event)
    assert words in str(info.value)


def test_compress_must_be_positive():
    with pytest.raises(SimConfigError, match="compress"):
        fleet_with(compress=0)


def test_the_state_holds_from_at_until_the_end_exclusive():
    fleet = fleet_with({"at": 5, "endpoint": "a", "kind": "outage", "for_s": 14})
    assert state_at(fleet.timeline, "a", 4.999) == CALM
    assert state_at(fleet.timeline, "a", 5).down
    assert state_at(fleet.timeline, "a", 18.999).failing
    assert state_at(fleet.timeline, "a", 19) == CALM
    assert state_at(fleet.timeline, "b", 10) == CALM


def test_overlapping_events_slowdowns_multiply_and_the_later_rates_win():
    fleet = fleet_with(
        {"at": 0, "endpoint": "a", "kind": "slowdown", "for_s": 10, "speed_factor": 2},
        {"at": 5, "endpoint": "a", "kind": "slowdown", "for_s": 10, "speed_factor": 3,
         "ttft_factor": 4},
        {"at": 0, "endpoint": "a", "kind": "errors", "for_s": 10,
         "fault_rates": {"http_500": 0.3}},
        {"at": 5, "endpoint": "a", "kind": "rate_limit", "for_s": 10, "retry_after_s": 3})
    early = state_at(fleet.timeline, "a", 1)
    assert (early.speed_factor, early.ttft_factor, early.fault_rates) == (2, 1, {"http_500": 0.3})
    late = state_at(fleet.timeline, "a", 6)
    assert (late.speed_factor, late.ttft_factor) == (6, 4)
    assert late.fault_rates == {"http_429_retry_after": 1.0} and late.retry_after_s == 3
    assert [e.kind for e in late.incidents] == ["errors", "rate_limit"]
    # Slowdowns are not incidents: the oracle still counts a slow endpoint healthy.
    slow = fleet_with({"at": 0, "endpoint": "a", "kind": "slowdown", "speed_factor": 2})
    assert not state_at(slow.timeline, "a", 1).failing
    assert state_at(slow.timeline, "a", 1).speed_factor == 2


def test_the_effective_profile_carries_each_kind_of_event():
    base = SimProfile(name="a", context_length=8192, max_output=4096, ttft_ms=100,
                      tokens_per_s=1000, fault_rates={"http_502": 0.01})
    assert effective(base, CALM) is base
    fleet = fleet_with(
        {"at": 0, "endpoint": "a", "kind": "outage", "outcome": "reset"},
        {"at": 0, "endpoint": "b", "kind": "slowdown", "speed_factor": 5, "ttft_factor": 5},
        {"at": 0, "endpoint": "b", "kind": "rate_limit", "retry_after_s": 3, "share": 0.5},
        {"at": 0, "endpoint": "b", "kind": "price", "price": {"prompt": 9, "completion": 9}})
    down = effective(base, state_at(fleet.timeline, "a", 1))
    assert down.down and down.outage_outcome == "reset"
    b = effective(base, state_at(fleet.timeline, "b", 1))
    assert (b.ttft_ms, b.tokens_per_s, b.retry_after_s) == (500, 200, 3)
    assert b.fault_rates == {"http_429_retry_after": 0.5}
    assert b.price == Price(prompt=9, completion=9)


def test_the_sim_decides_by_the_timeline_at_the_request_time_compressed():
    fleet = fleet_with({"at": 10, "endpoint": "a", "kind": "outage", "for_s": 10},
                       {"at": 10, "endpoint": "a", "kind": "slowdown", "for_s": 10,
                        "speed_factor": 4}, compress=2)
    state = EndpointState(fleet.endpoints[0], fleet.seed, fleet.timeline, fleet.compress)
    request = parse_chat({"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                         765, False)
    # Script second = wall second × 2: the outage is wall seconds [5, 10).
    assert state.decide(request, 4.9) == ("ok", None)
    assert state.decide(request, 5.0) == ("http_503", None)
    assert state.profile_at(7).tokens_per_s == 250
    assert state.profile_at(7) is state.profile_at(8)  # the same events: the same profile
    assert state.decide(request, 10.0) == ("ok", None)
    assert state.profile_at(10) is state.profile
