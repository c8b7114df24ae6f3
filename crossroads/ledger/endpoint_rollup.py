"""The model page's rollups: per endpoint and attempt, histograms, and per app — as batch deltas.

`RollupBatch` (store.py) files each generation under the endpoint that finally served it, which
is what billing wants and what uptime must not use: a failure that failover rescued would vanish.
`EndpointBatch` counts every attempt under the endpoint that made it (successes, provider-caused
failures by the rules of `failures.py`, failures rescued by a later attempt), the served
generation's tokens and what its caller paid for input and output, and files each successful
attempt's latency, TTFT and throughput in log-scale bins (`windows.bin_of`) so percentiles over
any range are sums of rows. Like `RollupBatch` it sums per key first, so a batch of thousands of
generations costs one UPSERT per (hour, model, endpoint), and day rows are sums of hour rows.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Protocol

import msgspec

from crossroads.failures import RULES, Failure
from crossroads.ledger.bins import Bins
from crossroads.ledger.records import AttemptRecord, GenerationRecord
from crossroads.ledger.store import DAY_S, HOUR_S, RollupKind
from crossroads.windows import bin_of

Metric = Literal["latency", "ttft", "throughput"]
METRICS: tuple[Metric, ...] = ("latency", "ttft", "throughput")

ENDPOINT_KEY = ("model", "bucket_start", "endpoint_tag")
ENDPOINT_COUNTERS = (
    "attempts", "successes", "failures", "rescued", "served", "rescues", "prompt_tokens",
    "cached_tokens", "cache_write_tokens", "completion_tokens", "priced_prompt_tokens",
    "priced_completion_tokens", "paid_prompt_micro", "paid_completion_micro",
)
HISTOGRAM_KEY = ("model", "bucket_start", "endpoint_tag", "metric")
APP_KEY = ("model", "bucket_start", "app")
APP_COUNTERS = ("requests", "prompt_tokens", "completion_tokens", "reasoning_tokens",
                "cached_tokens")

EndpointKey = tuple[str, int, str]
HistogramKey = tuple[str, int, str, str]
AppKey = tuple[str, int, str]
_FAILURES = {failure.value: failure for failure in Failure}


class EndpointRollup(msgspec.Struct, frozen=True):
    """Sums over one bucket for one endpoint of one model (see migration 0005)."""

    model: str
    bucket_start: int
    endpoint_tag: str
    attempts: int = 0
    successes: int = 0
    failures: int = 0
    rescued: int = 0
    served: int = 0
    rescues: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    completion_tokens: int = 0
    priced_prompt_tokens: int = 0
    priced_completion_tokens: int = 0
    paid_prompt_micro: int = 0
    paid_completion_micro: int = 0


def counts_against_uptime(attempt: AttemptRecord) -> bool:
    """A provider-caused failure: the rule table decides, as it does for live stats."""
    failure = _FAILURES.get(attempt.failure) if attempt.failure is not None else None
    return failure is not None and RULES[failure].counts_against_uptime


def _succeeded(attempt: AttemptRecord) -> bool:
    return attempt.failure is None and attempt.ended_ms is not None


def _samples(record: GenerationRecord, attempt: AttemptRecord) -> list[tuple[Metric, float]]:
    """What live stats would learn from this successful attempt (stats.LiveStats._learn_speed)."""
    out: list[tuple[Metric, float]] = []
    if attempt.ended_ms is not None:
        out.append(("latency", max(attempt.ended_ms - attempt.started_ms, 0) / 1000.0))
    if attempt.ttft_ms is not None:
        out.append(("ttft", attempt.ttft_ms / 1000.0))
    generation_ms = record.generation_time_ms
    tokens = record.usage.completion_tokens
    if attempt.served and generation_ms and tokens > 1:
        out.append(("throughput", tokens / (generation_ms / 1000.0)))
    return out


def _add(table: dict[EndpointKey, list[int]], key: EndpointKey, values: list[int]) -> None:
    row = table.get(key)
    if row is None:
        table[key] = values
    else:
        for i, value in enumerate(values):
            row[i] += value


class EndpointBatch:
    """Deltas of one write batch for the endpoint, histogram and app rollups."""

    __slots__ = ("_apps", "_endpoints", "_histograms", "_titles")

    def __init__(self) -> None:
        self._endpoints: dict[EndpointKey, list[int]] = {}
        self._histograms: dict[HistogramKey, dict[int, int]] = {}
        self._apps: dict[AppKey, list[int]] = {}
        self._titles: dict[AppKey, str] = {}

    def add(self, record: GenerationRecord) -> None:
        created = record.created
        hour = created - created % HOUR_S
        attempts = record.attempts
        served_at = next((i for i, a in enumerate(attempts) if a.served), None)
        rescued_request = served_at is not None and not record.is_error
        histograms = self._histograms
        for i, attempt in enumerate(attempts):
            ok = _succeeded(attempt)
            failed = not ok and counts_against_uptime(attempt)
            rescued = failed and rescued_request and served_at is not None and i < served_at
            values = [1, int(ok), int(failed), int(rescued), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            if attempt.served:
                self._served(record, values, any(a.failure is not None
                                                 for a in attempts[:i]))
            _add(self._endpoints, (attempt.model, hour, attempt.endpoint_tag), values)
            if ok:
                for metric, value in _samples(record, attempt):
                    bins = histograms.setdefault((attempt.model, hour, attempt.endpoint_tag,
                                                  metric), {})
                    index = bin_of(value)
                    bins[index] = bins.get(index, 0) + 1
        usage = record.usage
        app_key = (record.model or record.model_requested, created - created % DAY_S,
                   record.app)
        row = self._apps.get(app_key)
        values = [1, usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens,
                  usage.cached_tokens]
        if row is None:
            self._apps[app_key] = values
        else:
            for i, value in enumerate(values):
                row[i] += value
        if record.app_title:
            self._titles[app_key] = record.app_title

    @staticmethod
    def _served(record: GenerationRecord, values: list[int], after_failure: bool) -> None:
        usage = record.usage
        values[4] = 1
        values[5] = int(after_failure and not record.is_error)
        values[6] = usage.prompt_tokens
        values[7] = usage.cached_tokens
        values[8] = usage.cache_write_tokens
        values[9] = usage.completion_tokens
        if record.cost_micro > 0:
            completion = record.completion_cost_micro
            if completion is None:
                completion = 0
            values[10] = usage.prompt_tokens
            values[11] = usage.completion_tokens
            values[12] = record.cost_micro - completion
            values[13] = completion

    def endpoint_rows(self) -> dict[RollupKind, list[tuple[int | str, ...]]]:
        """UPSERT parameters per table: `ENDPOINT_KEY` columns, then `ENDPOINT_COUNTERS`."""
        daily: dict[EndpointKey, list[int]] = {}
        for (model, hour, tag), values in self._endpoints.items():
            _add(daily, (model, hour - hour % DAY_S, tag), list(values))
        return {"hourly": [(*k, *v) for k, v in self._endpoints.items()],
                "daily": [(*k, *v) for k, v in daily.items()]}

    def histogram_rows(self) -> dict[RollupKind, list[tuple[int | str | bytes, ...]]]:
        """UPSERT parameters per table: `HISTOGRAM_KEY` columns, then the encoded bins."""
        daily: dict[HistogramKey, dict[int, int]] = {}
        for (model, hour, tag, metric), bins in self._histograms.items():
            day = daily.setdefault((model, hour - hour % DAY_S, tag, metric), {})
            for index, count in bins.items():
                day[index] = day.get(index, 0) + count
        return {"hourly": [(*k, Bins.of(b).encode()) for k, b in self._histograms.items()],
                "daily": [(*k, Bins.of(b).encode()) for k, b in daily.items()]}

    def app_rows(self) -> list[tuple[int | str | None, ...]]:
        """UPSERT parameters: `APP_KEY` columns, the title (or None), then `APP_COUNTERS`."""
        return [(*key, self._titles.get(key), *values) for key, values in self._apps.items()]


class HistogramRow(NamedTuple):
    """One bucket's histogram of one metric at one endpoint."""

    bucket_start: int
    endpoint_tag: str
    metric: str
    bins: Bins


class AppDay(msgspec.Struct, frozen=True, array_like=True):
    """One app's use of one model on one UTC day."""

    bucket_start: int
    app: str
    title: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached_tokens: int


class ModelTotals(msgspec.Struct, frozen=True):
    """A model's traffic over a range, for the directory of models."""

    requests: int = 0
    tokens: int = 0
    successes: int = 0
    failures: int = 0


class RollupReads(Protocol):
    """The reads behind the model page; every one is over rollups, never raw rows."""

    def endpoint_rollups(self, kind: RollupKind, model: str, since: int,
                         until: int) -> list[EndpointRollup]:
        """Rows with since <= bucket_start < until, by bucket then endpoint."""
        ...

    def histograms(self, kind: RollupKind, model: str, since: int, until: int
                   ) -> list[HistogramRow]:
        """Per bucket, endpoint and metric, by bucket."""
        ...

    def app_days(self, model: str, since: int, until: int) -> list[AppDay]:
        """Per app and day, by day."""
        ...

    def model_totals(self, tokens_since: int, uptime_since: int) -> dict[str, ModelTotals]:
        """Per model: requests and tokens from `tokens_since` (days), attempt outcomes from
        `uptime_since` (hours)."""
        ...
