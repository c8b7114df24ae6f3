"""Adaptive first-token deadlines, hedge points and the same-endpoint retry rule, with injected
measurements, clocks and randomness."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from crossroads.catalog import Catalog, Model
from crossroads.deadlines import AttemptLimits, attempt_limits, first_token_budget
from crossroads.failures import AttemptError, Failure
from crossroads.metrics import OverheadTimer
from crossroads.retry_policy import BREAKER_MARGIN_S, leaves_model, retry_wait
from crossroads.routing.plan import build_plan
from crossroads.settings import (
    ConfigError,
    FailoverConfig,
    RoutingConfig,
    TimeoutConfig,
    load_settings,
)
from crossroads.stats import Percentiles
from tests.unit.factories import MODEL, FakeStats, endpoint, request

CEILING = 30.0


def ttft(p99: float, samples: int = 50) -> Percentiles:
    return Percentiles(p50=p99 / 2, p75=p99 / 1.5, p90=p99 / 1.2, p99=p99, samples=samples)


# --- deadlines --------------------------------------------------------------------------------


@pytest.mark.parametrize(("measured", "expected"), [
    (ttft(0.3), 2.0),  # 4 × 0.3 = 1.2 is under the 2 s floor
    (ttft(1.0), 4.0),  # 4 × p99
    (ttft(20.0), CEILING),  # never past the constant
    (ttft(0.3, samples=9), CEILING),  # too few samples: the constant stands
    (None, CEILING),  # never measured
])
def test_first_token_budget(measured: Percentiles | None, expected: float) -> None:
    assert first_token_budget(measured, FailoverConfig(), CEILING) == pytest.approx(expected)


def test_a_long_prompt_gets_its_prefill_time() -> None:
    # 2 s from the floor, then 0.5 s per 1,000 prompt tokens, up to the constant.
    assert first_token_budget(ttft(0.3), FailoverConfig(), CEILING, 4000) == pytest.approx(4.0)
    assert first_token_budget(ttft(0.3), FailoverConfig(), CEILING, 200_000) == CEILING


def test_first_token_budget_follows_its_settings() -> None:
    config = FailoverConfig(ttft_multiple=3.0, ttft_floor_s=0.2, ttft_min_samples=5,
                            ttft_per_1k_prompt_s=0)
    assert first_token_budget(ttft(0.3, samples=5), config, CEILING, 10**6) == \
        pytest.approx(0.9)
    off = FailoverConfig(adaptive_first_token=False)
    assert first_token_budget(ttft(0.3), off, CEILING) == CEILING


def limits(**kw: object) -> AttemptLimits:
    args: dict[str, object] = {"now": 100.0, "total_deadline": 700.0, "has_fallback": True,
                               "streamed": True, "ttft": ttft(1.0),
                               "failover": FailoverConfig(), "first_token_s": CEILING}
    args.update(kw)
    return attempt_limits(**args)  # type: ignore[arg-type]


def test_attempt_limits() -> None:
    assert limits() == AttemptLimits(104.0)
    # The last candidate waits as long as the request may; a whole answer keeps the constant.
    assert limits(has_fallback=False) == AttemptLimits(700.0)
    assert limits(streamed=False) == AttemptLimits(130.0)
    # Hedging: the budget is the hedge point; the first attempt races on until the constant,
    # or twice its budget when that is longer (no measurements: the budget is the constant).
    assert limits(failover=FailoverConfig(hedge=True)) == AttemptLimits(130.0, 104.0)
    assert limits(failover=FailoverConfig(hedge=True), ttft=None) == AttemptLimits(160.0, 130.0)
    # No hedge the request could not outlive.
    assert limits(failover=FailoverConfig(hedge=True), total_deadline=103.0) == \
        AttemptLimits(103.0)


# --- same endpoint retry ----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ":floor", ":nitro"])
def test_every_endpoint_of_the_requested_model_comes_before_another_model(suffix: str) -> None:
    # The fallback model's endpoints are cheaper and faster: order within a model never lets
    # them ahead of the requested model's.
    mine = [endpoint("a", 5.0, nominal_throughput=10), endpoint("b", 6.0, nominal_throughput=20)]
    theirs = [endpoint("y", 0.1, model="b/other", nominal_throughput=900),
              endpoint("z", 0.2, model="b/other", nominal_throughput=800)]
    cat = Catalog([Model(slug=MODEL, name="T"), Model(slug="b/other", name="O")],
                  [*mine, *theirs], {})
    for seed in range(10):
        plan = build_plan(request(model=MODEL + suffix, models=["b/other"]), cat, FakeStats(),
                          RoutingConfig(), random.Random(seed), 0.0)
        assert [e.model for e in plan.attempts] == [MODEL, MODEL, "b/other", "b/other"]

SOLO = endpoint("alpha", model="a/solo")
SIBLING = endpoint("bravo", model="a/solo")
OTHER = endpoint("charlie", model="b/other")
TIMEOUTS = TimeoutConfig(retry_after_max_wait_s=2.0)


def wait(error: AttemptError, queue: list, cooling: float = 0.0, time_left: float = 600.0,
         failover: FailoverConfig | None = None, seed: int = 1) -> float | None:
    return retry_wait(error, SOLO, queue, 0, cooling_left_s=cooling, time_left_s=time_left,
                      failover=failover or FailoverConfig(), timeouts=TIMEOUTS,
                      rng=random.Random(seed))


def server_error(status: int = 500) -> AttemptError:
    return AttemptError(Failure.SERVER_ERROR, "boom", status=status)


def rate_limited(after: float | None) -> AttemptError:
    return AttemptError(Failure.RATE_LIMITED, "slow down", status=429, retry_after_s=after)


def test_leaves_model() -> None:
    assert leaves_model(SOLO, [OTHER], 0)
    assert not leaves_model(SOLO, [SIBLING, OTHER], 0)
    # A sibling too short for the request does not count.
    assert leaves_model(SOLO, [SIBLING], SIBLING.context_length)


def test_a_transient_5xx_before_another_model_is_retried_after_a_jittered_backoff() -> None:
    waits = {wait(server_error(), [OTHER], seed=seed) for seed in range(20)}
    assert all(w is not None and 0.125 <= w <= 0.375 for w in waits)
    assert len(waits) > 1  # jittered, so a crowd does not come back at once
    for status in (502, 503, 504, 529):
        assert wait(server_error(status), [OTHER]) is not None


def test_a_5xx_retry_waits_out_the_breaker_within_the_bound() -> None:
    assert wait(server_error(), [OTHER], cooling=1.0) == pytest.approx(1.0 + BREAKER_MARGIN_S)
    assert wait(server_error(), [OTHER], cooling=2.5) is None  # past same_endpoint_max_wait_s


@pytest.mark.parametrize("queue", [[SIBLING], [SIBLING, OTHER], []])
def test_no_5xx_retry_while_the_model_has_other_endpoints_or_nothing_is_left(queue: list) -> None:
    assert wait(server_error(), queue) is None


def test_no_retry_for_what_is_not_transient() -> None:
    assert wait(server_error(501), [OTHER]) is None
    for failure in (Failure.CONNECT, Failure.STALL, Failure.CUT, Failure.UPSTREAM_AUTH):
        assert wait(AttemptError(failure, "no"), [OTHER]) is None


def test_a_short_retry_after_is_waited_out_before_another_model() -> None:
    assert wait(rate_limited(1.0), [OTHER], cooling=1.0) == pytest.approx(1.0 + BREAKER_MARGIN_S)
    assert wait(rate_limited(1.0), [], cooling=1.0) is not None  # the older rule
    assert wait(rate_limited(1.0), [SIBLING], cooling=1.0) is None  # a sibling first
    assert wait(rate_limited(5.0), [OTHER], cooling=5.0) is None  # past the bound
    assert wait(rate_limited(None), [OTHER]) is None  # no Retry-After: nothing to wait for


def test_never_past_the_total_deadline() -> None:
    assert wait(rate_limited(1.0), [OTHER], cooling=1.0, time_left=0.5) is None
    assert wait(server_error(), [OTHER], time_left=0.1) is None


def test_switched_off_only_the_older_rule_stands() -> None:
    off = FailoverConfig(same_endpoint_retry=False)
    assert wait(server_error(), [OTHER], failover=off) is None
    assert wait(rate_limited(1.0), [OTHER], cooling=1.0, failover=off) is None
    assert wait(rate_limited(1.0), [], cooling=1.0, failover=off) is not None


# --- overhead while two hedged attempts wait at once ------------------------------------------


def test_overlapping_waits_count_once() -> None:
    timer = OverheadTimer()
    timer.begin_wait()
    timer.begin_wait()  # the challenger starts waiting too
    timer.end_wait()
    timer.end_wait()
    assert 0.0 <= timer.seconds() < 0.5
    assert timer.waited >= 0.0 and timer.waited < 0.5


# --- settings ---------------------------------------------------------------------------------


def test_the_failover_table_loads_and_names_a_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "crossroads.toml"
    path.write_text("[failover]\nhedge = true\nttft_multiple = 3\n")
    failover = load_settings(str(path), env={}).failover
    assert failover.hedge and failover.ttft_multiple == 3.0 and failover.same_endpoint_retry
    assert load_settings(env={}).failover == FailoverConfig()  # off by default: no hedging
    for text, where in (("[failover]\nhegde = true\n", "failover"),
                        ("[failover]\nttft_multiple = 0\n", "failover.ttft_multiple"),
                        ("[failover]\nretry_backoff_s = -1\n", "failover")):
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_settings(str(path), env={})
        assert where in str(info.value)
