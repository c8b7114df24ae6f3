"""OpenTelemetry spans of real requests, seen through the SDK's in-memory exporter.

The router runs in this process — the same app, HTTP server and protocol `crossroads serve`
uses, on a loopback socket, in front of the simulated fleet (a real process) — because the
in-memory exporter can only be read where the spans are made. The alternative, OTLP/HTTP to a
collector the test runs, would test the exporter library more than the spans; the one piece it
would add, that the OTEL_* variables turn tracing on, is checked at unit level
(tests/unit/test_observability.py).
"""

from __future__ import annotations

import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import uvicorn
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from crossroads.app import CrossroadsApp
from crossroads.http_server import RouterHttpProtocol
from crossroads.schema.check import SCHEMA_VIOLATION, ResponseChecker
from crossroads.settings import load_settings
from tests.support import Sim, start_router, wait_for

from .conftest import MODEL, router_config

MESSAGES = [{"role": "user", "content": "Trace me"}]


class Traced:
    def __init__(self, url: str, exporter: InMemorySpanExporter) -> None:
        self.client = openai.OpenAI(base_url=url, api_key="any", max_retries=0, timeout=30)
        self.exporter = exporter

    def spans(self, generation_id: str) -> tuple[ReadableSpan, list[ReadableSpan]]:
        """The request span of a generation and its children, in start order."""
        finished = self.exporter.get_finished_spans()
        request = next(s for s in finished
                       if (s.attributes or {}).get("gen_ai.response.id") == generation_id)
        assert request.context is not None
        children = sorted((s for s in finished if s.parent is not None
                           and s.parent.span_id == request.context.span_id),
                          key=lambda s: s.start_time or 0)
        return request, children


@pytest.fixture
def traced(tmp_path: Path, fresh_sim: Sim,
           caplog: pytest.LogCaptureFixture) -> Iterator[Traced]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = tmp_path / "crossroads.toml"
    config.write_text(textwrap.dedent(router_config(fresh_sim)) +
                      f'\n[server]\nstate_dir = "{tmp_path}"\n')
    settings = load_settings(str(config), env={"SIM_KEY": "sim-secret-key"})
    app = CrossroadsApp(settings, tracer_provider=provider)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(
        ResponseChecker(app), http=RouterHttpProtocol, lifespan="on", log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started)
    try:
        yield Traced(f"http://127.0.0.1:{sock.getsockname()[1]}/api/v1", exporter)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        provider.shutdown()
    assert not [r for r in caplog.records if SCHEMA_VIOLATION in r.getMessage()]


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_a_request_span_with_one_attempt_child_carries_the_genai_attributes(traced):
    answer = traced.client.chat.completions.create(
        model=MODEL, messages=MESSAGES,
        extra_body={"provider": {"order": ["alpha"], "allow_fallbacks": False}})
    request, children = traced.spans(answer.id)
    assert request.name == f"chat {MODEL}" and request.kind is SpanKind.SERVER
    usage = answer.usage
    assert usage is not None
    cost = usage.model_dump()["cost"]
    assert _attrs(request).items() >= {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL, "gen_ai.provider.name": "alpha",
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
        "gen_ai.response.finish_reasons": ("stop",), "crossroads.cost_usd": cost,
        "crossroads.attempts": 1,
    }.items()
    assert "error.type" not in _attrs(request)
    [attempt] = children
    assert attempt.kind is SpanKind.CLIENT and attempt.name == "chat echo-alpha"
    assert _attrs(attempt).items() >= {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "echo-alpha",
        "gen_ai.response.model": "echo-alpha", "gen_ai.provider.name": "alpha",
        "gen_ai.usage.output_tokens": usage.completion_tokens,
        "http.response.status_code": 200, "server.address": "127.0.0.1",
        "crossroads.endpoint": "alpha", "crossroads.cost_usd": cost,
    }.items()
    assert request.start_time is not None and request.end_time is not None
    assert request.start_time <= (attempt.start_time or 0) <= (attempt.end_time or 0) \
        <= request.end_time


def test_a_callers_traceparent_makes_the_request_span_its_child(traced):
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    answer = traced.client.chat.completions.create(
        model=MODEL, messages=MESSAGES,
        extra_headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    request, [attempt] = traced.spans(answer.id)
    assert request.context is not None and request.parent is not None
    assert format(request.context.trace_id, "032x") == trace_id
    assert format(request.parent.span_id, "016x") == parent_id
    assert attempt.context is not None and attempt.context.trace_id == request.context.trace_id


def test_a_failover_is_two_attempt_children_the_first_with_its_error_class(traced, fresh_sim):
    fresh_sim.script("alpha", "http_500")
    answer = traced.client.chat.completions.create(
        model=MODEL, messages=MESSAGES,
        extra_body={"provider": {"order": ["alpha", "bravo"]}})
    request, children = traced.spans(answer.id)
    assert _attrs(request)["gen_ai.provider.name"] == "bravo"
    assert _attrs(request)["crossroads.attempts"] == 2
    failed, served = children
    assert _attrs(failed)["error.type"] == "server_error"
    assert _attrs(failed)["http.response.status_code"] == 500
    assert failed.status.status_code is StatusCode.ERROR
    assert "gen_ai.usage.output_tokens" not in _attrs(failed)
    assert "error.type" not in _attrs(served)
    assert _attrs(served)["gen_ai.provider.name"] == "bravo"
    assert _attrs(served)["gen_ai.usage.output_tokens"] == answer.usage.completion_tokens  # type: ignore[union-attr]
    assert (failed.end_time or 0) <= (served.start_time or 0)


def test_an_error_is_on_the_request_span(traced, fresh_sim):
    fresh_sim.script("alpha", "http_429")
    with pytest.raises(openai.RateLimitError) as caught:
        traced.client.chat.completions.create(
            model=MODEL, messages=MESSAGES,
            extra_body={"provider": {"order": ["alpha"], "allow_fallbacks": False}})
    generation_id = caught.value.response.headers["x-generation-id"]
    request, [attempt] = traced.spans(generation_id)
    assert request.status.status_code is StatusCode.ERROR
    assert _attrs(request)["error.type"] == "rate_limited"
    assert _attrs(attempt)["error.type"] == "rate_limited"


def test_otel_variables_turn_tracing_on_in_a_served_router(tmp_path, fresh_sim):
    # The console exporter writes each span as JSON to stdout; stopping flushes the batch.
    router = start_router(router_config(fresh_sim), tmp_path, env={
        "SIM_KEY": "sim-secret-key", "OTEL_TRACES_EXPORTER": "console",
        "OTEL_SERVICE_NAME": "edge-router"})
    answer = openai.OpenAI(base_url=router.api, api_key="any", max_retries=0).chat.completions \
        .create(model=MODEL, messages=MESSAGES)
    router.stop()
    assert router.process.stdout is not None
    printed = router.process.stdout.read()
    assert printed.count(f'"gen_ai.response.id": "{answer.id}"') == 1
    assert printed.count('"gen_ai.operation.name": "chat"') == 2  # the request and its attempt
    assert '"service.name": "edge-router"' in printed
