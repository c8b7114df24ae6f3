"""Process and pinning helpers for the HTTP-stack benchmark: ports, core pinning, the candidate
server command lines, starting/stopping/readiness of the processes we run, and machine facts."""

import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime

from payload import PATH, REQUEST_BODY

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable
BIN = os.path.dirname(PY)
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
