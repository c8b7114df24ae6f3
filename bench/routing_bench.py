"""The cost of one routing decision (`build_plan`) at 5, 50 and 500 endpoints of one model.

    python bench/routing_bench.py            # full run (~15 s), prints a markdown table
    python bench/routing_bench.py --smoke    # well under a second; proves the benchmark still runs

- The catalog is built from the real classes: one model, N endpoints with varied prices,
  context lengths, output limits, quantizations, parameters and data policies; one endpoint in
  25 has no API key (unavailable), as in a real config with some providers not set up.
- Live stats are the real `LiveStats`, fed the way the relay feeds them (`AttemptReport`s):
  40 successes per endpoint over the last 5 minutes with TTFT, latency and throughput, a few
  provider-caused failures among them, and for one endpoint in 10 a burst of recent failures
  (an outage that Balanced demotes). Every health snapshot is populated before timing starts.
- The clock stands still while timing: this measures the decision between snapshot refreshes
  (each endpoint's percentiles are recomputed at most once a second, whatever the traffic).
- Each cell is the median over repeats of the mean cost of a batch of back-to-back decisions,
  timed with `time.perf_counter_ns` (timer cost amortised over the batch).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import time
from typing import Any

import orjson

from crossroads.catalog import Catalog, DataPolicy, Endpoint, Model, Pricing
from crossroads.chat_request import ChatRequest, parse_chat_request
from crossroads.routing.plan import build_plan
from crossroads.settings import BreakerConfig, RoutingConfig
from crossroads.stats import AttemptReport, LiveStats

MODEL = "bench/model"
SIZES = (5, 50, 500)
NOW = 100_000.0
CONTEXTS = (8_192, 32_768, 131_072, 327_680, 1_048_576)
QUANTIZATIONS = ("fp8", "bf16", "fp16", "int8", "fp4", "unknown")
PARAMETER_SETS = (
    frozenset({"temperature", "top_p", "max_tokens", "stop", "seed"}),
    frozenset({"temperature", "top_p", "max_tokens", "stop", "tools", "tool_choice",
               "response_format"}),
    frozenset({"temperature", "max_tokens"}),
)
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
    {"role": "user", "content": "What is the capital of France, and why is it famous?"},
]


def _endpoints(n: int, rng: random.Random) -> list[Endpoint]:
    out = []
    for i in range(n):
        provider = f"prov{i // 2:03d}"
        # Pairs share a provider: the second is a variant tag, as "deepinfra/turbo" is.
        tag = provider if i % 2 == 0 else f"{provider}/turbo"
        prompt = rng.uniform(0.02, 2.0)
        context = rng.choice(CONTEXTS)
        out.append(Endpoint(
            model=MODEL,
            provider=provider,
            provider_name=provider.title(),
            tag=tag,
            upstream_model="upstream/model",
            base_url=f"https://{provider}.example/v1",
            pricing=Pricing(prompt=round(prompt * 1e6),
                            completion=round(prompt * rng.uniform(1.0, 4.0) * 1e6),
                            cache_read=round(prompt * 0.25 * 1e6) if i % 3 == 0 else None),
            context_length=context,
            max_output=min(context, rng.choice((4_096, 8_192, 16_384, 65_536))),
            quantization=rng.choice(QUANTIZATIONS),
            supported_parameters=PARAMETER_SETS[i % len(PARAMETER_SETS)],
            input_modalities=frozenset({"text", "image"}) if i % 4 == 0 else frozenset({"text"}),
            data_policy=DataPolicy(training=i % 7 == 0, retains_prompts=i % 5 == 0),
            nominal_throughput=rng.uniform(30, 2_000),
            nominal_ttft_ms=rng.uniform(150, 2_000),
            available=i % 25 != 24,
            unavailable_reason=None if i % 25 != 24 else "no API key",
        ))
    return out


def _success(rng: random.Random) -> AttemptReport:
    ttft = rng.uniform(0.15, 1.5)
    generation = rng.uniform(0.5, 6.0)
    return AttemptReport(ok=True, counts_against_uptime=True, trips_breaker=False,
                         ttft_s=ttft, latency_s=ttft + generation,
                         completion_tokens=rng.randint(50, 800), generation_s=generation)


FAILURE = AttemptReport(ok=False, counts_against_uptime=True, trips_breaker=True)


def _traffic(stats: LiveStats, endpoints: list[Endpoint], rng: random.Random) -> None:
    """Five minutes of traffic per endpoint, ending at NOW, then one read to fill snapshots."""
    for index, endpoint in enumerate(endpoints):
        if not endpoint.available:
            continue
        for j in range(40):
            at = NOW - 300.0 + j * 7.0
            report = FAILURE if j % 13 == 5 else _success(rng)
            stats.record(endpoint.key, report, at)
        if index % 10 == 3:
            # A recent outage: the breaker closed again, but Balanced still sees the failures.
            for j in range(4):
                stats.record(endpoint.key, FAILURE, NOW - 20.0 + j)
            stats.record(endpoint.key, _success(rng), NOW - 10.0)
        stats.health(endpoint.key, NOW)


def _request(model: str, provider: dict[str, Any] | None = None) -> ChatRequest:
    body: dict[str, Any] = {"model": model, "messages": MESSAGES, "max_tokens": 256}
    if provider is not None:
        body["provider"] = provider
    return parse_chat_request(orjson.dumps(body))


MODES: dict[str, ChatRequest] = {
    "Balanced (default)": _request(MODEL),
    ":nitro (throughput)": _request(f"{MODEL}:nitro"),
    ":floor (price)": _request(f"{MODEL}:floor"),
    "provider {ignore, max_price}": _request(MODEL, {
        "ignore": ["prov000", "prov001/turbo"],
        "max_price": {"prompt": 1.5, "completion": 4.0},
    }),
}


def _time_us(request: ChatRequest, catalog: Catalog, stats: LiveStats, routing: RoutingConfig,
             calls: int, repeats: int) -> float:
    rng = random.Random(7)
    clock = time.perf_counter_ns
    plan = build_plan
    build_plan(request, catalog, stats, routing, rng, NOW)  # warm up, and prove it plans
    samples = []
    for _ in range(repeats):
        t0 = clock()
        for _ in range(calls):
            plan(request, catalog, stats, routing, rng, NOW)
        samples.append((clock() - t0) / calls / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="well under a second")
    args = parser.parse_args()
    routing = RoutingConfig()
    breaker = BreakerConfig()
    # A decision's budget, not its size, is what we hold fixed: ~2 ms of calls per batch.
    repeats = 3 if args.smoke else 15
    results: dict[str, dict[int, float]] = {mode: {} for mode in MODES}
    plans: dict[int, int] = {}
    for size in SIZES:
        rng = random.Random(size)
        endpoints = _endpoints(size, rng)
        catalog = Catalog([Model(slug=MODEL, name="Bench Model")], endpoints, {})
        stats = LiveStats(routing, breaker)
        _traffic(stats, endpoints, rng)
        plans[size] = len(build_plan(MODES["Balanced (default)"], catalog, stats, routing,
                                     random.Random(1), NOW).attempts)
        calls = max(1, (20 if args.smoke else 400) * 50 // size)
        gc.collect()
        for mode, request in MODES.items():
            results[mode][size] = _time_us(request, catalog, stats, routing, calls, repeats)
    print(f"routing bench: build_plan per decision, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs{', smoke' if args.smoke else ''}; Balanced plans "
          + ", ".join(f"{plans[s]} of {s}" for s in SIZES) + " endpoints\n")
    print("| mode | " + " | ".join(f"{s} endpoints" for s in SIZES) + " |")
    print("|---|" + "---:|" * len(SIZES))
    for mode, row in results.items():
        print(f"| {mode} | " + " | ".join(f"{row[s]:.1f} µs" for s in SIZES) + " |")


if __name__ == "__main__":
    main()
