"""Real processes on loopback: the simulated fleet and the router, started like a user would."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from crossroads.schema.check import ENV as CHECK_ENV
from crossroads.schema.check import SCHEMA_VIOLATION

READY_SIM = "crossroads-sim listening on "
READY_ROUTER = "listening on "


def _read_ready_line(process: subprocess.Popen[str], marker: str, timeout_s: float = 30) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return line.split(marker, 1)[1].strip()
    process.kill()
    raise RuntimeError(f"process did not become ready; output: {''.join(seen)!r}")


def http_json(method: str, url: str, body: Any = None,
              headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else (body if isinstance(body, bytes) else
                                      json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"content-type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
        return error.code, parsed, dict(error.headers)


class Sim:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def base(self, name: str) -> str:
        return f"{self.url}/{name}/v1"

    def control(self, method: str, path: str, body: Any = None) -> Any:
        status, parsed, _ = http_json(method, f"{self.url}/_sim/{path}", body)
        assert status == 200, (status, parsed)
        return parsed

    def reset(self) -> None:
        self.control("POST", "reset")

    def script(self, name: str, *outcomes: str, replace: bool = False) -> None:
        self.control("POST", f"endpoints/{name}/script",
                     {"outcomes": list(outcomes), "replace": replace})

    def patch(self, name: str, **fields: Any) -> None:
        self.control("PATCH", f"endpoints/{name}", fields)

    def requests(self, name: str) -> list[dict[str, Any]]:
        return list(self.control("GET", f"endpoints/{name}/requests")["requests"])

    def hits(self, name: str) -> int:
        return len(self.requests(name))

    def active(self, name: str) -> int:
        return int(self.control("GET", f"endpoints/{name}")["active"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start_sim(fleet_toml: str, tmp: Path) -> Sim:
    path = tmp / "fleet.toml"
    path.write_text(textwrap.dedent(fleet_toml))
    process = subprocess.Popen(
        [sys.executable, "-m", "crossroads", "sim", "--port", "0", "--fleet", str(path)],
        stdout=subprocess.PIPE, text=True)
    return Sim(process, _read_ready_line(process, READY_SIM))


class Router:
    def __init__(self, process: subprocess.Popen[str], url: str, log: Path) -> None:
        self.process = process
        self.api = url  # …/api/v1
        self.root = url.rsplit("/api/v1", 1)[0]
        self.log = log

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None
             ) -> tuple[int, Any, dict[str, str]]:
        return http_json("POST", self.api + path, body,
                         {"authorization": "Bearer test", **(headers or {})})

    def get(self, path: str, key: str = "test") -> tuple[int, Any, dict[str, str]]:
        return http_json("GET", self.api + path, headers={"authorization": f"Bearer {key}"})

    def raw_stream(self, body: dict[str, Any]) -> Iterator[bytes]:
        """The SSE bytes exactly as sent, line by line (comments included)."""
        host, port = self.root.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", "/api/v1/chat/completions", json.dumps({**body, "stream": True}),
                     {"authorization": "Bearer t", "content-type": "application/json"})
        response = conn.getresponse()
        try:
            if response.status != 200:
                yield f"HTTP {response.status} ".encode() + response.read()
                return
            while line := response.readline():
                yield line
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.assert_schema_kept()

    def assert_schema_kept(self) -> None:
        """Fail if any response broke its route's schema (streams can only log it)."""
        bad = [line for line in self.log.read_text(errors="replace").splitlines()
               if SCHEMA_VIOLATION in line]
        assert not bad, "responses broke OpenRouter's schema:\n" + "\n".join(bad[:20])


def start_router(config_toml: str, tmp: Path, *args: str,
                 env: dict[str, str] | None = None) -> Router:
    path = tmp / "crossroads.toml"
    path.write_text(textwrap.dedent(config_toml))
    log = tmp / "router.log"
    environment = {k: v for k, v in os.environ.items()
                   if not k.endswith("_API_KEY") and not k.startswith("AWS_")}
    # The shipped Bedrock rows sign with the standard AWS chain: keep it empty and local (no
    # files, no instance metadata), so a developer's own AWS keys never reach a test's router.
    environment.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                       AWS_EC2_METADATA_DISABLED="true")
    # Every loopback router holds its responses to OpenRouter's schema (crossroads/schema).
    environment[CHECK_ENV] = "1"
    environment.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "crossroads", "serve", "--port", "0", "--config", str(path),
         *args],
        stdout=subprocess.PIPE, stderr=log.open("w"), text=True, env=environment, cwd=tmp)
    url = _read_ready_line(process, READY_ROUTER)
    return Router(process, url, log)


class Keys:
    """The CLI on a router's state: same working directory, same config file."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.cwd = router.log.parent
        self.config = self.cwd / "crossroads.toml"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "crossroads", "keys", *args, "--config", str(self.config)],
            check=False, capture_output=True, text=True, timeout=60, cwd=self.cwd)

    def create(self, *args: str) -> tuple[str, str]:
        """A new key and its hash."""
        result = self.run("create", *args)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        key_hash = next(line.split()[-1] for line in lines if line.strip().startswith("hash:"))
        return lines[-1], key_hash


def free_port() -> int:
    """A loopback port nobody listens on now (for servers that cannot bind port 0 and say)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll a condition; for facts that settle asynchronously, never for timing claims."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
