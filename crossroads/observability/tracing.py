"""OpenTelemetry traces of generations, following the GenAI semantic conventions.

Imported only when tracing is on (`tracing_requested`): the OpenTelemetry SDK is the optional
`crossroads[otel]` extra and costs nothing when absent.

Each generation becomes one SERVER span for the request (`chat {model}`) with one CLIENT child
per upstream attempt — two on a failover — carrying `gen_ai.*` attributes (operation, requested
and served model, provider, token usage, finish reason, response id), `error.type` (the failure
kind) on a failed attempt, and the cost as `crossroads.cost_usd`. Spans are built when the
generation is settled, from the times the relay already measured (start and end given
explicitly), so tracing adds no work and no context switching to the request path itself. A
caller's W3C `traceparent` header makes the request span a child of the caller's span.

Configuration is the standard environment: `OTEL_TRACES_EXPORTER` (`otlp`, the default, or
`console`), `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and headers
(OTLP over HTTP/protobuf), `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from crossroads import __version__
from crossroads.generation import Attempt, Generation
from crossroads.ledger.records import GenerationRecord
from crossroads.observability.events import error_class

OPERATION_BY_SURFACE = {"embeddings": "embeddings", "completions": "text_completion"}
NS = 1_000_000_000


def _exporter() -> SpanExporter:
    name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip().lower()
    if name == "console":
        return ConsoleSpanExporter()
    # Imported here: the console exporter needs no HTTP stack.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    return OTLPSpanExporter()


def provider_from_env() -> TracerProvider:
    resource = Resource.create({"service.version": __version__})
    # Only when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES named the service.
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "crossroads"}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(_exporter()))
    return provider


def _server_address(base_url: str) -> str | None:
    return urlsplit(base_url).hostname


class GenAITracer:
    """Turns settled generations into spans on `provider` (built from the environment when
    None; a test passes one with an in-memory exporter)."""

    __slots__ = ("_owned", "_propagator", "_provider", "_tracer")

    def __init__(self, provider: Any = None) -> None:
        self._owned = provider is None
        self._provider: TracerProvider = provider_from_env() if provider is None else provider
        self._tracer = self._provider.get_tracer("crossroads", __version__)
        self._propagator = TraceContextTextMapPropagator()

    def shutdown(self) -> None:
        """Flush what the batch processor holds (the provider is ours only when we built it)."""
        if self._owned:
            self._provider.shutdown()

    def generation(self, generation: Generation, record: GenerationRecord) -> None:
        # Every time is placed relative to this one moment, read on each clock the relay used
        # (the overhead timer's perf_counter, the event loop's clock for attempts), so children
        # nest inside the request span: a wall offset measured at startup drifts, and uvloop's
        # clock is cached per loop iteration.
        now_ns = time.time_ns()
        loop_now = asyncio.get_running_loop().time()
        started_ns = now_ns - int((time.perf_counter() - generation.overhead.started) * NS)
        operation = OPERATION_BY_SURFACE.get(record.surface, "chat")
        usage = record.usage
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": record.model_requested,
            "gen_ai.response.id": record.id,
            "crossroads.surface": record.surface,
            "crossroads.stream": record.streamed,
            "crossroads.attempts": len(record.attempts),
            "crossroads.cost_usd": record.cost_micro / 1_000_000,
        }
        if record.model is not None:
            served = generation.served or (generation.attempts[-1] if generation.attempts
                                           else None)
            attributes["gen_ai.response.model"] = record.model
            attributes["crossroads.endpoint"] = record.endpoint_tag
            if served is not None:
                attributes["gen_ai.provider.name"] = served.endpoint.provider
            attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
            attributes["gen_ai.usage.output_tokens"] = usage.completion_tokens
        if record.finish_reason is not None:
            attributes["gen_ai.response.finish_reasons"] = (record.finish_reason,)
        error = error_class(record)
        if error is not None:
            attributes["error.type"] = error
        if record.key_id is not None:
            attributes["crossroads.key_hash"] = record.key_id
        # A caller's `traceparent` makes the request a child of its trace; else a new trace.
        parent = None if generation.trace_parent is None else \
            self._propagator.extract({"traceparent": generation.trace_parent})
        span = self._tracer.start_span(f"{operation} {record.model_requested}",
                                       context=parent, kind=SpanKind.SERVER,
                                       start_time=started_ns, attributes=attributes)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        context = trace.set_span_in_context(span)
        for attempt in generation.attempts:
            self._attempt(attempt, generation, operation, context, now_ns, loop_now)
        span.end(end_time=now_ns)

    def _attempt(self, attempt: Attempt, generation: Generation, operation: str,
                 context: Any, now_ns: int, loop_now: float) -> None:
        endpoint = attempt.endpoint
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": endpoint.upstream_model,
            "gen_ai.provider.name": endpoint.provider,
            "crossroads.endpoint": endpoint.tag,
            "crossroads.model": endpoint.model,
        }
        address = _server_address(endpoint.base_url)
        if address is not None:
            attributes["server.address"] = address
        if attempt.status is not None:
            attributes["http.response.status_code"] = attempt.status
        if attempt.ttft_s is not None:
            attributes["crossroads.ttft_s"] = attempt.ttft_s
        served = attempt is generation.served
        if served and attempt.usage is not None:
            attributes["gen_ai.response.model"] = endpoint.upstream_model
            attributes["gen_ai.usage.input_tokens"] = attempt.usage.prompt_tokens
            attributes["gen_ai.usage.output_tokens"] = attempt.usage.completion_tokens
            attributes["crossroads.cost_usd"] = generation.cost_micro / 1_000_000
        if attempt.failure is not None:
            attributes["error.type"] = attempt.failure.value
        def wall_ns(at: float) -> int:
            return now_ns - int(max(loop_now - at, 0.0) * NS)

        end_ns = now_ns if attempt.ended is None else wall_ns(attempt.ended)
        child = self._tracer.start_span(
            f"{operation} {endpoint.upstream_model}", context=context, kind=SpanKind.CLIENT,
            start_time=wall_ns(attempt.started), attributes=attributes)
        if attempt.failure is not None:
            child.set_status(Status(StatusCode.ERROR, attempt.failure.value))
        child.end(end_time=end_ns)
