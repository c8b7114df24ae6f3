#!/usr/bin/env python3
"""crossroads HTTP-stack benchmark (rerunnable, ~4-5 minutes on 2 cores).

    .venv/bin/python bench/stack/run.py            # full run, rewrites bench/stack/RESULTS.md
    .venv/bin/python bench/stack/run.py --quick    # short durations, smoke test only

Needs: wrk (apt-get install wrk), taskset, and in the venv: aiohttp uvicorn httptools uvloop
orjson starlette granian httpx httpx2 (the last four are measurement-only, not project deps).
All traffic goes to 127.0.0.1.  Core 0 = system under test, core 1 = load generator/upstream.

A) server only: echo-shaped handler, 64 conns, server on core 0, wrk on core 1
B) upstream client only: client on core 0, fake upstream on core 1
C) proxy: wrk -> proxy (core 0) -> fake upstream (core 1, shared with wrk)
D) client-disconnect probe for streaming responses (behaviour, not speed)
"""

import argparse
import json
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable
BIN = os.path.dirname(PY)
sys.path.insert(0, HERE)
from payload import PATH, REQUEST_BODY, RESPONSE_BODY  # noqa: E402

SUT_CPU, LOAD_CPU = "0", "1"


def _port(preferred):
    """preferred port if nothing listens there (other sessions share this VM), else a free one."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue


SRV_PORT, UP_PORT = _port(47380), _port(47381)
PROBE_PORTS = [_port(47390 + i) for i in range(4)]
UP_URL = f"http://127.0.0.1:{UP_PORT}{PATH}"
LOGDIR = "/tmp/crossroads-bench-stack"
LUA = os.path.join(HERE, "post.lua")
CLK = os.sysconf("SC_CLK_TCK")


def server_cmd(kind, port):
    """argv (without taskset) for each candidate server."""
    uv = [
        PY,
        "-m",
        "uvicorn",
        "--app-dir",
        HERE,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    gr = [
        os.path.join(BIN, "granian"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--runtime-mode",
        "st",
        "--runtime-threads",
        "1",
        "--blocking-threads",
        "1",
        "--loop",
        "uvloop",
        "--http",
        "1",
        "--no-ws",
        "--no-access-log",
        "--log-level",
        "warning",
        "--working-dir",
        HERE,
    ]
    return {
        "uvicorn+raw-asgi": uv + ["apps:asgi_app"],
        "uvicorn+starlette": uv + ["apps:starlette_app"],
        "aiohttp.web+uvloop": [PY, os.path.join(HERE, "apps.py"), "aiohttp", str(port)],
        "granian-asgi+raw-asgi": gr + ["--interface", "asgi", "apps:asgi_app"],
        "granian-rsgi (extra)": gr + ["--interface", "rsgi", "apps:rsgi_app"],
    }[kind]


# ------------------------------------------------------------------ process helpers
PROCS = []  # everything we started, stopped on any exit


def _cleanup(*_):
    for p in PROCS:
        stop(p)
    if _:  # called as a signal handler
        sys.exit(1)


def start(name, argv, cpu, env=None):
    os.makedirs(LOGDIR, exist_ok=True)
    e = dict(os.environ, PYTHONPATH=HERE, **(env or {}))
    log = open(os.path.join(LOGDIR, re.sub(r"\W+", "_", name) + ".log"), "ab")
    p = subprocess.Popen(
        ["taskset", "-c", cpu] + argv,
        cwd=HERE,
        env=e,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    p.cmdline = "taskset -c %s %s" % (cpu, " ".join(argv))
    PROCS.append(p)
    return p


def stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)  # our own session only
            p.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        except ProcessLookupError:
            pass


def post_once(port, path=PATH, timeout=2):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=REQUEST_BODY,
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def wait_ready(p, port, expect=None, timeout=15):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if p.poll() is not None:
            raise RuntimeError(f"server exited early: {p.cmdline} (see {LOGDIR})")
        try:
            status, body = post_once(port)
            assert status == 200, status
            if expect is not None:
                assert body == expect, body[:200]
            else:
                json.loads(body)
            if p.poll() is not None:
                raise RuntimeError(f"server exited (port taken?): {p.cmdline}")
            return
        except (OSError, ConnectionError):
            time.sleep(0.1)
    raise RuntimeError(f"server not ready: {p.cmdline}")


def tree_cpu_s(pid):
    """utime+stime (s) of pid and all its descendants (granian forks a worker)."""
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            rest = s[s.rindex(")") + 2 :].split()
            stats[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]))  # ppid, utime+stime
    todo, total = [pid], 0
    while todo:
        q = todo.pop()
        if q in stats:
            total += stats[q][1]
        todo += [c for c, (pp, _) in stats.items() if pp == q]
    return total / CLK


def cpu_ticks():
    """{cpu: (steal, total, busy)} ticks from /proc/stat (busy excludes idle, iowait and steal)."""
    out = {}
    for line in open("/proc/stat"):
        if line.startswith("cpu") and line[3].isdigit():
            f = line.split()
            v = [int(x) for x in f[1:9]]
            out[f[0][3:]] = (v[7], sum(v), sum(v) - v[3] - v[4] - v[7])
    return out


def steal_pct(t0, t1):
    """'core0/core1' steal % between two cpu_ticks() snapshots."""
    return "/".join(
        f"{100 * (t1[c][0] - t0[c][0]) / max(t1[c][1] - t0[c][1], 1):.0f}"
        for c in (SUT_CPU, LOAD_CPU)
    )


UPSTREAM = None  # the fake upstream's Popen while it runs
OTHER_MAX = (
    8  # % of a core used by processes that are not ours -> measurement disturbed, retried once
)


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # reaped children: wrk, clientbench.py
    return ru.ru_utime + ru.ru_stime


def snapshot(sut_pid=None):
    return {
        "t": cpu_ticks(),
        "sut": tree_cpu_s(sut_pid) if sut_pid else 0.0,
        "up": tree_cpu_s(UPSTREAM.pid) if UPSTREAM and UPSTREAM.poll() is None else 0.0,
        "ch": children_cpu_s(),
    }


def load_between(s0, s1, sut_in_children=False):
    """Who used cores 0 and 1 between two snapshots.  Ours: SUT on core 0; wrk and upstream on core 1.
    'other' = core busy time (excl. idle/iowait/steal) not spent in our processes -- other sessions
    share this VM, so this flags disturbed measurements."""
    t0, t1 = s0["t"], s1["t"]
    ch = s1["ch"] - s0["ch"]
    sut = ch if sut_in_children else s1["sut"] - s0["sut"]
    ours1 = (s1["up"] - s0["up"]) + (0.0 if sut_in_children else ch)
    pct = {}
    for c, ours in ((SUT_CPU, sut), (LOAD_CPU, ours1)):
        tot = max(t1[c][1] - t0[c][1], 1)
        pct[c] = (
            100 * ours * CLK / tot,
            100 * (t1[c][2] - t0[c][2]) / tot,
            100 * (t1[c][0] - t0[c][0]) / tot,
        )
    other0 = max(pct[SUT_CPU][1] - pct[SUT_CPU][0], 0)
    other1 = max(pct[LOAD_CPU][1] - pct[LOAD_CPU][0], 0)
    return {
        "sut_s": sut,
        "sut_pct": pct[SUT_CPU][0],
        "other0": other0,
        "other1": other1,
        "steal": steal_pct(t0, t1),
        "load": f"{pct[SUT_CPU][0]:.0f} · {other0:.0f}/{other1:.0f} · {steal_pct(t0, t1)}",
    }


QUIET_BUDGET = [60.0]  # seconds of waiting-for-quiet allowed over the whole run
RETRY_UNTIL = [0.0]  # wall-clock time after which disturbed measurements are no longer repeated


def retry_allowed():
    return time.time() < RETRY_UNTIL[0]


def pick(attempts):
    """least-disturbed attempt"""
    best = min(attempts, key=lambda r: r["_other"])
    best["attempts"] = len(attempts)
    return best


def wait_quiet(max_wait=10.0):
    """Wait (bounded per call and per run) until neither core is busy with someone else's work."""
    t_start = time.time()
    while True:
        s0 = snapshot()
        time.sleep(0.3)
        ld = load_between(s0, snapshot())
        waited = time.time() - t_start
        if max(ld["other0"], ld["other1"]) < OTHER_MAX or waited > min(max_wait, QUIET_BUDGET[0]):
            QUIET_BUDGET[0] = max(QUIET_BUDGET[0] - waited, 0.0)
            return


