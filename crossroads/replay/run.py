"""Running a replay: the simulated fleet and the router as real processes on 127.0.0.1.

The sim serves the fleet file (its timeline included) and the router serves a catalog made for it
(catalog.py), each started as `crossroads sim` / `crossroads serve` would be by a user, in a
private temporary directory (so the router's ledger and health start empty). Then the sim's clock
is reset, which starts the script, and streamed chat requests go out at a fixed rate, open loop:
request i leaves at i / rate seconds whether or not earlier ones have answered, as traffic does.
Each answer is read as a client reads it (time to the first content, the serving provider, the
usage); each generation's attempts come from the ledger afterwards (GET /api/v1/generation).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec

from crossroads.replay.catalog import KEY_VARIABLE, router_config
from crossroads.replay.oracle import Mode, Sent
from crossroads.sim.profile import SimFleet

__all__ = ["Plan", "replay", "suffix"]

READY_SIM: Final = "crossroads-sim listening on "
READY_ROUTER: Final = "listening on "
START_TIMEOUT_S: Final = 60.0
LEDGER_TRIES: Final = 10  # about 6 s of waiting for one generation, at most
# The variant each mode asks for; Balanced is the plain slug.
SUFFIXES: Final[dict[Mode, str]] = {"balanced": "", "nitro": ":nitro", "floor": ":floor",
                                    "exacto": ":exacto"}


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    fleet_path: str
    fleet: SimFleet
    mode: Mode
    requests: int
    rate: float  # requests per wall second
    compress: float = 1.0
    max_tokens: int | None = None
    timeout_s: float = 60.0


def suffix(mode: Mode) -> str:
    return SUFFIXES[mode]


class ReplayError(RuntimeError):
    """A process that would not start, or a fleet the router cannot be given."""


def _ready(process: subprocess.Popen[str], marker: str, what: str) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if marker in line:
            return line.split(marker, 1)[1].strip()
    process.kill()
    process.wait(10)
    raise ReplayError(f"{what} did not start")


def _stop(process: subprocess.Popen[str] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def replay(plan: Plan, workdir: Path | None = None) -> list[Sent]:
    """Start the fleet and a router for it, replay the script, stop both; the requests.

    The processes run in `workdir` (kept: their logs, the router's config and ledger), which must
    be new or empty so that no earlier ledger seeds the router's health; else in a temporary one.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="crossroads-replay-") as folder:
            return _replay_in(plan, Path(folder))
    workdir.mkdir(parents=True, exist_ok=True)
    if any(workdir.iterdir()):
        raise ReplayError(f"{workdir} is not empty; give a new or empty directory")
    return _replay_in(plan, workdir.resolve())


def _replay_in(plan: Plan, tmp: Path) -> list[Sent]:
    sim: subprocess.Popen[str] | None = None
    router: subprocess.Popen[str] | None = None
    with (tmp / "sim.log").open("w") as sim_log, (tmp / "router.log").open("w") as router_log:
        try:
            sim = subprocess.Popen(
                [sys.executable, "-m", "crossroads", "sim", "--port", "0", "--fleet",
                 plan.fleet_path, "--compress", repr(plan.fleet.compress * plan.compress),
                 "--parent-pid", str(os.getpid())],
                stdout=subprocess.PIPE, stderr=sim_log, text=True)
            sim_url = _ready(sim, READY_SIM, "the simulator")
            (tmp / "router.toml").write_text(router_config(plan.fleet, sim_url))
            # Keys of real providers would add their endpoints to the catalog; none are needed.
            env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
            env[KEY_VARIABLE] = "replay"
            router = subprocess.Popen(
                [sys.executable, "-m", "crossroads", "serve", "--port", "0", "--config",
                 str(tmp / "router.toml")],
                stdout=subprocess.PIPE, stderr=router_log, text=True, env=env, cwd=tmp)
            api = _ready(router, READY_ROUTER, "the router")
            return asyncio.run(_drive(plan, api, sim_url))
        finally:
            _stop(router)
            _stop(sim)


async def _drive(plan: Plan, api: str, sim_url: str) -> list[Sent]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=httpx.Timeout(plan.timeout_s), limits=limits,
                                 headers={"authorization": "Bearer replay"}) as http:
        model = plan.fleet.replay.model + suffix(plan.mode)
        scale = plan.fleet.compress * plan.compress
        before = time.monotonic()
        (await http.post(f"{sim_url}/_sim/reset")).raise_for_status()
        start = (before + time.monotonic()) / 2  # the sim's clock started in between
        tasks = []
        for i in range(plan.requests):
            delay = start + i / plan.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            t = (time.monotonic() - start) * scale
            tasks.append(asyncio.create_task(_one(http, api, model, plan.max_tokens, i, t)))
        answered = await asyncio.gather(*tasks)
        gate = asyncio.Semaphore(8)
        return list(await asyncio.gather(*(_attempts(http, api, gate, sent, generation)
                                           for sent, generation in answered)))


