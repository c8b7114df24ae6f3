"""The shared state of `crossroads serve --workers N` when no Redis is configured: a private
redis-server that the supervisor starts for its own workers and nobody else can reach.

Why a real Redis rather than a second, home-made backend. Workers must behave as one router:
one view of failing providers, one sliding log per rate-limited key, one sum of credit held in
flight. The Redis implementations of all of that (shared_state/redis_state.py,
accounts/shared.py) are the ones several machines already rely on, atomic by Lua script;
running the same code on one machine means one code path tested twice as hard, instead of a
second one (shared memory, a SQLite table) with its own locking bugs.

Private: it listens on a Unix socket only (`--port 0`), in a directory only this user can
enter, persists nothing (its state is rebuilt from the ledger and from traffic), and dies with
the supervisor (the parent-death signal, armed between fork and exec). It runs in its own
process group so that a Ctrl-C at the terminal does not stop it while the workers drain.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from crossroads.sim.lifeline import arm_parent_death_signal

__all__ = ["MissingRedisServer", "PrivateRedis", "PrivateRedisFailed"]

START_TIMEOUT_S: Final = 10.0


class PrivateRedisFailed(RuntimeError):
    """The private redis-server did not answer in time (its warnings, on stderr, say why)."""


class MissingRedisServer(RuntimeError):
    """`--workers` with more than one worker, no Redis URL, and no redis-server to start."""


def _ping(path: Path) -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(0.5)
        probe.connect(str(path))
        probe.sendall(b"PING\r\n")
        return probe.recv(16).startswith(b"+PONG")
    return False


class PrivateRedis:
    """One redis-server on a Unix socket; `url` is what the workers connect to."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise MissingRedisServer(
                "--workers needs state the workers share: give it a Redis (--redis-url or "
                "[server] redis_url), or install redis-server (Debian/Ubuntu: apt install "
                "redis-server) and crossroads starts a private one for its workers")
        self._binary = binary
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        assert self._dir is not None, "not started"
        return self._dir / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> None:
        """Start it and return once it answers PING (call from the main thread: the parent-
        death signal follows the thread that forked)."""
        if self._dir is None:
            # A short path of its own: a Unix socket path must fit in 107 bytes, which a deep
            # state_dir may not, and mkdtemp makes a directory only this user can enter.
            self._dir = Path(tempfile.mkdtemp(prefix="crossroads-redis-"))
        self.socket_path.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            [self._binary, "--port", "0", "--unixsocket", str(self.socket_path),
             "--unixsocketperm", "700", "--dir", str(self._dir), "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            # Its warnings (it logs to stdout) join the router's own log stream.
            stdin=subprocess.DEVNULL, stdout=sys.stderr, process_group=0,
            preexec_fn=arm_parent_death_signal)  # noqa: PLW1509 (no threads run yet)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if _ping(self.socket_path):
                return
            time.sleep(0.02)
        self.stop()
        raise PrivateRedisFailed(f"the private redis-server for the workers did not answer "
                                 f"within {START_TIMEOUT_S:.0f} s ({self._binary})")

    def exited(self) -> bool:
        """Whether it stopped on its own (the supervisor then starts it again)."""
        return self._process is not None and self._process.poll() is not None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def remove(self) -> None:
        """Stop it and delete its directory."""
        self.stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
