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
import itertools
import json
import math
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from loadgen import LatencyReport, _run, percentile  # noqa: E402

LITELLM_VENV = Path(os.environ.get("LITELLM_VENV", "/tmp/litellm-venv"))
PORTKEY_DIR = Path(os.environ.get("PORTKEY_DIR", "/tmp/portkey"))
PORTKEY_JS = "node_modules/@portkey-ai/gateway/build/start-server.js"
LAUNCHED: list[Target] = []  # every gateway started, so `finally` can stop them all

FAST_FLEET = """
seed = 1
time_scale = 0.0

[[endpoint]]
name = "echo"
context_length = 131072
max_output = 8192
completion_tokens = 16
"""

STREAM_FLEET = """
seed = 1
time_scale = 1.0

[[endpoint]]
name = "stream"
context_length = 131072
max_output = 8192
ttft_ms = 50
ttft_sigma = 0
tokens_per_s = 1000
tps_sigma = 0
completion_tokens = 100
"""

CROSSROADS_CONFIG = """
[routing]
seed = 1

[providers.echo]
name = "Echo"
base_url = "{fast}/echo/v1"
api_key_env = "BENCH_KEY"

[providers.stream]
name = "Stream"
base_url = "{slow}/stream/v1"
api_key_env = "BENCH_KEY"

[[models]]
slug = "bench/echo"
name = "Bench Echo"
context_length = 131072

[[models]]
slug = "bench/stream"
name = "Bench Stream"
context_length = 131072

[[endpoints]]
model = "bench/echo"
provider = "echo"
upstream_model = "echo"
context_length = 131072
max_output = 8192
price = {{ prompt = 0.1, completion = 0.3 }}

[[endpoints]]
model = "bench/stream"
provider = "stream"
upstream_model = "stream"
context_length = 131072
max_output = 8192
price = {{ prompt = 0.1, completion = 0.3 }}
"""

# A master key (LiteLLM 1.106 refuses to start without one; checked against a hash in memory)
# and no database_url: no Prisma/Postgres, no spend logs. Everything
# optional that LiteLLM lets a config turn off is off; see RESULTS.md for the list.
LITELLM_CONFIG = """
model_list:
  - model_name: bench/echo
    litellm_params:
      model: openai/echo
      api_base: {fast}/echo/v1
      api_key: bench
  - model_name: bench/stream
    litellm_params:
      model: openai/stream
      api_base: {slow}/stream/v1
      api_key: bench
litellm_settings:
  telemetry: false
  set_verbose: false
  json_logs: false
  turn_off_message_logging: true
  num_retries: 0
  request_timeout: 30
  callbacks: []
  success_callback: []
  failure_callback: []
general_settings:
  master_key: sk-bench-0123456789abcdef0123456789abcdef
  disable_spend_logs: true
  disable_error_logs: true
  disable_reset_budget: true
  background_health_checks: false
  store_model_in_db: false
router_settings:
  num_retries: 0
"""


def body(model: str, stream: bool = False) -> bytes:
    doc = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Reply with a short sentence about routers."},
        ],
        "max_tokens": 16 if not stream else 200,
    }
    if stream:
        doc["stream"] = True
    return json.dumps(doc).encode()


@dataclass
class Target:
    name: str
    url: str  # chat completions URL
    headers: dict[str, str]  # non-streaming (fast upstream)
    stream_headers: dict[str, str]
    fast_model: str
    stream_model: str
    stream_url: str = ""  # defaults to url
    process: subprocess.Popen[bytes] | None = None
    version: str = ""
    rss_idle_kib: int = 0
    rss_after_kib: int = 0
    command: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    cwd: Path | None = None
    log: Path | None = None
    restarts: int = 0
    cpu_us: dict[int, list[float]] = field(default_factory=dict)


