"""Fixtures of the PostgreSQL tests: the simulated fleet, a fresh database, and three replicas
sharing it and one Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import FLEET, router_config
from tests.pg_server import PostgresServer
from tests.support import Router, Sim, start_router, start_sim


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    handle = start_sim(FLEET, tmp_path_factory.mktemp("sim"))
    yield handle
    handle.stop()


@pytest.fixture
def database(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database()


@pytest.fixture
def replicas(sim: Sim, database: str, redis_url: str, tmp_path: Path) -> Iterator[list[Router]]:
    """Three `crossroads serve` on their own ports, each with its own state_dir (its own
    journal), one PostgreSQL ledger and one Redis, keys required."""
    started: list[Router] = []
    try:
        for n in range(3):
            home = tmp_path / f"replica-{n}"
            home.mkdir()
            started.append(start_router(
                router_config(sim, extra='[auth]\nmode = "keys"\n'), home,
                "--database-url", database, "--redis-url", redis_url,
                env={"SIM_KEY": "sim-secret-key"}))
        yield started
    finally:
        for router in started:
            router.stop()
