"""Hand-written JSON twins for the page tests that must not wait on the real handlers: built
from the structs in `crossroads/schema/stats.py`, so a fixture that drifts from the contract
fails to build. `busy` is a model with traffic in every section (nulls and missing scores
included); `quiet` is the same model on a fresh router."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from crossroads.schema import stats as s

SLUG = "meta-llama/llama-4-scout"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, a bucket boundary
HOUR, DAY = 3600, 86400
HOURLY = s.Span(since=NOW - 72 * HOUR, until=NOW, bucket="hour")
DAILY = s.Span(since=NOW - 30 * DAY, until=NOW, bucket="day")
# (tag, name, list price in/out/cache read, throughput, latency ms, ttft ms, simulated)
ENDPOINTS = (
    ("groq", "Groq (simulated)", 0.11, 0.34, None, 610.0, 420.0, 290.0),
    ("deepinfra", "DeepInfra (simulated)", 0.08, 0.30, 0.04, 96.5, 1380.0, 610.0),
    ("cerebras", "Cerebras (simulated)", 0.65, 0.85, None, 2550.0, 300.0, 240.0),
    ("lambda", "Lambda (simulated)", 0.08, 0.30, 0.04, None, None, None),
)


def _q(p50: float) -> s.Quantiles:
    return s.Quantiles(p50=p50, p90=round(p50 * 1.4, 3), samples=12)


def _overview() -> s.Overview:
    return s.Overview(
        id=SLUG, name="Meta: Llama 4 Scout",
        description=("A mixture-of-experts model from Meta: 17B active parameters of 109B, "
                     "text and image in, text out."),
        input_modalities=["text", "image"], output_modalities=["text"],
        pricing=s.ListPrice(prompt=0.1, completion=0.3), context_length=10_000_000,
        released="2025-04-05", knowledge_cutoff="2024-08", license="Llama 4 Community License",
        architecture=s.ArchitectureFacts(kind="moe", parameters_b=109, active_parameters_b=17,
                                         experts=16, active_experts=1),
        hugging_face_id="meta-llama/Llama-4-Scout-17B-16E-Instruct", providers=len(ENDPOINTS))


def _providers(busy: bool) -> s.ProvidersSection:
    rows = [s.ProviderRow(
        tag=tag, provider=tag, provider_name=name, quantization="bf16",
        context_length=131072, max_output=8192,
        pricing=s.ListPrice(prompt=pin, completion=pout, cache_read=cache),
        throughput_p50=tput if busy else None, latency_p50_ms=lat if busy else None,
        ttft_p50_ms=ttft if busy else None, uptime_30m=(80.0 if tag == "deepinfra" else 100.0)
        if busy and tput is not None else None, uptime_30d=None, status=0, state="healthy",
        simulated=True) for tag, name, pin, pout, cache, tput, lat, ttft in ENDPOINTS]
    picks = [s.ModePick(mode="balanced", model_suffix="", tag="groq",
                        provider_name="Groq (simulated)", why="best price for its speed"),
             s.ModePick(mode="nitro", model_suffix=":nitro", tag="cerebras",
                        provider_name="Cerebras (simulated)", why="highest throughput"),
             s.ModePick(mode="floor", model_suffix=":floor", tag="deepinfra",
                        provider_name="DeepInfra (simulated)", why="lowest price"),
             s.ModePick(mode="exacto", model_suffix=":exacto", tag=None, provider_name=None,
                        why="no exacto provider is set for this model")]
    return s.ProvidersSection(endpoints=rows, routing=picks)


def _pricing(busy: bool) -> s.PricingSection:
    rows = []
    for tag, name, pin, pout, cache, *_ in ENDPOINTS:
        traffic = busy and tag != "lambda"
        rows.append(s.EffectivePrice(
            tag=tag, provider_name=name, list=s.ListPrice(prompt=pin, completion=pout,
                                                          cache_read=cache),
            effective_prompt=round(pin * 0.55, 4) if traffic else None,
            effective_completion=pout if traffic else None,
            prompt_tokens=90_000 if traffic else 0, cached_tokens=60_000 if traffic else 0,
            cache_write_tokens=0, completion_tokens=4_000 if traffic else 0,
            requests=40 if traffic else 0, cached_share=66.7 if traffic else None,
            prompt_saving=45.0 if traffic else None))
    return s.PricingSection(span=DAILY, endpoints=rows)


def _performance(busy: bool) -> s.PerformanceSection:
    series = []
    for i, (tag, name, *_rest, tput, lat, ttft) in enumerate(ENDPOINTS):
        points = [] if not busy or tput is None else [
            s.PerformancePoint(bucket_start=NOW - (h + i) * HOUR, throughput=_q(tput + h),
                               latency_ms=_q(lat + 10 * h), ttft_ms=_q(ttft + h))
            for h in range(1, 6)]
        whole = bool(points)
        series.append(s.PerformanceSeries(
            tag=tag, provider_name=name, throughput=_q(tput) if whole and tput else None,
            latency_ms=_q(lat) if whole and lat else None,
            ttft_ms=_q(ttft) if whole and ttft else None, points=points))
    return s.PerformanceSection(span=HOURLY, endpoints=series)


def _uptime_points(span: s.Span, step: int, failing: bool, busy: bool) -> list[s.UptimePoint]:
    points = []
    for start in range(span.since, span.until, step):
        attempts = 5 if busy and (span.until - start) <= 6 * step else 0
        failures = 1 if attempts and failing else 0
        points.append(s.UptimePoint(
            bucket_start=start, attempts=attempts, successes=attempts - failures,
            failures=failures,
            uptime=100 * (attempts - failures) / attempts if attempts else None))
    return points


def _uptime(busy: bool) -> s.UptimeSection:
    series = []
    for tag, name, *_ in ENDPOINTS:
        failing = tag == "deepinfra"
        daily = _uptime_points(DAILY, DAY, failing, busy)
        attempts = sum(p.attempts for p in daily)
        failures = sum(p.failures for p in daily)
        series.append(s.UptimeSeries(
            tag=tag, provider_name=name,
            uptime=100 * (attempts - failures) / attempts if attempts else None,
            attempts=attempts, successes=attempts - failures, failures=failures,
            rescued=failures, hourly=_uptime_points(HOURLY, HOUR, failing, busy), daily=daily))
    rescued = sum(e.rescued for e in series)
    return s.UptimeSection(hourly=HOURLY, daily=DAILY, endpoints=series,
                           requests=sum(e.successes for e in series), rescued_requests=rescued)


def _benchmarks() -> s.BenchmarksSection:
    return s.BenchmarksSection(scores=[
        s.BenchmarkEntry(benchmark="mmlu-pro", name="MMLU-Pro", score=74.3, unit="%",
                         variant=None, source="https://huggingface.co/meta-llama",
                         read_on="2026-01-01", rank=4, ranked_models=10, rank_percentile=67),
        s.BenchmarkEntry(benchmark="gpqa-diamond", name="GPQA Diamond", score=57.2, unit="%",
                         variant=None, source="https://arxiv.org/abs/2311.12022",
                         read_on=None, rank=6, ranked_models=9, rank_percentile=38),
        s.BenchmarkEntry(benchmark="livecodebench", name="LiveCodeBench", score=None, unit="%",
                         variant="v5", source=None, read_on=None, rank=None, ranked_models=7,
                         rank_percentile=None),
    ])


def _apps(busy: bool) -> s.AppsSection:
    apps = [s.AppRow(app="https://notes.example", title="Notes",
                     tokens=52_000, prompt_tokens=50_000, completion_tokens=2_000, requests=30),
            s.AppRow(app="Summariser", title="Summariser", tokens=21_000, prompt_tokens=20_000,
                     completion_tokens=1_000, requests=12)] if busy else []
    return s.AppsSection(span=DAILY, apps=apps, other_tokens=900 if busy else 0,
                         other_requests=2 if busy else 0)


def _activity(busy: bool) -> s.ActivitySection:
    days = []
    for i, start in enumerate(range(DAILY.since, DAILY.until, DAY)):
        requests = (i * 7) % 23 if busy and i > 20 else 0
        prompt, completion = requests * 1200, requests * 90
        days.append(s.ActivityDay(
            date=dt.datetime.fromtimestamp(start, dt.UTC).date().isoformat(),
            bucket_start=start, requests=requests, prompt_tokens=prompt,
            completion_tokens=completion, reasoning_tokens=0, cached_tokens=prompt // 2,
            tokens=prompt + completion))
    return s.ActivitySection(span=DAILY, days=days)


def directory(busy: bool) -> s.ModelDirectory:
    return s.ModelDirectory(data=[
        s.ModelSummary(id=SLUG, name="Meta: Llama 4 Scout", input_modalities=["text", "image"],
                       output_modalities=["text"], context_length=10_000_000,
                       pricing=s.ListPrice(prompt=0.1, completion=0.3), endpoints=8,
                       endpoints_available=8, uptime_1d=96.5 if busy else None,
                       tokens_7d=73_900 if busy else 0, requests_7d=44 if busy else 0)])


def twins(busy: bool) -> dict[str, Any]:
    """Path under /api/v1 → the twin's response struct."""
    base = f"/models/{SLUG}/stats/"
    return {
        "/models/stats": directory(busy),
        base + "overview": s.OverviewResponse(data=_overview()),
        base + "providers": s.ProvidersResponse(data=_providers(busy)),
        base + "pricing": s.PricingResponse(data=_pricing(busy)),
        base + "performance": s.PerformanceResponse(data=_performance(busy)),
        base + "uptime": s.UptimeResponse(data=_uptime(busy)),
        base + "benchmarks": s.BenchmarksResponse(data=_benchmarks() if busy
                                                  else s.BenchmarksSection(scores=[])),
        base + "apps": s.AppsResponse(data=_apps(busy)),
        base + "activity": s.ActivityDaysResponse(data=_activity(busy)),
    }


def hostile() -> dict[str, Any]:
    """The busy twins with markup and a script URL where text belongs."""
    found = twins(busy=True)
    base = f"/models/{SLUG}/stats/"
    overview = found[base + "overview"].data
    found[base + "overview"] = s.OverviewResponse(data=msgspec.structs.replace(
        overview, description="<img src=x onerror=alert(1)><b>not bold</b> & friends"))
    scores = found[base + "benchmarks"].data.scores
    found[base + "benchmarks"] = s.BenchmarksResponse(data=s.BenchmarksSection(scores=[
        msgspec.structs.replace(scores[0], source="javascript:alert(1)"), *scores[1:]]))
    apps = found[base + "apps"].data
    found[base + "apps"] = s.AppsResponse(data=msgspec.structs.replace(apps, apps=[
        msgspec.structs.replace(apps.apps[0], title="Notes <script>x</script>"),
        *apps.apps[1:]]))
    return found
