"""No key can be overdrawn: 500 concurrent requests on a limit that covers about 100.

Streamed and plain requests, some cancelled mid-stream, some failing over, fired by many threads
at once; then the same with the router killed (SIGKILL) mid-run and restarted. Throughout, the
key's `limit_remaining` is never negative; at the end the ledger, `GET /key` and the balance
agree to the micro-dollar and the settled total is within the limit.
"""

from __future__ import annotations

import http.client
import json
import signal
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support import Router, Sim, start_router

from .accounts_support import Keys, call, client
from .conftest import router_config

CREDIT = "test/credit"
# USD per 1M tokens: each answer costs ~140 micro-dollars, its reservation ~800.
PRICES = {"alpha": (2.0, 8.0), "bravo": (3.0, 12.0)}
LIMIT_USD = 0.015  # about 100 answers
REQUESTS = 500
MESSAGES = [{"role": "user", "content": "hello there"}]


def credit_model() -> str:
    tables = [f'[[models]]\nslug = "{CREDIT}"\nname = "Credit"\ncontext_length = 8192\n']
    for name, (prompt, completion) in PRICES.items():
        tables.append(f"""
[[endpoints]]
model = "{CREDIT}"
provider = "{name}"
upstream_model = "credit-{name}"
context_length = 8192
max_output = 4096
price = {{ prompt = {prompt}, completion = {completion} }}
""")
    return "\n".join(tables)


@pytest.fixture
def setup(tmp_path: Path, fresh_sim: Sim) -> Iterator[tuple[Path, str]]:
    # Alpha (the cheaper) fails a quarter of its attempts; a short breaker keeps it in play,
    # so failovers to bravo keep happening through the run.
    fresh_sim.patch("alpha", fault_rates={"http_500": 0.25})
    yield tmp_path, router_config(fresh_sim, extra=credit_model(), cooldowns=(0.05, 0.1))


def _start(tmp: Path, config: str) -> Router:
    return start_router(config, tmp, "--auth", "keys", env={"SIM_KEY": "sim-secret-key"})


class Run:
    """Fires requests; records what each got and every `limit_remaining` seen meanwhile."""

    def __init__(self, router: Router, key: str) -> None:
        self.router = router
        self.key = key
        self.sdk = client(router, key)
        self.outcomes: Counter[str] = Counter()
        self.remaining_seen: list[float] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.kill_after: int | None = None  # SIGKILL the router after this many answers

    def _note(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if outcome == "served" and self.outcomes["served"] == self.kill_after:
                self.router.process.send_signal(signal.SIGKILL)

    def one(self, i: int) -> None:
        kind = ("cancel", "stream", "plain", "stream", "plain")[i % 5]
        try:
            if kind == "plain":
                self.sdk.chat.completions.create(model=CREDIT, messages=MESSAGES, max_tokens=16)
                self._note("served")
            else:
                self._stream(cancel=kind == "cancel")
        except openai.APIStatusError as error:
            self._note(f"http_{error.status_code}")
        except (openai.APIConnectionError, OSError):
            self._note("connection_lost")  # only when the router is killed

    def _stream(self, cancel: bool) -> None:
        host, port = self.router.root.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request("POST", "/api/v1/chat/completions", json.dumps(
                {"model": CREDIT, "messages": MESSAGES, "max_tokens": 16, "stream": True}),
                {"authorization": f"Bearer {self.key}", "content-type": "application/json"})
            response = conn.getresponse()
            if response.status != 200:
                self._note(f"http_{response.status}")
                return
            while line := response.readline():
                if cancel and line.startswith(b"data: {"):
                    self._note("cancelled")
                    return  # closing the connection cancels the generation mid-stream
                if line.strip() == b"data: [DONE]":
                    self._note("served")
                    return
            self._note("stream_ended_early")
        finally:
            conn.close()

    def watch(self) -> None:
        while not self.stop.is_set():
            try:
                status, body, _ = call(self.router, "GET", "/key", self.key)
            except OSError:
                return
            if status == 200:
                with self.lock:
                    self.remaining_seen.append(body["data"]["limit_remaining"])

    def fire(self, indices: range, workers: int = 48) -> None:
        watcher = threading.Thread(target=self.watch)
        watcher.start()
        try:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(self.one, indices))
        finally:
            self.stop.set()
            watcher.join()


