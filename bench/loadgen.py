"""Open-loop load at a fixed rate, for latency measurements free of coordinated omission.

Requests start on a fixed schedule whether or not earlier ones have finished, so a slow server
cannot slow the load down and hide its own latency. Latency is measured from the scheduled start.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class LatencyReport:
    sent: int
    ok: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    achieved_rps: float


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def _one(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
               scheduled: float, latencies: list[float], errors: list[int]) -> None:
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                errors.append(response.status)
                return
    except aiohttp.ClientError:
        errors.append(0)
        return
    latencies.append(time.perf_counter() - scheduled)


async def fixed_rate(url: str, body: bytes, rate: float, duration_s: float,
                     warmup_s: float = 1.0, headers: dict[str, str] | None = None,
                     read_timeout_s: float | None = None) -> LatencyReport:
    """`headers` replace the default bearer; `read_timeout_s` bounds each request's silence so
    a gateway that stops answering shows up as errors, not as a hung benchmark."""
    headers = {"content-type": "application/json",
               **(headers or {"authorization": "Bearer bench"})}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=read_timeout_s,
                                    sock_read=read_timeout_s)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm the pool and the server at the same rate, unmeasured.
        await _run(session, url, body, headers, rate, warmup_s, [], [])
        latencies: list[float] = []
        errors: list[int] = []
        started = time.perf_counter()
        sent = await _run(session, url, body, headers, rate, duration_s, latencies, errors)
        elapsed = time.perf_counter() - started
    latencies.sort()
    return LatencyReport(
        sent=sent,
        ok=len(latencies),
        errors=len(errors),
        p50_ms=percentile(latencies, 0.50) * 1000,
        p90_ms=percentile(latencies, 0.90) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        achieved_rps=len(latencies) / elapsed,
    )


async def _run(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
               rate: float, duration_s: float, latencies: list[float],
               errors: list[int]) -> int:
    interval = 1.0 / rate
    total = int(rate * duration_s)
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(
            _one(session, url, body, headers, scheduled, latencies, errors)))
    await asyncio.gather(*tasks)
    return total
