"""crossroads against LiteLLM proxy and Portkey Gateway, same upstream, one interleaved session.

    bench/compare/setup.sh                              # once: pinned competitors into /tmp
    .venv/bin/python bench/compare/run.py               # full comparison (~6 minutes)
    .venv/bin/python bench/compare/run.py --smoke       # seconds; skips gateways not installed

Upstream: `crossroads sim` (the `time_scale = 0` fleet for non-streaming; a second sim with a
fixed 50 ms TTFT and 100 tokens at 1,000 tokens/s for streaming), pinned with the load
generators to core 1. Every gateway is pinned to core 0 with `taskset -c 0` and started once;
measurements rotate through the targets round by round, so drift in the shared machine lands on
all of them alike. Targets:

    direct      the simulator itself
    crossroads  `crossroads serve --config` (this venv), ledger on (SQLite in a temp state dir)
    litellm     `litellm --config` from $LITELLM_VENV (default /tmp/litellm-venv), 1 worker
    portkey     `node --import portkey_fetch_shim.mjs .../@portkey-ai/gateway/build/start-server.js`
                from $PORTKEY_DIR (default /tmp/portkey); routed with x-portkey-provider /
                x-portkey-custom-host (the shim only makes streamed responses work on Node 20)

Measured: wrk throughput at 32 and 128 connections with gateway CPU µs per request (utime+stime
of the gateway's process tree from /proc); open-loop latency at 200 and 1,000 req/s
(bench/loadgen.py's scheduler, latency from the scheduled start); streaming TTFT and
inter-chunk gap; gateway RSS idle (after start and a warm-up) and after all load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/loadgen.py
sys.path.insert(0, str(HERE))  # this folder's modules

from configs import FAST_FLEET, STREAM_FLEET, body  # noqa: E402
from loadgen import LatencyReport  # noqa: E402
from measure import fixed_rate, rss_kib, settle, streaming, wrk  # noqa: E402
from report import fmt, print_report  # noqa: E402
from targets import LAUNCHED, Target, build_targets, post, start_sim  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes")
    parser.add_argument("--targets", default="direct,crossroads,litellm,portkey")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=int, default=None, help="per wrk run")
    args = parser.parse_args()
    smoke = args.smoke
    seconds = args.seconds or (1 if smoke else 10)
    rounds = args.rounds or (1 if smoke else 2)
    conns = [8] if smoke else [32, 128]
    rates = [100.0] if smoke else [200.0, 1000.0]
    rate_seconds = 1.0 if smoke else 10.0
    stream_n = 2 if smoke else 20
    want = args.targets.split(",")

    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})  # this process runs the open-loop and streaming clients
    tmp = Path(tempfile.mkdtemp(prefix="crossroads-compare-"))
    fast_proc, fast = start_sim(FAST_FLEET, tmp, "sim-fast")
    slow_proc, slow = start_sim(STREAM_FLEET, tmp, "sim-stream")
    targets: list[Target] = []
    try:
        targets, skipped = build_targets(tmp, fast, slow, want, smoke)
        for s in skipped:
            print(f"skipped: {s}", flush=True)
        if skipped and not smoke:
            raise SystemExit("full run needs every gateway installed (bench/compare/setup.sh)")
        for t in targets:  # warm-up, then idle RSS
            for _ in range(20):
                post(t.url, body(t.fast_model), t.headers)
        time.sleep(1)
        for t in targets:
            if t.process:
                t.rss_idle_kib = rss_kib(t.process.pid)

        thr: dict[tuple[str, int], list[dict[str, float]]] = {}
        if shutil.which("wrk") and not smoke:
            for t in targets:  # JIT / lazy imports / pools warm, unmeasured
                wrk(t, conns[0], 3, tmp)
                settle(t)
        if shutil.which("wrk"):
            for r in range(rounds):
                for c in conns:
                    order = targets[r % len(targets) :] + targets[: r % len(targets)]
                    for t in order:
                        res = wrk(t, c, seconds, tmp)
                        thr.setdefault((t.name, c), []).append(res)
                        settle(t)
                        print(
                            f"  wrk round {r + 1} c={c} {t.name}: {res['rps']:,.0f} req/s, "
                            f"cpu {fmt(res['cpu_us'])} µs/req, errors {res['errors']} "
                            f"{res['socket_errors']}",
                            flush=True,
                        )
        else:
            print("skipped: throughput (wrk not installed)")

        lat: dict[tuple[str, float], LatencyReport] = {}
        for rate in rates:
            for t in targets:
                rep = asyncio.run(fixed_rate(t, rate, rate_seconds))
                lat[(t.name, rate)] = rep
                settle(t)
                print(
                    f"  rate {rate:,.0f}/s {t.name}: p50 {rep.p50_ms:.2f} p99 "
                    f"{rep.p99_ms:.2f} ms, ok {rep.ok}/{rep.sent}, errors {rep.errors}",
                    flush=True,
                )

        st = asyncio.run(streaming(targets, stream_n))
        for t in targets:
            if t.process:
                t.rss_after_kib = max(t.rss_after_kib, rss_kib(t.process.pid))
    finally:
        # Every gateway ever launched (including ones restarted by settle() and ones started
        # before a failure in build_targets), then the sims; each is its own process group.
        live = [t.process for t in LAUNCHED if t.process] + [fast_proc, slow_proc]
        for p in live:
            if p.poll() is None:
                os.killpg(p.pid, 15)
        for p in live:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait(10)

    print_report(targets, thr, lat, st, conns, rates, seconds, rounds, rate_seconds, stream_n)


if __name__ == "__main__":
    main()
