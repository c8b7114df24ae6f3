"""One healthy simulated fleet and one router in front of it, shared by every fuzz test.

The fleet never fails on its own (no fault rates, no outages, no delays), so any 5xx the router
gives during fuzzing is the router's doing. Limits are configured small enough to be reached:
`max_body_bytes` is 256 KiB, `max_header_bytes` 16 KiB. Hedging is on and immediate, so streams
with a fallback race two endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crossroads.chat_request import PARAMETERS
from tests.fuzz.support import TALLY, Client, rss_kb
from tests.support import Router, Sim, start_router, start_sim

MODEL = "test/echo"
MAX_BODY_BYTES = 256 * 1024
MAX_HEADER_BYTES = 16 * 1024
PROVIDERS = ("alpha", "bravo", "charlie")
QUANTIZATION = "fp8"

FLEET = """
seed = 11
time_scale = 0

[[endpoint]]
name = "alpha"
context_length = 8192
max_output = 4096
completion_tokens = 12

[[endpoint]]
name = "bravo"
context_length = 8192
max_output = 4096
completion_tokens = 12

[[endpoint]]
name = "charlie"
context_length = 32768
max_output = 4096
completion_tokens = 12
supports_images = false
"""


def fuzz_config(sim: Sim, state_dir: Path, extra: str = "") -> str:
    parameters = ", ".join(f'"{p}"' for p in sorted(PARAMETERS))
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
quantization = "{QUANTIZATION}"
context_length = {ctx}
max_output = 4096
price = {{ prompt = {price}, completion = {price}{cache} }}
input_modalities = [{modalities}]
supported_parameters = [{parameters}]
"""
        for name, ctx, price, cache, modalities in (
            ("alpha", 8192, 0.1, ", cache_read = 0.01", '"text", "image"'),
            ("bravo", 8192, 0.2, "", '"text", "image"'),
            ("charlie", 32768, 0.4, "", '"text"'),
        )
    )
    return f"""
[server]
state_dir = "{state_dir}"
max_body_bytes = {MAX_BODY_BYTES}
max_header_bytes = {MAX_HEADER_BYTES}

[routing]
seed = 1

[timeouts]
headers_s = 5
first_token_s = 5
stall_s = 5
keepalive_s = 1
total_s = 20
client_body_s = 1

# Hedging on, at once: once an endpoint has three measured first tokens, every stream that
# has a fallback starts it alongside, so fuzzed streams race two endpoints for real.
[failover]
hedge = true
ttft_multiple = 0.001
ttft_floor_s = 0
ttft_per_1k_prompt_s = 0
ttft_min_samples = 3

{extra}

[[models]]
slug = "{MODEL}"
name = "Test Echo"
context_length = 32768
input_modalities = ["text", "image"]
{endpoints}
"""


@pytest.fixture(scope="session")
def fuzz_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    handle = start_sim(FLEET, tmp_path_factory.mktemp("fuzz-sim"))
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def fuzz_router(fuzz_sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    tmp = tmp_path_factory.mktemp("fuzz-router")
    router = start_router(fuzz_config(fuzz_sim, tmp), tmp, env={"SIM_KEY": "sim-secret-key"})
    TALLY.rss_kb.append(rss_kb(router.process.pid))
    yield router
    TALLY.rss_kb.append(rss_kb(router.process.pid))
    router.stop()
    # Every 500 the app itself produced was logged with this line; none may be unexplained.
    unhandled = router.log.read_text().count("unhandled error on ")
    assert unhandled <= sum(TALLY.known_bugs.values()), router.log.read_text()[-5000:]


@pytest.fixture(scope="session")
def client(fuzz_router: Router) -> Client:
    return Client(fuzz_router.root)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.requests:
        terminalreporter.write_sep("-", "fuzz summary")
        terminalreporter.write_line(TALLY.line())
