"""Session-wide guard: no test may leave a crossroads process running.

Every process the tests start inherits a marker in its environment, unique to this session, and
keeps it when its parent dies and it is re-parented to init — which is exactly how a leaked
simulator looks (its router has exited). At the end the whole process table is searched for
the marker, not only pytest's own children, so such orphans are found too. Other sessions on
the same machine carry other markers and are left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid

import pytest

from tests.processes import Proc, carrying

# A real Redis for the shared-state tests, wherever they live.
from tests.redis_server import redis_server, redis_url  # noqa: F401
from tests.support import wait_for

SESSION_MARKER = "CROSSROADS_TEST_SESSION"
SETTLE_S = 10.0  # a router stopped by the last test may still be stopping its simulator


def pytest_configure(config: pytest.Config) -> None:
    os.environ[SESSION_MARKER] = uuid.uuid4().hex


def _leftovers() -> list[Proc]:
    return [p for p in carrying(SESSION_MARKER, os.environ[SESSION_MARKER])
            if "crossroads" in p.cmdline()]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if wait_for(lambda: not _leftovers(), SETTLE_S):
        return
    leaked = _leftovers()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{p.pid}: {p.cmdline()}" for p in leaked]
    if reporter is not None:
        reporter.write("\n")
        reporter.write_sep("=", "crossroads processes left running by the tests", red=True)
        for line in lines:
            reporter.write_line(line)
    for proc in leaked:
        # Ours by the session marker; stopped so one leak does not pile up over runs.
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


# The throwaway PostgreSQL server, for every test directory that asks for it.
from tests.pg_server import postgres_server, postgres_url  # noqa: E402, F401