def _pin(core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(core)]
    return []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _post(url: str, data: bytes, headers: dict[str, str], timeout: float = 5) -> int:
    req = urllib.request.Request(
        url, data=data, headers={"content-type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def _start(
    command: list[str], log: Path, env: dict[str, str] | None, cwd: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )


def _launch(
    t: Target, command: list[str], log: Path, env: dict[str, str] | None, cwd: Path
) -> None:
    t.command, t.log, t.env, t.cwd = command, log, env, cwd
    t.process = _start(command, log, env, cwd)
    LAUNCHED.append(t)


def settle(t: Target) -> None:
    """Wait for the gateway to go idle after a load. A gateway that was overloaded keeps
    working through its accepted backlog long after the client gave up, which would steal
    core 0 from the next target; if it is still busy after 10 s it is restarted."""
    if t.process is None:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        c0 = cpu_seconds(t.process.pid)
        time.sleep(0.5)
        if cpu_seconds(t.process.pid) - c0 < 0.05:  # < 10 % of a core
            return
    t.rss_after_kib = max(t.rss_after_kib, rss_kib(t.process.pid))
    os.killpg(t.process.pid, 9)
    t.process.wait(10)
    t.restarts += 1
    print(f"  {t.name} still busy 10 s after the load: restarted", flush=True)
    t.process = _start(t.command, t.log or Path("/dev/null"), t.env, t.cwd or Path("/tmp"))
    _wait_ready(t, t.log or Path("/dev/null"), 120)
    for _ in range(20):
        _post(t.url, body(t.fast_model), t.headers)


def _wait_ready(target: Target, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    status = 0
    while time.monotonic() < deadline:
        if target.process is not None and target.process.poll() is not None:
            break
        status = _post(target.url, body(target.fast_model), target.headers, timeout=2)
        if status == 200:
            return
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{target.name} not ready (last status {status}); log tail:\n{tail}")


def _sim(fleet: str, tmp: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    (tmp / f"{name}.toml").write_text(fleet)
    port = _free_port()
    proc = _start(
        [
            *_pin(1),
            sys.executable,
            "-m",
            "crossroads",
            "sim",
            "--port",
            str(port),
            "--fleet",
            str(tmp / f"{name}.toml"),
        ],
        tmp / f"{name}.log",
        None,
        tmp,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sim {name} did not start")


def _version_of(python: str, dist: str) -> str:
    try:
        return subprocess.run(
            [python, "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def build_targets(
    tmp: Path, fast: str, slow: str, want: list[str], smoke: bool
) -> tuple[list[Target], list[str]]:
    targets: list[Target] = []
    skipped: list[str] = []
    auth = {"authorization": "Bearer bench"}
    if "direct" in want:
        targets.append(
            Target(
                "direct",
                f"{fast}/echo/v1/chat/completions",
                auth,
                auth,
                "bench/echo",
                "bench/stream",
                version="crossroads sim",
                stream_url=f"{slow}/stream/v1/chat/completions",
            )
        )
    if "crossroads" in want:
        (tmp / "crossroads.toml").write_text(CROSSROADS_CONFIG.format(fast=fast, slow=slow))
        port = _free_port()
        t = Target(
            "crossroads",
            f"http://127.0.0.1:{port}/v1/chat/completions",
            auth,
            auth,
            "bench/echo",
            "bench/stream",
            version=_version_of(sys.executable, "crossroads"),
        )
        state = tmp / "crossroads-state"
        state.mkdir()
        _launch(
            t,
            [
                *_pin(0),
                sys.executable,
                "-m",
                "crossroads",
                "serve",
                "--port",
                str(port),
                "--config",
                str(tmp / "crossroads.toml"),
            ],
            tmp / "crossroads.log",
            {**os.environ, "BENCH_KEY": "bench"},
            state,
        )
        targets.append(t)
    litellm = LITELLM_VENV / "bin" / "litellm"
    if "litellm" in want and not litellm.exists():
        skipped.append(f"litellm (no {litellm}; run bench/compare/setup.sh)")
    elif "litellm" in want:
        (tmp / "litellm.yaml").write_text(LITELLM_CONFIG.format(fast=fast, slow=slow))
        port = _free_port()
        key = {"authorization": "Bearer sk-bench-0123456789abcdef0123456789abcdef"}
        t = Target(
            "litellm",
            f"http://127.0.0.1:{port}/v1/chat/completions",
            key,
            key,
            "bench/echo",
            "bench/stream",
            version=_version_of(str(LITELLM_VENV / "bin" / "python"), "litellm"),
        )
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env.update(
            {
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price map
                "LITELLM_LOG": "ERROR",
                "LITELLM_TELEMETRY": "False",
                "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
                "DISABLE_SCHEMA_UPDATE": "True",
                "USE_PRISMA_MIGRATE": "False",
                "NO_PROXY": "*",
                "no_proxy": "*",
            }
        )
        _launch(
            t,
            [
                *_pin(0),
                str(litellm),
                "--config",
                str(tmp / "litellm.yaml"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
                "--telemetry",
                "False",
            ],
            tmp / "litellm.log",
            env,
            tmp,
        )
        targets.append(t)
    portkey = PORTKEY_DIR / PORTKEY_JS
    if "portkey" in want and not portkey.exists():
        skipped.append(f"portkey (no {portkey}; run bench/compare/setup.sh)")
    elif "portkey" in want:
        port = _free_port()
        pkg = json.loads(
            (PORTKEY_DIR / "node_modules/@portkey-ai/gateway/package.json").read_text()
        )
        node = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=False
        ).stdout
        t = Target(
            "portkey",
            f"http://127.0.0.1:{port}/v1/chat/completions",
            {**auth, "x-portkey-provider": "openai", "x-portkey-custom-host": f"{fast}/echo/v1"},
            {**auth, "x-portkey-provider": "openai", "x-portkey-custom-host": f"{slow}/stream/v1"},
            "echo",
            "stream",
            version=f"{pkg['version']} (node {node.strip()})",
        )
        env = {**os.environ, "NODE_ENV": "production", "NO_PROXY": "*", "no_proxy": "*"}
        _launch(
            t,
            [
                *_pin(0),
                "node",
                "--import",
                str(HERE / "portkey_fetch_shim.mjs"),
                str(portkey),
                f"--port={port}",
            ],
            tmp / "portkey.log",
            env,
            PORTKEY_DIR,
        )
        targets.append(t)
    for t in targets:
        _wait_ready(t, tmp / f"{t.name}.log", 30 if smoke else 120)
    return targets, skipped


# ---------------------------------------------------------------- throughput (wrk)


def wrk(target: Target, connections: int, seconds: int, tmp: Path) -> dict[str, float]:
    script = tmp / f"wrk-{target.name}.lua"
    payload = body(target.fast_model).decode().replace("\\", "\\\\").replace('"', '\\"')
    lines = [
        'wrk.method = "POST"',
        f'wrk.body = "{payload}"',
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in target.headers.items()]
    script.write_text("\n".join(lines) + "\n")
    pid = target.process.pid if target.process else None
    cpu0 = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        [
            *_pin(1),
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(script),
            target.url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    ).stdout
    cpu = (cpu_seconds(pid) - cpu0) if pid else float("nan")
    m = re.search(r"(\d+) requests in", out)
    requests = int(m.group(1)) if m else 0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50_ms": _ms(re.search(r"\n\s+50%\s+(\S+)", out)),
        "p99_ms": _ms(re.search(r"\n\s+99%\s+(\S+)", out)),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": sock.group(1).strip() if sock else "",
        "cpu_us": cpu / requests * 1e6 if requests and pid else float("nan"),
    }


def _ms(m: re.Match[str] | None) -> float:
    if not m:
        return float("nan")
    v = m.group(1)
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 6e4)):
        if v.endswith(unit):
            try:
                return float(v[: -len(unit)]) * scale
            except ValueError:
                return float("nan")
    try:
        return float(v)
    except ValueError:
        return float("nan")


# ---------------------------------------------------------------- fixed rate (open loop)


async def fixed_rate(target: Target, rate: float, duration_s: float) -> LatencyReport:
    """bench/loadgen.py's schedule, with the target's headers and bounded per-request time."""
    headers = {"content-type": "application/json", **target.headers}
    data = body(target.fast_model)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=5)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await _run(session, target.url, data, headers, rate, 1.0, [], [])
        latencies: list[float] = []
        errors: list[int] = []
        started = time.perf_counter()
        sent = await _run(session, target.url, data, headers, rate, duration_s, latencies, errors)
        elapsed = time.perf_counter() - started
    latencies.sort()
    return LatencyReport(
        sent=sent,
        ok=len(latencies),
        errors=len(errors),
        p50_ms=percentile(latencies, 0.5) * 1000,
        p90_ms=percentile(latencies, 0.9) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        achieved_rps=len(latencies) / elapsed,
    )


# ---------------------------------------------------------------- streaming


async def stream_once(
    session: aiohttp.ClientSession, target: Target
) -> tuple[float, list[float], int] | None:
    """(TTFT s, gaps between content chunks s, content chunks) for one streamed request."""
    headers = {"content-type": "application/json", **target.stream_headers}
    t0 = time.perf_counter()
    stamps: list[float] = []
    try:
        async with session.post(
            target.stream_url or target.url, data=body(target.stream_model, True), headers=headers
        ) as r:
            if r.status != 200:
                await r.read()
                return None
            async for raw in r.content:
                line = raw.strip()
                if not line.startswith(b"data:") or line == b"data: [DONE]":
                    continue
                try:
                    doc = json.loads(line[5:])
                except ValueError:
                    continue
                choices = doc.get("choices") or []
                if choices and (choices[0].get("delta") or {}).get("content"):
                    stamps.append(time.perf_counter())
    except (aiohttp.ClientError, TimeoutError):
        return None
    if not stamps:
        return None
    return stamps[0] - t0, [b - a for a, b in itertools.pairwise(stamps)], len(stamps)


async def streaming(targets: list[Target], n: int) -> dict[str, dict[str, float]]:
    timeout = aiohttp.ClientTimeout(total=15)
    out: dict[str, dict[str, list[float]]] = {
        t.name: {"ttft": [], "gap": [], "chunks": [], "fail": []} for t in targets
    }
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for t in targets:  # warm-up, unmeasured
            await stream_once(session, t)
        for i in range(n):
            for t in targets[i % len(targets) :] + targets[: i % len(targets)]:
                got = await stream_once(session, t)
                if got is None:
                    out[t.name]["fail"].append(1)
                    continue
                ttft, gaps, chunks = got
                out[t.name]["ttft"].append(ttft)
                out[t.name]["gap"].extend(gaps)
                out[t.name]["chunks"].append(chunks)
    result = {}
    for name, d in out.items():
        gaps = sorted(d["gap"])
        result[name] = {
            "ttft_p50_ms": statistics.median(d["ttft"]) * 1000 if d["ttft"] else float("nan"),
            "gap_mean_ms": statistics.fmean(gaps) * 1000 if gaps else float("nan"),
            "gap_p99_ms": percentile(gaps, 0.99) * 1000 if gaps else float("nan"),
            "chunks": statistics.median(d["chunks"]) if d["chunks"] else 0,
            "failures": len(d["fail"]),
        }
    return result


# ---------------------------------------------------------------- report


def _fmt(v: float, unit: str = "", digits: int = 0) -> str:
    if math.isnan(v):
        return "–"
    return f"{v:,.{digits}f}{unit}"


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
    fast_proc, fast = _sim(FAST_FLEET, tmp, "sim-fast")
    slow_proc, slow = _sim(STREAM_FLEET, tmp, "sim-stream")
    targets: list[Target] = []
    try:
        targets, skipped = build_targets(tmp, fast, slow, want, smoke)
        for s in skipped:
            print(f"skipped: {s}", flush=True)
        if skipped and not smoke:
            raise SystemExit("full run needs every gateway installed (bench/compare/setup.sh)")
        for t in targets:  # warm-up, then idle RSS
            for _ in range(20):
                _post(t.url, body(t.fast_model), t.headers)
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
                            f"cpu {_fmt(res['cpu_us'])} µs/req, errors {res['errors']} "
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

    names = [t.name for t in targets]
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Linux "
        f"{platform.release()}, Python {platform.python_version()}, "
        f"{'gateways on core 0, upstream + load on core 1' if _pin(0) else 'unpinned'}; "
        f"load average before the run end: {os.getloadavg()[0]:.2f}"
    )
    print("versions: " + "; ".join(f"{t.name} {t.version}" for t in targets))
    print(
        f"wrk runs: {seconds}s each, {rounds} round(s), median shown; fixed rates "
        f"{rate_seconds:.0f}s after 1s warm-up; streaming {stream_n} requests per target"
    )
    print()
    print("| measurement | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))

    def med(name: str, c: int, key: str) -> float:
        vals = [r[key] for r in thr.get((name, c), []) if not math.isnan(r[key])]
        return statistics.median(vals) if vals else float("nan")

    for c in conns if thr else []:
        print(
            f"| throughput, {c} connections (req/s) | "
            + " | ".join(_fmt(med(n, c, "rps")) for n in names)
            + " |"
        )
        print(
            f"| wrk p50 / p99 at {c} connections (ms) | "
            + " | ".join(
                f"{_fmt(med(n, c, 'p50_ms'), digits=2)} / {_fmt(med(n, c, 'p99_ms'), digits=2)}"
                for n in names
            )
            + " |"
        )
        print(
            f"| gateway CPU per request at {c} connections (µs) | "
            + " | ".join(_fmt(med(n, c, "cpu_us")) for n in names)
            + " |"
        )
        errs = [sum(r["errors"] for r in thr.get((n, c), [])) for n in names]
        if any(errs):
            print(
                f"| non-2xx responses at {c} connections | "
                + " | ".join(str(e) for e in errs)
                + " |"
            )
    for rate in rates:
        d = lat.get(("direct", rate))
        cells = []
        for n in names:
            r = lat[(n, rate)]
            cell = f"{r.p50_ms:.2f} / {r.p90_ms:.2f} / {r.p99_ms:.2f}"
            if d is not None and n != "direct":
                cell += (
                    f" ({r.p50_ms - d.p50_ms:+.2f} / {r.p90_ms - d.p90_ms:+.2f} / "
                    f"{r.p99_ms - d.p99_ms:+.2f})"
                )
            if r.errors or r.ok < r.sent:
                cell += f"; {r.errors} errors, {r.ok}/{r.sent} ok"
            cells.append(cell)
        print(
            f"| latency at {rate:,.0f} req/s, p50 / p90 / p99 ms (added vs direct) | "
            + " | ".join(cells)
            + " |"
        )
    sd = st.get("direct")
    cells = []
    for n in names:
        s = st[n]
        cell = f"{_fmt(s['ttft_p50_ms'], digits=1)}"
        if sd and n != "direct":
            cell += f" ({s['ttft_p50_ms'] - sd['ttft_p50_ms']:+.1f})"
        cells.append(cell)
    print("| streaming TTFT p50, 50 ms upstream (ms, added) | " + " | ".join(cells) + " |")
    cells = []
    for n in names:
        s = st[n]
        cells.append(f"{_fmt(s['gap_mean_ms'], digits=2)} / {_fmt(s['gap_p99_ms'], digits=2)}")
    print("| streaming inter-chunk gap mean / p99 (ms) | " + " | ".join(cells) + " |")
    print(
        "| streaming content chunks received (of 100), failures | "
        + " | ".join(f"{st[n]['chunks']:.0f}, {st[n]['failures']}" for n in names)
        + " |"
    )
    print(
        "| RSS idle (MiB) | "
        + " | ".join(_fmt(t.rss_idle_kib / 1024, digits=1) if t.process else "–" for t in targets)
        + " |"
    )
    print(
        "| RSS after load (MiB) | "
        + " | ".join(_fmt(t.rss_after_kib / 1024, digits=1) if t.process else "–" for t in targets)
        + " |"
    )
    if any(t.restarts for t in targets):
        print(
            "| restarted after an overload (see settle()) | "
            + " | ".join(str(t.restarts) for t in targets)
            + " |"
        )

    if thr and "crossroads" in names:
        others = [n for n in names if n != "crossroads"]
        print()
        print("| crossroads ratio | " + " | ".join(f"vs {n}" for n in others) + " |")
        print("|---|" + "---:|" * len(others))
        for c in conns:
            print(
                f"| throughput at {c} connections (×) | "
                + " | ".join(
                    _fmt(med("crossroads", c, "rps") / med(n, c, "rps"), "×", 2) for n in others
                )
                + " |"
            )
            print(
                f"| CPU per request at {c} connections (×, lower is better) | "
                + " | ".join(
                    _fmt(med("crossroads", c, "cpu_us") / med(n, c, "cpu_us"), "×", 2)
                    for n in others
                )
                + " |"
            )


if __name__ == "__main__":
    main()
