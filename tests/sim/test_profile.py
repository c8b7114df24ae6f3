"""Fleet files, the Scout fleet, and the blocking entry point run as a real process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import msgspec
import pytest

from crossroads.sim.fleet import scout_fleet
from crossroads.sim.profile import (
    OUTCOMES,
    SimConfigError,
    SimFleet,
    SimProfile,
    load_fleet,
    patch_profile,
)

EXAMPLE = """
seed = 1
time_scale = 0.5

[[endpoint]]
name = "fast"
model = "vendor/model-a"
context_length = 131072
max_output = 8192
ttft_ms = 300
tokens_per_s = 600
cache = true
cache_min_tokens = 1024
api_key = "sk-fast"
fault_rates = { http_429_retry_after = 0.05, http_500 = 0.01 }
outages = [[60, 90]]
outage_outcome = "http_502"

[[endpoint]]
name = "slow"
context_length = 32768
max_output = 4096
supports_images = false
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "fleet.toml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_load_fleet(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, EXAMPLE))
    assert fleet.seed == 1
    assert fleet.time_scale == 0.5
    fast, slow = fleet.endpoints
    assert fast.name == "fast"
    assert fast.fault_rates == {"http_429_retry_after": 0.05, "http_500": 0.01}
    assert fast.outages == ((60.0, 90.0),)
    assert fast.outage_outcome == "http_502"
    assert fast.api_key == "sk-fast"
    assert slow.supports_images is False
    assert slow.ttft_ms == 500.0 and slow.completion_tokens == 64 and slow.image_tokens == 765


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (
            '[[endpoint]]\nname = "a"\ncontext_length = "big"\nmax_output = 1',
            "$.endpoint[0].context_length",
        ),
        ('[[endpoint]]\nname = "a"\nmax_output = 1', "context_length"),
        (
            '[[endpoint]]\nname = "a"\ncontext_length = 1\nmax_output = 1\nspeed = 3',
            "$.endpoint[0]",
        ),
        (
            '[[endpoint]]\nname = "a"\ncontext_length = 1\nmax_output = 1\n'
            "fault_rates = { http_999 = 0.5 }",
            "$.endpoint[0].fault_rates",
        ),
        (
            '[[endpoint]]\nname = "a"\ncontext_length = 1\nmax_output = 1\noutage_outcome = "boom"',
            "$.endpoint[0].outage_outcome",
        ),
        (
            '[[endpoint]]\nname = "a"\ncontext_length = 1\nmax_output = 1\n'
            "fault_rates = { http_500 = 0.7, http_502 = 0.7 }",
            "$.endpoint[0]",
        ),
        ('[[endpoint]]\nname = "a/b"\ncontext_length = 1\nmax_output = 1', "$.endpoint[0].name"),
        ("time_scale = -1", "$.time_scale"),
        ("seed = 1\n[[endpoint]]\nname = ", "fleet.toml"),
    ],
)
def test_load_fleet_errors_name_the_key(tmp_path: Path, text: str, path: str) -> None:
    with pytest.raises(SimConfigError) as err:
        load_fleet(write(tmp_path, text))
    assert path in str(err.value)


def test_duplicate_names_rejected() -> None:
    profile = SimProfile(name="a", context_length=1, max_output=1)
    with pytest.raises(ValueError, match="twice"):
        SimFleet(endpoints=(profile, profile))


def test_patch_profile_validates_the_whole() -> None:
    profile = SimProfile(name="a", context_length=10, max_output=5)
    patched = patch_profile(profile, {"ttft_ms": 5, "outages": [[1, 2]]})
    assert patched.ttft_ms == 5.0 and patched.outages == ((1.0, 2.0),)
    assert profile.ttft_ms == 500.0, "the original is untouched"
    with pytest.raises(SimConfigError, match="ends before it starts"):
        patch_profile(profile, {"outages": [[2, 1]]})


def test_outcome_names_are_pinned() -> None:
    assert set(OUTCOMES) == {
        "ok", "http_400", "context_length", "content_filter", "http_401", "http_402",
        "http_404", "http_408", "http_413", "http_429", "http_429_retry_after", "http_500",
        "http_502", "http_503", "reset", "no_answer", "slow_first_token", "stream_cut",
        "stream_stall", "malformed_sse", "no_done", "empty_200", "junk_line",
    }  # fmt: skip


def test_scout_fleet() -> None:
    fleet = scout_fleet(seed=3)
    limits = {p.name: (p.context_length, p.max_output) for p in fleet.endpoints}
    assert limits == {
        "deepinfra": (327680, 16384),
        "groq": (131072, 8192),
        "novita": (131072, 131072),
        "lambda": (1048576, 1048576),
        "parasail": (158000, 158000),
        "gmicloud": (1048576, 1048576),
        "google-vertex": (1048576, 8192),
        "cerebras": (32768, 8192),
    }
    by_name = {p.name: p for p in fleet.endpoints}
    assert {n for n, p in by_name.items() if p.cache} == {"deepinfra", "lambda"}
    assert all(p.supports_images for p in fleet.endpoints)
    assert by_name["cerebras"].tokens_per_s > by_name["groq"].tokens_per_s > 500
    assert all(
        60 <= p.tokens_per_s <= 150 for n, p in by_name.items() if n not in ("groq", "cerebras")
    )
    assert fleet.seed == 3 and fleet.time_scale == 1.0
    # It survives a round trip through the same validation a fleet file gets.
    assert msgspec.convert(msgspec.to_builtins(fleet), SimFleet) == fleet


def test_run_sim_process(tmp_path: Path) -> None:
    fleet_file = write(tmp_path, EXAMPLE)
    ready = tmp_path / "ready"
    code = (
        "import sys\n"
        "from crossroads.sim.profile import load_fleet\n"
        "from crossroads.sim.server import run_sim\n"
        "run_sim('127.0.0.1', 0, load_fleet(sys.argv[1]), ready_file=sys.argv[2])\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, fleet_file, str(ready)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().rstrip("\n")
        assert line.startswith("crossroads-sim listening on http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        assert port > 0
        assert ready.read_text().strip() == str(port)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/slow/v1/chat/completions",
            data=json.dumps(
                {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            ).encode(),
            headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert json.loads(resp.read())["usage"]["completion_tokens"] == 64
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stdout.read() == "", "exactly one line on stdout"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
