"""Response checking: every body the router sends, held to the typed schema of its route.

Off by default (it decodes every body a second time). `CROSSROADS_CHECK_RESPONSES=1` wraps the
app in `ResponseChecker`; the test suite starts every router that way, so each loopback test is
also a schema test. A JSON body that breaks its route's schema is replaced by a 500 that names the
violation, so the test that caused it fails on the spot; a streamed event cannot be taken back,
so a bad one is logged (`SCHEMA_VIOLATION` in the line) and the test harness fails on that line
when it stops the router.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import msgspec
import orjson

from crossroads.schema import presets, stats
from crossroads.schema.activity import ActivityResponse
from crossroads.schema.catalog import (
    ListEndpointsResponse,
    ListProvidersResponse,
    ModelResponse,
    ModelsCountResponse,
    ModelsListResponse,
)
from crossroads.schema.chat import ChatResult, ChatStreamChunk
from crossroads.schema.completions import CompletionChunk, CompletionResult
from crossroads.schema.embeddings import EmbeddingsResponse
from crossroads.schema.errors import ErrorResponse
from crossroads.schema.generation import GenerationResponse
from crossroads.schema.keys import (
    CreditsResponse,
    CurrentKeyResponse,
    KeyCreated,
    KeyDeleted,
    KeyList,
    KeyResponse,
)
from crossroads.schema.messages import (
    MessagesErrorResponse,
    MessagesResult,
    MessagesStreamEvent,
)
from crossroads.schema.responses import ResponseObject, ResponsesStreamEvent

log = logging.getLogger("crossroads.schema")

ENV = "CROSSROADS_CHECK_RESPONSES"
SCHEMA_VIOLATION = "response schema violation"
API_PREFIXES = ("/api/v1", "/v1")

# (method, route) → the schema of a successful JSON body; extended by the routes that add some.
JSON_SCHEMAS: dict[tuple[str, str], type[msgspec.Struct]] = {
    ("POST", "/chat/completions"): ChatResult,
    ("POST", "/responses"): ResponseObject,
    ("POST", "/messages"): MessagesResult,
    ("POST", "/completions"): CompletionResult,
    ("POST", "/embeddings"): EmbeddingsResponse,
    ("GET", "/embeddings/models"): ModelsListResponse,
    ("GET", "/models"): ModelsListResponse,
    ("GET", "/models/count"): ModelsCountResponse,
    ("GET", "/providers"): ListProvidersResponse,
    ("GET", "/generation"): GenerationResponse,
    ("GET", "/key"): CurrentKeyResponse,
    ("GET", "/credits"): CreditsResponse,
    ("GET", "/activity"): ActivityResponse,
    ("GET", "/keys"): KeyList,
    ("POST", "/keys"): KeyCreated,
    ("GET", "/keys/{hash}"): KeyResponse,
    ("PATCH", "/keys/{hash}"): KeyResponse,
    ("DELETE", "/keys/{hash}"): KeyDeleted,
}
JSON_SCHEMAS.update({
    ("GET", "/models/stats"): stats.ModelDirectory,
    ("GET", "/models/{slug}/stats/overview"): stats.OverviewResponse,
    ("GET", "/models/{slug}/stats/providers"): stats.ProvidersResponse,
    ("GET", "/models/{slug}/stats/pricing"): stats.PricingResponse,
    ("GET", "/models/{slug}/stats/performance"): stats.PerformanceResponse,
    ("GET", "/models/{slug}/stats/uptime"): stats.UptimeResponse,
    ("GET", "/models/{slug}/stats/benchmarks"): stats.BenchmarksResponse,
    ("GET", "/models/{slug}/stats/apps"): stats.AppsResponse,
    ("GET", "/models/{slug}/stats/activity"): stats.ActivityDaysResponse,
})
JSON_SCHEMAS.update({
    ("GET", "/presets"): presets.ListPresetsResponse,
    ("GET", "/presets/{slug}"): presets.GetPresetResponse,
    ("PUT", "/presets/{slug}"): presets.GetPresetResponse,
    ("DELETE", "/presets/{slug}"): presets.DeletePresetResponse,
    ("POST", "/presets/{slug}/chat/completions"): ChatResult,
})
# A struct, or a union of tagged structs for streams of several event types.
STREAM_SCHEMAS: dict[tuple[str, str], Any] = {
    ("POST", "/chat/completions"): ChatStreamChunk,
    ("POST", "/presets/{slug}/chat/completions"): ChatStreamChunk,
    ("POST", "/responses"): ResponsesStreamEvent,
    ("POST", "/messages"): MessagesStreamEvent,
    ("POST", "/completions"): CompletionChunk,
}
# Routes whose errors are not in the `{"error": {...}}` envelope.
ERROR_SCHEMAS: dict[str, type[msgspec.Struct]] = {
    "/messages": MessagesErrorResponse,
}


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def route_of(path: str) -> str | None:
    """The route a request path names, with a model slug as `{slug}`; None outside the API."""
    for prefix in API_PREFIXES:
        if path.startswith(prefix + "/"):
            rest = path[len(prefix):]
            break
    else:
        return None
    parts = rest.split("/")
    if len(parts) == 5 and parts[1] == "models" and parts[4] == "endpoints":
        return "/models/{slug}/endpoints"
    if len(parts) == 4 and parts[1] in ("models", "model") and parts[2] != "count":
        return "/model/{slug}"
    if len(parts) == 6 and parts[1] == "models" and parts[4] == "stats":
        return f"/models/{{slug}}/stats/{parts[5]}"
    if len(parts) == 3 and parts[1] == "keys":
        return "/keys/{hash}"
    if len(parts) >= 3 and parts[1] == "presets":
        return "/".join(["", "presets", "{slug}", *parts[3:]])
    return rest


def _schema_for(method: str, route: str, status: int) -> type[msgspec.Struct] | None:
    if status >= 400:
        return ERROR_SCHEMAS.get(route, ErrorResponse)
    if route == "/models/{slug}/endpoints":
        return ListEndpointsResponse
    if route == "/model/{slug}":
        return ModelResponse
    return JSON_SCHEMAS.get((method, route))


def violation(schema: Any, body: bytes) -> str | None:
    try:
        msgspec.json.decode(body, type=schema)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return f"{getattr(schema, '__name__', schema)}: {exc}"
    return None


def _misnamed(name: bytes | None, data: bytes) -> str | None:
    """A named event (`event: x`) whose data's `type` is not x: clients dispatch on the name."""
    if name is None:
        return None
    try:
        kind = orjson.loads(data).get("type")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return None if kind == name.decode() else f"event {name!r} carries type {kind!r}"


