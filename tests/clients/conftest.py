"""One deployment per client module: the simulated fleet of `fleet.py` and a router in front.

A module's tests share it; every request they send carries a tag of its own in the prompt, so a
test asks the simulator which endpoints saw its request (and what they answered) instead of
trusting the router's word for it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.clients.fleet import ENDPOINTS, fleet_toml, router_toml
from tests.support import Router, Sim, start_router, start_sim


@dataclass
class Attempt:
    endpoint: str
    outcome: str
    prompt_tokens: int
    body: dict[str, Any]


@dataclass
class Deployment:
    sim: Sim
    router: Router

    def attempts(self, tag: str) -> list[Attempt]:
        """Every request the simulated endpoints received with `tag` in it, oldest first."""
        seen: list[tuple[float, Attempt]] = []
        for endpoint in ENDPOINTS:
            for entry in self.sim.requests(endpoint.slug):
                if f"[{tag}]" in json.dumps(entry.get("body")):
                    seen.append((entry["t"], Attempt(endpoint.slug, entry["outcome"],
                                                     entry["prompt_tokens"], entry["body"])))
        return [attempt for _, attempt in sorted(seen, key=lambda pair: pair[0])]

    def served(self, tag: str) -> Attempt:
        """The one attempt that answered the tagged request; every earlier one failed."""
        attempts = self.attempts(tag)
        assert attempts, f"no simulated endpoint saw a request tagged {tag!r}"
        assert all(a.outcome != "ok" for a in attempts[:-1]), attempts
        assert attempts[-1].outcome == "ok", attempts
        return attempts[-1]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("clients")
    sim = start_sim(fleet_toml(), tmp)
    try:
        router = start_router(router_toml({e.slug: sim.base(e.slug) for e in ENDPOINTS}), tmp,
                              env={"SIM_KEY": "sim-secret-key"})
        try:
            yield Deployment(sim, router)
        finally:
            router.stop()  # fails the module if any response broke OpenRouter's schema
    finally:
        sim.stop()  # even then


def client_environment() -> dict[str, str]:
    """The environment a client runs in: none of the OpenRouter variables a developer may
    have set, so a client reaches the router only through what the test gives it."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENROUTER_")}
