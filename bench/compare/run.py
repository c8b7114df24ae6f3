"""crossroads against LiteLLM proxy and Portkey Gateway (and nginx, a floor), same upstream, one
interleaved session.

    bench/compare/setup.sh                                  # once: pinned competitors into /tmp
    .venv/bin/python bench/compare/run.py --out report.md   # full comparison (~12 minutes)
    .venv/bin/python bench/compare/run.py --smoke           # seconds; skips what is not installed

Upstream: `crossroads sim` (the `time_scale = 0` fleet for non-streaming; a second sim with a
fixed 50 ms TTFT and 100 tokens at 1,000 tokens/s for streaming), pinned with the load
generators to core 1. Every gateway is pinned to core 0 with `taskset -c 0` and started once;
measurements rotate through the targets round by round, so drift in the shared machine lands on
all of them alike. Targets:

    direct      the simulator itself
    nginx       Debian's nginx as a plain reverse proxy (only where the binary exists): the cost
                of a bare C proxy hop, a floor, not a competitor
    crossroads  `crossroads serve --config` (this venv), ledger on (SQLite in a temp state dir)
    litellm     `litellm --config` from $LITELLM_VENV (default /tmp/litellm-venv), 1 worker
    portkey     `node --import portkey_fetch_shim.mjs .../@portkey-ai/gateway/build/start-server.js`
                from $PORTKEY_DIR (default /tmp/portkey); routed with x-portkey-provider /
                x-portkey-custom-host (the shim only makes streamed responses work on Node 20)

Measured: wrk throughput at 32 and 128 connections with gateway CPU µs per request (utime+stime
of the gateway's process tree from /proc); open-loop latency at 200 and 1,000 req/s
(bench/loadgen.py's scheduler, latency from the scheduled start), four rounds of 8 s (more
and shorter than wrk's: the host's speed drifts within minutes), with the gateway's
self-reported overhead header where it sends one; streaming TTFT and inter-chunk gap;
gateway RSS idle (after start and a warm-up) and after all load. Then, with every gateway
stopped, bench/routing_bench.py and bench/ledger_bench.py pinned to core 0.
The report (stdout after the per-run lines; also written to --out) ends with crossroads'
ratios and the issue's targets, met or not.
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
from gateways import OPTIONAL, build_targets, default_targets  # noqa: E402
from measure import fixed_rate, quiet, rss_kib, settle, streaming, wrk  # noqa: E402
from report import fmt, render  # noqa: E402
from results import Results  # noqa: E402
from sections import sections  # noqa: E402
from targets import CORES, LAUNCHED, Target, post, start_sim  # noqa: E402


def _rotated(targets: list[Target], r: int) -> list[Target]:
    """Round r starts at a different target, so no target always runs first (cold) or last."""
    k = r % len(targets) if targets else 0
    return targets[k:] + targets[:k]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes")
    parser.add_argument("--targets", default=default_targets())
    parser.add_argument("--rounds", type=int, default=None, help="wrk and fixed-rate rounds")
    parser.add_argument("--seconds", type=int, default=None, help="per wrk run")
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    smoke = args.smoke
    res = Results(
        targets=[],
        conns=[8] if smoke else [32, 128],
        rates=[100.0] if smoke else [200.0, 1000.0],
        seconds=args.seconds or (1 if smoke else 10),
        rounds=args.rounds or (1 if smoke else 2),
        # Fixed rates get more, shorter rounds than wrk: the host's speed drifts within
        # minutes, and a median of two 10 s rounds was decided by whichever one it hit.
        rate_rounds=1 if smoke else 4,
        rate_seconds=1.0 if smoke else 8.0,
        # 20 streams per target left the TTFT median ±0.3 ms from run to run on this VM.
        stream_n=2 if smoke else 60,
        command=" ".join(["bench/compare/run.py", *sys.argv[1:]]),
    )
    want = args.targets.split(",")

    if len(CORES) >= 2:  # this process runs the open-loop and streaming clients
        os.sched_setaffinity(0, {CORES[1]})
    tmp = Path(tempfile.mkdtemp(prefix="crossroads-compare-"))
    res.tmp = str(tmp)
    fast_proc, fast = start_sim(FAST_FLEET, tmp, "sim-fast")
    slow_proc, slow = start_sim(STREAM_FLEET, tmp, "sim-stream")
    try:
        res.targets, res.skipped = build_targets(tmp, fast, slow, want, smoke)
        for s in res.skipped:
            print(f"skipped: {s}", flush=True)
        if not smoke and any(s.split()[0] not in OPTIONAL for s in res.skipped):
            raise SystemExit("full run needs every gateway installed (bench/compare/setup.sh)")
        _measure(res, tmp, smoke)
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

    # With core 0 free again: the crossroads-only benches, each as a gateway had the core.
    res.sections = sections(smoke)
    for sec in res.sections:
        print(f"  {sec.name} bench: {'ok' if sec.ok else 'skipped'}, {sec.seconds:.1f} s",
              flush=True)
    text = "\n".join(render(res)) + "\n"
    print()
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    shutil.rmtree(tmp, ignore_errors=True)  # kept (logs, configs) only when a run fails


def _measure(res: Results, tmp: Path, smoke: bool) -> None:
    targets = res.targets
    for t in targets:  # warm-up, then idle RSS
        for _ in range(20):
            post(t.url, body(t.fast_model), t.headers)
    time.sleep(1)
    for t in targets:
        if t.process:
            t.rss_idle_kib = rss_kib(t.process.pid)

    if shutil.which("wrk") and not smoke:
        for t in targets:  # JIT / lazy imports / pools warm, unmeasured
            wrk(t, res.conns[0], 3, tmp)
            settle(t)
    if shutil.which("wrk"):
        for r in range(res.rounds):
            for c in res.conns:
                for t in _rotated(targets, r):
                    quiet(targets)
                    out = wrk(t, c, res.seconds, tmp)
                    res.thr.setdefault((t.name, c), []).append(out)
                    settle(t)
                    print(
                        f"  wrk round {r + 1} c={c} {t.name}: {out['rps']:,.0f} req/s, "
                        f"cpu {fmt(out['cpu_us'])} µs/req, errors {out['errors']} "
                        f"{out['socket_errors']}",
                        flush=True,
                    )
    else:
        print("skipped: throughput (wrk not installed)", flush=True)
        res.skipped.append("throughput (wrk not installed)")

    # Same rotation as wrk; each round measures direct too, so "added" is taken within a round.
    for r in range(res.rate_rounds):
        for rate in res.rates:
            for t in _rotated(targets, r):
                quiet(targets)
                rep = asyncio.run(fixed_rate(t, rate, res.rate_seconds))
                res.lat.setdefault((t.name, rate), []).append(rep)
                settle(t)
                own = f", self p50 {rep.self_p50_ms:.3f} ms" if rep.self_n else ""
                print(
                    f"  rate round {r + 1} {rate:,.0f}/s {t.name}: p50 {rep.p50_ms:.2f} p99 "
                    f"{rep.p99_ms:.2f} ms, ok {rep.ok}/{rep.sent}, errors {rep.errors}{own}",
                    flush=True,
                )

    res.st = asyncio.run(streaming(targets, res.stream_n))
    for t in targets:
        if t.process:
            t.rss_after_kib = max(t.rss_after_kib, rss_kib(t.process.pid))


if __name__ == "__main__":
    main()