# ------------------------------------------------------------------ wrk
WRK_CMDS = []


def _dur(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk(port, conns, secs, record=True, path=PATH):
    argv = [
        "taskset",
        "-c",
        LOAD_CPU,
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{secs}s",
        "--latency",
        "-s",
        LUA,
        f"http://127.0.0.1:{port}{path}",
    ]
    if record:
        WRK_CMDS.append(" ".join(argv))
    out = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 30).stdout
    res = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    res["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        res[f"p{pct}_ms"] = _dur(*m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    res["socket_errors"] = m.group(1).strip() if m else ""
    return res


def measured_wrk(p, port, conns, secs, record=True):
    """wrk run with CPU accounting; retried once (after waiting for quiet) if someone else used our cores."""
    attempts = []
    for attempt in (1, 2):
        wait_quiet()
        s0 = snapshot(p.pid if p else None)
        r = wrk(port, conns, secs, record=record and attempt == 1)
        ld = load_between(s0, snapshot(p.pid if p else None))
        r.update(load=ld["load"], _other=max(ld["other0"], ld["other1"]))
        r["disturbed"] = r["_other"] >= OTHER_MAX
        if p:
            r["sut_cpu_us_per_req"] = ld["sut_s"] / max(r["requests"], 1) * 1e6
        attempts.append(r)
        if not r["disturbed"] or not retry_allowed():
            break
    return pick(attempts)


# ------------------------------------------------------------------ parts
def part_a(cfg):
    out = {}
    for kind in cfg.servers_a:
        p = start("A " + kind, server_cmd(kind, SRV_PORT), SUT_CPU, {"BENCH_MODE": "echo"})
        try:
            wait_ready(p, SRV_PORT)
            wrk(SRV_PORT, 64, cfg.warm, record=False)
            r = measured_wrk(p, SRV_PORT, 64, cfg.secs)
            r["cmd"] = p.cmdline
            out[kind] = r
            print(
                f"A {kind:24s} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms"
                f"  cpu {r['sut_cpu_us_per_req']:.0f} us/req  load {load(r)}",
                flush=True,
            )
        finally:
            stop(p)
    return out


def part_b(cfg):
    out = {}
    for client in cfg.clients_b:
        argv = [PY, os.path.join(HERE, "clientbench.py"), client, UP_URL, str(cfg.bsecs), "64"]
        cmd = f"taskset -c {SUT_CPU} " + " ".join(argv)
        attempts = []
        for attempt in (1, 2):
            wait_quiet()
            s0 = snapshot()
            r = subprocess.run(
                ["taskset", "-c", SUT_CPU] + argv,
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=120,
                env=dict(os.environ, PYTHONPATH=HERE),
            )
            if r.returncode:
                print(r.stderr, file=sys.stderr)
                raise RuntimeError(cmd)
            ld = load_between(s0, snapshot(), sut_in_children=True)
            res = json.loads(r.stdout.strip().splitlines()[-1])
            res.update(cmd=cmd, load=ld["load"], _other=max(ld["other0"], ld["other1"]))
            res["disturbed"] = res["_other"] >= OTHER_MAX
            attempts.append(res)
            if not res["disturbed"] or not retry_allowed():
                break
        out[client] = res = pick(attempts)
        print(
            f"B {client:8s} "
            + "  ".join(
                f"{k}: {res[k]['rps']:7.0f} req/s {res[k]['cpu_us_per_req']:7.0f} us/req"
                for k in ("seq", "conc", "seq_after_conc")
            )
            + f"  load {load(res)}",
            flush=True,
        )
    return out


def part_c(cfg):
    out = {}
    # reference: wrk straight at the upstream (both on core 1)
    r = measured_wrk(None, UP_PORT, 32, cfg.secs_c)
    r1 = measured_wrk(None, UP_PORT, 1, cfg.secs_c1)
    out["direct (wrk -> upstream)"] = {"c32": r, "c1": r1, "cmd": "(upstream only)"}
    print(
        f"C {'direct':36s} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:.2f}  p99 {r['p99_ms']:.2f}"
        f"  | c1 p50 {r1['p50_ms'] * 1e3:.0f} us  load {load(r)} ; {load(r1)}",
        flush=True,
    )
    for kind, client in cfg.combos_c:
        name = f"{kind} x {client}"
        p = start(
            "C " + name,
            server_cmd(kind, SRV_PORT),
            SUT_CPU,
            {"BENCH_MODE": "proxy", "BENCH_CLIENT": client, "BENCH_UPSTREAM": UP_URL},
        )
        try:
            wait_ready(p, SRV_PORT, expect=RESPONSE_BODY)
            wrk(SRV_PORT, 32, cfg.warm, record=False)
            short = client.startswith("httpx")  # ms-per-request clients: shorter runs suffice
            r = measured_wrk(p, SRV_PORT, 32, cfg.secs_c_httpx if short else cfg.secs_c)
            r1 = measured_wrk(p, SRV_PORT, 1, cfg.secs_c1_httpx if short else cfg.secs_c1)
            out[name] = {"c32": r, "c1": r1, "cmd": p.cmdline, "client": client}
            print(
                f"C {name:36s} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:.2f}  p99 {r['p99_ms']:.2f}"
                f"  cpu {r['sut_cpu_us_per_req']:.0f} us/req | c1 p50 {r1['p50_ms'] * 1e3:.0f} us"
                f" cpu {r1['sut_cpu_us_per_req']:.0f} us/req  load {load(r)} ; {load(r1)}",
                flush=True,
            )
        finally:
            stop(p)
    return out


def part_d(cfg):
    """Stream 100 chunks (20 ms apart); the client reads 3 and hangs up. What does the handler see?"""
    logf = os.path.join(LOGDIR, "probe.jsonl")
    if os.path.exists(logf):
        os.remove(logf)
    procs = []
    for i, kind in enumerate(
        ["uvicorn+raw-asgi", "uvicorn+starlette", "aiohttp.web+uvloop", "granian-asgi+raw-asgi"]
    ):
        port = PROBE_PORTS[i]
        p = start(
            "D " + kind,
            server_cmd(kind, port),
            SUT_CPU,
            {"BENCH_MODE": "echo", "PROBE_LOG": logf, "BENCH_SERVER": kind},
        )
        procs.append((kind, port, p))
    try:
        for kind, port, p in procs:
            wait_ready(p, port)
        for kind, port, p in procs:
            for path in ("/stream", "/stream-watch") if "raw-asgi" in kind else ("/stream",):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nhost: x\r\n\r\n")
                got = b""
                while got.count(b"data: ") < 3:
                    got += s.recv(65536)
                s.close()
        time.sleep(2.8)  # the full stream would take 2 s
    finally:
        for _, _, p in procs:
            stop(p)
    out = {}
    if os.path.exists(logf):
        for line in open(logf):
            d = json.loads(line)
            out[d["server"]] = d
    order = [k for k, _, _ in procs]
    res = {}
    for kind in sorted(order + [k for k in out if k not in order]):
        d = res[kind] = out.get(
            kind,
            {
                "outcome": "nothing logged (handler neither finished nor raised)",
                "chunks_sent": None,
            },
        )
        print(f"D {kind:40s} chunks={d['chunks_sent']}  {d['outcome']}", flush=True)
    return res


# ------------------------------------------------------------------ report
def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    vers = {}
    for mod in (
        "aiohttp",
        "uvicorn",
        "httptools",
        "uvloop",
        "orjson",
        "starlette",
        "granian",
        "httpx",
        "httpx2",
        "httpcore",
        "httpcore2",
        "anyio",
    ):
        try:
            from importlib.metadata import version

            vers[mod] = version(mod)
        except Exception:
            vers[mod] = "-"
    wrkv = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[:1]
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": vers,
        "wrk": wrkv[0] if wrkv else "?",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def f0(x):
    return f"{x:,.0f}"


def f2(x):
    return f"{x:.2f}"


def load(r):
    flag = (" ⚠disturbed" if r.get("disturbed") else "") + (
        " (2 tries)" if r.get("attempts", 1) > 1 else ""
    )
    return r.get("load", "–").replace(" | ", " · ") + flag


def write_md(cfg, m, a, b, c, d, path):
    L = []
    w = L.append
    w("# crossroads HTTP stack benchmark — results\n")
    w(
        f"Generated by `bench/stack/run.py{' --quick' if cfg.quick else ''}` on {m['date']}. "
        "Every number below was measured by that run; nothing is copied from elsewhere.\n"
    )
    w("## Machine\n")
    w(
        f"- nproc: {m['nproc']}; CPU: {m['cpu']}; kernel {m['kernel']}; Python {m['python']}; {m['wrk']}"
    )
    w("- " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    w(
        f"- Pinning: system under test on core {SUT_CPU} (`taskset -c {SUT_CPU}`), wrk/upstream on core "
        f"{LOAD_CPU}. wrk uses 1 thread. Request body {len(REQUEST_BODY)} B JSON, response "
        f"{len(RESPONSE_BODY)} B JSON (`payload.py`)."
    )
    w(
        f"- Load average at start {' '.join(m.get('loadavg_at_start', []))}, at end "
        f"{' '.join(m.get('loadavg_at_end', []))} (a full-load run itself adds ~2); hypervisor steal over the whole run "
        f"{m.get('steal_whole_run', '?')} % (core0/core1); whole run took {m.get('wall_s', '?')} s. This is a "
        "shared VM: req/s moves by tens of percent between runs; CPU µs/req is the steadier figure."
    )
    w(
        "- `load` column = `SUT % of core 0 · other % core0/core1 · steal % core0/core1` over the measurement. "
        "`other` is core time used by processes that are not part of the benchmark (other sessions share "
        f"this VM). Before every measurement the script waits (≤10 s) for both cores to be quiet, and repeats "
        f"a measurement once (while the run is < 270 s old) if `other` reached {OTHER_MAX} %, keeping the less "
        "disturbed attempt (waiting is capped at 60 s per run); rows still above are marked ⚠disturbed."
    )
    w(
        f"- Durations: warm-up {cfg.warm} s, A {cfg.secs} s, B {cfg.bsecs} s per phase, "
        f"C {cfg.secs_c} s at 32 conns + {cfg.secs_c1} s at 1 conn ({cfg.secs_c_httpx} s + {cfg.secs_c1_httpx} s "
        "for the httpx rows).\n"
    )
    if a:
        w(
            "## A) Server only — echo-shaped handler (read body, orjson parse, orjson dump), 64 connections\n"
        )
        w(
            "| server | req/s | p50 ms | p75 ms | p90 ms | p99 ms | server CPU µs/req | req/s per busy core | load | errors |"
        )
        w("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for k, r in sorted(a.items(), key=lambda kv: -kv[1]["rps"]):
            err = f"non2xx={r['non2xx']} {r['socket_errors']}".strip()
            w(
                f"| {k} | {f0(r['rps'])} | {f2(r['p50_ms'])} | {f2(r['p75_ms'])} | {f2(r['p90_ms'])} | "
                f"{f2(r['p99_ms'])} | {f0(r['sut_cpu_us_per_req'])} | {f0(1e6 / r['sut_cpu_us_per_req'])} | {load(r)} | {err} |"
            )
        w(
            "\nServer CPU µs/req = (utime+stime of the server process tree during the run) / requests; "
            "when the server core is saturated (SUT ≈ 100 %) this is ≈ 1e6 / req/s. `req/s per busy core` = "
            "1e6 / CPU µs/req: the throughput one fully available core would give, which is less sensitive to "
            "other sessions' load than raw req/s.\n"
        )
    if b:
        w(
            "## B) Upstream client only — one shared keep-alive client, client on core 0, fake upstream on core 1\n"
        )
        w(
            "`seq` = 1 request at a time on a fresh client; `conc` = 64 concurrent workers; "
            "`seq after conc` = 1 at a time again, with the 64 idle keep-alive connections still pooled. "
            "CPU µs/req = `time.process_time()` delta of the client process / requests.\n"
        )
        w(
            "| client | seq req/s | seq CPU µs/req | conc64 req/s | conc64 CPU µs/req | seq-after-conc req/s | "
            "seq-after-conc CPU µs/req | load |"
        )
        w("|---|---:|---:|---:|---:|---:|---:|---|")
        for k, r in b.items():
            w(
                f"| {k} | {f0(r['seq']['rps'])} | {f0(r['seq']['cpu_us_per_req'])} | {f0(r['conc']['rps'])} | "
                f"{f0(r['conc']['cpu_us_per_req'])} | {f0(r['seq_after_conc']['rps'])} | "
                f"{f0(r['seq_after_conc']['cpu_us_per_req'])} | {load(r)} |"
            )
        w(
            "\n`raw` = `rawclient.py` (asyncio.Protocol + httptools, ~100 lines, reference only: no TLS, "
            "timeouts or stale-connection retry). `httpx2` is the pydantic fork that the `openai` SDK in this "
            "venv depends on.\n"
        )
    if c:
        w("## C) Proxy — wrk (core 1) → proxy (core 0) → fake upstream (core 1)\n")
        w(
            "Proxy handler: read body, orjson-parse it (a router must read `model`), forward the raw body "
            "through the shared client, return the upstream body. Upstream and wrk share core 1, so the "
            "direct row is a ceiling for that core, not for the proxy.\n"
        )
        w(
            "| server × client | req/s @32 | p50 ms | p99 ms | proxy CPU µs/req @32 | p50 µs @1 conn | "
            "p99 µs @1 conn | proxy CPU µs/req @1 | load @32 | load @1 | errors |"
        )
        w("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
        for k, r in c.items():
            r32, r1 = r["c32"], r["c1"]
            err = f"non2xx={r32['non2xx'] + r1['non2xx']} {r32['socket_errors']}".strip()
            cpu32 = f0(r32["sut_cpu_us_per_req"]) if "sut_cpu_us_per_req" in r32 else "–"
            cpu1 = f0(r1["sut_cpu_us_per_req"]) if "sut_cpu_us_per_req" in r1 else "–"
            w(
                f"| {k} | {f0(r32['rps'])} | {f2(r32['p50_ms'])} | {f2(r32['p99_ms'])} | {cpu32} | "
                f"{f0(r1['p50_ms'] * 1e3)} | {f0(r1['p99_ms'] * 1e3)} | {cpu1} | {load(r32)} | {load(r1)} | {err} |"
            )
        w(
            "\nAt 1 connection the proxy core is mostly idle, so `p50 µs @1 conn` minus the direct row's is "
            "the latency the proxy adds; `proxy CPU µs/req @1` is its CPU cost per request without batching "
            "(at 32 connections the event loop amortises syscalls over many requests per wake-up).\n"
        )
    if d:
        w("## D) Client disconnect during a streaming response (behaviour probe)\n")
        w(
            "Handler streams 100 × 206 B chunks 20 ms apart; the client reads 3 chunks and closes the socket. "
            "Logged by the handler itself (`apps.py`, `/stream`).\n"
        )
        w("| server | chunks the handler sent | what the handler saw |")
        w("|---|---:|---|")
        for k, r in d.items():
            w(f"| {k} | {r['chunks_sent']} | {r['outcome']} |")
        w("")
    w("## Exact commands\n")
    w("```")
    w("apt-get install -y wrk   # " + m["wrk"])
    w(
        f"taskset -c {LOAD_CPU} {PY} {os.path.join(HERE, 'upstream.py')} {UP_PORT}   # fake upstream (B, C)"
    )
    for part in (a, c):
        for k, r in (part or {}).items():
            if r.get("cmd") and r["cmd"] != "(upstream only)":
                env = (
                    "BENCH_MODE=echo"
                    if part is a
                    else f"BENCH_MODE=proxy BENCH_CLIENT={r['client']} BENCH_UPSTREAM={UP_URL}"
                )
                w(f"PYTHONPATH={HERE} {env} {r['cmd']}")
    for k, r in (b or {}).items():
        w(f"PYTHONPATH={HERE} {r['cmd']}")
    for cmd in dict.fromkeys(WRK_CMDS):
        w(cmd)
    w("```")
    w(
        f"Each wrk measurement is preceded by an unrecorded {cfg.warm} s warm-up with the same settings. "
        "`post.lua` sets method POST, the JSON body and `Content-Type: application/json`.\n"
    )
    note = os.path.join(HERE, "ANALYSIS.md")
    if os.path.exists(note) and not cfg.quick:
        w(open(note).read())
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="short smoke run; writes RESULTS.quick.md")
    ap.add_argument("--parts", default="abcd")
    ap.add_argument(
        "--render", metavar="RESULTS_JSON", help="only rewrite RESULTS.md from a saved results.json"
    )
    cfg = ap.parse_args()
    if cfg.render:
        global UP_PORT, UP_URL
        res = json.load(open(cfg.render))
        for k, v in res["cfg"].items():
            setattr(cfg, k, v)
        UP_PORT, UP_URL = res["up_port"], res["up_url"]
        WRK_CMDS[:] = res["wrk_cmds"]
        write_md(
            cfg,
            res["machine"],
            res["A"],
            res["B"],
            res["C"],
            res["D"],
            os.path.join(HERE, "RESULTS.md"),
        )
        return
    if cfg.quick:
        (
            cfg.warm,
            cfg.secs,
            cfg.bsecs,
            cfg.secs_c,
            cfg.secs_c1,
            cfg.secs_c_httpx,
            cfg.secs_c1_httpx,
        ) = 1, 2, 0.5, 2, 1, 1, 1
    else:
        (
            cfg.warm,
            cfg.secs,
            cfg.bsecs,
            cfg.secs_c,
            cfg.secs_c1,
            cfg.secs_c_httpx,
            cfg.secs_c1_httpx,
        ) = 2, 10, 2.0, 8, 5, 4, 3
    cfg.servers_a = [
        "uvicorn+raw-asgi",
        "uvicorn+starlette",
        "aiohttp.web+uvloop",
        "granian-asgi+raw-asgi",
        "granian-rsgi (extra)",
    ]
    cfg.clients_b = ["raw", "aiohttp", "httpx", "httpx2"]
    cfg.combos_c = [
        (s, cl)
        for s in ("uvicorn+raw-asgi", "granian-asgi+raw-asgi", "aiohttp.web+uvloop")
        for cl in ("aiohttp", "raw")
    ] + [("uvicorn+raw-asgi", "httpx"), ("uvicorn+raw-asgi", "httpx2")]

    for tool in ("wrk", "taskset"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            sys.exit(f"{tool} not found (apt-get install -y wrk util-linux)")
    body = REQUEST_BODY.decode().replace("\\", "\\\\").replace("'", "\\'")
    with open(LUA, "w") as f:
        f.write(
            f"-- generated by run.py from payload.py\nwrk.method = \"POST\"\nwrk.body = '{body}'\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )

    signal.signal(signal.SIGTERM, _cleanup)
    signal.signal(signal.SIGINT, _cleanup)
    import atexit

    atexit.register(_cleanup)
    t0 = time.time()
    RETRY_UNTIL[0] = t0 + (60 if cfg.quick else 270)  # keeps the whole run near 6 minutes
    m = machine()
    m["loadavg_at_start"] = open("/proc/loadavg").read().split()[:3]
    run_ticks0 = cpu_ticks()
    print(f"{m['nproc']} cpus, {m['cpu']}, python {m['python']}", flush=True)
    a = part_a(cfg) if "a" in cfg.parts else {}
    b = c = {}
    global UPSTREAM
    up = UPSTREAM = start(
        "upstream", [PY, os.path.join(HERE, "upstream.py"), str(UP_PORT)], LOAD_CPU
    )
    try:
        wait_ready(up, UP_PORT, expect=RESPONSE_BODY)
        b = part_b(cfg) if "b" in cfg.parts else {}
        c = part_c(cfg) if "c" in cfg.parts else {}
    finally:
        stop(up)
        UPSTREAM = None
    d = part_d(cfg) if "d" in cfg.parts else {}
    m["steal_whole_run"] = steal_pct(run_ticks0, cpu_ticks())
    m["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    m["wall_s"] = round(time.time() - t0)
    out = os.path.join(HERE, "RESULTS.quick.md" if cfg.quick else "RESULTS.md")
    res = {
        "machine": m,
        "A": a,
        "B": b,
        "C": c,
        "D": d,
        "wrk_cmds": WRK_CMDS,
        "up_port": UP_PORT,
        "up_url": UP_URL,
        "cfg": {
            k: getattr(cfg, k)
            for k in (
                "quick",
                "warm",
                "secs",
                "bsecs",
                "secs_c",
                "secs_c1",
                "secs_c_httpx",
                "secs_c1_httpx",
            )
        },
    }
    for path in [os.path.join(LOGDIR, "results.json")] + (
        [] if cfg.quick else [os.path.join(HERE, "results.json")]
    ):
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
    write_md(cfg, m, a, b, c, d, out)
    print(f"wrote {out} ({time.time() - t0:.0f} s total)")


if __name__ == "__main__":
    main()
