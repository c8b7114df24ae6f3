"""The replay's oracle and score, on made-up requests at injected send times."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from crossroads.commands.replay import duration_s, plan_for
from crossroads.replay.catalog import KEY_VARIABLE, router_config
from crossroads.replay.oracle import Mode, Sent, policy, score, snapshot
from crossroads.replay.report import notes
from crossroads.settings import load_settings
from crossroads.sim.profile import SimConfigError, SimFleet, parse_fleet

# Every answer: 10 prompt and 90 completion tokens.
TOKENS = {"prompt_tokens": 10, "completion_tokens": 90}


def fleet(*events: dict[str, Any], **top: Any) -> SimFleet:
    def endpoint(name: str, price: float, speed: float) -> dict[str, Any]:
        return {"name": name, "context_length": 8192, "max_output": 4096,
                "tokens_per_s": speed, "price": {"prompt": price, "completion": price}}

    return parse_fleet({
        "endpoint": [endpoint("a", 0.1, 100), endpoint("b", 0.2, 400), endpoint("c", 0.4, 1000)],
        "event": [{"at": 10, "endpoint": "a", "kind": "outage", "for_s": 10},
                  {"at": 30, "endpoint": "c", "kind": "slowdown", "for_s": 10,
                   "speed_factor": 10}, *events],
        **top})


def served(t: float, endpoint: str, *tried: str) -> Sent:
    return Sent(t=t, ok=True, endpoint=endpoint, attempts=tried or (endpoint,), **TOKENS)


def test_each_mode_s_policy_over_the_healthy_endpoints():
    script = fleet()
    calm, a_down, c_slow = (snapshot(script, t) for t in (5, 15, 35))
    mix = (10.0, 90.0)
    shares = policy("balanced", calm, mix)
    assert shares == pytest.approx({"a": 100 / 131.25, "b": 25 / 131.25, "c": 6.25 / 131.25})
    assert policy("balanced", a_down, mix) == pytest.approx({"b": 25 / 31.25, "c": 6.25 / 31.25})
    assert policy("floor", calm, mix) == policy("exacto", calm, mix) == {"a": 1.0}
    assert policy("floor", a_down, mix) == {"b": 1.0}
    assert policy("nitro", calm, mix) == {"c": 1.0}
    assert c_slow["c"].speed == 100
    assert policy("nitro", c_slow, mix) == {"b": 1.0}


def test_cost_is_compared_with_the_cheapest_healthy_and_with_the_mode_s_policy():
    result = score(fleet(), "floor", [served(5, "b"), served(15, "b")])
    # Paid 0.2 + 0.2 where the cheapest healthy cost 0.1 (a) then 0.2 (a is down).
    assert result.cost_vs_oracle == pytest.approx(0.4 / 0.3)
    assert result.cost_vs_policy == pytest.approx(0.4 / 0.3)
    assert result.cost_usd == pytest.approx(2 * 100 * 0.2 / 1e6)
    balanced = score(fleet(), "balanced", [served(5, "a")])
    # The 1/price² draw's expected price: (0.1·100 + 0.2·25 + 0.4·6.25) / 131.25.
    assert balanced.cost_vs_policy == pytest.approx(0.1 / (17.5 / 131.25))
    assert balanced.cost_vs_oracle == pytest.approx(1.0)


def test_throughput_is_the_served_endpoint_s_scripted_speed_over_the_fastest_healthy():
    result = score(fleet(), "nitro", [served(5, "c"), served(35, "c")])
    # c is the fastest (1000) at 5 s; slowed to 100 at 35 s where b (400) is fastest.
    assert result.throughput_vs_oracle == pytest.approx((1000 + 100) / (1000 + 400))


def test_wasted_attempts_failovers_and_failures_during_an_incident():
    sent = [served(12, "b", "a", "b"), served(13, "b", "a", "a", "b"),
            Sent(t=14, ok=False, status=502, attempts=("a", "b", "c")), served(25, "a")]
    result = score(fleet(), "floor", sent)
    assert (result.wasted_attempts, result.failovers) == (1 + 2 + 3, 3)
    assert result.success_rate == pytest.approx(0.75)
    outage = result.incidents[0]
    assert (outage.endpoint, outage.kind, outage.failed_attempts) == ("a", "outage", 4)
    assert result.served == {"a": 1, "b": 2}


def steady_traffic(back_at: float | None, *, until: float = 40.0) -> list[Sent]:
    """Floor's traffic, every 0.1 s: a when up, else b, and a again from `back_at`."""
    out = []
    for i in range(int(until * 10)):
        t = i / 10
        healthy = t < 10 or (back_at is not None and t >= back_at)
        out.append(served(t, "a" if healthy else "b"))
    return out


