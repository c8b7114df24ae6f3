"""Three replicas, one PostgreSQL, one Redis: one router as far as the ledger and the keys go.

Real processes on loopback: the simulated fleet, three `crossroads serve` on their own ports
with the same `--database-url` and `--redis-url`, traffic spread across them by the test. The
ledger holds exactly one row per generation whichever replica served it, and every replica
finds every generation (a key made once works everywhere)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import psycopg
import pytest

from tests.integration.conftest import FLEET, MODEL, router_config
from tests.pg_server import PostgresServer
from tests.support import Keys, Router, Sim, start_router, start_sim, wait_for


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
    started: list[Router] = []
    try:
        for n in range(3):
            home = tmp_path / f"replica-{n}"  # each its own state_dir: its own journal
            home.mkdir()
            started.append(start_router(
                router_config(sim, extra='[auth]\nmode = "keys"\n'), home,
                "--database-url", database, "--redis-url", redis_url,
                env={"SIM_KEY": "sim-secret-key"}))
        yield started
    finally:
        for router in started:
            router.stop()


def rows(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT id, COUNT(*) FROM generations GROUP BY id").fetchall()
    return [(str(i), int(n)) for i, n in found]


def test_three_replicas_keep_one_ledger(replicas: list[Router], database: str) -> None:
    # A key made once, through the first replica's CLI, works on every replica.
    key, _ = Keys(replicas[0]).create("--name", "shared", "--database-url", database)
    clients = [openai.OpenAI(base_url=r.api, api_key=key, max_retries=0) for r in replicas]
    served: list[str] = []
    for i in range(12):
        answer = clients[i % 3].chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": f"turn {i}"}], max_tokens=4)
        served.append(answer.id)
    assert len(set(served)) == 12
    # Exactly one row per generation, whichever replica served it.
    assert wait_for(lambda: len(rows(database)) == 12, timeout_s=15)
    assert sorted(rows(database)) == sorted((g, 1) for g in served)
    # Every replica finds every generation, including those another replica served.
    for router in replicas:
        for generation_id in served:
            status, body, _ = router.get(f"/generation?id={generation_id}", key)
            assert status == 200 and body["data"]["id"] == generation_id
