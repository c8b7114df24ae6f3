"""`crossroads bench` drives a real router and sums up what came back."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.cli_support import against, crossroads, line_with, nobody_url
from tests.integration.conftest import MODEL
from tests.support import Router, Sim

# The fleet answers 16 completion tokens per request (conftest.FLEET).
TOKENS_PER_ANSWER = 16


def test_bench_counts_requests_tokens_cost_and_the_failover(router: Router, sim: Sim):
    # :floor tries alpha (cheapest) first: its one scripted 500 is one failover to bravo.
    sim.script("alpha", "http_500")
    result = against(router, "bench", "--model", f"{MODEL}:floor", "--requests", "6",
                     "--concurrency", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "6/6" in out  # the progress bar, finished
    assert "6 of 6" in line_with("succeeded", out)
    assert "failed" not in line_with("succeeded", out)
    assert re.search(r"\d+\.\d req/s, [\d,]+ completion tokens/s", line_with("throughput", out))
    assert re.search(r"\d+ / \d+ / \d+ ms", line_with("latency p50 / p90 / p99", out))
    assert "TTFT" not in out  # not streamed
    assert f"{6 * TOKENS_PER_ANSWER} completion" in line_with("│ tokens ", out)
    assert "1 of 6 generations (1 extra attempt)" in line_with("failovers", out)
    # The failover went to bravo; how many more follow it depends on whether they start within
    # alpha's cooldown (the breaker hears outcomes in the order their attempts began).
    served = dict((name, int(n)) for name, n in re.findall(r"(\w+) ×(\d+)",
                                                           line_with("served by", out)))
    assert sum(served.values()) == 6 and served.get("Bravo", 0) >= 1, served
    cost = float(re.search(r"\$([\d.]+) total", line_with("cost", out)).group(1))  # type: ignore
    assert cost > 0


def test_bench_streams_and_measures_time_to_first_token(router: Router):
    result = against(router, "bench", "--model", MODEL, "-n", "4", "-c", "4", "--stream")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "streamed" in result.stdout
    assert re.search(r"\d+ / \d+ / \d+ ms", line_with("TTFT p50 / p90 / p99", result.stdout))
    assert f"{4 * TOKENS_PER_ANSWER} completion" in line_with("│ tokens ", result.stdout)
    assert "0 of 4 generations" in line_with("failovers", result.stdout)


def test_bench_reports_failed_requests_and_exits_1_when_none_succeed(router: Router):
    # An unknown marker is every provider's 400, and its message is full of [[brackets]]:
    # printed as written, never read as rich markup.
    result = against(router, "bench", "--model", MODEL, "-n", "2", "-c", "1",
                      "--prompt", "[[sim:no_such_outcome]]")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 of 2" in line_with("succeeded", result.stdout)
    assert "400 ×2" in line_with("succeeded", result.stdout)
    assert "unknown sim marker [[sim:no_such_outcome]]" in line_with("error: ", result.stdout)
    assert "Traceback" not in result.stderr


def test_bench_unknown_model_exits_1(router: Router):
    result = against(router, "bench", "--model", "nobody/nothing")
    assert result.returncode == 1
    assert "unknown model 'nobody/nothing'; the router has: " in result.stderr
    assert "test/echo" in result.stderr


def test_bench_picks_a_model_the_router_can_route_to(router: Router):
    # The flagship is in the shipped catalog but has no key here; test/echo is routable.
    result = against(router, "bench", "-n", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"crossroads bench — {MODEL}," in result.stdout


def test_bench_with_no_router_exits_3():
    result = crossroads("bench", "--url", nobody_url())
    assert result.returncode == 3 and "no router answers" in result.stderr
    assert "Traceback" not in result.stderr


def test_bench_refused_key_exits_4(make_router: Callable[..., Router]):
    router = make_router(extra='[auth]\nmode = "keys"\n')
    result = against(router, "bench", "-n", "2")
    assert result.returncode == 4
    assert "401 ×2" in line_with("succeeded", result.stdout)


def test_bench_rejects_a_bad_count():
    result = crossroads("bench", "--requests", "0")
    assert result.returncode == 2 and "must be at least 1" in result.stderr
