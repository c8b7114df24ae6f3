"""The comparison's targets: starting each gateway and upstream simulator, pinned to its core,
and waiting until it answers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from configs import CROSSROADS_CONFIG, LITELLM_CONFIG, body

HERE = Path(__file__).resolve().parent
LITELLM_VENV = Path(os.environ.get("LITELLM_VENV", "/tmp/litellm-venv"))
PORTKEY_DIR = Path(os.environ.get("PORTKEY_DIR", "/tmp/portkey"))
PORTKEY_JS = "node_modules/@portkey-ai/gateway/build/start-server.js"
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
    cpu_us: dict[int, list[float]] = field(default_factory=dict)


def pin(core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(core)]
    return []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, data: bytes, headers: dict[str, str], timeout: float = 5) -> int:
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


def spawn(
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
    port = _free_port()
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
                *pin(0),
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
                *pin(0),
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
                *pin(0),
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
        wait_ready(t, tmp / f"{t.name}.log", 30 if smoke else 120)
    return targets, skipped
