"""Gemini's answers read as ours: usage, finish reasons, errors and the whole response.

Sources (Google's public references, as stored 2026-12-07):
  https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse   candidates,
      promptFeedback, usageMetadata, FinishReason, BlockReason
  https://ai.google.dev/gemini-api/docs/caching     cached tokens are part of the prompt
  https://ai.google.dev/gemini-api/docs/troubleshooting    error statuses and what they mean
  https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/GenerateContentResponse

Usage. `promptTokenCount` is the whole prompt, cached content included ("when cachedContent is
set, this is still the total effective prompt size"); `cachedContentTokenCount` is the cached
part of it. That is already our convention: `prompt_tokens` is the prompt, `cached_tokens` the
part of it read from the cache — nothing is added. Tool-use prompt tokens (what built-in tools
fed back) are prompt too. `candidatesTokenCount` does not count thinking, which Gemini reports
apart as `thoughtsTokenCount` and bills as output: our `completion_tokens` is their sum, and
`reasoning_tokens` the thinking.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from crossroads.failures import AttemptError, Failure
from crossroads.providers import chat_answer
from crossroads.providers.gemini_request import REASONING_FORMAT
from crossroads.providers.openai import MAX_ERROR_EXCERPT, classify_error, retry_after_seconds

# FinishReason → OpenAI's finish_reason (the native one is kept beside it). Unknown ones, and
# those that are neither a length nor a filter (OTHER, MALFORMED_FUNCTION_CALL…), read "stop".
FINISH_REASONS: dict[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}

# error.status (google.rpc.Code) → how the attempt failed; INVALID_ARGUMENT and
# FAILED_PRECONDITION are read by their message first.
STATUS_FAILURES: dict[str, Failure] = {
    "UNAUTHENTICATED": Failure.UPSTREAM_AUTH,
    "PERMISSION_DENIED": Failure.UPSTREAM_AUTH,
    "NOT_FOUND": Failure.UPSTREAM_NOT_FOUND,
    "RESOURCE_EXHAUSTED": Failure.RATE_LIMITED,
    "INTERNAL": Failure.SERVER_ERROR,
    "UNAVAILABLE": Failure.SERVER_ERROR,
    "DEADLINE_EXCEEDED": Failure.UPSTREAM_TIMEOUT,
    # "User location is not supported", billing not enabled: this endpoint cannot serve.
    "FAILED_PRECONDITION": Failure.UPSTREAM_AUTH,
}
# An invalid key is a 400 INVALID_ARGUMENT with reason API_KEY_INVALID, not a 401.
_BAD_KEY = re.compile(r"API key not valid|API_KEY_INVALID|API key expired", re.IGNORECASE)
_TOO_LONG = re.compile(r"exceeds the maximum number of tokens|input token count", re.IGNORECASE)
_RETRY_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")

Chunk = dict[str, Any]


_count = chat_answer.count


def chat_usage(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Gemini's usageMetadata as an OpenAI-style usage object (module doc)."""
    prompt = _count(raw.get("promptTokenCount")) + _count(raw.get("toolUsePromptTokenCount"))
    cached = min(_count(raw.get("cachedContentTokenCount")), prompt)
    thoughts = _count(raw.get("thoughtsTokenCount"))
    completion = _count(raw.get("candidatesTokenCount")) + thoughts
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    if thoughts:
        usage["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    return usage


def finish_reason(native: str, called_tools: bool) -> str:
    mapped = FINISH_REASONS.get(native, "stop")
    return "tool_calls" if mapped == "stop" and called_tools else mapped


def _retry_delay(details: Any) -> float | None:
    """RetryInfo's `retryDelay` ("20s"), which Gemini sends with a 429 instead of a header."""
    for detail in details if isinstance(details, list) else ():
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        match = _RETRY_DELAY.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None


def _error_fields(parsed: Any) -> tuple[str, str, Any, int | None]:
    """(status, message, details, code) of `{"error": {...}}`, or of the one-element list
    Vertex wraps it in."""
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return "", "", None, None
    code = error.get("code")
    return (str(error.get("status") or ""), str(error.get("message") or "")[:MAX_ERROR_EXCERPT],
            error.get("details"), code if isinstance(code, int) else None)


def error_failure(status_name: str, message: str, status: int, details: Any) -> Failure:
    detail_text = orjson.dumps(details).decode() if details is not None else ""
    if _BAD_KEY.search(message) or _BAD_KEY.search(detail_text):
        return Failure.UPSTREAM_AUTH
    if status_name in ("INVALID_ARGUMENT", "") and _TOO_LONG.search(message):
        return Failure.CONTEXT_LENGTH
    failure = STATUS_FAILURES.get(status_name)
    if failure is not None:
        return failure
    return classify_error(status_name, message, status)


def classify(status: int, headers: Mapping[str, str], body: bytes) -> AttemptError:
    """A non-2xx answer: `{"error": {"code", "message", "status", "details"}}`."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    name, message, details, _ = _error_fields(parsed)
    if not name and not message:
        message = body[:MAX_ERROR_EXCERPT].decode("utf-8", "replace")
    retry_after = retry_after_seconds(headers)
    if retry_after is None and status == 429:
        retry_after = _retry_delay(details)
    return AttemptError(error_failure(name, message, status, details),
                        message or f"HTTP {status}", status=status, retry_after_s=retry_after)


def in_band(parsed: Any) -> AttemptError:
    """An error object where an answer or a stream event was expected."""
    name, message, details, code = _error_fields(parsed)
    status = code if code is not None and 400 <= code < 600 else 502
    return AttemptError(error_failure(name, message, status, details),
                        message or "provider error", status=status)


def blocked(parsed: Mapping[str, Any]) -> AttemptError | None:
    """The prompt itself was blocked (`promptFeedback.blockReason`, no candidates): the
    caller's answer, as a content filter."""
    feedback = parsed.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if reason is None or parsed.get("candidates"):
        return None
    return AttemptError(Failure.CONTENT_FILTER, f"the provider blocked the prompt ({reason})",
                        status=400)


def new_call_id() -> str:
    """Gemini's calls often come without an id (its answers are matched by name): ours."""
    return "call_" + uuid.uuid4().hex[:24]


class Pieces:
    """What parts say, in chat terms: text, reasoning, tool calls, thought signatures."""

    __slots__ = ("calls", "details", "reasoning", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.details: list[dict[str, Any]] = []

    def read(self, parts: Any, first_call: int = 0) -> None:
        if not isinstance(parts, list):
            if parts is None:
                return
            raise AttemptError(Failure.MALFORMED, "the provider sent parts that are no list")
        for part in parts:
            if not isinstance(part, dict):
                raise AttemptError(Failure.MALFORMED, "the provider sent a non-object part")
            self._part(part, first_call)

    def _part(self, part: dict[str, Any], first_call: int) -> None:
        signature = part.get("thoughtSignature")
        call = part.get("functionCall")
        if isinstance(call, dict):
            call_id = call.get("id") if isinstance(call.get("id"), str) and call["id"] \
                else new_call_id()
            args = call.get("args")
            self.calls.append({"index": first_call + len(self.calls), "id": call_id,
                               "type": "function",
                               "function": {"name": str(call.get("name") or ""),
                                            "arguments": orjson.dumps(
                                                args if isinstance(args, dict) else {}).decode()}})
            if isinstance(signature, str) and signature:
                self.details.append({"type": "reasoning.encrypted", "data": signature,
                                     "id": call_id, "format": REASONING_FORMAT,
                                     "index": len(self.details)})
            return
        text = part.get("text")
        if isinstance(text, str):
            (self.reasoning if part.get("thought") is True else self.texts).append(text)


def completion(parsed: dict[str, Any]) -> dict[str, Any]:
    """A whole GenerateContentResponse as a chat completion."""
    if "error" in parsed:
        raise in_band(parsed)
    refusal = blocked(parsed)
    if refusal is not None:
        raise refusal
    candidates = parsed.get("candidates")
    if not isinstance(candidates, list) or not candidates or \
            not isinstance(candidates[0], dict):
        raise AttemptError(Failure.EMPTY, "the provider returned no candidates")
    candidate = candidates[0]
    content = candidate.get("content")
    pieces = Pieces()
    pieces.read(content.get("parts") if isinstance(content, dict) else None)
    calls = [{k: v for k, v in call.items() if k != "index"} for call in pieces.calls]
    message: dict[str, Any] = {"role": "assistant",
                               "content": "".join(pieces.texts) if pieces.texts or not calls
                               else None}
    if calls:
        message["tool_calls"] = calls
    if pieces.reasoning:
        message["reasoning"] = "".join(pieces.reasoning)
    if pieces.details:
        message["reasoning_details"] = pieces.details
    native = candidate.get("finishReason")
    choice = {"index": 0, "message": message,
              "finish_reason": finish_reason(str(native), bool(calls)),
              "native_finish_reason": None if native is None else str(native),
              "logprobs": None}
    answer: dict[str, Any] = {"id": parsed.get("responseId"), "object": "chat.completion",
                              "model": parsed.get("modelVersion"), "choices": [choice]}
    usage = parsed.get("usageMetadata")
    if isinstance(usage, dict):  # without one, the router estimates and says so
        answer["usage"] = chat_usage(usage)
    return answer
