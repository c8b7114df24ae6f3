"""Router overhead: the same simulated upstream called directly and through crossroads.

    python bench/router_bench.py            # full run (~1 minute), prints a markdown table
    python bench/router_bench.py --smoke    # a few seconds; proves the benchmark still runs
    python bench/router_bench.py --router-arg=--redis-url=redis://127.0.0.1:6379/0
                                            # the same with arguments for `crossroads serve`
    python bench/router_bench.py --limited-key --router-arg=--redis-url=…
                                            # every request by a key with a credit limit and a
                                            # rate limit: with Redis, one admission round trip
    python bench/router_bench.py --stream   # the same with streamed answers (`stream: true`)

The router is pinned to core 0, the simulator and the load generators to core 1 (when the
machine has two cores and `taskset` exists). Throughput comes from wrk at fixed concurrency
(closed loop); added latency from an open-loop generator at fixed rates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import LatencyReport, fixed_rate

MODEL = "bench/echo"
BODY = json.dumps({
    "model": MODEL,
    "messages": [{"role": "system", "content": "You are terse."},
                 {"role": "user", "content": "Reply with a short sentence about routers."}],
    "max_tokens": 16,
}).encode()

FLEET = """
seed = 1
time_scale = 0.0

[[endpoint]]
name = "echo"
context_length = 131072
max_output = 8192
completion_tokens = 16
"""

CONFIG = """
[routing]
seed = 1

[providers.echo]
name = "Echo"
base_url = "{sim}/echo/v1"
api_key_env = "BENCH_KEY"

[[models]]
slug = "{model}"
name = "Bench Echo"
context_length = 131072

[[endpoints]]
model = "{model}"
provider = "echo"
upstream_model = "echo"
context_length = 131072
max_output = 8192
price = {{ prompt = 0.1, completion = 0.3 }}
"""


def _pin(cores: int | str) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cores)]
    return []


def _start(command: list[str], marker: str, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, env=env, cwd=cwd)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if marker in line:
            return process, line.split(marker, 1)[1].strip()
    process.kill()
    raise RuntimeError(f"{command} did not start")


def _limited_key(tmp: Path, router_args: list[str]) -> str:
    """A key with a credit limit and a rate limit no run reaches, made by the CLI on the
    router's own state (so every request is admitted against both)."""
    database = [a for a in router_args if a.startswith("--database-url")]
    out = subprocess.run(
        [sys.executable, "-m", "crossroads", "keys", "create", "--name", "bench", "--limit",
         "1000000", "--rate-limit", "100000/1s", "--config", str(tmp / "router.toml"),
         *database], capture_output=True, text=True, check=True, cwd=tmp).stdout
    return out.strip().splitlines()[-1]


def _wrk(url: str, connections: int, seconds: int, token: str, payload: bytes
         ) -> tuple[float, str, str]:
    """(requests/s, p50, p99) from wrk with a POST body."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    body = payload.decode().replace("\\", "\\\\").replace('"', '\\"')
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    out = subprocess.run(
        [*_pin(1), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
         str(script), url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses")
    return rps, p50, p99


def _cpu_seconds(pid: int) -> float:
    """CPU time of `pid` and of its live descendants (the workers of `--workers N`, and the
    private redis-server that shares their state, are part of the router's cost)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += _cpu_seconds(int(child))
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes")
    parser.add_argument("--router-arg", action="append", default=[],
                        help="an argument for `crossroads serve` (repeat for several), e.g. "
                             "--router-arg=--redis-url=redis://127.0.0.1:6379/0")
    parser.add_argument("--router-cores", default="0",
                        help="the cores the router may use (taskset list), e.g. 0,1 with "
                             "--router-arg=--workers=2")
    parser.add_argument("--limited-key", action="store_true",
                        help="send every request with a key that has a credit limit and a "
                             "rate limit (made with `crossroads keys create`)")
    parser.add_argument("--stream", action="store_true",
                        help="ask for streamed answers (16 content events and [DONE])")
    args = parser.parse_args()
    payload = json.dumps({**json.loads(BODY), "stream": True}).encode() if args.stream \
        else BODY
    seconds = 1 if args.smoke else 10
    rates = [100.0] if args.smoke else [200.0, 1000.0]
    concurrency = [8] if args.smoke else [32]

    tmp = Path(tempfile.mkdtemp())
    (tmp / "fleet.toml").write_text(FLEET)
    python = sys.executable
    sim, sim_url = _start([*_pin(1), python, "-m", "crossroads", "sim", "--port", "0",
                           "--fleet", str(tmp / "fleet.toml")], "listening on ")
    (tmp / "router.toml").write_text(CONFIG.format(sim=sim_url, model=MODEL))
    env = {**os.environ, "BENCH_KEY": "bench"}
    try:
        token = _limited_key(tmp, args.router_arg) if args.limited_key else "bench"
        router, router_url = _start([*_pin(args.router_cores), python, "-m", "crossroads",
                                     "serve", "--port", "0", "--config",
                                     str(tmp / "router.toml"), *args.router_arg],
                                    "listening on ", env, cwd=tmp)
    except BaseException:
        sim.terminate()  # a failed start must not leave the simulator running
        sim.wait(10)
        raise
    targets = {"direct": f"{sim_url}/echo/v1/chat/completions",
               "crossroads": f"{router_url}/chat/completions"}
    rows: list[str] = []
    try:
        if shutil.which("wrk"):
            for conns in concurrency:
                results = {}
                for name, url in targets.items():
                    cpu0 = _cpu_seconds(router.pid)
                    t0 = time.perf_counter()
                    results[name] = _wrk(url, conns, seconds, token, payload)
                    if name == "crossroads":
                        cpu = _cpu_seconds(router.pid) - cpu0
                        per_request_us = cpu / (results[name][0] * (time.perf_counter() - t0))
                        per_request_us *= 1e6
                rps_d, p50_d, p99_d = results["direct"]
                rps_r, p50_r, p99_r = results["crossroads"]
                rows.append(
                    f"| throughput, {conns} connections (wrk) | {rps_d:,.0f} req/s "
                    f"(p50 {p50_d}, p99 {p99_d}) | {rps_r:,.0f} req/s (p50 {p50_r}, p99 "
                    f"{p99_r}) | router CPU {per_request_us:,.0f} µs/request |")
        for rate in rates:
            reports: dict[str, LatencyReport] = {}
            for name, url in targets.items():
                reports[name] = asyncio.run(fixed_rate(
                    url, payload, rate, seconds * 2, headers={"authorization": f"Bearer {token}"}))
            d, r = reports["direct"], reports["crossroads"]
            rows.append(
                f"| latency at {rate:,.0f} req/s (open loop) | p50 {d.p50_ms:.2f} / p90 "
                f"{d.p90_ms:.2f} / p99 {d.p99_ms:.2f} ms | p50 {r.p50_ms:.2f} / p90 "
                f"{r.p90_ms:.2f} / p99 {r.p99_ms:.2f} ms | added p50 "
                f"{(r.p50_ms - d.p50_ms) * 1000:,.0f} µs, p99 {(r.p99_ms - d.p99_ms) * 1000:,.0f}"
                f" µs; errors {d.errors}/{r.errors} |")
    finally:
        router.terminate()
        sim.terminate()
        router.wait(10)
        sim.wait(10)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {'pinned' if _pin(0) else 'unpinned'}; router "
          f"arguments: {' '.join(args.router_arg) or 'none'}"
          f"{'; a limited key' if args.limited_key else ''}"
          f"{'; streamed' if args.stream else ''}")
    print("| measurement | direct (simulator) | through crossroads | overhead |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
