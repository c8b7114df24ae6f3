"""What the comparison measures: wrk throughput, open-loop latency at fixed rates, streaming
TTFT and inter-chunk gaps, and the gateway's CPU time and RSS from /proc."""

from __future__ import annotations

import itertools
import json
import os
import re
import statistics
import subprocess
import time
from pathlib import Path

import aiohttp
from configs import body
from loadgen import LatencyReport, percentile
from loadgen import fixed_rate as loadgen_fixed_rate
from targets import Target, pin, post, spawn, wait_ready

# ---------------------------------------------------------------- gateway CPU and RSS


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
    t.process = spawn(t.command, t.log or Path("/dev/null"), t.env, t.cwd or Path("/tmp"))
    wait_ready(t, t.log or Path("/dev/null"), 120)
    for _ in range(20):
        post(t.url, body(t.fast_model), t.headers)


def quiet(targets: list[Target], limit_s: float = 15.0) -> None:
    """Wait until every gateway on core 0 is idle, not only the one just measured: a gateway
    restarted by `settle()` (LiteLLM's start-up) or one with timers of its own keeps working
    on core 0 while the next target is measured, and its work lands in that target's latency.
    Below 5 % of a core over half a second, all gateways together, counts as idle."""
    pids = [t.process.pid for t in targets if t.process is not None]
    if not pids:
        return
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        c0 = sum(cpu_seconds(p) for p in pids)
        time.sleep(0.5)
        if sum(cpu_seconds(p) for p in pids) - c0 < 0.025:
            return


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
            *pin(1),
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
    """bench/loadgen.py's open-loop schedule, with the target's headers, 5 s per request, and
    the target's self-reported overhead header collected where it has one."""
    return await loadgen_fixed_rate(target.url, body(target.fast_model), rate, duration_s,
                                    headers=target.headers, read_timeout_s=5,
                                    overhead_header=target.overhead_header)


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
