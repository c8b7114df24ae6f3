"""How `crossroads serve` ends: the demo simulator never outlives the router, and SIGTERM is a
graceful stop (in-flight answers complete, the ledger is closed, exit status 0)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import Proc, children
from tests.support import Router, start_router, wait_for

SCOUT = "meta-llama/llama-4-scout"
# Scout's slowest demo twin (the catalog's priors): ~1.1 s to the first token, then 64 tokens at
# ~80/s, so a stream is still running for most of a second after its first content event.
SLOW = {"only": ["google-vertex"], "allow_fallbacks": False}


class Demo:
    def __init__(self, router: Router, sim: Proc, state_dir: Path) -> None:
        self.router = router
        self.pid = router.process.pid
        self.sim = sim
        self.state_dir = state_dir

    def signal(self, signum: signal.Signals) -> None:
        self.router.process.send_signal(signum)

    def exit_status(self) -> int:
        return self.router.process.wait(30)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    router = start_router("", tmp_path, "--demo")
    sims = [p for p in children(router.process.pid) if "crossroads sim" in p.cmdline()]
    assert len(sims) == 1, [p.cmdline() for p in children(router.process.pid)]
    handle = Demo(router, sims[0], tmp_path)
    yield handle
    # A failed test must not leave either process behind (the session guard would catch it).
    if router.process.poll() is None:
        router.process.kill()
        router.process.wait()
    if handle.sim.alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(handle.sim.pid, signal.SIGKILL)


def test_sigterm_stops_the_router_and_its_simulator(demo: Demo):
    assert demo.sim.alive()
    demo.signal(signal.SIGTERM)
    assert demo.exit_status() == 0
    assert wait_for(lambda: not demo.sim.alive())
    demo.router.assert_schema_kept()


def test_sigint_stops_the_router_and_its_simulator(demo: Demo):
    demo.signal(signal.SIGINT)
    assert demo.exit_status() == 130  # what shells report for an interrupted command
    assert wait_for(lambda: not demo.sim.alive())


def test_sigkill_of_the_router_takes_the_simulator_with_it(demo: Demo):
    demo.signal(signal.SIGKILL)
    assert demo.exit_status() == -signal.SIGKILL
    assert wait_for(lambda: not demo.sim.alive())


def test_sigterm_lets_a_stream_in_flight_finish_and_closes_the_ledger(demo: Demo):
    body = {"model": SCOUT, "provider": SLOW,
            "messages": [{"role": "user", "content": "Tell me a long story."}]}
    lines = demo.router.raw_stream(body)
    events: list[bytes] = []
    for line in lines:
        if line.startswith(b"data: {"):
            events.append(line)
            if json.loads(line[6:])["choices"][0]["delta"].get("content"):
                break  # the answer has started: now stop the router under it
    assert events, "the stream never started"
    journals = sorted(demo.state_dir.glob("crossroads.journal.*"))
    assert journals, "expected the ledger's journal while the router runs"

    demo.signal(signal.SIGTERM)
    rest = [line for line in lines if line.startswith(b"data: ")]

    assert rest[-1] == b"data: [DONE]\n"
    chunks = [json.loads(line[6:]) for line in events + rest[:-1]]
    assert not [c for c in chunks if "error" in c]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]
            and c["choices"][0]["finish_reason"]] == ["stop"]
    assert chunks[-1]["usage"]["completion_tokens"] == 64  # the sim's whole answer
    assert demo.exit_status() == 0
    assert wait_for(lambda: not demo.sim.alive())
    # The lifespan shutdown ran: the ledger committed the record and deleted its journal.
    assert not list(demo.state_dir.glob("crossroads.journal.*"))
    with sqlite3.connect(demo.state_dir / "crossroads.db") as db:
        stored = db.execute("SELECT id FROM generations WHERE id = ?", (chunks[0]["id"],))
        assert stored.fetchall() == [(chunks[0]["id"],)]
    demo.router.assert_schema_kept()


def test_simulator_refuses_to_start_for_a_parent_that_is_gone(tmp_path: Path):
    # The router that died before its sim could arm the parent-death signal: a pid above the
    # kernel's largest pid_max (2**22), so no process, and certainly not our parent, has it.
    gone = str(2**22 + 1)
    result = subprocess.run(
        [sys.executable, "-m", "crossroads", "sim", "--port", "0", "--parent-pid", gone],
        capture_output=True, text=True, timeout=30, check=False, cwd=tmp_path)
    assert result.returncode == 1
    assert f"parent {gone} is gone" in result.stderr
    assert "listening" not in result.stdout


# The portable fallback alone, without the Linux parent-death signal: a parent that starts a
# child watching it with `parent_gone`, prints the child's pid, then waits to be killed.
PARENT = textwrap.dedent("""
    import os, subprocess, sys
    watcher = "import asyncio, sys; from crossroads.sim.lifeline import parent_gone; " \\
              "asyncio.run(parent_gone(int(sys.argv[1]), 0.05))"
    child = subprocess.Popen([sys.executable, "-c", watcher, str(os.getpid())])
    print(child.pid, flush=True)
    sys.stdin.read()
""")


def test_polling_fallback_notices_a_killed_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    child = None
    try:
        assert parent.stdout is not None
        child = Proc.of(int(parent.stdout.readline()))
        assert child.alive()
        parent.kill()
        parent.wait()
        assert wait_for(lambda: not child.alive())
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child is not None and child.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)


# The Linux parent-death signal alone, without the polling fallback: the signal follows the
# thread that started the child, so a parent that starts the sim from a thread which then ends
# triggers it while the parent process, and so getppid(), stay the same.
THREAD_PARENT = textwrap.dedent("""
    import os, subprocess, sys, threading
    def start():
        sim = subprocess.Popen([sys.executable, "-m", "crossroads", "sim", "--port", "0",
                                "--parent-pid", str(os.getpid())], stdout=subprocess.PIPE)
        sim.stdout.readline()  # listening: its parent-death signal is armed
        print(sim.pid, flush=True)
    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    sys.stdin.read()
""")


def test_parent_death_signal_stops_the_simulator():
    parent = subprocess.Popen([sys.executable, "-c", THREAD_PARENT], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    sim = None
    try:
        assert parent.stdout is not None
        sim = Proc.of(int(parent.stdout.readline()))
        assert wait_for(lambda: not sim.alive())
        assert parent.poll() is None  # its parent lives on: only the signal can have done it
    finally:
        parent.kill()
        parent.wait()
        if sim is not None and sim.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(sim.pid, signal.SIGKILL)
