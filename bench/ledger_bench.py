"""Ledger cost on the hot path and writer throughput, on this machine.

    python bench/ledger_bench.py            # full run (~20 s), prints a markdown table
    python bench/ledger_bench.py --smoke    # ~2 s; proves the benchmark still runs

- record_of: freezing one finished generation (two attempts, one failed), on the event loop.
- submit: queueing one record while the writer thread is busy writing (so GIL contention with
  the writer is included); mean, percentiles and max of individually timed calls, flat out
  (the backlog grows to all N records, so `_pending` dict resizes show in the max) and paced at
  5,000/s (a busy router: the backlog stays within one batch window).
- throughput: records submitted back to back, then close(); records ÷ time from the first
  submit until the last one is committed. That is the writer's sustained rate: it writes
  `batch_size` records per transaction, rollup UPSERTs included.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from crossroads.catalog import Endpoint, Pricing
from crossroads.failures import Failure
from crossroads.generation import Attempt, Generation, new_generation_id
from crossroads.ledger import GenerationRecord, SQLiteLedger, record_of
from crossroads.pricing import Usage

OFFSET = 1_000_000.0
MODELS = ("acme/small", "acme/large", "other/chat", "other/code")
TAGS = ("alpha", "beta/fp8", "gamma")


def _endpoint(model: str, tag: str) -> Endpoint:
    return Endpoint(model=model, provider=tag.partition("/")[0], provider_name=tag.title(),
                    tag=tag, upstream_model="up", base_url="http://127.0.0.1:1/v1",
                    pricing=Pricing(prompt=1_000_000, completion=2_000_000, cache_read=100_000),
                    context_length=100_000, max_output=10_000)


def _generations(n: int) -> list[Generation]:
    """Realistic shapes: every tenth fails over once; spread over 24 h, 4 models, 3 apps."""
    endpoints = {(m, t): _endpoint(m, t) for m in MODELS for t in TAGS}
    now = int(time.time())
    out = []
    for i in range(n):
        model, tag = MODELS[i % len(MODELS)], TAGS[i % len(TAGS)]
        g = Generation(model, True, app_referer=f"https://app{i % 3}.example", app_title="App")
        g.created = now - (i * 7) % 86400
        g.id = new_generation_id(g.created)
        t = float(i)
        if i % 10 == 0:
            bad = Attempt(endpoints[(model, TAGS[(i + 1) % len(TAGS)])], t)
            bad.status, bad.failure, bad.message = 503, Failure.SERVER_ERROR, "overloaded"
            bad.ended = t = t + 0.2
            g.attempts.append(bad)
        good = Attempt(endpoints[(model, tag)], t)
        good.status, good.first_token_at, good.ended = 200, t + 0.3, t + 2.0
        g.attempts.append(good)
        g.finish_reason = "stop"
        g.price(good, Usage(prompt_tokens=800 + i % 500, completion_tokens=200 + i % 300,
                            cached_tokens=i % 64))
        out.append(g)
    return out


def _record_of_us(generations: list[Generation]) -> float:
    began = time.perf_counter()
    for g in generations:
        record_of(g, OFFSET)
    return (time.perf_counter() - began) / len(generations) * 1e6


def _run(records: list[GenerationRecord], folder: Path) -> tuple[float, list[float], int]:
    """Submit all, close; returns (records/s, per-submit µs, rows)."""
    db = folder / "crossroads.db"
    ledger = SQLiteLedger(db)
    clock = time.perf_counter_ns
    costs = []
    began = time.perf_counter()
    for record in records:
        t0 = clock()
        ledger.submit(record)
        costs.append((clock() - t0) / 1000)
    ledger.close()
    elapsed = time.perf_counter() - began
    with sqlite3.connect(db) as conn:
        rows = int(conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])
    return len(records) / elapsed, costs, rows


def _paced(records: list[GenerationRecord], folder: Path, rate: int) -> list[float]:
    """Submit at a steady `rate` per second (a busy router), timing each submit."""
    ledger = SQLiteLedger(folder / "paced.db")
    clock = time.perf_counter_ns
    costs = []
    chunk = rate // 100  # one chunk every 10 ms
    began = time.perf_counter()
    for i in range(0, len(records), chunk):
        for record in records[i:i + chunk]:
            t0 = clock()
            ledger.submit(record)
            costs.append((clock() - t0) / 1000)
        time.sleep(max(0.0, began + (i + chunk) / rate - time.perf_counter()))
    ledger.close()
    return sorted(costs)


def _timer_overhead_us() -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(10_000):
        t0 = clock()
        samples.append(clock() - t0)
    return statistics.median(samples) / 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="~2 s instead of ~20 s")
    args = parser.parse_args()
    n = 20_000 if args.smoke else 200_000
    generations = _generations(n)
    record_us = _record_of_us(generations)
    records = [record_of(g, OFFSET) for g in generations]
    # The bench holds every record alive at once, which a router never does; freezing them
    # keeps full GC passes over the bench's own objects out of the submit timings.
    gc.freeze()
    with tempfile.TemporaryDirectory() as folder:
        rate, costs, rows = _run(records, Path(folder))
        paced_rate = 5_000
        paced = _paced(records[: paced_rate * (1 if args.smoke else 4)], Path(folder),
                       paced_rate)
    assert rows == n, f"{rows} rows for {n} records"
    costs.sort()
    overhead = _timer_overhead_us()
    print(f"ledger bench: {n} generations, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
          f"timer overhead {overhead:.2f} µs (included below)\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| record_of per generation | {record_us:.2f} µs |")
    for label, sample in ((f"submit, flat out ({n} back to back)", costs),
                          (f"submit, paced at {paced_rate}/s", paced)):
        print(f"| {label}: mean | {statistics.fmean(sample):.2f} µs |")
        print(f"| {label}: p50 / p99 / p99.9 | {sample[len(sample) // 2]:.2f} / "
              f"{sample[int(len(sample) * 0.99)]:.2f} / "
              f"{sample[int(len(sample) * 0.999)]:.2f} µs |")
        print(f"| {label}: max | {sample[-1]:.0f} µs |")
    print(f"| writer throughput (submit → committed) | {rate:,.0f} records/s |")


if __name__ == "__main__":
    main()
