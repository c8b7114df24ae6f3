"""SIGTERM and SIGINT as a request to stop gracefully, for the whole life of `crossroads serve`.

The order a stop must follow: stop accepting, let requests in flight finish (uvicorn's grace
period), close the ledger (the app's lifespan shutdown), and only then stop the simulated fleet
the in-flight demo requests were still talking to.

Why uvicorn alone loses the last step. `uvicorn.Server.serve` installs its own handlers while
it runs; after its graceful shutdown it restores the previous handlers and re-raises the signal
it caught, so the process "dies of it" as if uvicorn had not been there. With SIGTERM's default
disposition that re-raise kills the process inside `serve()` — before the code after it (which
stops the simulator) can run. That was the leak: every SIGTERM left a simulator holding a port.

`StopSignals` is installed first, for the whole command. uvicorn's re-raise then lands here and
is merely recorded; control returns normally, the cleanup runs, and the command exits with the
conventional status (0 for SIGTERM: a requested, completed stop; 130 for SIGINT, as shells
expect). A signal that arrives outside uvicorn's window — while the simulator starts, before
the loop runs — is recorded too and makes the server exit as soon as it has started.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterable
from types import FrameType, TracebackType
from typing import Any, Final

import uvicorn

__all__ = ["StopSignals", "cancel_and_wait"]

log = logging.getLogger("crossroads")

HANDLED: Final = (signal.SIGINT, signal.SIGTERM)
EXIT_STATUS: Final = {signal.SIGTERM: 0, signal.SIGINT: 130}


class StopSignals:
    """A context manager: while inside, SIGINT and SIGTERM are recorded, not fatal."""

    __slots__ = ("_previous", "_server", "received")

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._server: uvicorn.Server | None = None
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> StopSignals:
        for signum in HANDLED:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def attach(self, server: uvicorn.Server) -> None:
        """Forward stop requests to `server`, including one that came before it existed."""
        self._server = server
        if self.received is not None:
            server.should_exit = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum)
        if self._server is not None:
            self._server.should_exit = True

    @property
    def exit_status(self) -> int:
        return 0 if self.received is None else EXIT_STATUS[self.received]


async def cancel_and_wait(tasks: Iterable[asyncio.Task[None]], timeout_s: float) -> None:
    """Cancel background tasks and wait for them, but never longer than `timeout_s`.

    A cancelled task can swallow its cancellation: on Python 3.11 a cancel that lands while a
    client library's `asyncio.timeout` block expires comes out as that library's TimeoutError,
    which a retry loop then treats as one more network error and carries on. Awaiting such a
    task forever held a worker's graceful stop past its grace period (and the ledger unflushed)
    until the supervisor killed it; so a stop gives up on it instead, and says so."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if not pending:
        return
    _, stuck = await asyncio.wait(pending, timeout=timeout_s)
    for task in stuck:
        log.warning("background task %s did not stop within %.1f s; leaving it",
                    task.get_name(), timeout_s)
