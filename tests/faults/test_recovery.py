"""A primary that goes down for a while and comes back (the minute of the issue, compressed to
seconds by a shorter outage window and cooldown): served from the fallback meanwhile, probed with
restraint, back on the primary once it heals."""

from __future__ import annotations

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
