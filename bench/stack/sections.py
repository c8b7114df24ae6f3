"""Sections A/B/C/D of the HTTP-stack benchmark (see run.py's docstring)."""

import json
import os
import socket
import subprocess
import sys
import time

import procs
from measure import (
    OTHER_MAX,
    load_between,
    measured_wrk,
    pick,
    retry_allowed,
    snapshot,
    wait_quiet,
    wrk,
)
from payload import RESPONSE_BODY
from procs import (
    HERE,
    LOGDIR,
    PROBE_PORTS,
    PY,
    SRV_PORT,
    SUT_CPU,
    server_cmd,
    start,
    stop,
    wait_ready,
)
from report import load


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
        argv = [
            PY,
            os.path.join(HERE, "clientbench.py"),
            client,
            procs.UP_URL,
            str(cfg.bsecs),
            "64",
        ]
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
    r = measured_wrk(None, procs.UP_PORT, 32, cfg.secs_c)
    r1 = measured_wrk(None, procs.UP_PORT, 1, cfg.secs_c1)
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
            {"BENCH_MODE": "proxy", "BENCH_CLIENT": client, "BENCH_UPSTREAM": procs.UP_URL},
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
