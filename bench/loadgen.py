"""Open-loop load at a fixed rate, for latency measurements free of coordinated omission.

Requests start on a fixed schedule whether or not earlier ones have finished, so a slow server
cannot slow the load down and hide its own latency. Latency is measured from the scheduled start.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

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
    # What the server says it spent itself (a response header such as
    # x-crossroads-overhead-ms), over the successful responses that carried it; NaN when
    # no header was asked for or none came back.
    self_p50_ms: float = math.nan
    self_p99_ms: float = math.nan
    self_n: int = 0


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass
class _Sink:
    """Where one run's outcomes go (the warm-up gets a throwaway one)."""

    overhead_header: str | None = None
    latencies: list[float] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    selfs: list[float] = field(default_factory=list)


def _ms_header(value: str | None) -> float:
    """A header's float, NaN when absent or not a number (LiteLLM writes "None" when it did
    not time the call)."""
    try:
        return float(value) if value else math.nan
    except ValueError:
        return math.nan


async def _one(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
               scheduled: float, sink: _Sink) -> None:
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            done = time.perf_counter()  # before the header is parsed, so it costs nothing here
            if response.status != 200:
                sink.errors.append(response.status)
                return
            if sink.overhead_header is not None:
                value = _ms_header(response.headers.get(sink.overhead_header))
                if not math.isnan(value):
                    sink.selfs.append(value)
    except aiohttp.ClientError:
        sink.errors.append(0)
        return
    sink.latencies.append(done - scheduled)


async def fixed_rate(url: str, body: bytes, rate: float, duration_s: float,
                     warmup_s: float = 1.0, headers: dict[str, str] | None = None,
                     read_timeout_s: float | None = None,
                     overhead_header: str | None = None) -> LatencyReport:
    """`headers` replace the default bearer; `read_timeout_s` bounds each request's silence so
    a gateway that stops answering shows up as errors, not as a hung benchmark;
    `overhead_header` names a response header carrying the server's own time in ms, whose
    percentiles over successful responses land in the report's `self_*` fields."""
    headers = {"content-type": "application/json",
               **(headers or {"authorization": "Bearer bench"})}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=read_timeout_s,
                                    sock_read=read_timeout_s)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm the pool and the server at the same rate, unmeasured.
        await _run(session, url, body, headers, rate, warmup_s, _Sink())
        sink = _Sink(overhead_header)
        started = time.perf_counter()
        sent = await _run(session, url, body, headers, rate, duration_s, sink)
        elapsed = time.perf_counter() - started
    latencies = sorted(sink.latencies)
    selfs = sorted(sink.selfs)
    return LatencyReport(
        sent=sent,
        ok=len(latencies),
        errors=len(sink.errors),
        p50_ms=percentile(latencies, 0.50) * 1000,
        p90_ms=percentile(latencies, 0.90) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        achieved_rps=len(latencies) / elapsed,
        self_p50_ms=percentile(selfs, 0.50),
        self_p99_ms=percentile(selfs, 0.99),
        self_n=len(selfs),
    )


async def _run(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
               rate: float, duration_s: float, sink: _Sink) -> int:
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
            _one(session, url, body, headers, scheduled, sink)))
    await asyncio.gather(*tasks)
    return total
