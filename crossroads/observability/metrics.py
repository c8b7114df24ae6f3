"""The Prometheus series of one router process, served at `GET /metrics`.

Every series is bounded: labels hold catalog slugs and endpoint tags (configured, finite), API
surfaces, status classes and failure kinds (fixed tables), and app names only from the
operator's `[metrics] apps` allow-list — never a key, a user, a session or free text.

Counters are fed from the ledger record of each finished generation (`generation_settled`), so
they add up to exactly what the ledger holds. Gauges that describe a state (ledger backlog,
journal lag, shared state) are sampled: at scrape time, and once a second when several worker
processes share the exposition.

Several processes: with `PROMETHEUS_MULTIPROC_DIR` set (by the pre-forking supervisor, before it
starts workers), every value lives in a memory-mapped file of that folder and a scrape of any
worker merges them all through `MultiProcessCollector`; each gauge says how
(`multiprocess_mode`). The supervisor runs its workers inside `shared_metrics_dir`, which names
(or empties) the folder; a scrape drops the live gauges of workers that are gone. Without the
variable nothing changes: one in-memory registry.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from crossroads.ledger.records import GenerationRecord
from crossroads.metrics import OVERHEAD_BUCKETS, OverheadTimer
from crossroads.observability.events import NO_ENDPOINT, Failover, status_class

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER_APP = "other"
NO_APP = "none"
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
THROUGHPUT_BUCKETS = (5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 500.0, 1000.0,
                      2000.0)

Sample = Callable[[], float]
GaugeMode = Literal["all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum",
                    "mostrecent", "livemostrecent"]


@contextlib.contextmanager
def shared_metrics_dir() -> Iterator[str]:
    """For the supervisor of several workers, around their whole life: the folder every
    worker's series go to — the operator's `PROMETHEUS_MULTIPROC_DIR` (emptied first), else a
    private one removed afterwards. Workers forked inside inherit the variable."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        prepare_multiprocess_dir(given)
        yield given
        return
    private = tempfile.mkdtemp(prefix="crossroads-metrics-")
    os.environ[MULTIPROC_ENV] = private
    try:
        yield private
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(private, ignore_errors=True)


