"""Bedrock Converse answers read as ours: usage, stop reasons, errors and the whole message.

Sources (AWS's public reference, as stored 2026-12-07):
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
      the response: output.message.content, stopReason, usage, metrics; the errors and statuses
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html
      inputTokens, outputTokens, totalTokens, cacheReadInputTokens, cacheWriteInputTokens
  https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html
      cache reads and writes are counted apart from inputTokens
  https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html
      the errors every AWS API shares (signature, unknown key, expired token)

Usage. Bedrock's `inputTokens` is the prompt neither read from nor written to the cache;
`cacheReadInputTokens` and `cacheWriteInputTokens` add to it. Ours counts the whole prompt in
`prompt_tokens` with reads in `prompt_tokens_details.cached_tokens` and writes in
`cache_write_tokens`, so `pricing.py` bills each at its own price. `outputTokens` includes any
reasoning; Bedrock does not say how much, so `reasoning_tokens` is not reported.

Errors. A non-2xx answer names its error in the `x-amzn-errortype` header
(`ValidationException:http://internal.amazon.com/coral/...`), or in the body's `__type`, with the
text in `message` (or `Message`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from crossroads.credentials import CredentialRejected
from crossroads.failures import AttemptError, Failure
from crossroads.providers import chat_answer
from crossroads.providers.bedrock_request import REASONING_FORMAT
from crossroads.providers.openai import MAX_ERROR_EXCERPT, classify_error, retry_after_seconds

# stopReason → OpenAI's finish_reason; the native one is kept beside it, unknown ones too.
STOP_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}

# The error's name (header or `__type`, lower-cased, first letter of stream exceptions too) →
# how the attempt failed. ValidationException is read by its message.
ERROR_FAILURES: dict[str, Failure] = {
    "throttlingexception": Failure.RATE_LIMITED,
    "servicequotaexceededexception": Failure.RATE_LIMITED,
    "serviceunavailableexception": Failure.SERVER_ERROR,
    "internalserverexception": Failure.SERVER_ERROR,
    "internalfailure": Failure.SERVER_ERROR,
    "modelerrorexception": Failure.SERVER_ERROR,
    "modelstreamerrorexception": Failure.SERVER_ERROR,
    # "not ready to serve": the model is loading; another endpoint can answer now.
    "modelnotreadyexception": Failure.SERVER_ERROR,
    "modeltimeoutexception": Failure.UPSTREAM_TIMEOUT,
    "accessdeniedexception": Failure.UPSTREAM_AUTH,
    "unrecognizedclientexception": Failure.UPSTREAM_AUTH,
    "invalidsignatureexception": Failure.UPSTREAM_AUTH,
    "expiredtokenexception": Failure.UPSTREAM_AUTH,
    "incompletesignatureexception": Failure.UPSTREAM_AUTH,
    "missingauthenticationtokenexception": Failure.UPSTREAM_AUTH,
    "resourcenotfoundexception": Failure.UPSTREAM_NOT_FOUND,
}

# The errors that say the signature itself was refused (a wrong secret, an unknown, revoked or
# expired key): the credential is wrong, not the request, and every endpoint signed with it
# will be refused alike.
SIGNATURE_ERRORS = frozenset({"unrecognizedclientexception", "invalidsignatureexception",
                              "expiredtokenexception", "incompletesignatureexception",
                              "missingauthenticationtokenexception"})

# The status an exception inside a 200 stream stands for (ConverseStreamOutput's reference).
STREAM_STATUSES: dict[str, int] = {
    "internalserverexception": 500,
    "modelstreamerrorexception": 424,
    "validationexception": 400,
    "throttlingexception": 429,
    "serviceunavailableexception": 503,
}

_CONTEXT = re.compile(r"too long|too many (input )?tokens|context (length|window)|"
                      r"input length|maximum (context|input)|exceeds? the max", re.IGNORECASE)
_FILTER = re.compile(r"guardrail|content (filter|policy)|blocked by", re.IGNORECASE)


def error_name(raw: Any) -> str:
    """`ValidationException:http://…` or `com.amazon.coral#ValidationException` → its name."""
    text = str(raw or "").split(":", 1)[0]
    return text.rsplit("#", 1)[-1].strip().lower()


def error_failure(name: str, message: str, status: int) -> Failure:
    failure = ERROR_FAILURES.get(name)
    if failure is not None:
        return failure
    if name == "validationexception" or status in (400, 413, 422):
        if _CONTEXT.search(message):
            return Failure.CONTEXT_LENGTH
        if _FILTER.search(message):
            return Failure.CONTENT_FILTER
    return classify_error("", message, status)


def _message(parsed: Any, body: bytes) -> str:
    if isinstance(parsed, dict):
        text = parsed.get("message") or parsed.get("Message")
        if isinstance(text, str):
            return text[:MAX_ERROR_EXCERPT]
    return body[:MAX_ERROR_EXCERPT].decode("utf-8", "replace")


def classify(status: int, headers: Mapping[str, str], body: bytes) -> AttemptError:
    try:
        parsed = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        parsed = None
    name = error_name(headers.get("x-amzn-errortype")
                      or (parsed.get("__type") if isinstance(parsed, dict) else None))
    message = _message(parsed, body)
    kind = CredentialRejected if name in SIGNATURE_ERRORS else AttemptError
    return kind(error_failure(name, message, status), message or f"HTTP {status}",
                status=status, retry_after_s=retry_after_seconds(headers))


def in_band(name: str, payload: Any) -> AttemptError:
    """An exception event inside a 200 stream (or an `error` message of the framing)."""
    key = name.lower()
    message = ""
    if isinstance(payload, dict):
        message = str(payload.get("message") or payload.get("originalMessage") or "")
        if key == "error":
            key = error_name(payload.get("code"))
    status = STREAM_STATUSES.get(key, 502)
    return AttemptError(error_failure(key, message, status),
                        message[:MAX_ERROR_EXCERPT] or f"the provider sent {name}", status=status)


# (fresh input, cache read, cache write, output) in the dialect's usage object.
_USAGE_KEYS = ("inputTokens", "cacheReadInputTokens", "cacheWriteInputTokens", "outputTokens")


def chat_usage(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Bedrock's TokenUsage as an OpenAI-style usage with cache reads and writes inside
    `prompt_tokens` (module doc)."""
    return chat_answer.cached_usage(raw, _USAGE_KEYS)


