"""`crossroads serve --workers N`: N processes on one port that behave as one router.

Real processes on loopback: the simulated fleet, one `crossroads serve --workers 3` with no
Redis configured (so the supervisor starts its private redis-server), and the test's own
connections, each a new one so that the kernel hands them to whichever worker accepts first.
`/health/ready` names the pid that answered: the witness that several workers really served.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from tests.integration.accounts_support import call
from tests.integration.conftest import MODEL, router_config
from tests.integration.test_shared_state import CONVERGE_S, OUTAGE, ask, state_of
from tests.processes import Proc, children
from tests.support import Keys, Router, Sim, http_json, start_router, wait_for

WORKERS = 3


def ready_pid(router: Router) -> int:
    status, body, _ = http_json("GET", router.root + "/health/ready")
    assert status == 200 and body["status"] == "ready", body
    return int(body["pid"])


def worker_pids(router: Router) -> set[int]:
    return {p.pid for p in children(router.process.pid) if "crossroads serve" in p.cmdline()}


def ledger_ids(state_dir: Path) -> list[str]:
    with sqlite3.connect(state_dir / "crossroads.db") as db:
        return [row[0] for row in db.execute("SELECT id FROM generations")]


@pytest.fixture
def workers(fresh_sim: Sim, tmp_path: Path) -> Iterator[Router]:
    router = start_router(router_config(fresh_sim), tmp_path, "--workers", str(WORKERS),
                          env={"SIM_KEY": "sim-secret-key"})
    family = [Proc.of(p.pid) for p in children(router.process.pid)]
    try:
        yield router
    finally:
        if router.process.poll() is None:
            router.stop()
        assert wait_for(lambda: not [p for p in family if p.alive()]), "a child outlived it"


def test_workers_serve_one_port_with_one_ledger(workers: Router, tmp_path: Path):
    pids = worker_pids(workers)
    assert len(pids) == WORKERS
    # The banner came once, from the supervisor, and says how state is shared.
    assert workers.process.stdout is not None
    rest = []
    while not rest or "stop:" not in rest[-1]:
        rest.append(workers.process.stdout.readline())
    assert f"processes:   {WORKERS} workers sharing state through a private redis-server" in (
        "".join(rest))
    with ThreadPoolExecutor(8) as pool:
        answered = set(pool.map(lambda _: ready_pid(workers), range(48)))
    assert answered <= pids
    assert len(answered) >= 2, "one worker took every connection"

    served = [workers.post("/chat/completions", {
        "model": MODEL, "messages": [{"role": "user", "content": f"turn {i}"}],
        "max_tokens": 4})[1]["id"] for i in range(12)]
    assert len(set(served)) == 12
    # Exactly one row per generation whichever worker served it; every worker finds each.
    assert wait_for(lambda: len(ledger_ids(tmp_path)) == 12, timeout_s=15)
    assert sorted(ledger_ids(tmp_path)) == sorted(served)
    for generation_id in served:
        status, body, _ = workers.get(f"/generation?id={generation_id}")
        assert status == 200 and body["data"]["id"] == generation_id


def test_a_failure_one_worker_sees_steers_every_worker_away(fresh_sim: Sim, workers: Router):
    fresh_sim.script("alpha", *OUTAGE)
    assert ask(workers, "alpha", "bravo") == "Bravo"  # one worker failed over
    assert fresh_sim.hits("alpha") == 1
    # Every worker (each poll lands on whichever accepts) reports it cooling down, soon.
    assert wait_for(lambda: all(state_of(workers, "alpha") == "cooling_down"
                                for _ in range(2 * WORKERS)), CONVERGE_S)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: ask(workers, "alpha", "bravo"), range(12)))
    assert answers == ["Bravo"] * 12
    assert fresh_sim.hits("alpha") == 1, "a worker still sent traffic to the failing endpoint"


def _stream(router: Router, started: threading.Barrier) -> list[dict[str, object]]:
    """One slow stream; waits at `started` once its content has begun, then reads it all."""
    chunks: list[dict[str, object]] = []
    lines = router.raw_stream({"model": MODEL, "provider": {"only": ["charlie"]},
                               "messages": [{"role": "user", "content": "a long story"}]})
    waited = False
    for line in lines:
        if line == b"data: [DONE]\n":
            chunks.append({"done": True})
        elif line.startswith(b"data: {"):
            chunks.append(json.loads(line[6:]))
            if not waited:
                waited = True
                started.wait(30)
    return chunks


def test_sigterm_under_streaming_load_finishes_every_stream_and_leaves_no_process(
        fresh_sim: Sim, workers: Router, tmp_path: Path):
    # Charlie answers 64 tokens at 40/s: each stream runs well over a second after it starts.
    fresh_sim.patch("charlie", tokens_per_s=40, completion_tokens=64)
    family = [Proc.of(p.pid) for p in children(workers.process.pid)]
    streams = 6
    started = threading.Barrier(streams + 1)
    with ThreadPoolExecutor(streams) as pool:
        futures = [pool.submit(_stream, workers, started) for _ in range(streams)]
        started.wait(30)  # every stream has its first content event
        workers.process.send_signal(signal.SIGTERM)
        results = [f.result(60) for f in futures]
    assert workers.process.wait(30) == 0
    for chunks in results:
        assert chunks[-1] == {"done": True}
        events = chunks[:-1]
        assert not [c for c in events if "error" in c]
        finishes = [c["choices"][0]["finish_reason"] for c in events  # type: ignore[index]
                    if c["choices"] and c["choices"][0]["finish_reason"]]  # type: ignore[index]
        assert finishes == ["stop"]
        assert events[-1]["usage"]["completion_tokens"] == 64  # type: ignore[index]
    assert wait_for(lambda: not [p for p in family if p.alive()]), "a child outlived SIGTERM"
    # Each worker flushed its part of the ledger on the way out.
    ids = {str(chunks[0]["id"]) for chunks in results}
    assert ids <= set(ledger_ids(tmp_path))
    assert not list(tmp_path.glob("crossroads.journal.*"))


def test_sigkill_of_the_supervisor_leaves_no_worker_and_no_redis(workers: Router):
    family = [Proc.of(p.pid) for p in children(workers.process.pid)]
    commands = " ".join(p.cmdline() for p in family)
    assert "redis-server" in commands and commands.count("crossroads serve") == WORKERS
    workers.process.kill()
    assert workers.process.wait(10) == -signal.SIGKILL
    assert wait_for(lambda: not [p for p in family if p.alive()], timeout_s=15), [
        p.cmdline() for p in family if p.alive()]


def test_a_worker_that_dies_is_replaced(workers: Router):
    before = worker_pids(workers)
    victim = min(before)
    subprocess.run(["kill", "-KILL", str(victim)], check=True)
    assert wait_for(lambda: len(worker_pids(workers)) == WORKERS
                    and victim not in worker_pids(workers), timeout_s=15)
    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(lambda _: ready_pid(workers), range(24))) <= worker_pids(workers)
    status, _, _ = workers.post("/chat/completions", {
        "model": MODEL, "messages": [{"role": "user", "content": "still there?"}]})
    assert status == 200


def run_serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crossroads", "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
                          check=False)


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_worker_count_is_refused(tmp_path: Path, value: str):
    result = run_serve(tmp_path, "--workers", value)
    assert result.returncode == 2
    assert f"--workers '{value}': a positive number, or auto" in result.stderr


def test_workers_without_redis_say_what_to_install(tmp_path: Path):
    # A PATH with no redis-server on it (the router itself runs as `python -m crossroads`).
    result = run_serve(tmp_path, "--workers", "2", env={"PATH": str(tmp_path)})
    assert result.returncode == 2
    assert "apt install redis-server" in result.stderr and "--redis-url" in result.stderr
    assert "listening on" not in result.stdout


def test_a_keys_spend_is_reported_whole_by_every_worker(workers: Router):
    key, _ = Keys(workers).create("--name", "spread", "--limit", "5")
    client = openai.OpenAI(base_url=workers.api, api_key=key, max_retries=0)
    costs = []
    for i in range(9):
        answer = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": f"turn {i}"}], max_tokens=4,
            extra_headers={"connection": "close"})  # a new connection, maybe a new worker
        assert answer.usage is not None and answer.usage.model_extra is not None
        costs.append(answer.usage.model_extra["crossroads"]["cost_micro_usd"])
    spent = sum(costs)
    assert spent > 0

    def reported() -> set[int]:
        seen = set()
        for _ in range(2 * WORKERS):
            status, body, _ = http_json("GET", workers.api + "/key",
                                        headers={"authorization": f"Bearer {key}",
                                                 "connection": "close"})
            assert status == 200, body
            seen.add(body["data"]["crossroads"]["usage_micro_usd"])
        return seen

    # Whichever worker answers, it reports the spend all of them settled.
    assert wait_for(lambda: reported() == {spent}), (reported(), spent)


def test_a_preset_saved_through_one_worker_serves_on_every_worker(workers: Router):
    admin, _ = Keys(workers).create("--management", "--name", "admin")
    preset = {"name": "Short", "config": {"model": MODEL, "max_tokens": 3}}
    status, created, _ = call(workers, "PUT", "/presets/short", admin, preset)
    assert status == 201, created
    ask = {"model": "@preset/short", "messages": [{"role": "user", "content": "hi"}]}

    def statuses() -> set[int]:  # each call a new connection: several workers answer
        return {workers.post("/chat/completions", ask)[0] for _ in range(2 * WORKERS)}

    assert wait_for(lambda: statuses() == {200}, timeout_s=5)
    assert call(workers, "DELETE", "/presets/short", admin)[0] == 200
    assert wait_for(lambda: statuses() == {400}, timeout_s=5)


def test_the_private_redis_is_started_again_when_it_dies(workers: Router):
    def redis_servers() -> list[Proc]:
        return [p for p in children(workers.process.pid) if "redis-server" in p.cmdline()]

    (first,) = redis_servers()
    subprocess.run(["kill", "-KILL", str(first.pid)], check=True)
    assert wait_for(lambda: [p.pid for p in redis_servers()] not in ([], [first.pid]))

    def readiness() -> set[str]:
        return {http_json("GET", workers.root + "/health/ready")[1]["status"]
                for _ in range(2 * WORKERS)}

    # The workers reconnect by themselves: sharing (and readiness) resumes.
    assert wait_for(lambda: readiness() == {"ready"}, timeout_s=15), readiness()
    status, _, _ = workers.post("/chat/completions", {
        "model": MODEL, "messages": [{"role": "user", "content": "after"}]})
    assert status == 200


def test_a_key_is_never_overdrawn_across_workers_even_when_their_redis_restarts_empty(
        workers: Router, tmp_path: Path):
    limit_micro = 200
    key, key_hash = Keys(workers).create("--name", "limited", "--limit", str(limit_micro / 1e6))

    def fire(count: int) -> Counter[int]:
        def one(i: int) -> int:
            return http_json("POST", workers.api + "/chat/completions", {
                "model": MODEL, "messages": [{"role": "user", "content": f"turn {i}"}],
                "max_tokens": 8, "provider": {"only": ["alpha"]}},  # cheap: small reservations
                {"authorization": f"Bearer {key}"})[0]
        # Two at a time: settles keep up, so the spend itself climbs to the limit (many at
        # once would be refused for their reservations long before).
        with ThreadPoolExecutor(2) as pool:
            return Counter(pool.map(one, range(count)))

    def spent() -> tuple[int, int]:
        with sqlite3.connect(tmp_path / "crossroads.db") as db:
            n, total = db.execute("SELECT COUNT(*), COALESCE(SUM(cost_micro), 0) FROM "
                                  "generations WHERE key_id = ?", (key_hash,)).fetchone()
        return int(n), int(total)

    first = fire(240)
    assert set(first) == {200, 402}, first
    assert wait_for(lambda: spent()[0] == first[200], timeout_s=15)
    assert spent()[1] > limit_micro * 0.8, spent()  # the limit is nearly used up
    # The private Redis dies and comes back empty: the key's spend is seeded again, from the
    # ledger (every worker's spend), not from whichever worker asks first.
    (redis,) = [p for p in children(workers.process.pid) if "redis-server" in p.cmdline()]
    subprocess.run(["kill", "-KILL", str(redis.pid)], check=True)
    assert wait_for(lambda: {http_json("GET", workers.root + "/health/ready")[1]["status"]
                             for _ in range(2 * WORKERS)} == {"ready"}, timeout_s=15)
    again = fire(60)
    assert set(again) <= {200, 402}, again
    assert wait_for(lambda: spent()[0] == first[200] + again[200], timeout_s=15)
    assert spent()[1] <= limit_micro, (spent(), first, again)
