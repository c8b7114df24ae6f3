"""`crossroads serve --workers N`: N router processes accepting on one listening socket.

The supervisor (the process the operator started) binds the socket, forks the workers and then
only watches them. Each worker is a whole router: its own event loop, upstream pool, ledger
writer and journal segment (segments are per process: ledger/journal.py), all on the same
state directory and database. What must be one across workers — live stats and breakers,
sticky pins, rate limits, credit held in flight — goes through the shared-state backend: the
configured Redis, or else a private one the supervisor starts (shared_state/private_redis.py).

Why pre-fork on one socket, the model of gunicorn and of `uvicorn --workers`, rather than one
SO_REUSEPORT socket per worker:
- one bind, by the supervisor: port 0, "address in use" and the banner behave exactly as with
  one worker, and a worker that is restarted inherits the socket instead of racing to bind;
- one accept queue: whichever worker is free takes the next connection. SO_REUSEPORT hashes
  each connection to one worker's queue up front, so a busy or restarting worker still gets
  its share, and connections queued on a dying worker's socket are reset;
- fork rather than spawn: a worker starts in milliseconds with the imported code shared
  copy-on-write. That is safe because the supervisor forks before it has any thread or event
  loop of its own.

Lifecycle. A worker reports on a pipe once its lifespan startup is done; the banner is printed
when all have. A worker that dies before it was ready is a configuration or environment
problem every worker will hit, so the supervisor stops the rest and exits with its status; one
that dies later is replaced. SIGTERM or SIGINT: the supervisor closes its copy of the socket and
passes SIGTERM to every worker, which drains gracefully (in-flight requests and streams finish,
the ledger is flushed); stragglers past the grace period are killed. Each worker holds the
parent-death signal, so a supervisor killed outright (SIGKILL, OOM) still leaves no worker, and
no private Redis, behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Final

from crossroads.shared_state.private_redis import PrivateRedis
from crossroads.shutdown import EXIT_STATUS, HANDLED
from crossroads.sim.lifeline import tie_to_parent

__all__ = ["Supervisor", "worker_count"]

log = logging.getLogger("crossroads.workers")

# A worker's graceful stop (uvicorn's timeout_graceful_shutdown, then the ledger's flush) plus
# a margin; past it the supervisor kills what is left.
STOP_GRACE_S: Final = 20.0
RESPAWN_PAUSE_S: Final = 0.5  # between a worker's death and its replacement's start
TICK_S: Final = 0.1

Work = Callable[[int, Callable[[], None]], int]
"""A worker's body: (its index, the callback that reports it ready) → its exit status."""


def worker_count(value: int | str) -> int:
    """`auto`: the cores this process may run on."""
    if value == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1)
    return int(value)


class _Worker:
    __slots__ = ("index", "pid", "ready", "ready_pipe")

    def __init__(self, index: int, pid: int, ready_pipe: int) -> None:
        self.index = index
        self.pid = pid
        self.ready_pipe = ready_pipe
        self.ready = False


