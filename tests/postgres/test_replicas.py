"""Three replicas, one PostgreSQL, one Redis: one router as far as the ledger and the keys go.

Real processes on loopback: the simulated fleet, three `crossroads serve` on their own ports
with the same `--database-url` and `--redis-url`, traffic spread across them by the test. The
ledger holds exactly one row per generation whichever replica served it, and every replica
finds every generation (a key made once works everywhere)."""

from __future__ import annotations

import openai
import psycopg

from tests.integration.conftest import MODEL
from tests.support import Keys, Router, wait_for


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
