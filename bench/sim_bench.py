"""How many plain non-streaming completions per second the sim serves on one core.

The sim runs in a subprocess pinned to one core (`taskset -c SERVER_CORE`) with time_scale 0, so
nothing sleeps; load comes from `wrk` (POST via a Lua script) pinned to another core, or from an
aiohttp client when wrk is not installed. Besides the achieved rate it reports the sim's own CPU
time per request, read from /proc: on a shared or noisy machine that is the steadier number, and
1e6 / (CPU us per request) is what one dedicated core could serve.

    .venv/bin/python bench/sim_bench.py                 # 10 s, 64 connections
    .venv/bin/python bench/sim_bench.py --duration 20 --connections 128 --client aiohttp
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Final

import aiohttp

ENDPOINT: Final = "groq"
BODY: Final = (
    '{"model":"meta-llama/llama-4-scout","messages":[{"role":"system","content":"You are a '
    'helpful assistant."},{"role":"user","content":"Write a haiku about routers."}],'
    '"max_tokens":64}'
)
LUA: Final = f"""
wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
"""
SERVER: Final = """
import sys
from crossroads.sim.fleet import scout_fleet
from crossroads.sim.server import run_sim
run_sim("127.0.0.1", 0, scout_fleet(time_scale=0.0), ready_file=sys.argv[1])
"""
# The floor under any Python server on this machine: httptools + uvloop answering fixed bytes.
# Run with --baseline to tell a slow sim from a slow (shared, virtualised) machine.
BASELINE: Final = """
import asyncio, os, sys, httptools, uvloop
RESPONSE = b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\n{}"
class Fixed(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)
    def data_received(self, data):
        self.parser.feed_data(data)
    def on_message_complete(self):
        self.transport.write(RESPONSE)
async def main():
    server = await asyncio.get_running_loop().create_server(Fixed, "127.0.0.1", 0)
    with open(sys.argv[1] + ".tmp", "w") as fh:
        fh.write(str(server.sockets[0].getsockname()[1]))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    await asyncio.Event().wait()
uvloop.run(main())
"""


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_port(path: str) -> int:
    with open(path) as fh:
        text = fh.read().strip()
    return int(text) if text else 0


def start_server(core: int, ready: str, code: str) -> subprocess.Popen[bytes]:
    cmd = ["taskset", "-c", str(core), sys.executable, "-c", code, ready]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if os.path.exists(ready) and read_port(ready):
            return proc
        if proc.poll() is not None:
            raise SystemExit("sim exited before it was ready")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("sim did not become ready")


def run_wrk(url: str, core: int, connections: int, duration: float) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA)
        script = fh.name
    try:
        cmd = ["taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}"]
        cmd += [f"-d{duration:g}s", "-s", script, url]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script)
    print(out.rstrip())
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad or "Socket errors" in out:
        raise SystemExit("the sim answered some benchmark requests with errors")
    return rate, total


async def _aiohttp_load(url: str, connections: int, duration: float) -> int:
    headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
    done = 0
    deadline = time.monotonic() + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async with session.post(url, data=BODY, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    raise SystemExit(f"sim answered {resp.status}")
            done += 1

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    return done


def run_aiohttp(url: str, core: int, connections: int, duration: float) -> tuple[float, int]:
    os.sched_setaffinity(0, {core})
    started = time.monotonic()
    total = asyncio.run(_aiohttp_load(url, connections, duration))
    elapsed = time.monotonic() - started
    print(f"aiohttp client: {total} requests in {elapsed:.2f}s")
    return total / elapsed, total


def measure(args: argparse.Namespace, client: str, code: str) -> tuple[float, float]:
    """(achieved requests/s, server CPU seconds per request) for one server program."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = os.path.join(tmp, "port")
        proc = start_server(args.server_core, ready, code)
        try:
            url = f"http://127.0.0.1:{read_port(ready)}/{ENDPOINT}/v1/chat/completions"
            before = cpu_seconds(proc.pid)
            load = run_wrk if client == "wrk" else run_aiohttp
            rate, total = load(url, args.client_core, args.connections, args.duration)
            cpu = cpu_seconds(proc.pid) - before
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return rate, cpu / total if total else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--client", choices=["auto", "wrk", "aiohttp"], default="auto")
    parser.add_argument("--baseline", action="store_true", help="also measure a fixed-bytes server")
    args = parser.parse_args()
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "aiohttp"

    runs = [("sim", SERVER)] + ([("baseline", BASELINE)] if args.baseline else [])
    results = [(name, *measure(args, client, code)) for name, code in runs]
    print(f"client: {client}, connections: {args.connections}, duration: {args.duration:g}s")
    for name, rate, cpu in results:
        print(
            f"{name}: {rate:,.0f} requests/s achieved (server on core {args.server_core}); "
            f"CPU {cpu * 1e6:.1f} us/request -> {1 / cpu:,.0f} requests/s per busy core"
        )


if __name__ == "__main__":
    main()
