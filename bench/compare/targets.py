"""A comparison target (a gateway, or the upstream itself) and the process plumbing every one
shares: pinning to a core, spawning, waiting until it answers, the upstream simulators.
Which gateways exist and how each is started is in gateways.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from configs import body

LAUNCHED: list[Target] = []  # every gateway started, so `finally` can stop them all


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
    # A response header in which the gateway reports its own time per request (ms), if any.
    overhead_header: str | None = None


# The CPUs this process could use when it started (before run.py pins itself to core 1):
# the comparison's core 0 is the first of them, core 1 the second, as a CI container's cpuset
# need not start at CPU 0.
CORES = tuple(sorted(os.sched_getaffinity(0)))


def pin(core: int) -> list[str]:
    """taskset for the comparison's core 0 (gateways) or 1 (upstream and load); nothing on a
    one-CPU machine, where pinning would only serialise everything."""
    if shutil.which("taskset") and len(CORES) >= 2:
        return ["taskset", "-c", str(CORES[core])]
    return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, data: bytes, headers: dict[str, str], timeout: float = 5) -> int:
    req = urllib.request.Request(
        url, data=data, headers={"content-type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def spawn(
    command: list[str], log: Path, env: dict[str, str] | None, cwd: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )


def launch(
    t: Target, command: list[str], log: Path, env: dict[str, str] | None, cwd: Path
) -> None:
    t.command, t.log, t.env, t.cwd = command, log, env, cwd
    t.process = spawn(command, log, env, cwd)
    LAUNCHED.append(t)


def wait_ready(target: Target, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    status = 0
    while time.monotonic() < deadline:
        if target.process is not None and target.process.poll() is not None:
            break
        status = post(target.url, body(target.fast_model), target.headers, timeout=2)
        if status == 200:
            return
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{target.name} not ready (last status {status}); log tail:\n{tail}")


def start_sim(fleet: str, tmp: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    (tmp / f"{name}.toml").write_text(fleet)
    port = free_port()
    proc = spawn(
        [
            *pin(1),
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


def version_of(python: str, dist: str) -> str:
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
