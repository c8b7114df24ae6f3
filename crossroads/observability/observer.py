"""The one object the request path talks to: it fans each event out to logs, metrics and traces.

Created in the app's lifespan. The request path calls it at five places only — a request
started / ended, refused before routing, a generation settled (from the ledger sink), a breaker
changed (from live stats) — and never touches `logging`, Prometheus or OpenTelemetry itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crossroads.catalog import Catalog
from crossroads.generation import Generation
from crossroads.ledger.records import GenerationRecord
from crossroads.metrics import OverheadTimer
from crossroads.observability.events import BreakerChange, failovers
from crossroads.observability.logs import LogObserver
from crossroads.observability.metrics import RouterMetrics
from crossroads.settings import Settings

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
    __slots__ = ("_models", "_sampler", "_tracer", "_wall_offset", "logs", "metrics")

    def __init__(self, settings: Settings, catalog: Catalog, wall_offset: float,
                 tracer_provider: Any = None) -> None:
        self.metrics = RouterMetrics(settings.metrics.apps)
        self.logs = LogObserver(settings.logging.content)
        self._tracer = _tracer(tracer_provider)
        self._wall_offset = wall_offset
        self._models = frozenset(m.slug for m in catalog.models())
        self._sampler: asyncio.Task[None] | None = None

    @property
    def tracing(self) -> bool:
        return self._tracer is not None

    @property
    def content_logged(self) -> bool:
        return self.logs.content

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """With several workers, scrape-time sampling reaches only the scraped one: every
        worker samples its own gauges once a second instead."""
        if self.metrics.multiprocess_dir is not None:
            self._sampler = asyncio.get_running_loop().create_task(self._sample())

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
        moves = failovers(record)
        self.metrics.generation_settled(record, moves, model)
        self.logs.generation(record, moves)
        if self._tracer is not None:
            self._tracer.generation(generation, record, self._wall_offset)

    def breaker_changed(self, change: BreakerChange) -> None:
        self.metrics.breaker_changed(change.model, change.endpoint, change.opened)
        self.logs.breaker(change)

    def exchange(self, generation_id: str, prompt: Any, completion: bytes | None) -> None:
        self.logs.exchange(generation_id, prompt, completion)

    def render(self) -> bytes:
        return self.metrics.render()