def test_recovery_is_the_time_until_the_healed_endpoint_has_its_share_again():
    result = score(fleet(), "floor", steady_traffic(back_at=23.0))
    outage = result.incidents[0]
    assert outage.recovered is True and outage.expected_share == pytest.approx(1.0)
    assert outage.recovery_s == pytest.approx(3.0)
    assert result.max_recovery_s == pytest.approx(3.0) and result.all_recovered
    # Compressed 2×: the same script seconds are half as many wall seconds.
    halved = score(fleet(), "floor", steady_traffic(back_at=23.0), compress=2)
    assert halved.incidents[0].recovery_s == pytest.approx(1.5)


def test_one_lucky_request_is_not_a_recovery():
    sent = steady_traffic(back_at=None)
    sent[250] = served(25.0, "a")  # once, at 25 s; the floor share is all of it
    result = score(fleet(), "floor", sent)
    outage = result.incidents[0]
    assert outage.recovered is False and outage.recovery_s is None
    assert result.max_recovery_s == pytest.approx(39.9 - 20)  # a lower bound: the last send
    assert not result.all_recovered


def test_a_return_that_does_not_hold_is_a_relapse_not_a_recovery():
    # Back at 23 s for 3 s, then demoted again: Floor's share is all of the traffic.
    sent = [served(i / 10, "a" if i < 100 or 230 <= i < 260 else "b") for i in range(400)]
    result = score(fleet(), "floor", sent)
    outage = result.incidents[0]
    assert outage.recovered is False and outage.recovery_s == pytest.approx(3.0)
    # The first 100-request window from its return (23.0-32.9 s) has it serving 30 of 100.
    assert outage.relapse_s == pytest.approx(12.9)
    assert result.max_recovery_s == pytest.approx(19.9) and not result.all_recovered


def test_recovery_does_not_apply_where_the_mode_would_not_use_the_endpoint():
    # Nitro never wants a (the slowest): its outage has no recovery to wait for.
    outage = score(fleet(), "nitro", steady_traffic(back_at=None)).incidents[0]
    assert outage.recovered is None and outage.recovery_s is None
    assert outage.expected_share == pytest.approx(0.0)


def test_requests_sent_while_nothing_is_healthy_have_no_oracle():
    script = fleet({"at": 10, "endpoint": "b", "kind": "errors", "for_s": 10,
                    "fault_rates": {"http_500": 0.5}},
                   {"at": 10, "endpoint": "c", "kind": "rate_limit", "for_s": 10})
    result = score(script, "floor", [served(15, "b"), served(25, "a")])
    assert result.no_oracle == 1
    assert result.cost_vs_oracle == pytest.approx(1.0)  # only the request that had one


def test_a_calm_fleet_lasts_20_s_and_a_scripted_one_10_s_past_its_last_end():
    assert duration_s(parse_fleet({"endpoint": []})) == 20
    assert duration_s(fleet()) == 50
    assert duration_s(fleet(replay={"duration_s": 33})) == 33


def args(**given: Any) -> argparse.Namespace:
    defaults = {"fleet": "f.toml", "mode": "balanced", "requests": None, "rate": None,
                "compress": 1.0, "max_tokens": None, "timeout": 60.0}
    return argparse.Namespace(**{**defaults, **given})


def test_the_plan_sends_the_script_s_length_times_the_rate():
    plan = plan_for(args(), fleet())
    assert (plan.requests, plan.rate) == (500, 10)
    assert plan_for(args(compress=2, rate=4), fleet()).requests == 100
    assert plan_for(args(requests=7), fleet()).requests == 7
    mode: Mode = "nitro"
    assert plan_for(args(mode=mode), fleet()).mode == "nitro"


