"""Three routers, one Redis: what one replica learns about a provider, every replica acts on.

Real processes on loopback: the simulated fleet, three `crossroads serve --redis-url` replicas
on their own ports, and a real `redis-server` (tests/redis_server.py). The sim's per-endpoint
request log is the witness of where each replica sent its traffic.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import MODEL, router_config
from tests.redis_server import RedisServer
from tests.support import Router, Sim, start_router, wait_for

OUTAGE = ("http_503",) * 50  # longer than the test: every request the endpoint gets, it fails
CONVERGE_S = 2.0  # the scale-out promise: every replica steers away within 2 s


def body(*order: str) -> dict[str, Any]:
    """A request that tries `order` in that order: it avoids the first only for a breaker."""
    return {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
            "provider": {"order": list(order)}}


@pytest.fixture
def replicas(fresh_sim: Sim, redis_url: str, tmp_path: Path) -> Iterator[list[Router]]:
    started: list[Router] = []
    try:
        for n in range(3):
            home = tmp_path / f"replica-{n}"
            home.mkdir()
            started.append(start_router(router_config(fresh_sim), home, "--redis-url",
                                        redis_url, env={"SIM_KEY": "sim-secret-key"}))
        yield started
    finally:
        for router in started:
            router.stop()


def ask(router: Router, *order: str) -> str:
    """The provider that answered a request routed by `order`."""
    status, answer, _ = router.post("/chat/completions", body(*order))
    assert status == 200, answer
    return str(answer["provider"])


def state_of(router: Router, provider: str) -> str:
    status, page, _ = router.get(f"/models/{MODEL}/endpoints")
    assert status == 200, page
    rows = {row["crossroads"]["provider"]: row for row in page["data"]["endpoints"]}
    return str(rows[provider]["crossroads"]["state"])


def shared_up(router: Router) -> float | None:
    """`crossroads_shared_state_up{backend="redis"}` from the replica's /metrics."""
    with urllib.request.urlopen(router.root + "/metrics", timeout=10) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith('crossroads_shared_state_up{backend="redis"}'):
            return float(line.rsplit(" ", 1)[1])
    return None


def steered_away(sim: Sim, routers: list[Router], failed_on: Router,
                 failing: str, fallback: str) -> None:
    """An outage of `failing`, seen through `failed_on` alone, keeps every replica off it."""
    sim.script(failing, *OUTAGE)
    before = sim.hits(failing)
    assert ask(failed_on, failing, fallback) == fallback.title()  # it failed over
    assert sim.hits(failing) == before + 1  # one try, and that replica's breaker is open
    others = [r for r in routers if r is not failed_on]
    assert wait_for(lambda: all(state_of(r, failing) == "cooling_down" for r in others),
                    CONVERGE_S), [state_of(r, failing) for r in others]
    for router in others:
        for _ in range(3):
            assert ask(router, failing, fallback) == fallback.title()
    assert sim.hits(failing) == before + 1, f"a replica still sent traffic to {failing}"


def test_a_failure_seen_by_one_replica_steers_all_three_away(fresh_sim: Sim,
                                                             replicas: list[Router]):
    for router in replicas:  # every replica tries alpha first while it is healthy
        assert ask(router, "alpha", "bravo") == "Alpha"
    assert fresh_sim.hits("alpha") == 3
    steered_away(fresh_sim, replicas, replicas[1], "alpha", "bravo")


def test_without_redis_replicas_serve_alone_and_share_again_when_it_returns(
        fresh_sim: Sim, redis_server: RedisServer, replicas: list[Router]):
    assert wait_for(lambda: all(shared_up(r) == 1.0 for r in replicas), 10)
    redis_server.stop()
    try:
        for router in replicas:  # nothing a caller sees changes
            for _ in range(3):
                assert ask(router, "alpha", "bravo") == "Alpha"
        assert wait_for(lambda: all(shared_up(r) == 0.0 for r in replicas), 10)
        # What one replica learns now stays with it: another still tries alpha, and learns
        # of the outage itself (its caller still gets an answer, by failover).
        fresh_sim.script("alpha", *OUTAGE)
        before = fresh_sim.hits("alpha")
        assert ask(replicas[0], "alpha", "bravo") == "Bravo"
        assert ask(replicas[2], "alpha", "bravo") == "Bravo"
        assert fresh_sim.hits("alpha") == before + 2
    finally:
        redis_server.start()
    assert wait_for(lambda: all(shared_up(r) == 1.0 for r in replicas), 10)
    # Sharing resumes: a new outage, seen by one replica, steers all three again.
    steered_away(fresh_sim, replicas, replicas[1], "bravo", "charlie")
