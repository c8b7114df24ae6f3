"""OpenTelemetry spans of real requests, seen through the SDK's in-memory exporter.

The detailed checks run the router in this process — the same app, HTTP server and protocol
`crossroads serve` uses, on a loopback socket, in front of the simulated fleet (a real process) —
because the in-memory exporter can only be read where the spans are made, and its spans are the
SDK's own objects, so a failed assertion shows exactly which attribute is wrong. Two more tests
run `crossroads serve` as a process and turn tracing on only through the standard variables:
one with the console exporter, one exporting OTLP/HTTP to a small collector the test runs and
decodes (the path an operator's collector takes).
"""

from __future__ import annotations

import http.server
import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
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


class _Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: decodes each export into `server.spans`."""

    server: _CollectorServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.server.spans.extend(scope.spans)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class _CollectorServer(http.server.ThreadingHTTPServer):
    spans: list[Any]


def test_spans_reach_an_otlp_http_collector_named_by_the_standard_variable(tmp_path, fresh_sim):
    collector = _CollectorServer(("127.0.0.1", 0), _Collector)
    collector.spans = []
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    try:
        router = start_router(router_config(fresh_sim), tmp_path, env={
            "SIM_KEY": "sim-secret-key", "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}"})
        try:
            fresh_sim.script("alpha", "http_500")
            answer = openai.OpenAI(base_url=router.api, api_key="any", max_retries=0) \
                .chat.completions.create(model=MODEL, messages=MESSAGES, extra_body={
                    "provider": {"order": ["alpha", "bravo"]}})
            assert wait_for(lambda: len(collector.spans) >= 3)
        finally:
            router.stop()
    finally:
        collector.shutdown()
        collector.server_close()
    names = sorted(span.name for span in collector.spans)
    assert names == ["chat echo-alpha", "chat echo-bravo", f"chat {MODEL}"]
    request = next(s for s in collector.spans if s.name == f"chat {MODEL}")
    attributes = {a.key: a.value for a in request.attributes}
    assert attributes["gen_ai.response.id"].string_value == answer.id
    assert attributes["gen_ai.provider.name"].string_value == "bravo"
    assert all(s.parent_span_id == request.span_id and s.trace_id == request.trace_id
               for s in collector.spans if s is not request)