def test_a_fleet_without_prices_cannot_be_replayed():
    unpriced = parse_fleet({"endpoint": [{"name": "x", "context_length": 10,
                                          "max_output": 10}]})
    with pytest.raises(SimConfigError, match="missing: x"):
        plan_for(args(), unpriced)


def test_the_router_catalog_has_one_priced_endpoint_per_simulated_one(tmp_path: Path):
    script = fleet(replay={"model": "replay/three"})
    path = tmp_path / "router.toml"
    path.write_text(router_config(script, "http://127.0.0.1:9"))
    settings = load_settings(str(path), env={KEY_VARIABLE: "k"})
    endpoints = settings.catalog.endpoints("replay/three")
    assert [e.provider_name for e in endpoints] == ["a", "b", "c"]
    assert [e.pricing.prompt for e in endpoints] == [100_000, 200_000, 400_000]
    assert [e.nominal_throughput for e in endpoints] == [100, 400, 1000]
    assert endpoints[0].base_url == "http://127.0.0.1:9/a/v1"


def test_reaction_is_the_time_until_first_attempts_leave_the_failing_endpoint():
    # Floor keeps trying a first for 2 s of its outage (failing over to b), then starts at b.
    sent = []
    for i in range(400):
        t = i / 10
        if 10 <= t < 12:
            sent.append(served(t, "b", "a", "b"))
        else:
            sent.append(served(t, "a" if t < 10 or t >= 20 else "b"))
    outage = score(fleet(), "floor", sent).incidents[0]
    assert outage.reacted is True
    # The first full 20-request window with at most half of them first at a starts at 11.0 s.
    assert outage.react_s == pytest.approx(1.0)
    assert outage.recovered is True and outage.recovery_s == pytest.approx(0.0)


def test_a_router_that_keeps_trying_a_dead_endpoint_first_never_reacted():
    sent = [served(i / 10, "b", "a", "b") if 10 <= i / 10 < 20 else served(i / 10, "a")
            for i in range(400)]
    result = score(fleet(), "floor", sent)
    outage = result.incidents[0]
    assert outage.reacted is False and not result.all_reacted
    assert outage.react_s == pytest.approx(19.9 - 10)


def test_nitro_reacts_to_a_slowdown_balanced_has_nothing_to_react_to():
    sent = [served(i / 10, "b" if 32 <= i / 10 < 40 else "c") for i in range(450)]
    slowdown = score(fleet(), "nitro", sent).incidents[1]
    assert slowdown.kind == "slowdown" and slowdown.reacted is True
    assert slowdown.react_s == pytest.approx(2.0 - 1.0)  # half of a 20-request window moved
    assert slowdown.recovered is True and slowdown.recovery_s == pytest.approx(0.0)
    balanced = score(fleet(), "balanced", sent).incidents[1]
    assert balanced.reacted is None and balanced.recovered is not None


def test_the_most_failed_attempts_within_one_second_of_an_outage():
    # Ten requests in the outage's first second each try a once; then one every 2 s.
    sent = [served(10 + i / 10, "b", "a", "b") for i in range(10)]
    sent += [served(12 + 2 * i, "b", "a", "b") for i in range(4)]
    outage = score(fleet(), "floor", sent).incidents[0]
    assert (outage.failed_attempts, outage.max_failed_per_s) == (14, 10)


def test_a_price_event_reprices_the_answers_and_the_oracle_and_is_noted():
    script = fleet({"at": 30, "endpoint": "a", "kind": "price",
                    "price": {"prompt": 1.0, "completion": 1.0}})
    result = score(script, "floor", [served(5, "a"), served(35, "a")])
    # At 35 s a charges $1 while b is the cheapest at $0.2: (0.1 + 1.0) ÷ (0.1 + 0.2).
    assert result.cost_vs_oracle == pytest.approx(1.1 / 0.3)
    plan = plan_for(args(compress=2), script)
    said = " ".join(notes(plan))
    assert "price events reach the oracle" in said and "compressed 2×" in said
    assert notes(plan_for(args(), fleet())) == []