def _forget_dead_workers(path: str) -> None:
    """Drop the `live*` gauges of workers that are gone (a replaced worker's in-flight count
    must not linger); their counters and histograms stay in the sums."""
    for file in Path(path).glob("gauge_live*_*.db"):
        pid = int(file.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
        except PermissionError:
            continue  # alive, someone else's


def prepare_multiprocess_dir(path: str) -> None:
    """For a supervisor, before it starts workers: empty the folder, or a previous run's files
    would be summed into this run's counters."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


class _EndpointSeries:
    """The children of one (model, endpoint) pair, resolved once: `labels()` takes a lock and
    builds a tuple, which every generation would otherwise pay a dozen times."""

    __slots__ = ("cached", "completion", "cost", "latency", "prompt", "throughput", "ttft")

    def __init__(self, metrics: RouterMetrics, model: str, endpoint: str) -> None:
        self.prompt = metrics.tokens.labels(model, endpoint, "prompt")
        self.cached = metrics.tokens.labels(model, endpoint, "cached")
        self.completion = metrics.tokens.labels(model, endpoint, "completion")
        self.cost = metrics.cost.labels(model, endpoint)
        self.ttft = metrics.ttft.labels(model, endpoint)
        self.latency = metrics.latency.labels(model, endpoint)
        self.throughput = metrics.throughput.labels(model, endpoint)


class RouterMetrics:
    """Created in the app's lifespan (never at import), so several apps in one process never
    share series — unless multiprocess mode says they must."""

    __slots__ = ("_apps", "_by_stream", "_children", "_endpoints", "_samplers", "app_cost",
                 "app_requests",
                 "attempts", "breaker_open", "breaker_transitions", "cost", "failovers",
                 "in_flight", "latency", "multiprocess_dir", "registry", "rejected", "requests",
                 "streams", "throughput", "tokens", "ttft")

    def __init__(self, apps: list[str] | None = None, multiprocess_dir: str | None = None
                 ) -> None:
        self.multiprocess_dir = (os.environ.get(MULTIPROC_ENV) if multiprocess_dir is None
                                 else multiprocess_dir) or None
        if multiprocess_dir is None and self.multiprocess_dir and \
                values.ValueClass is values.MutexValue:
            # prometheus_client picks its value store once, at import: a worker forked from a
            # supervisor that imported it before setting the variable would otherwise keep
            # every value in its own memory, and a scrape would see none of the others.
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self._apps = frozenset(apps or ())
        self._endpoints: dict[tuple[str, str], _EndpointSeries] = {}
        # Every other labelled child a generation touches, by (metric, label values).
        self._children: dict[tuple[object, ...], Any] = {}
        self._samplers: list[tuple[Gauge, Sample]] = []
        overhead = Histogram(
            "crossroads_overhead_seconds",
            "Time a chat completion spent in the router itself, waits on providers excluded.",
            ["stream"], buckets=OVERHEAD_BUCKETS, registry=registry)
        self._by_stream = {False: overhead.labels("false"), True: overhead.labels("true")}
        self.requests = Counter(
            "crossroads_requests", "Generations finished, by the model and endpoint that served "
            "(endpoint \"none\" when none did), API surface and status class.",
            ["model", "endpoint", "surface", "status"], registry=registry)
        self.rejected = Counter(
            "crossroads_rejected_requests", "Requests answered with an error before any "
            "provider was tried (authentication, validation, limits), by surface and status.",
            ["surface", "status"], registry=registry)
        self.attempts = Counter(
            "crossroads_attempts", "Upstream attempts by endpoint and outcome (ok, or the "
            "failure kind).", ["model", "endpoint", "outcome"], registry=registry)
        self.failovers = Counter(
            "crossroads_failovers", "Attempts that failed and were followed by another "
            "endpoint, by the endpoint that failed and why.",
            ["model", "endpoint", "reason"], registry=registry)
        self.tokens = Counter(
            "crossroads_tokens", "Tokens of finished generations (prompt includes cached).",
            ["model", "endpoint", "kind"], registry=registry)
        self.cost = Counter(
            "crossroads_cost_usd", "Cost billed for finished generations, in US dollars.",
            ["model", "endpoint"], registry=registry)
        self.app_requests = Counter(
            "crossroads_app_requests", "Generations by app ([metrics] apps; others: other).",
            ["app"], registry=registry)
        self.app_cost = Counter(
            "crossroads_app_cost_usd", "Cost by app ([metrics] apps; others: other).",
            ["app"], registry=registry)
        self.ttft = Histogram(
            "crossroads_ttft_seconds", "Time to first token of streamed answers, failovers "
            "included, by serving endpoint.", ["model", "endpoint"], buckets=TTFT_BUCKETS,
            registry=registry)
        self.latency = Histogram(
            "crossroads_latency_seconds", "Request start to last byte from the provider, by "
            "serving endpoint.", ["model", "endpoint"], buckets=LATENCY_BUCKETS,
            registry=registry)
        self.throughput = Histogram(
            "crossroads_throughput_tokens_per_second", "Completion tokens per second after the "
            "first token (streamed answers).", ["model", "endpoint"],
            buckets=THROUGHPUT_BUCKETS, registry=registry)
        self.in_flight = Gauge(
            "crossroads_in_flight_requests", "Requests being served now.", ["surface"],
            registry=registry, multiprocess_mode="livesum")
        self.streams = Gauge(
            "crossroads_in_flight_streams", "Streamed requests being served now.", ["surface"],
            registry=registry, multiprocess_mode="livesum")
        self.breaker_open = Gauge(
            "crossroads_breaker_open", "1 from the failure that opens an endpoint's breaker "
            "until a success closes it (cooling or probing), else 0.",
            ["model", "endpoint"], registry=registry, multiprocess_mode="livemax")
        self.breaker_transitions = Counter(
            "crossroads_breaker_transitions", "Breaker openings and closings by endpoint.",
            ["model", "endpoint", "state"], registry=registry)

    # --- sampled gauges ---------------------------------------------------------------------

    def sample(self, name: str, documentation: str, read: Sample, mode: GaugeMode = "livesum",
               labels: dict[str, str] | None = None) -> None:
        """A gauge whose value is read from `read` when sampled (scrape, or the 1 s tick)."""
        gauge = Gauge(name, documentation, list(labels or {}), registry=self.registry,
                      multiprocess_mode=mode)
        self._samplers.append((gauge.labels(**labels) if labels else gauge, read))

    def refresh(self) -> None:
        for gauge, read in self._samplers:
            gauge.set(read())

    # --- events -----------------------------------------------------------------------------

    def observe_overhead(self, stream: bool, timer: OverheadTimer) -> None:
        self._by_stream[stream].observe(timer.seconds())

    def _child(self, metric: Counter | Gauge, *labels: str) -> Any:
        """`metric.labels(*labels)`, resolved once per distinct label set."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request_started(self, surface: str, stream: bool) -> None:
        self._child(self.in_flight, surface).inc()
        if stream:
            self._child(self.streams, surface).inc()

    def request_ended(self, surface: str, stream: bool) -> None:
        self._child(self.in_flight, surface).dec()
        if stream:
            self._child(self.streams, surface).dec()

    def rejected_request(self, surface: str, status: int) -> None:
        self.rejected.labels(surface, f"{status // 100}xx").inc()

    def generation_settled(self, record: GenerationRecord, failovers: list[Failover],
                           model: str) -> None:
        """Count a finished generation; `model` is its label, already bounded by the caller."""
        endpoint = record.endpoint_tag or NO_ENDPOINT
        child = self._child
        child(self.requests, model, endpoint, record.surface, status_class(record)).inc()
        for attempt in record.attempts:
            child(self.attempts, attempt.model, attempt.endpoint_tag,
                  attempt.failure or "ok").inc()
        for failover in failovers:
            child(self.failovers, model, failover.from_endpoint, failover.reason).inc()
        app = record.app
        app = app if app in self._apps else (NO_APP if not app else OTHER_APP)
        child(self.app_requests, app).inc()
        cost = record.cost_micro / 1_000_000
        if cost:
            child(self.app_cost, app).inc(cost)
        if record.endpoint_tag is None:
            return
        series = self._endpoints.get((model, endpoint))
        if series is None:
            series = self._endpoints[(model, endpoint)] = _EndpointSeries(self, model, endpoint)
        usage = record.usage
        series.prompt.inc(usage.prompt_tokens)
        if usage.cached_tokens:
            series.cached.inc(usage.cached_tokens)
        series.completion.inc(usage.completion_tokens)
        if cost:
            series.cost.inc(cost)
        series.latency.observe(record.latency_ms / 1000)
        if record.ttft_ms is not None:
            series.ttft.observe(record.ttft_ms / 1000)
        generation_ms = record.generation_time_ms
        if generation_ms and usage.completion_tokens > 1:
            series.throughput.observe(usage.completion_tokens * 1000 / generation_ms)

    def breaker_changed(self, model: str, endpoint: str, opened: bool) -> None:
        self._child(self.breaker_open, model, endpoint).set(1.0 if opened else 0.0)
        self._child(self.breaker_transitions, model, endpoint,
                    "open" if opened else "closed").inc()

    # --- exposition -------------------------------------------------------------------------

    def render(self) -> bytes:
        self.refresh()
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        # Every worker's files, this one's included: the registry above only feeds them.
        _forget_dead_workers(self.multiprocess_dir)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
