"""The router's memory stays bounded under a fuzz workload.

The same mixed workload (valid and streamed completions, bodies just under and over the limit,
deep nesting, damaged bytes, every GET route) runs in rounds against the shared fuzz router.
After warm-up rounds, running it again must not grow the router's resident memory by more than
a few MB: anything kept per request (a leaked task, a connection, a body) would show, because
identical rounds add no new sticky-routing conversations or other legitimately cached keys.
FUZZ_MEMORY_ROUNDS=N runs N measured rounds instead of 6.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable

from tests.fuzz.conftest import MAX_BODY_BYTES, MODEL
from tests.fuzz.strategies import INVALID_UTF8, deep_json
from tests.fuzz.support import TALLY, Client, check, rss_kb
from tests.support import Router

ROUNDS_WARM_UP = 2
ROUNDS_MEASURED = int(os.environ.get("FUZZ_MEMORY_ROUNDS", "6"))
# The ledger's SQLite page cache (PRAGMA cache_size, 64 MiB) grows with the database, about
# 0.3 KB per completion here (~0.1 MB a round); a request body kept per request (~25 KB each)
# would add ~1.5 MB a round.
GROWTH_LIMIT_MB = 3
RSS_LIMIT_MB = 300


def workload(seed: int = 7) -> list[Callable[[Client], None]]:
    rng = random.Random(seed)
    work: list[Callable[[Client], None]] = []

    def chat(body: object, **kw: object) -> Callable[[Client], None]:
        stream = isinstance(body, dict) and body.get("stream") is True
        return lambda c: check(c.chat(body, **kw), chat=True, stream=stream)  # type: ignore[arg-type]

    for i in range(60):
        text = "".join(rng.choice("abcdefghij é😀") for _ in range(rng.randint(1, 2000)))
        work.append(chat({"model": MODEL, "stream": i % 2 == 0, "max_tokens": rng.randint(1, 64),
                          "messages": [{"role": "user", "content": text}],
                          "x_unknown": {"n": i, "blob": "z" * rng.randint(0, 50_000)}}))
    big = "y" * (MAX_BODY_BYTES - 200)
    work.append(chat({"model": MODEL, "messages": [{"role": "user", "content": big}]}))
    work.append(chat({"model": MODEL, "messages": [{"role": "user", "content": big + big}]}))
    work += [chat(deep_json(n, "list")) for n in (100, 1000, 5000)]
    work += [chat(b'{"model": "' + bad + b'"}') for bad in INVALID_UTF8]
    work += [chat({"model": MODEL, "messages": [{"role": "user", "content": "x"}],
                   "max_tokens": value}) for value in (0, -1, 2**63, "x", 1.5)]
    work += [chat({"model": MODEL, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,A"}}]}]})]
    work += [chat({"model": "nobody/none", "messages": [{"role": "user", "content": "x"}]})]
    work += [lambda c: check(c.send("GET", "/api/v1/models")),
             lambda c: check(c.send("GET", f"/api/v1/models/{MODEL}/endpoints")),
             lambda c: check(c.send("GET", "/api/v1/generation?id=gen-missing")),
             lambda c: check(c.send("DELETE", "/v1/models")),
             lambda c: check(c.send("GET", "/nowhere/" + "p" * 2000))]
    work += [lambda c: check(c.send("POST", "/api/v1/chat/completions", json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": "h"}]}).encode(),
        [("Authorization", "Bearer x"), ("X-Title", "t" * 8000)]), chat=True)] * 5
    rng.shuffle(work)
    return work


def test_router_memory_is_bounded_under_fuzz(client: Client, fuzz_router: Router) -> None:
    pid = fuzz_router.process.pid
    work = workload()
    for _ in range(ROUNDS_WARM_UP):
        for step in work:
            step(client)
    samples = [rss_kb(pid)]
    for _ in range(ROUNDS_MEASURED):
        for step in work:
            step(client)
        samples.append(rss_kb(pid))
    TALLY.rss_kb.extend(samples)
    grown_mb = (samples[-1] - samples[0]) / 1024
    assert max(samples) < RSS_LIMIT_MB * 1024, samples
    assert grown_mb < GROWTH_LIMIT_MB, (
        f"RSS grew {grown_mb:.1f} MB over {ROUNDS_MEASURED} identical rounds of "
        f"{len(work)} requests (KB per round: {samples})")
