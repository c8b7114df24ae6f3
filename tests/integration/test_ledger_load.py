"""Under load the ledger loses nothing and its rollups agree with its rows.

50,000 generations go through a real router to a simulated endpoint that answers instantly
(time_scale 0), at 64 concurrent connections. After a graceful stop (SIGTERM, which drains the
ledger's write queue), the SQLite file must hold exactly one row per answer the callers got, with
the ids they were given, and the hourly and daily rollups must sum to the same totals as the raw
rows — including the money, which must also equal what the callers were billed.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.support import Router, Sim, start_router, start_sim

GENERATIONS = 50_000
CONCURRENCY = 64
MODEL = "load/echo"

FLEET = """
seed = 3
time_scale = 0

[[endpoint]]
name = "echo"
context_length = 8192
max_output = 4096
completion_tokens = 24
"""

# Prices whose products are not whole micro-dollars, so every row is rounded on its own.
CONFIG = """
[routing]
seed = 1

[providers.echo]
name = "Echo"
base_url = "{base}"
api_key_env = "SIM_KEY"

[[models]]
slug = "{model}"
name = "Load Echo"
context_length = 8192

[[endpoints]]
model = "{model}"
provider = "echo"
upstream_model = "echo"
context_length = 8192
max_output = 4096
price = {{ prompt = 3.7, completion = 11.3 }}
"""

SUMMED = ("requests", "prompt_tokens", "completion_tokens", "cost_micro", "errors")


def _body(i: int) -> bytes:
    # Prompts and answer lengths vary, so the token sums are not one request times N.
    return orjson.dumps({
        "model": MODEL,
        "messages": [{"role": "user", "content": "load test " + "x" * (i % 37)}],
        "max_tokens": 8 + i % 17,
    })


async def _drive(url: str) -> tuple[list[str], int, int, list[str]]:
    """Send every request; (generation ids, completion tokens, micro-dollars billed, errors)."""
    ids: list[str] = []
    tokens = billed = 0
    errors: list[str] = []
    next_index = iter(range(GENERATIONS))
    headers = {"authorization": "Bearer load", "content-type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal tokens, billed
        for i in next_index:
            async with session.post(url, data=_body(i), headers=headers) as response:
                raw = await response.read()
            if response.status != 200:
                errors.append(f"{response.status}: {raw[:200]!r}")
                continue
            payload = orjson.loads(raw)
            ids.append(payload["id"])
            tokens += payload["usage"]["completion_tokens"]
            billed += payload["usage"]["crossroads"]["cost_micro_usd"]

    connector = aiohttp.TCPConnector(limit=CONCURRENCY, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return ids, tokens, billed, errors


@pytest.fixture
def sim(tmp_path: Path):
    handle = start_sim(FLEET, tmp_path)
    yield handle
    handle.stop()


def _sums(db: sqlite3.Connection, table: str) -> dict[str, int]:
    columns = ", ".join(f"coalesce(sum({c}), 0)" for c in SUMMED)
    row = db.execute(f"SELECT {columns} FROM {table}").fetchone()
    return dict(zip(SUMMED, row, strict=True))


def test_fifty_thousand_generations_leave_fifty_thousand_rows_and_matching_rollups(
        sim: Sim, tmp_path: Path):
    state = tmp_path / "router"
    state.mkdir()
    router: Router = start_router(CONFIG.format(base=sim.base("echo"), model=MODEL), state,
                                  env={"SIM_KEY": "sim-key"})
    try:
        started = time.monotonic()
        ids, tokens, billed, errors = asyncio.run(_drive(router.api + "/chat/completions"))
        elapsed = time.monotonic() - started
        print(f"\n{GENERATIONS} generations in {elapsed:.1f} s "
              f"({GENERATIONS / elapsed:,.0f} req/s at concurrency {CONCURRENCY})")
    finally:
        # Graceful: SIGTERM lets uvicorn finish and the ledger drain its queue before exiting.
        router.process.terminate()
        code = router.process.wait(60)
    assert errors == [], f"{len(errors)} failed, first: {errors[:3]}"
    assert len(ids) == GENERATIONS and len(set(ids)) == GENERATIONS
    # uvicorn re-raises the SIGTERM it caught once its shutdown (ledger drain included) is
    # done, so a clean exit reads as -SIGTERM; a timeout above would have raised instead.
    assert code in (0, -signal.SIGTERM), router.log.read_text()[-2000:]

    db = sqlite3.connect(state / "crossroads.db")
    try:
        assert db.execute("SELECT count(*) FROM generations").fetchone()[0] == GENERATIONS
        stored = {row[0] for row in db.execute("SELECT id FROM generations")}
        assert stored == set(ids)
        assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == GENERATIONS

        raw = dict(zip(SUMMED, db.execute(
            "SELECT count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost_micro), "
            "sum(finish_reason = 'error') FROM generations").fetchone(), strict=True))
        assert raw["completion_tokens"] == tokens
        assert raw["cost_micro"] == billed  # the ledger holds exactly what callers were billed
        assert raw["errors"] == 0
        assert _sums(db, "rollup_hourly") == raw
        assert _sums(db, "rollup_daily") == raw
    finally:
        db.close()
