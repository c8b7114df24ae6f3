"""`crossroads replay`: the real router against a scripted fleet, as a user runs it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from crossroads.schema.check import ENV as CHECK_ENV
from crossroads.schema.check import SCHEMA_VIOLATION
from tests.integration.cli_support import crossroads

# Four script seconds: the cheap endpoint is down from 1 s to 2.5 s; the dear one never fails.
TINY = """
seed = 3

[replay]
duration_s = 4
rate = 10

[[endpoint]]
name = "cheap"
context_length = 8192
max_output = 4096
ttft_ms = 20
tokens_per_s = 1000
completion_tokens = 16
price = { prompt = 0.1, completion = 0.1 }

[[endpoint]]
name = "dear"
context_length = 8192
max_output = 4096
ttft_ms = 10
tokens_per_s = 2000
completion_tokens = 16
price = { prompt = 0.5, completion = 0.5 }

[[event]]
at = 1
endpoint = "cheap"
kind = "outage"
for_s = 1.5
"""


def test_replay_json_scores_the_router_against_the_oracle(tmp_path: Path):
    fleet = tmp_path / "tiny.toml"
    fleet.write_text(textwrap.dedent(TINY))
    work = tmp_path / "work"
    saved = tmp_path / "requests.jsonl"
    result = crossroads("replay", str(fleet), "--mode", "floor", "--json", "--workdir", str(work),
                        "--save", str(saved), env={CHECK_ENV: "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "floor" and report["requests"] == 40
    # Failover around the outage keeps every answer.
    assert report["success_rate"] == 1.0
    # Never cheaper than the cheapest healthy endpoint; never all at the dear one (5×), since
    # the cheap one served before its outage.
    assert 1.0 <= report["cost_vs_oracle"] < 5.0
    assert report["cost_vs_policy"] == report["cost_vs_oracle"]  # Floor's policy is the oracle
    assert 0.0 < report["throughput_vs_oracle"] <= 1.0
    assert report["served"]["cheap"] >= 1
    # The router billed what the fleet's prices say, to its micro-dollar rounding per answer.
    assert abs(report["router_cost_usd"] - report["cost_usd"]) <= 0.5e-6 * 40
    assert isinstance(report["max_recovery_s"], float)
    (outage,) = report["incidents"]
    assert (outage["endpoint"], outage["kind"], outage["at_s"], outage["end_s"]) == \
        ("cheap", "outage", 1.0, 2.5)
    # Floor tries the cheapest first: the outage cost at least one failed attempt there.
    assert outage["failed_attempts"] >= 1 and report["wasted_attempts"] >= 1
    assert 1 <= outage["max_failed_per_s"] <= outage["failed_attempts"]
    assert outage["expected_share"] == 1.0 and outage["recovered"] in (True, False)
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    assert len(lines) == 40 and all(line["ok"] for line in lines)
    # The oracle's cheapest is the dear one exactly while the cheap one is down.
    assert all((line["cheapest_healthy"] == "dear") == (1.0 <= line["t"] < 2.5)
               for line in lines)
    assert {line["fastest_healthy"] for line in lines} == {"dear"}
    # Scored again from the saved requests, without running anything: the same numbers.
    again = crossroads("replay", str(fleet), "--mode", "floor", "--json", "--rescore", str(saved))
    assert again.returncode == 0, again.stderr
    rescored = json.loads(again.stdout)
    for field in ("success_rate", "cost_vs_oracle", "throughput_vs_oracle", "max_recovery_s",
                  "incidents"):
        assert rescored[field] == report[field]
    log = (work / "router.log").read_text(errors="replace")
    assert SCHEMA_VIOLATION not in log and "Traceback" not in log


def test_replay_refuses_a_fleet_without_prices_in_one_line(tmp_path: Path):
    fleet = tmp_path / "unpriced.toml"
    fleet.write_text('[[endpoint]]\nname = "x"\ncontext_length = 10\nmax_output = 10\n')
    result = crossroads("replay", str(fleet))
    assert result.returncode == 1
    assert "every endpoint needs a price" in result.stderr and "missing: x" in result.stderr
    assert "Traceback" not in result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text('[[event]]\nat = 1\nendpoint = "nobody"\nkind = "outage"\n')
    result = crossroads("replay", str(broken))
    assert result.returncode == 1 and "names no endpoint" in result.stderr
