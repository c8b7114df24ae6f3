"""Thousands of concurrent streams through one router process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp

from tests.integration.conftest import MODEL
from tests.support import Router, Sim

STREAMS = 2000
TOKENS = 20


async def _stream(session: aiohttp.ClientSession, url: str, live: list[int],
                  peak: list[int]) -> tuple[int, bool]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "count"}], "stream": True,
            "provider": {"order": ["alpha"], "allow_fallbacks": False}}
    tokens = 0
    done = started = False
    async with session.post(url, json=body, headers={"authorization": "Bearer t"}) as response:
        assert response.status == 200
        async for raw in response.content:
            line = raw.strip()
            if not line.startswith(b"data: "):
                continue
            if line == b"data: [DONE]":
                done = True
                break
            if not started:
                started = True
                live[0] += 1
                peak[0] = max(peak[0], live[0])
            choices = json.loads(line[6:]).get("choices") or []
            if choices and choices[0]["delta"].get("content"):
                tokens += 1
    if started:
        live[0] -= 1
    return tokens, done


async def _run(url: str) -> tuple[list[tuple[int, bool]], int]:
    live, peak = [0], [0]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        results = await asyncio.gather(*(_stream(session, url, live, peak)
                                         for _ in range(STREAMS)))
    return results, peak[0]


def test_two_thousand_concurrent_streams_all_complete(make_router: Callable[..., Router],
                                                     sim: Sim):
    # Two thousand requests land at once on a 2-core machine: give headers real-world time.
    router = make_router(timeouts={"headers_s": 20, "first_token_s": 20, "stall_s": 10,
                                   "total_s": 60})
    # Slow enough that every stream is still open while the others start.
    sim.patch("alpha", ttft_ms=200, ttft_sigma=0, tokens_per_s=8, tps_sigma=0,
              completion_tokens=TOKENS)
    results, peak = asyncio.run(_run(router.api + "/chat/completions"))
    print(f"\npeak concurrent open streams: {peak}")
    assert all(done and tokens == TOKENS for tokens, done in results), \
        sum(1 for tokens, done in results if not done or tokens != TOKENS)
    assert peak >= 1500, peak  # they really were open at the same time
    assert sim.control("GET", "endpoints/alpha")["requests"] == STREAMS  # no retries
    status, _, _ = router.post("/chat/completions", {"model": MODEL, "messages": [
        {"role": "user", "content": "still fine?"}]})
    assert status == 200
