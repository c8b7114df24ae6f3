"""The model page at 30 days of a busy model: every JSON twin and the page, on one core.

    python bench/analytics_bench.py                       # 5M generations: ~10 min to fill
    python bench/analytics_bench.py --db /tmp/a/crossroads.db   # fill it once, reuse it after
    python bench/analytics_bench.py --smoke               # 20k generations, seconds

1. Fill: synthetic traffic for Llama 4 Scout over the last 30 days — its 8 catalog endpoints,
   50 apps, failovers (a failed attempt before the served one), cached prompts, streamed and
   whole answers — built as `GenerationRecord`s and written through the real ledger writer
   (`SQLiteLedger.submit`, batches, rollups in the same transaction), so the database is what a
   router would have after a month of that traffic.
2. Measure: a router serving that database, pinned to one core (taskset), answers each twin
   `--requests` times over one keep-alive connection; p50 and p95 per twin. With Playwright
   and Chromium present, the model page is loaded in headless Chromium too, and the time until
   every section has drawn (`body[data-drawn]`) is reported.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from router_bench import _pin, _start

from crossroads.ledger import AttemptRecord, GenerationRecord, SQLiteLedger
from crossroads.pricing import Usage
from crossroads.settings import load_settings

MODEL = "meta-llama/llama-4-scout"
DAY_S = 86400
TWINS = ("overview", "providers", "pricing", "performance", "uptime", "benchmarks", "apps",
         "activity")


def _record(rng: random.Random, index: int, now: int, tags: list[tuple[str, str, int, int]],
            apps: list[tuple[str | None, str | None]]) -> GenerationRecord:
    created = now - rng.randrange(30 * DAY_S)
    tag, provider, prompt_price, completion_price = tags[min(int(rng.expovariate(0.5)), 7)]
    prompt = rng.randrange(200, 6000)
    completion = rng.randrange(20, 900)
    cached = prompt // 2 if rng.random() < 0.3 else 0
    ttft = rng.randrange(150, 1500)
    generation = rng.randrange(200, 20000)
    attempts = []
    start = 0
    if rng.random() < 0.05:
        other = tags[rng.randrange(8)]
        attempts.append(AttemptRecord(endpoint_tag=other[0], provider_name=other[1],
                                      model=MODEL, status=503, failure="server_error",
                                      message="overloaded", started_ms=0, ended_ms=120,
                                      ttft_ms=None, served=False))
        start = 120
    attempts.append(AttemptRecord(endpoint_tag=tag, provider_name=provider, model=MODEL,
                                  status=200, failure=None, message=None, started_ms=start,
                                  ended_ms=start + ttft + generation, ttft_ms=ttft,
                                  served=True))
    cost = (((prompt - cached) * prompt_price + cached * prompt_price // 4
             + completion * completion_price) + 500_000) // 1_000_000
    referer, title = apps[min(int(rng.expovariate(0.15)), len(apps) - 1)]
    return GenerationRecord(
        id=f"gen-{created}-{index:020d}", created=created, started_at_ms=created * 1000,
        model_requested=MODEL, model=MODEL, provider_name=provider, endpoint_tag=tag,
        app_referer=referer, app_title=title, key_id=None, streamed=True, cancelled=False,
        finish_reason="stop",
        usage=Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached),
        cost_micro=cost, discount_micro=0, latency_ms=start + ttft + generation,
        generation_time_ms=generation, ttft_ms=start + ttft, attempts=tuple(attempts),
        completion_cost_micro=(completion * completion_price + 500_000) // 1_000_000)


def fill(db: Path, count: int) -> float:
    """Write `count` generations through the ledger writer; → seconds taken."""
    catalog = load_settings(None, {}).catalog
    tags = [(e.tag, e.provider_name, e.pricing.prompt, e.pricing.completion)
            for e in catalog.endpoints(MODEL)]
    assert len(tags) == 9, tags  # Scout's eight OpenAI-dialect endpoints and Bedrock
    apps: list[tuple[str | None, str | None]] = [
        (f"https://app{i}.example", f"App {i}") if i % 3 else (None, f"Tool {i}")
        for i in range(50)]
    rng = random.Random(11)
    now = int(time.time())
    started = time.perf_counter()
    ledger = SQLiteLedger(db, journal=False)
    for i in range(count):
        ledger.submit(_record(rng, i, now, tags, apps))
        if ledger.backlog > 200_000:  # bound the queue's memory: let the writer catch up
            while ledger.backlog > 50_000:
                time.sleep(0.05)
        if i and i % 500_000 == 0:
            print(f"  {i:,} generations written ({time.perf_counter() - started:.0f} s)",
                  flush=True)
    ledger.close()
    return time.perf_counter() - started


def _timed_get(conn: http.client.HTTPConnection, path: str) -> float:
    t0 = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - t0
    assert response.status == 200, (path, response.status, body[:300])
    return elapsed * 1000


def measure(db: Path, requests: int) -> list[tuple[str, float, float]]:
    """(route, p50 ms, p95 ms) for every twin and page, from a router pinned to core 0."""
    config = db.parent / "crossroads.toml"
    config.write_text(f'[server]\nstate_dir = "{db.parent}"\n')
    command = [*_pin(0), sys.executable, "-m", "crossroads", "serve", "--port", "0",
               "--config", str(config)]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    router, url = _start(command, "listening on ", env)
    try:
        host, port = url.removeprefix("http://").split("/")[0].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        routes = [f"/api/v1/models/{MODEL}/stats/{name}" for name in TWINS]
        routes += [f"/api/v1/models/{MODEL}/stats/performance?range=30d",
                   "/api/v1/models/stats", "/models", f"/models/{MODEL}"]
        out = []
        for route in routes:
            _timed_get(conn, route)  # warm: first reads fault the pages in
            samples = sorted(_timed_get(conn, route) for _ in range(requests))
            p95 = samples[min(len(samples) - 1, int(0.95 * len(samples)))]
            out.append((route, statistics.median(samples), p95))
        out.append(("(page drawn in Chromium)", *_browser(f"http://{host}:{port}/models/{MODEL}")))
        return out
    finally:
        router.terminate()
        router.wait(30)


def _browser(url: str) -> tuple[float, float]:
    """(median, worst) ms from navigation to every section drawn; NaN without a browser."""
    chromium = os.environ.get("CROSSROADS_CHROMIUM") or shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional
    except ImportError:
        return float("nan"), float("nan")
    if chromium is None:
        return float("nan"), float("nan")
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        page = browser.new_page()
        for _ in range(5):
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-drawn='1']", timeout=30_000)
            times.append((time.perf_counter() - t0) * 1000)
        browser.close()
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="20k generations, not 5M")
    parser.add_argument("--generations", type=int, default=5_000_000)
    parser.add_argument("--db", type=Path,
                        help="where the database is kept: filled when missing, reused after")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    count = 20_000 if args.smoke else args.generations
    requests = 10 if args.smoke else args.requests
    db = args.db or Path(tempfile.mkdtemp()) / "crossroads.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"filling {db} with {count:,} generations", flush=True)
        took = fill(db, count)
        print(f"filled in {took:.0f} s ({count / took:,.0f} generations/s); "
              f"{db.stat().st_size / 2**30:.2f} GiB", flush=True)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; router pinned to one core\n")
    print("| route | p50 ms | p95 ms |")
    print("|---|---:|---:|")
    for route, p50, p95 in measure(db, requests):
        print(f"| `{route}` | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
