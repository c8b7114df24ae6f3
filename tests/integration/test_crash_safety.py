"""SIGKILL the router mid-load, restart it: every answer a client received in full is billed once.

A real router process in front of a real simulator (time_scale 0, so the router is the
bottleneck), 64 concurrent clients mixing streamed and non-streamed requests. After 3,000
complete answers the router gets SIGKILL with requests in flight and records not yet committed.
Restarted on the same state directory, it must hold every one of those generations exactly once
— through its own API and in the database file — at the price the client was shown, with
rollups that equal the sums over the raw rows.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.ledger.builders import assert_rollups_agree
from tests.support import Router, Sim, start_router, start_sim

from .conftest import FLEET, MODEL, router_config

CONCURRENCY = 64
KILL_AFTER = 3000
MESSAGES = [{"role": "user", "content": "say something about ledgers"}]


@pytest.fixture(scope="module")
def instant_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    assert "time_scale = 1.0" in FLEET
    handle = start_sim(FLEET.replace("time_scale = 1.0", "time_scale = 0"),
                       tmp_path_factory.mktemp("sim"))
    yield handle
    handle.stop()


def _stream_result(raw: bytes) -> tuple[str, int] | None:
    """(id, cost) of a stream the client saw end with [DONE]; None for a cut-off one."""
    events = [line[6:] for line in raw.split(b"\n") if line.startswith(b"data: ")]
    if not events or events[-1] != b"[DONE]":
        return None
    chunks = [orjson.loads(e) for e in events[:-1]]
    [usage] = [c["usage"] for c in chunks if c.get("usage")]
    return chunks[-1]["id"], usage["crossroads"]["cost_micro_usd"]


async def _load(router: Router) -> dict[str, int]:
    """Run until KILL_AFTER complete answers, SIGKILL the router, drain; → {id: cost_micro}."""
    url = router.api + "/chat/completions"
    headers = {"authorization": "Bearer crash", "content-type": "application/json"}
    complete: dict[str, int] = {}
    killed = asyncio.Event()

    async def client(worker: int, session: aiohttp.ClientSession) -> None:
        i = 0
        while not killed.is_set() or i < 1:  # every client is in flight at the kill
            streamed = (worker + i) % 2 == 1
            i += 1
            body = orjson.dumps({"model": MODEL, "messages": MESSAGES, "stream": streamed})
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    raw = await response.read()
                    status = response.status
                    header_id = response.headers["x-generation-id"]
            except (aiohttp.ClientError, ConnectionError):
                return  # the router is gone: this answer did not arrive in full
            if status != 200:
                # An error the router answered in full (say, every provider timed out on this
                # loaded machine) is recorded too, and billed nothing.
                assert status >= 500 or status in (408, 429), raw[:300]
                complete[header_id] = 0
            elif streamed:
                result = _stream_result(raw)
                if result is None:
                    continue  # ended in-band with an error: not a complete answer
                assert result[0] == header_id
                complete[result[0]] = result[1]
            else:
                answer = orjson.loads(raw)
                assert answer["id"] == header_id
                complete[header_id] = answer["usage"]["crossroads"]["cost_micro_usd"]
            if len(complete) >= KILL_AFTER and not killed.is_set():
                killed.set()
                router.process.kill()  # SIGKILL: no shutdown, no flush

    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(w, session) for w in range(CONCURRENCY)))
    assert killed.is_set(), f"only {len(complete)} answers before the clients stopped"
    return complete


async def _fetch_all(router: Router, ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    semaphore = asyncio.Semaphore(32)

    async def one(session: aiohttp.ClientSession, generation_id: str) -> None:
        async with semaphore, session.get(router.api + "/generation",
                                          params={"id": generation_id},
                                          headers={"authorization": "Bearer t"}) as response:
            assert response.status == 200, (generation_id, await response.text())
            found[generation_id] = (await response.json())["data"]

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, i) for i in ids))
    return found


def _rows(db: Path) -> dict[str, tuple[int, int]]:
    """{id: (times recorded, cost_micro)} straight from the file."""
    with sqlite3.connect(db) as conn:
        return {row[0]: (row[1], row[2]) for row in conn.execute(
            "SELECT id, COUNT(*), MAX(cost_micro) FROM generations GROUP BY id")}


def test_sigkill_mid_load_loses_no_billed_answer(tmp_path: Path, instant_sim: Sim) -> None:
    began = time.monotonic()
    config = router_config(instant_sim)
    env = {"SIM_KEY": "sim-secret-key"}
    db = tmp_path / "crossroads.db"

    router = start_router(config, tmp_path, env=env)
    complete = asyncio.run(_load(router))
    router.process.wait(10)
    assert router.process.returncode == -9
    committed_before = _rows(db)
    journaled = sorted(tmp_path.glob("crossroads.journal.*"))
    missing_before = [i for i in complete if i not in committed_before]
    assert journaled, "the killed router left no journal"

    restarted = start_router(config, tmp_path, env=env)
    try:
        # Through the API of the restarted router: every complete answer, at its price.
        served = _fetch_all(restarted, list(complete))
        records = asyncio.run(served)
        for generation_id, cost in complete.items():
            assert round(records[generation_id]["total_cost"] * 1_000_000) == cost
    finally:
        restarted.stop()  # graceful: the ledger closes, so the file below is complete

    log = restarted.log.read_text()
    match = re.search(r"recovered (\d+) generations from (\d+) segments", log)
    assert match, log
    recovered = int(match.group(1))
    rows = _rows(db)
    for generation_id, cost in complete.items():
        assert rows[generation_id] == (1, cost), generation_id  # once, at the shown price
    assert recovered >= len(missing_before)
    assert len(rows) == len(committed_before) + recovered
    assert_rollups_agree(db)
    assert sorted(tmp_path.glob("crossroads.journal*")) == []  # stopped gracefully: applied
    print(f"\ncrash safety: {len(complete)} complete answers at the kill; {len(committed_before)}"
          f" generations committed before it, {len(missing_before)} complete answers among the"
          f" uncommitted; the journal recovered {recovered}; {len(rows)} rows after restart; "
          f"{time.monotonic() - began:.1f} s")