async def _one(http: httpx.AsyncClient, api: str, model: str, max_tokens: int | None,
               number: int, t: float) -> tuple[Sent, str | None]:
    body: dict[str, Any] = {"model": model, "stream": True,
                            "messages": [{"role": "user", "content": f"Replay request {number}."}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    started = time.monotonic()
    generation = None
    try:
        async with http.stream("POST", f"{api}/chat/completions", json=body) as response:
            generation = response.headers.get("x-generation-id")
            if response.status_code != 200:
                await response.aread()
                return Sent(t=t, ok=False, status=response.status_code,
                            latency_s=time.monotonic() - started,
                            error=response.text[:200]), generation
            return await _read_stream(response, t, started), generation
    except httpx.HTTPError as exc:
        return Sent(t=t, ok=False, latency_s=time.monotonic() - started,
                    error=f"{type(exc).__name__}: {exc}"), generation


async def _read_stream(response: httpx.Response, t: float, started: float) -> Sent:
    ttft = None
    provider = None
    usage: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            return Sent(t=t, ok=True, status=200, endpoint=provider,
                        prompt_tokens=int(usage.get("prompt_tokens") or 0),
                        completion_tokens=int(usage.get("completion_tokens") or 0),
                        ttft_s=ttft, latency_s=time.monotonic() - started,
                        router_cost_usd=float(usage.get("cost") or 0.0))
        try:
            chunk = json.loads(line[6:])
        except ValueError:
            return Sent(t=t, ok=False, status=200, latency_s=time.monotonic() - started,
                        error="a malformed stream event")
        if "error" in chunk:
            return Sent(t=t, ok=False, status=200, endpoint=None,
                        latency_s=time.monotonic() - started,
                        error=f"mid-stream: {str(chunk['error'])[:200]}")
        provider = chunk.get("provider") or provider
        usage = chunk.get("usage") or usage
        if ttft is None and any((c.get("delta") or {}).get("content")
                                for c in chunk.get("choices") or ()):
            ttft = time.monotonic() - started
    return Sent(t=t, ok=False, status=200, latency_s=time.monotonic() - started,
                error="the stream ended without [DONE]")


async def _attempts(http: httpx.AsyncClient, api: str, gate: asyncio.Semaphore, sent: Sent,
                    generation: str | None) -> Sent:
    """`sent` with the endpoints its generation tried, in order, from the ledger."""
    if generation is None:
        return sent
    async with gate:
        for attempt in range(LEDGER_TRIES):
            try:
                response = await http.get(f"{api}/generation", params={"id": generation})
            except httpx.HTTPError:
                return sent
            if response.status_code == 200:
                tried = response.json()["data"].get("provider_responses") or []
                names = tuple(str(r.get("provider_name")) for r in tried)
                return msgspec.structs.replace(sent, attempts=names)
            # The ledger settles a moment after the answer's last byte.
            await asyncio.sleep(0.05 * math.pow(1.5, attempt))
    return sent
