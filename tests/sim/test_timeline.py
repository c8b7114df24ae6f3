"""The fleet timeline over HTTP: what a client of the sim process sees while events last."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import http_json, start_sim

FLEET = """
seed = 1
time_scale = 0

[[endpoint]]
name = "down"
context_length = 8192
max_output = 4096

[[endpoint]]
name = "limited"
context_length = 8192
max_output = 4096

[[endpoint]]
name = "later"
context_length = 8192
max_output = 4096

[[event]]
at = 0
endpoint = "down"
kind = "outage"

[[event]]
at = 0
endpoint = "limited"
kind = "rate_limit"
retry_after_s = 3

[[event]]
at = 3600
endpoint = "later"
kind = "outage"
"""

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
AUTH = {"authorization": "Bearer k"}


def test_the_sim_serves_each_endpoint_as_its_timeline_says(tmp_path: Path):
    sim = start_sim(FLEET, tmp_path)
    try:
        status, body, _ = http_json("POST", f"{sim.base('down')}/chat/completions", BODY, AUTH)
        assert status == 503 and "error" in body
        url = f"{sim.base('limited')}/chat/completions"
        status, _, headers = http_json("POST", url, BODY, AUTH)
        assert status == 429 and headers.get("retry-after") == "3"
        # An event an hour away has not started.
        status, body, _ = http_json("POST", f"{sim.base('later')}/chat/completions", BODY, AUTH)
        assert status == 200 and body["choices"][0]["message"]["content"]
        # The log records the outcome the timeline gave.
        assert [r["outcome"] for r in sim.requests("limited")] == ["http_429_retry_after"]
    finally:
        sim.stop()


def test_compress_must_be_positive_on_the_command_line(tmp_path: Path):
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET)
    result = subprocess.run(
        [sys.executable, "-m", "crossroads", "sim", "--fleet", str(fleet), "--compress", "0"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "--compress must be > 0" in result.stderr