def stream_violations(schema: Any, data: bytes) -> list[str]:
    """Every event of an SSE body that breaks `schema` ([DONE] and comments are skipped)."""
    found = []
    for event in data.split(b"\n\n"):
        name: bytes | None = None
        for line in event.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[7:]
            elif line.startswith(b"data: ") and line != b"data: [DONE]":
                problem = violation(schema, line[6:]) or _misnamed(name, line[6:])
                if problem:
                    found.append(f"{problem} in {line[:300]!r}")
    return found


class ResponseChecker:
    """ASGI middleware: validate each response against its route's schema (see module doc)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_of(scope["path"])
        if route is None:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def checked_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                if _is_sse(message):
                    await send(message)
                return
            body.append(message.get("body", b""))
            if _is_sse(start):
                await send(message)
                if not message.get("more_body", False):
                    self._check_stream(method, scope["path"], route, b"".join(body))
                return
            if message.get("more_body", False):
                return
            await self._send_json(send, method, scope["path"], route, start, b"".join(body))

        await self.app(scope, receive, checked_send)

    def _check_stream(self, method: str, path: str, route: str, data: bytes) -> None:
        schema = STREAM_SCHEMAS.get((method, route))
        if schema is None:
            return
        for problem in stream_violations(schema, data):
            log.error("%s on %s %s: %s", SCHEMA_VIOLATION, method, path, problem)

    async def _send_json(self, send: Any, method: str, path: str, route: str,
                         start: dict[str, Any], data: bytes) -> None:
        schema = _schema_for(method, route, start["status"])
        problem = violation(schema, data) if schema is not None and _is_json(start) else None
        if problem is not None:
            log.error("%s on %s %s: %s", SCHEMA_VIOLATION, method, path, problem)
            data = orjson.dumps({"error": {"code": 500, "type": "api_error",
                                           "message": f"{SCHEMA_VIOLATION}: {problem}"}})
            start = {**start, "status": 500, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(data))]}
        await send(start)
        await send({"type": "http.response.body", "body": data})


def _header(message: dict[str, Any], name: bytes) -> bytes:
    for key, value in message.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return b""


def _is_sse(start: dict[str, Any]) -> bool:
    return _header(start, b"content-type").startswith(b"text/event-stream")


def _is_json(start: dict[str, Any]) -> bool:
    return _header(start, b"content-type").startswith(b"application/json")
