"""The JSON twins of the model pages: `/api/v1/models/stats` and
`/api/v1/models/{author}/{slug}/stats/{section}`.

OpenRouter publishes no schema for these (its pages read private routes), so they are
crossroads' own. Every twin returns exactly the numbers its page section draws, in one unit per
kind: prices in USD per 1M tokens, durations in milliseconds, throughput in tokens per second,
uptime and shares in percent, times as unix seconds (bucket starts are UTC). A number that was
not measured is null, never 0.
"""

from __future__ import annotations

from typing import Literal

import msgspec

RoutingMode = Literal["balanced", "nitro", "floor", "exacto"]
Bucket = Literal["hour", "day"]


class _Body(msgspec.Struct, kw_only=True):
    pass


class ListPrice(_Body):
    """A price list in USD per 1M tokens; cache prices null where the provider has none."""

    prompt: float
    completion: float
    cache_read: float | None = None
    cache_write: float | None = None


class Span(_Body):
    """The time range a section covers: since <= t < until, in buckets of `bucket`."""

    since: int
    until: int
    bucket: Bucket


# --- /models ----------------------------------------------------------------------------------


class ModelSummary(_Body):
    id: str
    name: str
    input_modalities: list[str]
    output_modalities: list[str]
    context_length: int
    pricing: ListPrice | None
    """The model's listed price, else its cheapest endpoint's."""
    endpoints: int
    endpoints_available: int
    uptime_1d: float | None
    """Percent of attempts that succeeded over the last 24 hours, all endpoints together."""
    tokens_7d: int
    """Prompt + completion tokens served over the last 7 UTC days, today included."""
    requests_7d: int


class ModelDirectory(_Body):
    data: list[ModelSummary]


# --- overview ---------------------------------------------------------------------------------


class ArchitectureFacts(_Body):
    kind: str | None = None
    parameters_b: float | None = None
    active_parameters_b: float | None = None
    experts: int | None = None
    active_experts: int | None = None


class Overview(_Body):
    id: str
    name: str
    description: str
    input_modalities: list[str]
    output_modalities: list[str]
    pricing: ListPrice | None
    context_length: int
    released: str | None
    """YYYY-MM-DD."""
    knowledge_cutoff: str | None
    license: str | None
    architecture: ArchitectureFacts | None
    hugging_face_id: str | None
    providers: int


class OverviewResponse(_Body):
    data: Overview


# --- providers --------------------------------------------------------------------------------


class ProviderRow(_Body):
    tag: str
    provider: str
    provider_name: str
    quantization: str
    context_length: int
    max_output: int
    pricing: ListPrice
    throughput_p50: float | None
    """Tokens/s, median over the last 30 minutes of live traffic."""
    latency_p50_ms: float | None
    ttft_p50_ms: float | None
    uptime_30m: float | None
    uptime_30d: float | None
    status: int
    state: str
    simulated: bool


class ModePick(_Body):
    mode: RoutingMode
    model_suffix: str
    """What to append to the slug to ask for this mode ('' for balanced)."""
    tag: str | None
    provider_name: str | None
    why: str


class ProvidersSection(_Body):
    endpoints: list[ProviderRow]
    routing: list[ModePick]


class ProvidersResponse(_Body):
    data: ProvidersSection


# --- effective pricing ------------------------------------------------------------------------


class EffectivePrice(_Body):
    tag: str
    provider_name: str
    list: ListPrice
    effective_prompt: float | None
    """What callers paid per 1M prompt tokens, cache reads and writes included; null with no
    priced traffic."""
    effective_completion: float | None
    prompt_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    completion_tokens: int
    requests: int
    cached_share: float | None
    """Percent of prompt tokens read from the provider's cache."""
    prompt_saving: float | None
    """Percent below the list prompt price that callers paid."""


class PricingSection(_Body):
    span: Span
    endpoints: list[EffectivePrice]


class PricingResponse(_Body):
    data: PricingSection


# --- performance ------------------------------------------------------------------------------


class Quantiles(_Body):
    p50: float
    p90: float
    samples: int


class PerformancePoint(_Body):
    bucket_start: int
    throughput: Quantiles | None
    latency_ms: Quantiles | None
    ttft_ms: Quantiles | None


class PerformanceSeries(_Body):
    tag: str
    provider_name: str
    throughput: Quantiles | None
    """Over the whole span."""
    latency_ms: Quantiles | None
    ttft_ms: Quantiles | None
    points: list[PerformancePoint]
    """Only buckets with measurements, oldest first."""


class PerformanceSection(_Body):
    span: Span
    endpoints: list[PerformanceSeries]


class PerformanceResponse(_Body):
    data: PerformanceSection


# --- uptime -----------------------------------------------------------------------------------


class UptimePoint(_Body):
    bucket_start: int
    attempts: int
    successes: int
    failures: int
    """Provider-caused failures only: caller errors and rate limits do not count."""
    uptime: float | None


class UptimeSeries(_Body):
    tag: str
    provider_name: str
    uptime: float | None
    """Over the daily span (30 days)."""
    attempts: int
    successes: int
    failures: int
    rescued: int
    """Of `failures`, those whose request another endpoint then served."""
    hourly: list[UptimePoint]
    """Every hour of the hourly span, oldest first, empty hours included."""
    daily: list[UptimePoint]


class UptimeSection(_Body):
    hourly: Span
    daily: Span
    endpoints: list[UptimeSeries]
    requests: int
    rescued_requests: int
    """Requests served after at least one failed attempt (failover), over the daily span."""


class UptimeResponse(_Body):
    data: UptimeSection


# --- benchmarks -------------------------------------------------------------------------------


class BenchmarkEntry(_Body):
    benchmark: str
    name: str
    score: float | None
    """null: no published score for this model."""
    unit: str
    variant: str | None
    source: str | None
    read_on: str | None
    rank: int | None
    ranked_models: int
    rank_percentile: int | None


class BenchmarksSection(_Body):
    scores: list[BenchmarkEntry]


class BenchmarksResponse(_Body):
    data: BenchmarksSection


# --- apps -------------------------------------------------------------------------------------


class AppRow(_Body):
    app: str
    """The HTTP-Referer the app sent, else its X-Title."""
    title: str | None
    tokens: int
    prompt_tokens: int
    completion_tokens: int
    requests: int


class AppsSection(_Body):
    span: Span
    apps: list[AppRow]
    """The top apps by tokens, largest first."""
    other_tokens: int
    """Tokens from apps beyond the top list and from requests that named no app."""
    other_requests: int


class AppsResponse(_Body):
    data: AppsSection


# --- activity ---------------------------------------------------------------------------------


class ActivityDay(_Body):
    date: str
    bucket_start: int
    requests: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached_tokens: int
    tokens: int
    """prompt + completion."""


class ActivitySection(_Body):
    span: Span
    days: list[ActivityDay]
    """Every UTC day of the span, oldest first, empty days included."""


class ActivityDaysResponse(_Body):
    data: ActivitySection
