"""What observing one request costs the router, in-process: CPU µs per call of each observer
event, logs written as JSON to /dev/null (what `serve` does when stderr is not a terminal).

    python bench/observability_bench.py            # best of 5 × 50,000 calls per event
    python bench/observability_bench.py --smoke    # a few calls: proves it still runs

The end-to-end figure is `bench/router_bench.py`'s router CPU per request, before and after;
on a shared 2-core machine its run-to-run noise (±10 %) is larger than what is measured here,
which is why this one exists.
"""

from __future__ import annotations

import argparse
import os
import platform
import timeit

from crossroads.catalog import DataPolicy, Endpoint, Pricing
from crossroads.failures import Failure
from crossroads.generation import Attempt, Generation
from crossroads.ledger.records import GenerationRecord, record_of
from crossroads.metrics import OverheadTimer
from crossroads.observability import setup_logging
from crossroads.observability.events import failovers
from crossroads.observability.logs import LogObserver
from crossroads.observability.metrics import RouterMetrics
from crossroads.pricing import Usage

MODEL = "bench/echo"
CALLS = 50_000


def _endpoint(tag: str) -> Endpoint:
    return Endpoint(model=MODEL, provider=tag, provider_name=tag.title(), tag=tag,
                    upstream_model="echo", base_url="http://127.0.0.1:1/v1",
                    pricing=Pricing(prompt=100_000, completion=300_000),
                    context_length=131072, max_output=8192, data_policy=DataPolicy())


def _record(*failures: Failure | None) -> GenerationRecord:
    generation = Generation(MODEL, streamed=True)
    for i, failure in enumerate(failures):
        attempt = Attempt(_endpoint(("alpha", "bravo")[i]), started=10.0 + i)
        attempt.ended, attempt.failure, attempt.status = 10.5 + i, failure, 200
        if failure is None:
            attempt.first_token_at = 10.1 + i
            generation.finish_reason = "stop"
            generation.price(attempt, Usage(prompt_tokens=25, completion_tokens=16))
        generation.attempts.append(attempt)
    return record_of(generation, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="a few calls, not 50,000")
    calls = 100 if parser.parse_args().smoke else CALLS
    with open(os.devnull, "w") as sink:
        setup_logging("json", "info", sink)
        metrics = RouterMetrics()
        logs = LogObserver(content=False)
        answer, failover = _record(None), _record(Failure.SERVER_ERROR, None)
        timer = OverheadTimer()

        def settle(record: GenerationRecord) -> None:
            moves = failovers(record)
            metrics.generation_settled(record, moves, MODEL)
            logs.generation(record, moves)

        def in_flight() -> None:
            metrics.request_started("chat", stream=False)
            metrics.request_ended("chat", stream=False)

        cases = {
            "settled generation: counters, histograms, log line": lambda: settle(answer),
            "  counters and histograms only": lambda: metrics.generation_settled(
                answer, [], MODEL),
            "  log line only": lambda: logs.generation(answer, []),
            "settled failover (2 attempts, 2 log lines)": lambda: settle(failover),
            "in-flight gauges up and down": in_flight,
            "overhead histogram (existed before)": lambda: metrics.observe_overhead(False,
                                                                                    timer),
        }
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}; best of 5 × {calls:,} calls")
        print("| event | CPU µs per call |")
        print("|---|---:|")
        for name, case in cases.items():
            best = min(timeit.repeat(case, number=calls, repeat=5)) / calls * 1e6
            print(f"| {name} | {best:.1f} |")


if __name__ == "__main__":
    main()
