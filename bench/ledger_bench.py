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
- Each measure twice: without the journal (`journal=False`, a SIGKILL loses the uncommitted
  batch) and with it (the default: one `os.write` per submit, fdatasync every 5 ms on the
  journal's own thread). Runs alternate, so drift on a shared machine hits both columns.
- fdatasync: how long one sync of a freshly appended journal takes on this disk — the term that
  sets, with the 5 ms interval, what a power loss can take (see `crossroads/ledger/sqlite.py`).
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

import msgspec

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


def _run(records: list[GenerationRecord], folder: Path,
         journal: bool) -> tuple[float, list[float], int]:
    """Submit all, close; returns (records/s, per-submit µs, rows)."""
    db = folder / f"run-{journal}.db"
    ledger = SQLiteLedger(db, journal=journal)
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


def _paced(records: list[GenerationRecord], folder: Path, rate: int,
           journal: bool) -> tuple[list[float], float]:
    """Submit at a steady `rate` per second (a busy router), timing each submit.

    Also returns the process's CPU time per record over the run, all threads (submit, the
    writer, the journal's sync thread) and the kernel's work for them included.
    """
    ledger = SQLiteLedger(folder / f"paced-{journal}.db", journal=journal)
    clock = time.perf_counter_ns
    costs = []
    chunk = rate // 100  # one chunk every 10 ms
    cpu = time.process_time()
    began = time.perf_counter()
    for i in range(0, len(records), chunk):
        for record in records[i:i + chunk]:
            t0 = clock()
            ledger.submit(record)
            costs.append((clock() - t0) / 1000)
        time.sleep(max(0.0, began + (i + chunk) / rate - time.perf_counter()))
    ledger.close()
    return sorted(costs), (time.process_time() - cpu) / len(records) * 1e6


def _fdatasync_ms(folder: Path, payload: bytes, samples: int) -> list[float]:
    """One append then one fdatasync, as the journal's sync thread does it under load."""
    fd = os.open(folder / "sync-probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    out = []
    try:
        for _ in range(samples):
            for _ in range(25):  # ~5 ms of records at 5,000/s
                os.write(fd, payload)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            out.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.005)
    finally:
        os.close(fd)
    return sorted(out)


def _stats(sample: list[float]) -> tuple[str, str, str]:
    """(mean, p50 / p99 / p99.9, max) of a sorted sample, formatted."""
    n = len(sample)
    return (f"{statistics.fmean(sample):.2f}",
            f"{sample[n // 2]:.2f} / {sample[int(n * 0.99)]:.2f} / {sample[int(n * 0.999)]:.2f}",
            f"{sample[-1]:.0f}")


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
    paced_rate = 5_000
    modes = (False, True)
    rates: dict[bool, float] = {}
    flat: dict[bool, list[float]] = {}
    paced: dict[bool, list[float]] = {}
    paced_cpu: dict[bool, float] = {}
    # The bench's own temporary folder, on the disk a router's state dir would use.
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent) as folder:
        for journal in modes:
            rates[journal], flat[journal], rows = _run(records, Path(folder), journal)
            assert rows == n, f"{rows} rows for {n} records"
            flat[journal].sort()
        for journal in modes:
            paced[journal], paced_cpu[journal] = _paced(
                records[: paced_rate * (1 if args.smoke else 4)], Path(folder), paced_rate,
                journal)
        payload = msgspec.msgpack.encode(records[0])
        syncs = _fdatasync_ms(Path(folder), payload, 50 if args.smoke else 400)
    overhead = _timer_overhead_us()
    print(f"ledger bench: {n} generations, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
          f"timer overhead {overhead:.2f} µs (included below)\n")
    print("| measure | no journal | journal (default) |")
    print("|---|---|---|")
    print(f"| record_of per generation | {record_us:.2f} µs | same |")
    for label, samples in ((f"submit, flat out ({n} back to back)", flat),
                           (f"submit, paced at {paced_rate}/s", paced)):
        without, with_journal = _stats(samples[False]), _stats(samples[True])
        for i, what in enumerate(("mean", "p50 / p99 / p99.9", "max")):
            print(f"| {label}: {what} | {without[i]} µs | {with_journal[i]} µs |")
    print(f"| CPU per record at {paced_rate}/s, all threads | {paced_cpu[False]:.1f} µs | "
          f"{paced_cpu[True]:.1f} µs |")
    print(f"| writer throughput (submit → committed) | {rates[False]:,.0f} records/s | "
          f"{rates[True]:,.0f} records/s |")
    mean, percentiles, worst = _stats(syncs)
    print(f"| journal fdatasync after ~5 ms of records: mean, p50 / p99 / p99.9, max | - | "
          f"{mean}, {percentiles}, {worst} ms |")


if __name__ == "__main__":
    main()
