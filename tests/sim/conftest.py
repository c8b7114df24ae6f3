"""A sim serving the test fleet on a background thread, reset before every test."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import uvloop

from crossroads.sim.server import SimServer, start_sim

from .support import TEST_FLEET, Sim


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimServer]:
    loop = uvloop.new_event_loop()
    started = threading.Event()
    box: dict[str, SimServer] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        box["server"] = loop.run_until_complete(start_sim("127.0.0.1", 0, TEST_FLEET))
        started.set()
        loop.run_forever()
        loop.run_until_complete(box["server"].close())
        loop.close()

    thread = threading.Thread(target=serve, name="sim", daemon=True)
    thread.start()
    assert started.wait(10), "sim did not start"
    yield box["server"]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def sim(sim_server: SimServer) -> Iterator[Sim]:
    handle = Sim(sim_server)
    assert handle.control("POST", "/reset").status_code == 200
    yield handle
    handle.http.close()
