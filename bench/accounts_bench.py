"""What API keys cost a request: `--auth keys` against `--auth open`.

    python bench/accounts_bench.py            # ~1 minute; prints two markdown tables
    python bench/accounts_bench.py --smoke    # a few seconds; proves the benchmark still runs

1. In process: CPU per request of the account steps alone (authenticate, the caller checks,
   the reservation at the dearest of 8 endpoints, settling), best of several runs of many
   thousand requests, for an anonymous caller in open mode and for keys with and without a
   limit and a rate limit.
2. End to end: the router process's CPU per request under wrk, a router in open mode and one in
   keys mode (a key with a credit limit that never runs out) in interleaved rounds, router on
   core 0 and everything else on core 1 (as bench/router_bench.py does).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from router_bench import BODY, CONFIG, FLEET, MODEL, _cpu_seconds, _pin, _start

from crossroads.accounts.admission import admit, check_caller, settle
from crossroads.accounts.keys import KeyRecord, RateLimit, label_of, new_key
from crossroads.accounts.rate_limit import RateLimiter
from crossroads.accounts.service import Accounts
from crossroads.accounts.store import SQLiteKeyStore
from crossroads.catalog import Endpoint, Pricing
from crossroads.chat_request import parse_chat_request
from crossroads.settings import AuthConfig


def _plan() -> tuple[Endpoint, ...]:
    return tuple(
        Endpoint(model=MODEL, provider=f"p{i}", provider_name=f"P{i}", tag=f"p{i}",
                 upstream_model="x", base_url="http://x", context_length=131072,
                 max_output=8192, pricing=Pricing(prompt=100_000 + i * 10_000,
                                                  completion=300_000 + i * 50_000))
        for i in range(8))


def in_process(iterations: int, rounds: int) -> list[str]:
    folder = Path(tempfile.mkdtemp())
    store = SQLiteKeyStore(folder / "crossroads.db")
    keys: dict[str, str] = {}
    for name, limit, rate in (("unlimited", None, None), ("limited", 10**15, None),
                              ("limited + rate limit", 10**15, RateLimit(100_000, "1s"))):
        key, key_hash = new_key()
        store.create(KeyRecord(hash=key_hash, name=name, label=label_of(key),
                               limit_micro=limit, rate_limit=rate, created_at=int(time.time())))
        keys[name] = key
    request = parse_chat_request(BODY)
    plan = _plan()
    auth = AuthConfig()
    results: dict[str, float] = {}
    cases = [("open, anonymous", "open", "anything")] + [
        (f"keys, {name}", "keys", key) for name, key in keys.items()]
    for label, mode, token in cases:
        accounts = Accounts(store, mode)  # type: ignore[arg-type]
        accounts.load([], {})
        header = f"Bearer {token}"
        best = float("inf")
        for _ in range(rounds):
            # Within one round the rate limit (100,000 a second) is never reached.
            accounts.limiter = RateLimiter()
            start = time.process_time_ns()
            for _ in range(iterations):
                caller = accounts.authenticate(header)
                check_caller(accounts, caller)
                balance = caller.balance
                if balance is not None:
                    reservation = admit(accounts, balance, request, plan, len(BODY), auth)
                    settle(balance, reservation, 140, time.time())
            best = min(best, (time.process_time_ns() - start) / iterations / 1000)
        results[label] = best
    store.close()
    base = results["open, anonymous"]
    rows = ["| caller | CPU per request | added by keys |", "|---|---:|---:|"]
    rows += [f"| {label} | {us:.2f} µs | {us - base:+.2f} µs |" for label, us in results.items()]
    return rows


def _wrk(url: str, key: str, connections: int, seconds: int) -> float:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    body = BODY.decode().replace("\\", "\\\\").replace('"', '\\"')
    script.write_text('wrk.method = "POST"\n'
                      f'wrk.body = "{body}"\n'
                      'wrk.headers["Content-Type"] = "application/json"\n'
                      f'wrk.headers["Authorization"] = "Bearer {key}"\n')
    out = subprocess.run([*_pin(1), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s",
                          str(script), url], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def end_to_end(seconds: int, rounds: int, connections: int) -> list[str]:
    tmp = Path(tempfile.mkdtemp())
    (tmp / "fleet.toml").write_text(FLEET)
    python = sys.executable
    sim, sim_url = _start([*_pin(1), python, "-m", "crossroads", "sim", "--port", "0",
                           "--fleet", str(tmp / "fleet.toml")], "listening on ")
    env = {**os.environ, "BENCH_KEY": "bench"}
    routers: dict[str, tuple[subprocess.Popen[str], str, str]] = {}
    try:
        for mode in ("open", "keys"):
            folder = tmp / mode
            folder.mkdir()
            (folder / "router.toml").write_text(
                f'[server]\nstate_dir = "{folder}"\n' + CONFIG.format(sim=sim_url, model=MODEL))
            key = "anything"
            if mode == "keys":
                made = subprocess.run(
                    [python, "-m", "crossroads", "keys", "create", "--name", "bench",
                     "--limit", "1000000", "--config", str(folder / "router.toml")],
                    capture_output=True, text=True, check=True, cwd=folder)
                key = made.stdout.strip().splitlines()[-1]
            process, url = _start([*_pin(0), python, "-m", "crossroads", "serve", "--port",
                                   "0", "--auth", mode, "--config",
                                   str(folder / "router.toml")], "listening on ", env)
            routers[mode] = (process, url, key)
        samples: dict[str, list[float]] = {"open": [], "keys": []}
        throughput: dict[str, list[float]] = {"open": [], "keys": []}
        for _, url, key in routers.values():
            _wrk(f"{url}/chat/completions", key, connections, 1)  # warm up
        for _ in range(rounds):
            for mode, (process, url, key) in routers.items():
                cpu0, t0 = _cpu_seconds(process.pid), time.perf_counter()
                rps = _wrk(f"{url}/chat/completions", key, connections, seconds)
                elapsed = time.perf_counter() - t0
                cpu = _cpu_seconds(process.pid) - cpu0
                samples[mode].append(cpu / (rps * elapsed) * 1e6)
                throughput[mode].append(rps)
    finally:
        for process, _, _ in routers.values():
            process.terminate()
            process.wait(10)
        sim.terminate()
        sim.wait(10)
    open_us, keys_us = (statistics.median(samples[m]) for m in ("open", "keys"))
    rows = [f"| router ({connections} connections, {rounds} interleaved rounds of {seconds} s) "
            "| CPU per request (median) | requests/s (median) |", "|---|---:|---:|"]
    for mode in ("open", "keys"):
        rows.append(f"| --auth {mode} | {statistics.median(samples[mode]):.0f} µs "
                    f"(rounds: {', '.join(f'{s:.0f}' for s in samples[mode])}) | "
                    f"{statistics.median(throughput[mode]):,.0f} |")
    rows.append(f"| keys − open | {keys_us - open_us:+.0f} µs | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {'pinned' if _pin(0) else 'unpinned'}")
    print("\n".join(in_process(2_000 if args.smoke else 50_000, 2 if args.smoke else 7)))
    if shutil.which("wrk"):
        print()
        print("\n".join(end_to_end(1 if args.smoke else 8, 1 if args.smoke else 8,
                                   8 if args.smoke else 32)))
    else:
        print("\n(wrk not installed: end-to-end rows skipped)")


if __name__ == "__main__":
    main()