def ledger_total(tmp: Path, key_hash: str) -> tuple[int, int, int]:
    """(sum of generations' cost, sum of the key's rollup, generations) for one key."""
    conn = sqlite3.connect(f"file:{tmp / 'crossroads.db'}?mode=ro", uri=True)
    try:
        cost, rows = conn.execute("SELECT COALESCE(SUM(cost_micro), 0), COUNT(*) "
                                  "FROM generations WHERE key_id = ?", (key_hash,)).fetchone()
        (rollup,) = conn.execute("SELECT COALESCE(SUM(cost_micro), 0) FROM rollup_key_daily "
                                 "WHERE key_id = ?", (key_hash,)).fetchone()
    finally:
        conn.close()
    return int(cost), int(rollup), int(rows)


def key_state(router: Router, key: str) -> dict[str, Any]:
    status, body, _ = call(router, "GET", "/key", key)
    assert status == 200, body
    return dict(body["data"])


def assert_agrees(router: Router, key: str, key_hash: str, tmp: Path) -> int:
    state = key_state(router, key)
    spent = state["crossroads"]["usage_micro_usd"]
    limit = round(LIMIT_USD * 1e6)
    assert 0 <= spent <= limit
    assert state["crossroads"]["limit_remaining_micro_usd"] == limit - spent
    assert state["crossroads"]["reserved_micro_usd"] == 0  # nothing left in flight
    return int(spent)


def test_concurrent_requests_never_overdraw_a_key(setup: tuple[Path, str],
                                                 fresh_sim: Sim) -> None:
    tmp, config = setup
    router = _start(tmp, config)
    keys = Keys(router)
    key, key_hash = keys.create("--name", "overdraft", "--limit", str(LIMIT_USD))
    run = Run(router, key)
    run.fire(range(REQUESTS))
    try:
        spent = assert_agrees(router, key, key_hash, tmp)
    finally:
        router.stop()
    outcomes = run.outcomes
    assert sum(outcomes.values()) == REQUESTS, outcomes
    assert set(outcomes) <= {"served", "cancelled", "http_402"}, outcomes
    # At alpha's prices the limit covers ~100 answers, at bravo's ~70: alpha, failing a quarter
    # of its attempts, is demoted by its recent uptime (issue 18), so most answers come from
    # bravo and 50-odd are served besides the cancelled ones.
    assert outcomes["served"] >= 45 and outcomes["cancelled"] >= 10, outcomes
    assert outcomes["http_402"] >= 250, outcomes
    assert min(run.remaining_seen) >= 0 and len(run.remaining_seen) >= 5
    # Failovers really happened: alpha failed some attempts that bravo then served. One is
    # enough to show it: the breaker hears outcomes in the order attempts began, so a success
    # begun before a failure no longer reopens alpha at once, and alpha (also demoted while
    # its recent uptime is low) may see only a handful of attempts in this short run.
    log = fresh_sim.requests("alpha")
    assert Counter(r["outcome"] for r in log)["http_500"] >= 1
    cost, rollup, rows = ledger_total(tmp, key_hash)
    assert cost == rollup == spent and rows >= outcomes["served"]
    assert spent <= round(LIMIT_USD * 1e6)


def test_a_killed_router_restarts_with_the_same_balance(setup: tuple[Path, str]) -> None:
    tmp, config = setup
    router = _start(tmp, config)
    keys = Keys(router)
    key, key_hash = keys.create("--name", "crash", "--limit", str(LIMIT_USD))
    run = Run(router, key)
    run.kill_after = 30  # mid-run: dozens of requests in flight, the limit not yet reached
    run.fire(range(REQUESTS // 2))
    router.process.wait(10)
    assert run.outcomes["connection_lost"] > 0, run.outcomes  # killed mid-run

    restarted = _start(tmp, config)
    try:
        before = key_state(restarted, key)
        # What the journal replayed is exactly what the key is charged with.
        cost, rollup, _ = ledger_total(tmp, key_hash)
        assert before["crossroads"]["usage_micro_usd"] == cost == rollup
        assert before["limit_remaining"] >= 0
        second = Run(restarted, key)
        second.fire(range(REQUESTS // 2, REQUESTS))
        assert second.outcomes["http_402"] > 0 and min(second.remaining_seen) >= 0
        spent = assert_agrees(restarted, key, key_hash, tmp)
    finally:
        restarted.stop()
    cost, rollup, _ = ledger_total(tmp, key_hash)
    assert cost == rollup == spent <= round(LIMIT_USD * 1e6)
