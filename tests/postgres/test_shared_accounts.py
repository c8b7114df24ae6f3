"""One key's limits hold across three replicas sharing one Redis and one PostgreSQL.

Real processes on loopback: the simulated fleet, three `crossroads serve` with the same
`--database-url` and `--redis-url`, concurrent requests of one key spread over all three. The
key's spend in the ledger never passes its limit (a request that does not fit gets 402), and a
rate limit of N per minute admits exactly N whichever replicas the requests reach."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import openai
import psycopg

from tests.integration.conftest import MODEL
from tests.redis_server import RedisServer
from tests.support import Keys, Router, http_json, wait_for

LIMIT_MICRO = 200
# With Redis down each of three replicas admits against a third of what is left: a third of
# 200 µ$ (66) is about one request's worst case (~70 µ$ at charlie), so that test's key has room
# for one or two per replica, whatever a few bytes of prompt bound add.
PARTITIONED_LIMIT_MICRO = 450


def fire(replicas: list[Router], key: str, count: int, max_tokens: int) -> Counter[int]:
    clients = [openai.OpenAI(base_url=r.api, api_key=key, max_retries=0) for r in replicas]

    def one(i: int) -> int:
        try:
            clients[i % 3].chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": f"turn {i}"}],
                max_tokens=max_tokens)
        except openai.APIStatusError as error:
            return error.status_code
        return 200

    with ThreadPoolExecutor(max_workers=24) as pool:
        return Counter(pool.map(one, range(count)))


def ledger(url: str, key_hash: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*), COALESCE(SUM(cost_micro), 0) FROM generations "
                           "WHERE key_id = %s", (key_hash,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_limited_key_is_never_overdrawn_across_three_replicas(
        replicas: list[Router], database: str) -> None:
    key, key_hash = Keys(replicas[0]).create("--name", "limited", "--limit",
                                             str(LIMIT_MICRO / 1e6), "--database-url", database)
    outcomes = fire(replicas, key, 240, max_tokens=8)
    assert set(outcomes) <= {200, 402}, outcomes
    assert outcomes[402] > 0 and outcomes[200] > 0, outcomes
    assert wait_for(lambda: ledger(database, key_hash)[0] == outcomes[200], timeout_s=15)
    _, spent = ledger(database, key_hash)
    assert 0 < spent <= LIMIT_MICRO
    # Settled everywhere: what is left is exactly what no replica holds any more.
    status, body, _ = replicas[1].get("/key", key)
    assert status == 200 and body["data"]["limit"] == LIMIT_MICRO / 1e6


def test_a_rate_limit_admits_exactly_n_across_three_replicas(
        replicas: list[Router], database: str) -> None:
    key, _ = Keys(replicas[0]).create("--name", "rated", "--rate-limit", "7/1m",
                                      "--database-url", database)
    outcomes = fire(replicas, key, 30, max_tokens=4)
    assert outcomes == Counter({200: 7, 429: 23})


def test_with_redis_down_each_replica_admits_only_its_share(
        replicas: list[Router], database: str, redis_server: RedisServer) -> None:
    key, key_hash = Keys(replicas[0]).create(
        "--name", "partitioned", "--limit", str(PARTITIONED_LIMIT_MICRO / 1e6),
        "--database-url", database)

    def readiness() -> set[str]:
        return {http_json("GET", r.root + "/health/ready")[1]["status"] for r in replicas}

    assert wait_for(lambda: readiness() == {"ready"})
    redis_server.stop()
    try:
        assert wait_for(lambda: readiness() == {"degraded"}), readiness()
        outcomes = fire(replicas, key, 240, max_tokens=8)
        # Never unlimited: each replica admitted against a third of the limit at most.
        assert set(outcomes) <= {200, 402}, outcomes
        assert outcomes[402] > 0 and outcomes[200] > 0, outcomes
        assert wait_for(lambda: ledger(database, key_hash)[0] == outcomes[200], timeout_s=15)
        assert 0 < ledger(database, key_hash)[1] <= PARTITIONED_LIMIT_MICRO
    finally:
        redis_server.start()
    # Back: the shared account rules again, and no replica is degraded.
    assert wait_for(lambda: readiness() == {"ready"}, timeout_s=15), readiness()
    before = ledger(database, key_hash)[0]
    outcomes = fire(replicas, key, 30, max_tokens=8)
    assert set(outcomes) <= {200, 402}, outcomes
    assert wait_for(lambda: ledger(database, key_hash)[0] == before + outcomes[200],
                    timeout_s=15)
    assert ledger(database, key_hash)[1] <= PARTITIONED_LIMIT_MICRO
