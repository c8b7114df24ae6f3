"""Which gateways the comparison runs and how each is started: its config, command line,
environment and routing headers. Every gateway is pinned to core 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from configs import CROSSROADS_CONFIG, LITELLM_CONFIG
from nginx_target import NGINX, nginx_target
from targets import Target, free_port, launch, pin, version_of, wait_ready

HERE = Path(__file__).resolve().parent
LITELLM_VENV = Path(os.environ.get("LITELLM_VENV", "/tmp/litellm-venv"))
PORTKEY_DIR = Path(os.environ.get("PORTKEY_DIR", "/tmp/portkey"))
PORTKEY_JS = "node_modules/@portkey-ai/gateway/build/start-server.js"
# Skipping these never stops a full run: nginx is a floor to read the others against, not a
# competitor the targets are stated against.
OPTIONAL = ("nginx",)


def default_targets() -> str:
    return "direct," + ("nginx," if NGINX else "") + "crossroads,litellm,portkey"


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
    if "nginx" in want and not NGINX:
        skipped.append("nginx (not installed)")
    elif "nginx" in want:
        targets.append(nginx_target(tmp, fast, slow))
    if "crossroads" in want:
        (tmp / "crossroads.toml").write_text(CROSSROADS_CONFIG.format(fast=fast, slow=slow))
        port = free_port()
        t = Target(
            "crossroads",
            f"http://127.0.0.1:{port}/v1/chat/completions",
            auth,
            auth,
            "bench/echo",
            "bench/stream",
            version=version_of(sys.executable, "crossroads"),
            overhead_header="x-crossroads-overhead-ms",
        )
        state = tmp / "crossroads-state"
        state.mkdir()
        launch(
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
        port = free_port()
        key = {"authorization": "Bearer sk-bench-0123456789abcdef0123456789abcdef"}
        t = Target(
            "litellm",
            f"http://127.0.0.1:{port}/v1/chat/completions",
            key,
            key,
            "bench/echo",
            "bench/stream",
            version=version_of(str(LITELLM_VENV / "bin" / "python"), "litellm"),
            overhead_header="x-litellm-overhead-duration-ms",
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
        launch(
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
        port = free_port()
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
        launch(
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
