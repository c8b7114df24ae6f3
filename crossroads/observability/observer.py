"""The one object the request path talks to: it fans each event out to logs, metrics and traces.

Created in the app's lifespan. The request path calls it at a few places only — a request
started / ended (api/chat.py), refused before routing (api/chat.py), a generation settled (the
ledger sink in app.py), a breaker changed (live stats, through `watch`) — and never touches
`logging`, Prometheus or OpenTelemetry itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from crossroads.catalog import Catalog
from crossroads.generation import Generation
from crossroads.ledger import Store
from crossroads.ledger.records import GenerationRecord
from crossroads.metrics import OverheadTimer
from crossroads.observability.events import BreakerChange, failovers
from crossroads.observability.logs import LogObserver
from crossroads.observability.metrics import RouterMetrics
from crossroads.settings import Settings
from crossroads.stats import LiveStats

if TYPE_CHECKING:
    from crossroads.observability.tracing import GenAITracer

log = logging.getLogger("crossroads.observability")

OTHER_MODEL = "other"
SAMPLE_INTERVAL_S = 1.0


def tracing_requested(env: Mapping[str, str] | None = None) -> bool:
    """Traces are opt-in through the standard variables: an exporter named (other than
    `none`) or an OTLP endpoint given, and the SDK not disabled."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def _tracer(provider: Any) -> GenAITracer | None:
    if provider is None and not tracing_requested():
        return None
    try:
        from crossroads.observability.tracing import GenAITracer  # noqa: PLC0415
    except ImportError:
        log.error("OTEL_* asks for traces but OpenTelemetry is not installed "
                  "(pip install 'crossroads[otel]'); running without traces")
        return None
    return GenAITracer(provider)


class Observer:
    __slots__ = ("_models", "_sampler", "_tracer", "logs", "metrics")

    def __init__(self, settings: Settings, catalog: Catalog,
                 tracer_provider: Any = None) -> None:
        self.metrics = RouterMetrics(settings.metrics.apps)
        self.logs = LogObserver(settings.logging.content)
        self._tracer = _tracer(tracer_provider)
        self._models = frozenset(m.slug for m in catalog.models())
        self._sampler: asyncio.Task[None] | None = None

    @property
    def tracing(self) -> bool:
        return self._tracer is not None

    @property
    def content_logged(self) -> bool:
        return self.logs.content

    # --- lifecycle --------------------------------------------------------------------------

    def watch(self, stats: LiveStats, ledger: Store, backend: str,
              shared_healthy: Callable[[], bool]) -> None:
        """Sample the ledger and the shared state, hear breaker changes, start sampling.

        With several workers, scrape-time sampling reaches only the scraped one: every worker
        then samples its own gauges once a second."""
        metrics = self.metrics
        metrics.sample("crossroads_shared_state_up",
                       "1 while live stats and breakers reach the other replicas; 0 while the "
                       "shared-state backend is unreachable and this replica routes alone.",
                       lambda: float(shared_healthy()), mode="livemin",
                       labels={"backend": backend})
        metrics.sample("crossroads_ledger_backlog",
                       "Generations submitted to the ledger and not yet in its database.",
                       lambda: float(ledger.health().backlog))
        metrics.sample("crossroads_ledger_queue_depth",
                       "Generations waiting for the ledger's writer thread.",
                       lambda: float(ledger.queue_depth()))
        metrics.sample("crossroads_ledger_journal_lag_bytes",
                       "Journal bytes written and not yet committed to the database.",
                       lambda: float(ledger.journal_lag_bytes()))
        stats.on_breaker(self._breaker)
        if metrics.multiprocess_dir is not None:
            self._sampler = asyncio.get_running_loop().create_task(self._sample())

    def _breaker(self, key: str, opened: bool, cooldown_s: float, failures: int,
                 local: bool) -> None:
        model, _, tag = key.rpartition("::")
        self.breaker_changed(BreakerChange(model, tag, opened, cooldown_s, failures,
                                           "local" if local else "shared"))

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            await asyncio.gather(self._sampler, return_exceptions=True)
        if self._tracer is not None:
            await asyncio.to_thread(self._tracer.shutdown)

    async def _sample(self) -> None:
        while True:
            self.metrics.refresh()
            await asyncio.sleep(SAMPLE_INTERVAL_S)

    # --- events from the request path -------------------------------------------------------

    def request_started(self, surface: str, stream: bool) -> None:
        self.metrics.request_started(surface, stream)

    def request_ended(self, surface: str, stream: bool, overhead: OverheadTimer) -> None:
        self.metrics.request_ended(surface, stream)
        self.metrics.observe_overhead(stream, overhead)

    def rejected(self, surface: str, status: int) -> None:
        self.metrics.rejected_request(surface, status)

    def generation_settled(self, generation: Generation, record: GenerationRecord) -> None:
        model = record.model or record.model_requested
        if model not in self._models:
            # An unknown or variant slug (`…:nitro`) must not become a label of its own.
            base = model.split(":", 1)[0]
            model = base if base in self._models else OTHER_MODEL
        try:
            moves = failovers(record)
            self.metrics.generation_settled(record, moves, model)
            self.logs.generation(record, moves)
            if self._tracer is not None:
                self._tracer.generation(generation, record)
        except Exception:
            # Called from the relay's settle path: seeing a generation must never fail it.
            log.exception("could not observe generation %s", record.id)

    def breaker_changed(self, change: BreakerChange) -> None:
        self.metrics.breaker_changed(change.model, change.endpoint, change.opened)
        self.logs.breaker(change)

    def exchange(self, generation_id: str, prompt: Any, completion: bytes | None) -> None:
        self.logs.exchange(generation_id, prompt, completion)

    def render(self) -> bytes:
        return self.metrics.render()

