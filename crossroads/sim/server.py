"""Serving a simulated fleet: one listening socket, every endpoint a path prefix.

    POST /NAME/v1/chat/completions      the provider surface (see chat.py)
    GET  /NAME/v1/models
    *    /_sim/...                      the control API (see control.py)

`run_sim` is the blocking entry point behind `crossroads sim`; `start_sim` runs the same server
inside an already running loop, for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from collections.abc import Callable
from typing import Final

import uvloop

from crossroads.sim.chat import ChatService
from crossroads.sim.control import Control
from crossroads.sim.endpoint import EndpointState, SimState
from crossroads.sim.lifeline import parent_gone
from crossroads.sim.profile import SimFleet
from crossroads.sim.wire import Exchange, HttpConnection, error_body

__all__ = ["SimApp", "SimServer", "run_sim", "start_sim"]

_Route = Callable[[ChatService, EndpointState, Exchange], "asyncio.Task[None] | None"]
_ROUTES: Final[dict[str, tuple[bytes, _Route]]] = {
    "v1/chat/completions": (b"POST", ChatService.completions),
    "v1/models": (b"GET", ChatService.models),
}


class SimApp:
    """The request handler: picks the endpoint by the first path segment, then the route."""

    __slots__ = ("_chat", "_control", "state")

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._chat = ChatService(state)
        self._control = Control(state)

    def __call__(self, ex: Exchange) -> asyncio.Task[None] | None:
        path = ex.path
        if path.startswith("/_sim/"):
            self._control.handle(ex)
            return None
        name, _, rest = path[1:].partition("/")
        ep = self.state.endpoints.get(name)
        if ep is None:
            message = f"no simulated endpoint named {name!r}"
            ex.send(404, error_body(message, "invalid_request_error", "not_found"))
            return None
        route = _ROUTES.get(rest.rstrip("/"))
        if route is None:
            ex.send(404, error_body(f"no route {path!r}", "invalid_request_error", "not_found"))
            return None
        method, handler = route
        if ex.method != method:
            message = f"{ex.method.decode()} not allowed on {path!r}"
            ex.send(405, error_body(message, "invalid_request_error"))
            return None
        return handler(self._chat, ep, ex)


class SimServer:
    """A running sim inside some event loop."""

    __slots__ = ("_connections", "_server", "host", "port", "state")

    def __init__(
        self,
        server: asyncio.Server,
        state: SimState,
        connections: set[HttpConnection],
        host: str,
        port: int,
    ) -> None:
        self._server = server
        self._connections = connections
        self.state = state
        self.host = host
        self.port = port

    def base_url(self, name: str) -> str:
        """The OpenAI base URL of one endpoint, e.g. http://127.0.0.1:PORT/groq/v1."""
        return f"http://{_url_host(self.host)}:{self.port}/{name}/v1"

    @property
    def url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}"

    async def close(self) -> None:
        self._server.close()
        # Streams in flight would hold wait_closed() open; ending them cancels their tasks.
        for conn in list(self._connections):
            conn.transport.abort()
        await self._server.wait_closed()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def start_sim(host: str, port: int, fleet: SimFleet) -> SimServer:
    """Start serving `fleet` on host:port (0 picks a free port) in the running loop."""
    state = SimState(fleet)
    app = SimApp(state)
    connections: set[HttpConnection] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpConnection(app, connections), host, port, reuse_address=True, backlog=2048
    )
    bound = server.sockets[0].getsockname()[1]
    return SimServer(server, state, connections, host, bound)


def _write_ready_file(path: str, port: int) -> None:
    # Written then renamed, so a poller never reads a half-written number.
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".sim-ready-")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


async def _serve(
    host: str, port: int, fleet: SimFleet, ready_file: str | None, parent_pid: int | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    watch = None
    if parent_pid is not None:
        watch = loop.create_task(parent_gone(parent_pid))
        watch.add_done_callback(lambda _: stop.set())
    server = await start_sim(host, port, fleet)
    # The file first: whoever saw the line may rely on the file too.
    if ready_file is not None:
        _write_ready_file(ready_file, server.port)
    print(f"crossroads-sim listening on {server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        if watch is not None:
            watch.cancel()
        await server.close()


def run_sim(
    host: str,
    port: int,
    fleet: SimFleet,
    *,
    ready_file: str | None = None,
    parent_pid: int | None = None,
) -> None:
    """Serve `fleet` until SIGINT or SIGTERM, or until `parent_pid` stops being our parent.

    Prints one line once listening. See lifeline.py for why a sim watches its parent.
    """
    uvloop.run(_serve(host, port, fleet, ready_file, parent_pid))
