"""OpenAI's dialect, spoken by nearly every provider: chat completions and embeddings."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

import orjson

from crossroads.catalog import Endpoint
from crossroads.chat_request import ROUTER_FIELDS, ChatRequest
from crossroads.errors import BadRequest
from crossroads.failures import STATUS_FAILURE, AttemptError, Failure
from crossroads.http_client import FrozenHeaders
from crossroads.operations import Operation
from crossroads.providers.base import UpstreamRequest, answer_object
from crossroads.sse import SSEDecoder

MAX_ERROR_EXCERPT = 500
MAX_HEADER_SETS = 256  # (key, stream) pairs: twice the configured keys, with room to spare

_CONTEXT_LENGTH = re.compile(
    r"context[ _-]?(length|window)|maximum context|too many tokens|prompt is too long|"
    r"reduce the length",
    re.IGNORECASE,
)
_CONTENT_FILTER = re.compile(r"content[ _-]?(filter|policy|management)|moderation|flagged",
                             re.IGNORECASE)
_CALLER_STATUSES = frozenset({400, 409, 413, 422})
_PATHS: dict[Operation, str] = {
    Operation.CHAT: "/chat/completions",
    Operation.EMBEDDINGS: "/embeddings",
}


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Retry-After as seconds (delta or HTTP date), or OpenAI's retry-after-ms."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(when - (time.time() if now is None else now), 0.0)


def _error_text(body: bytes) -> tuple[str, str]:
    """(code, message) from an OpenAI-style error body, tolerating anything."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", body[:MAX_ERROR_EXCERPT].decode("utf-8", "replace")
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type") or ""
        message = error.get("message") or ""
        return str(code), str(message)[:MAX_ERROR_EXCERPT]
    if isinstance(error, str):
        return "", error[:MAX_ERROR_EXCERPT]
    return "", body[:MAX_ERROR_EXCERPT].decode("utf-8", "replace")


def classify_error(code: str, message: str, status: int) -> Failure:
    text = f"{code} {message}"
    if status in _CALLER_STATUSES or status == 403:
        if "context_length" in code or _CONTEXT_LENGTH.search(message):
            return Failure.CONTEXT_LENGTH
        if "content_filter" in code or _CONTENT_FILTER.search(text):
            return Failure.CONTENT_FILTER
    if status in STATUS_FAILURE:
        return STATUS_FAILURE[status]
    if status >= 500:
        return Failure.SERVER_ERROR
    return Failure.CALLER_ERROR


class OpenAIProvider:
    """One instance serves every OpenAI-compatible endpoint; its only state is a cache of the
    request headers, which depend on nothing but the key and whether the answer streams."""

    def __init__(self) -> None:
        self._header_sets: dict[tuple[str | None, bool], FrozenHeaders] = {}

    def _headers(self, api_key: str | None, stream: bool) -> FrozenHeaders:
        cached = self._header_sets.get((api_key, stream))
        if cached is not None:
            return cached
        headers = {"content-type": "application/json"}
        if stream:
            headers["accept"] = "text/event-stream"
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        if len(self._header_sets) >= MAX_HEADER_SETS:
            self._header_sets.clear()
        built = self._header_sets[(api_key, stream)] = FrozenHeaders(headers)
        return built

    def build(self, endpoint: Endpoint, api_key: str | None, request: ChatRequest,
              max_tokens: int | None = None) -> UpstreamRequest:
        body = {k: v for k, v in request.body.items() if k not in ROUTER_FIELDS}
        body["model"] = endpoint.upstream_model
        if request.operation is Operation.EMBEDDINGS:
            # Vectors come back as floats whatever the caller asked: the router checks them
            # and encodes base64 itself, so every provider's answer reads the same.
            body["encoding_format"] = "float"
        else:
            if request.reasoning is not None and "reasoning" in endpoint.supported_parameters:
                effort = request.reasoning.upstream_effort(max_tokens or request.max_tokens)
                if effort is not None:
                    body["reasoning_effort"] = effort
            if max_tokens is not None:
                if "max_completion_tokens" in body:
                    body["max_completion_tokens"] = max_tokens
                if "max_tokens" in body or "max_completion_tokens" not in body:
                    body["max_tokens"] = max_tokens
            if request.stream:
                options = dict(body.get("stream_options") or {})
                options["include_usage"] = True
                body["stream_options"] = options
        headers = self._headers(api_key, request.stream)
        try:
            encoded = orjson.dumps(body)
        except orjson.JSONEncodeError:
            # orjson reads 1024 levels of nesting but writes only 254: refuse, don't crash.
            raise BadRequest("Request body is nested too deeply") from None
        return UpstreamRequest(
            url=endpoint.base_url + _PATHS[request.operation],
            headers=headers,
            body=encoded,
        )

    def parse_completion(self, raw: bytes, request: ChatRequest | None = None
                         ) -> dict[str, Any]:
        parsed = answer_object(raw)
        if "error" in parsed and not parsed.get("choices"):
            raise self._in_band(parsed)
        choices = parsed.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise AttemptError(Failure.EMPTY, "the provider returned no choices")
        return parsed

    def parse_embeddings(self, raw: bytes) -> dict[str, Any]:
        parsed = answer_object(raw)
        if "error" in parsed and not parsed.get("data"):
            raise self._in_band(parsed)
        data = parsed.get("data")
        if not isinstance(data, list) or not data:
            raise AttemptError(Failure.EMPTY, "the provider returned no embeddings")
        return parsed

    def parse_chunk(self, data: bytes) -> dict[str, Any]:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise AttemptError(Failure.MALFORMED,
                               "the provider sent a malformed stream event") from None
        if not isinstance(parsed, dict):
            raise AttemptError(Failure.MALFORMED, "the provider sent a non-object stream event")
        if "error" in parsed:
            raise self._in_band(parsed)
        return parsed

    def stream_translator(self, request: ChatRequest) -> OpenAIProvider:
        # Stateless: every attempt shares the provider itself.
        return self

    ended = False

    def framing(self, max_event_bytes: int) -> SSEDecoder:
        return SSEDecoder(max_event_bytes)

    def chunks(self, data: bytes) -> list[dict[str, Any]]:
        return [self.parse_chunk(data)]

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> AttemptError:
        code, message = _error_text(body)
        failure = classify_error(code, message, status)
        return AttemptError(
            failure,
            message or f"HTTP {status}",
            status=status,
            retry_after_s=retry_after_seconds(headers),
        )

    @staticmethod
    def _in_band(parsed: dict[str, Any]) -> AttemptError:
        error = parsed.get("error")
        code, message = ("", str(error)) if not isinstance(error, dict) else (
            str(error.get("code") or ""), str(error.get("message") or ""))
        status = error.get("code") if isinstance(error, dict) else None
        status = status if isinstance(status, int) and 400 <= status < 600 else 502
        return AttemptError(classify_error(code, message, status),
                            message[:MAX_ERROR_EXCERPT] or "provider error", status=status)
