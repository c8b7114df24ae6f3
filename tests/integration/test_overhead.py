"""The router's own overhead, as a caller and a Prometheus scraper see it.

The simulated provider is made slow (300 ms to first token, 16 tokens at 100/s): a header that
counted the provider's time would read hundreds of milliseconds, one that subtracts it reads
the router's own few. The bound used (50 ms) is far above any real overhead and far below the
provider's time, so the test holds on a loaded machine and fails if waits are not subtracted.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable

import openai
import pytest

from tests.integration.conftest import MODEL
from tests.support import Router, Sim

SLOW = {"ttft_ms": 300, "ttft_sigma": 0, "tokens_per_s": 100, "tps_sigma": 0}
PROVIDER_S = 0.3 + 16 / 100
BOUND_MS = 50.0


def _slow_router(make_router: Callable[..., Router], sim: Sim) -> Router:
    for name in ("alpha", "bravo", "charlie"):
        sim.patch(name, **SLOW)
    return make_router(timeouts={"headers_s": 5, "first_token_s": 5})


def _histogram(router: Router) -> dict[str, float]:
    with urllib.request.urlopen(router.root + "/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r'(crossroads_overhead_seconds_\w+)\{(.*)\} (\S+)$', line)
        if match:
            samples[f"{match.group(1)}{{{match.group(2)}}}"] = float(match.group(3))
    return samples


@pytest.fixture
def slow(make_router: Callable[..., Router], fresh_sim: Sim) -> Router:
    return _slow_router(make_router, fresh_sim)


def test_header_excludes_the_providers_time(slow: Router):
    sdk = openai.OpenAI(base_url=slow.api, api_key="t", max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=16)
    assert raw.parse().choices[0].message.content
    overhead_ms = float(raw.headers["x-crossroads-overhead-ms"])
    assert 0 < overhead_ms < BOUND_MS, overhead_ms
    assert overhead_ms < PROVIDER_S * 1000 / 5


def test_streamed_header_and_histogram(slow: Router):
    before = _histogram(slow)
    assert before['crossroads_overhead_seconds_count{stream="true"}'] == 0
    sdk = openai.OpenAI(base_url=slow.api, api_key="t", max_retries=0)
    with sdk.chat.completions.with_streaming_response.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=16,
            stream=True) as response:
        overhead_ms = float(response.headers["x-crossroads-overhead-ms"])
        chunks = [line for line in response.iter_lines() if line.startswith("data: {")]
    assert len(chunks) >= 16
    assert 0 < overhead_ms < BOUND_MS, overhead_ms
    sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                max_tokens=16)

    after = _histogram(slow)
    assert after['crossroads_overhead_seconds_count{stream="true"}'] == 1
    assert after['crossroads_overhead_seconds_count{stream="false"}'] == \
        before['crossroads_overhead_seconds_count{stream="false"}'] + 1
    # Both requests together waited ~0.9 s on the provider; none of it is overhead.
    total = (after['crossroads_overhead_seconds_sum{stream="true"}']
             + after['crossroads_overhead_seconds_sum{stream="false"}'])
    assert 0 < total < 2 * BOUND_MS / 1000, total
    assert after['crossroads_overhead_seconds_bucket{le="0.05",stream="true"}'] == 1


def test_errors_carry_the_header_too(router: Router, fresh_sim: Sim):
    for name in ("alpha", "bravo", "charlie"):
        fresh_sim.script(name, "http_500")
    status, body, headers = router.post("/chat/completions", {
        "model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert status == 502, body
    assert float(headers["x-crossroads-overhead-ms"]) >= 0