class Supervisor:
    """Forks `count` workers on `sock` and keeps them running until told to stop."""

    def __init__(self, count: int, sock: socket.socket, work: Work,
                 redis: PrivateRedis | None, on_ready: Callable[[], None]) -> None:
        self._count = count
        self._sock: socket.socket | None = sock
        self._work = work
        self._redis = redis
        self._on_ready = on_ready
        self._workers: dict[int, _Worker] = {}
        self._selector = selectors.DefaultSelector()
        self._received: signal.Signals | None = None
        self._pid = os.getpid()

    # --- the supervisor's side -----------------------------------------------------------

    def run(self) -> int:
        previous = {signum: signal.signal(signum, self._stop_requested) for signum in HANDLED}
        try:
            return self._supervise()
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._selector.close()
            if self._redis is not None:
                self._redis.remove()

    def _supervise(self) -> int:
        for index in range(self._count):
            self._spawn(index)
        announced = False
        while self._received is None:
            for key, _ in self._selector.select(TICK_S):
                self._read_ready(key.fileobj)  # type: ignore[arg-type]
            if not announced and len(self._workers) == self._count and all(
                    w.ready for w in self._workers.values()):
                announced = True
                self._on_ready()
            failed = self._reap()
            if failed is not None:
                return failed
            if self._redis is not None and self._redis.exited():
                # The workers carry on with local state meanwhile (readiness says degraded)
                # and converge again once it answers.
                log.warning("the workers' private redis-server stopped; starting it again")
                self._redis.start()
        return EXIT_STATUS[self._received]

    def _spawn(self, index: int) -> None:
        assert self._sock is not None
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            self._be_worker(index, write_end)
        os.close(write_end)
        os.set_blocking(read_end, False)
        worker = _Worker(index, pid, read_end)
        self._workers[pid] = worker
        self._selector.register(read_end, selectors.EVENT_READ, worker)

    def _read_ready(self, fd: int) -> None:
        worker = self._selector.get_key(fd).data
        try:
            data = os.read(fd, 1)
        except BlockingIOError:
            return
        if data:
            worker.ready = True
        self._selector.unregister(fd)
        os.close(fd)
        worker.ready_pipe = -1

    def _reap(self) -> int | None:
        """Collect dead workers; → an exit status when one died before it was ever ready."""
        # Each worker by its pid: waitpid(-1) would also reap the simulator and the private
        # Redis, whose Popen objects then could not tell how they ended.
        for pid in list(self._workers):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
            worker = self._workers.pop(pid)
            if worker.ready_pipe >= 0:
                self._read_ready(worker.ready_pipe)
            code = os.waitstatus_to_exitcode(status)
            if not worker.ready:
                log.error("worker %d (pid %d) exited with status %d before it was ready; "
                          "stopping", worker.index, pid, code)
                return code if code > 0 else 1
            log.warning("worker %d (pid %d) exited with status %d; starting a new one",
                        worker.index, pid, code)
            time.sleep(RESPAWN_PAUSE_S)
            self._spawn(worker.index)
        return None

    def _stop_requested(self, signum: int, frame: FrameType | None) -> None:
        if self._received is None:
            self._received = signal.Signals(signum)

    def _stop_all(self) -> None:
        # The supervisor's copy of the socket goes first: once the workers have closed theirs
        # the port refuses connections instead of queueing them for nobody.
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        for pid in self._workers:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while self._workers and time.monotonic() < deadline:
            for pid in list(self._workers):
                if os.waitpid(pid, os.WNOHANG)[0] != 0:
                    worker = self._workers.pop(pid)
                    if worker.ready_pipe >= 0:
                        os.close(worker.ready_pipe)
            if self._workers:
                time.sleep(TICK_S)
        for pid in self._workers:
            log.error("worker pid %d did not stop within %.0f s; killing it", pid, STOP_GRACE_S)
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for worker in self._workers.values():
            if worker.ready_pipe >= 0:
                os.close(worker.ready_pipe)
        self._workers.clear()

    # --- the worker's side ---------------------------------------------------------------

    def _be_worker(self, index: int, ready_pipe: int) -> None:
        """Never returns: the worker must not run the supervisor's cleanup on its way out."""
        status = 1
        try:
            for signum in HANDLED:
                signal.signal(signum, signal.SIG_DFL)
            self._selector.close()
            for worker in self._workers.values():
                if worker.ready_pipe >= 0:
                    os.close(worker.ready_pipe)
            if not tie_to_parent(self._pid):
                os._exit(1)

            def report_ready() -> None:
                os.write(ready_pipe, b"1")
                os.close(ready_pipe)

            status = self._work(index, report_ready)
        except SystemExit as stop:  # uvicorn exits 3 itself when the lifespan startup fails
            status = stop.code if isinstance(stop.code, int) else 1
        except BaseException:  # whatever it was, the worker must end here
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