def finish_reason(stop_reason: Any) -> str:
    return STOP_REASONS.get(str(stop_reason), "stop")


def reasoning_detail(index: int, **fields: Any) -> dict[str, Any]:
    return chat_answer.reasoning_detail(REASONING_FORMAT, index, **fields)


def _reasoning(index: int, block: Any) -> dict[str, Any] | None:
    if not isinstance(block, dict):
        return None
    text = block.get("reasoningText")
    if isinstance(text, dict) and isinstance(text.get("text"), str):
        return reasoning_detail(index, text=text["text"],
                                signature=str(text.get("signature") or ""))
    if isinstance(block.get("redactedContent"), str):
        return reasoning_detail(index, data=block["redactedContent"])
    return None


def _read_block(parts: chat_answer.BlockParts, index: int, block: dict[str, Any]) -> None:
    if isinstance(block.get("text"), str):
        parts.texts.append(block["text"])
    elif isinstance(block.get("toolUse"), dict):
        use = block["toolUse"]
        parts.calls.append(chat_answer.tool_call(
            str(use.get("toolUseId") or ""), str(use.get("name") or ""),
            orjson.dumps(use.get("input") or {}).decode()))
    elif (detail := _reasoning(index, block.get("reasoningContent"))) is not None:
        parts.thoughts.append(detail)


def completion(parsed: dict[str, Any]) -> dict[str, Any]:
    """A whole Converse response as a chat completion."""
    output = parsed.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        name = error_name(parsed.get("__type"))
        if name:
            raise in_band(name, parsed)
        raise AttemptError(Failure.MALFORMED, "the provider's answer has no output message")
    texts, thoughts, calls = chat_answer.block_parts(content, _read_block)
    stop = parsed.get("stopReason")
    answer = chat_answer.assistant_message(texts, thoughts, calls)
    choice = {"index": 0, "message": answer, "finish_reason": finish_reason(stop),
              "native_finish_reason": None if stop is None else str(stop), "logprobs": None}
    result: dict[str, Any] = {"id": None, "object": "chat.completion", "model": None,
                              "choices": [choice]}
    usage = parsed.get("usage")
    if isinstance(usage, dict):  # without one, the router estimates and says so
        result["usage"] = chat_usage(usage)
    return result
