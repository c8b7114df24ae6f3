from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import Router, Sim, start_router, start_sim

FLEET = """
seed = 7
time_scale = 1.0

[[endpoint]]
name = "alpha"
context_length = 8192
max_output = 4096
ttft_ms = 5
ttft_sigma = 0
tokens_per_s = 2000
tps_sigma = 0
completion_tokens = 16

[[endpoint]]
name = "bravo"
context_length = 8192
max_output = 4096
ttft_ms = 5
ttft_sigma = 0
tokens_per_s = 2000
tps_sigma = 0
completion_tokens = 16

[[endpoint]]
name = "charlie"
context_length = 32768
max_output = 4096
ttft_ms = 5
ttft_sigma = 0
tokens_per_s = 2000
tps_sigma = 0
completion_tokens = 16
supports_images = false
"""

MODEL = "test/echo"


TIMEOUTS = {"headers_s": 1.5, "first_token_s": 1.0, "stall_s": 0.8, "keepalive_s": 0.25,
            "total_s": 20, "retry_after_max_wait_s": 0.5}


def router_config(sim: Sim, extra: str = "", routing: str = "",
                  timeouts: dict[str, float] | None = None,
                  cooldowns: tuple[float, float] = (60, 120)) -> str:
    base_cooldown, max_cooldown = cooldowns
    timeout_lines = "\n".join(f"{k} = {v}" for k, v in {**TIMEOUTS, **(timeouts or {})}.items())
    endpoints = "".join(
        f"""
[providers.{name}]
name = "{name.title()}"
base_url = "{sim.base(name)}"
api_key_env = "SIM_KEY"

[[endpoints]]
model = "{MODEL}"
provider = "{name}"
upstream_model = "echo-{name}"
context_length = {ctx}
max_output = 4096
price = {{ prompt = {price}, completion = {price} }}
input_modalities = [{modalities}]
supported_parameters = ["max_tokens", "temperature", "tools", "reasoning"]
"""
        for name, ctx, price, modalities in (
            ("alpha", 8192, 0.1, '"text", "image"'),
            ("bravo", 8192, 0.2, '"text", "image"'),
            ("charlie", 32768, 0.4, '"text"'),
        )
    )
    return f"""
[routing]
seed = 1
{routing}

[timeouts]
{timeout_lines}

[breaker]
base_cooldown_s = {base_cooldown}
max_cooldown_s = {max_cooldown}

[[models]]
slug = "{MODEL}"
name = "Test Echo"
context_length = 32768
input_modalities = ["text", "image"]
{endpoints}
{extra}
"""


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    handle = start_sim(FLEET, tmp_path_factory.mktemp("sim"))
    yield handle
    handle.stop()


@pytest.fixture
def fresh_sim(sim: Sim) -> Sim:
    sim.reset()
    return sim


@pytest.fixture
def make_router(tmp_path: Path, fresh_sim: Sim) -> Iterator[Callable[..., Router]]:
    started: list[Router] = []

    def make(extra: str = "", routing: str = "", timeouts: dict[str, float] | None = None,
             cooldowns: tuple[float, float] = (60, 120)) -> Router:
        router = start_router(router_config(fresh_sim, extra, routing, timeouts, cooldowns),
                              tmp_path, env={"SIM_KEY": "sim-secret-key"})
        started.append(router)
        return router

    yield make
    for router in started:
        router.stop()


@pytest.fixture
def router(make_router: Callable[..., Router]) -> Router:
    return make_router()
