"""A router on PostgreSQL over real HTTP: the openai SDK, the simulated fleet, keys made by the
CLI on the same database, and the database stopped mid-run — requests keep succeeding and every
generation reaches the database once it is back."""

from __future__ import annotations

from pathlib import Path

import openai
import psycopg

from tests.integration.conftest import MODEL, router_config
from tests.pg_server import PASSWORD, PostgresServer
from tests.support import Keys, Sim, start_router, wait_for


def _stored(url: str, ids: list[str]) -> dict[str, str | None]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, key_id FROM generations WHERE id = ANY(%s)",
                            (ids,)).fetchall()
    return dict(rows)


def _ask(client: openai.OpenAI, text: str) -> str:
    answer = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": text}], max_tokens=8)
    assert answer.choices[0].message.content
    return answer.id


def test_router_on_postgres_keeps_serving_through_an_outage_and_loses_nothing(
        sim: Sim, tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    router = start_router(router_config(sim), tmp_path, "--database-url", url,
                          env={"SIM_KEY": "sim-secret-key"})
    running = True
    try:
        key, key_hash = Keys(router).create("--name", "pg", "--database-url", url)
        client = openai.OpenAI(base_url=router.api, api_key=key, max_retries=0)
        first = _ask(client, "hello postgres")
        assert wait_for(lambda: router.get(f"/generation?id={first}", key)[0] == 200)
        status, body, _ = router.get(f"/generation?id={first}", key)
        assert status == 200 and body["data"]["id"] == first
        assert wait_for(lambda: _stored(url, [first]) == {first: key_hash})

        postgres_server.stop()
        running = False
        during = [_ask(client, f"while the database is down {i}") for i in range(8)]
        # Still answered, from the ledger's queue: nothing was lost on the way.
        status, body, _ = router.get(f"/generation?id={during[0]}", key)
        assert status == 200 and body["data"]["id"] == during[0]

        postgres_server.start()
        running = True
        assert wait_for(lambda: len(_stored(url, during)) == len(during), timeout_s=30)
        assert set(_stored(url, during).values()) == {key_hash}
        after = _ask(client, "after the outage")
        assert wait_for(lambda: after in _stored(url, [after]), timeout_s=10)
    finally:
        if not running:
            postgres_server.start()
        router.stop()
    with psycopg.connect(url) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM generations").fetchone() or (0,)
    assert count == 10  # each generation exactly once
    assert PASSWORD not in router.log.read_text(errors="replace")
