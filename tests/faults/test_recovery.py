"""A primary that goes down for a while and comes back (the minute of the issue, compressed to
seconds by a shorter outage window and cooldown): served from the fallback meanwhile, probed with
restraint, back on the primary once it heals."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from tests.integration.conftest import MODEL
from tests.support import Router, Sim

OUTAGE_S = 4.0
PACE_S = 0.05
DEADLINE_S = 15.0


def test_primary_down_then_healthy(make_router: Callable[..., Router], fresh_sim: Sim):
    router = make_router(routing="outage_window_s = 2", cooldowns=(0.2, 1.0))
    # The sim's clock restarts with a reset, made once the router is up so that however long it
    # took to start, alpha is down for the first OUTAGE_S seconds of the loop below.
    fresh_sim.reset()
    fresh_sim.patch("alpha", outages=[[0, OUTAGE_S]])
    started = time.monotonic()
    served: list[tuple[float, str]] = []
    while time.monotonic() - started < DEADLINE_S:
        status, body, _ = router.post("/chat/completions", {
            "model": f"{MODEL}:floor", "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200, body  # the caller never notices the outage
        served.append((time.monotonic() - started, body["provider"]))
        if (served[-1][0] > OUTAGE_S and [p for _, p in served[-5:]] == ["Alpha"] * 5):
            break
        time.sleep(PACE_S)
    during = [p for t, p in served if t < OUTAGE_S - 0.5]
    assert during and set(during) == {"Bravo"}
    # Restraint: the failing primary saw a handful of probes, not one per request.
    failed = [r for r in fresh_sim.requests("alpha") if r["outcome"] != "ok"]
    assert 1 <= len(failed) <= 8, len(failed)
    assert len(during) > 3 * len(failed)
    # Healed: back on the primary, for good.
    assert [p for _, p in served[-5:]] == ["Alpha"] * 5, served[-10:]


LONG_OUTAGE_S = 12.0  # long enough for the doubling cooldown to reach its cap: 1 + 2 + 4 + 5


def test_a_long_outage_heals_within_10_s_with_the_shipped_breaker(
        make_router: Callable[..., Router], fresh_sim: Sim):
    """Issue 16 item 4 / issue 18: with the shipped cooldowns (1 s doubling to a 5-s cap), the
    dead primary is probed about once per cooldown, and serves again within 10 s of healing."""
    router = make_router(cooldowns=(1.0, 5.0))
    fresh_sim.reset()  # the sim's clock restarts now that the router is up: the whole outage
    fresh_sim.patch("alpha", outages=[[0, LONG_OUTAGE_S]])
    started = time.monotonic()
    served: list[str] = []
    while time.monotonic() - started < LONG_OUTAGE_S + 15.0:
        status, body, _ = router.post("/chat/completions", {
            "model": f"{MODEL}:floor", "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200, body  # the caller never notices the outage
        served.append(body["provider"])
        if served[-5:] == ["Alpha"] * 5:
            break
        time.sleep(PACE_S)
    assert served[-5:] == ["Alpha"] * 5, served[-10:]
    # The sim's log is on its own clock, which started with the outage.
    log = fresh_sim.requests("alpha")
    healed = [r["t"] for r in log if r["outcome"] == "ok"]
    assert healed and healed[0] >= LONG_OUTAGE_S and healed[0] - LONG_OUTAGE_S <= 10.0, healed[:3]
    failed = [r["t"] for r in log if r["outcome"] != "ok"]
    gaps = [b - a for a, b in itertools.pairwise(failed)]
    assert failed and all(g >= 0.9 for g in gaps), failed  # one probe per cooldown
    assert len(failed) <= 7, failed
