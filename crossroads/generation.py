"""Attempts and generations: what happened on each try, and what the caller got.

Both are mutable while the relay works and are handed to the result sink (live stats now, the
ledger later) once the generation is over. They also shape what the caller sees: the response
body's `id`, `model`, `provider` and priced `usage` come from here.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from crossroads.accounts.reservation import Reservation
from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.chat_response import shape_completion
from crossroads.errors import ERROR_TYPE_BY_STATUS
from crossroads.failures import Failure
from crossroads.healing import heal_choices, wants_healing
from crossroads.metrics import OverheadTimer
from crossroads.pricing import (
    Usage,
    cache_discount_micro,
    completion_cost_micro,
    cost_micro,
    usage_from_openai,
    usage_payload,
    usage_sum,
)
from crossroads.reasoning import shape_reasoning
from crossroads.sse import encode


class _Entropy:
    """The operating system's randomness, fetched 4 KiB at a time.

    A generation id must be unguessable (it is the handle to a stored record), but
    `os.urandom` releases the GIL around `getrandom(2)`, and on the event loop that is a cost:
    the ledger's writer thread takes the GIL and the loop waits to get it back (py-spy showed
    7 % of the router's samples there under load). The bytes are the same CSPRNG output, only
    fetched in bulk; a forked child starts afresh so it can never repeat its parent's ids.
    """

    __slots__ = ("_hex", "_lock", "_next")

    BYTES = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hex = ""
        self._next = 0

    def reset(self) -> None:
        self._hex = ""
        self._next = 0

    def hex(self, nbytes: int) -> str:
        width = 2 * nbytes
        with self._lock:
            start = self._next
            if start + width > len(self._hex):
                self._hex = os.urandom(self.BYTES).hex()
                start = 0
            self._next = start + width
            return self._hex[start:start + width]


# Process-wide on purpose, like the `secrets` module's own generator: it holds no state that
# behaviour depends on, only randomness not yet handed out.
_ENTROPY = _Entropy()
os.register_at_fork(after_in_child=_ENTROPY.reset)


def new_generation_id(now: float | None = None) -> str:
    return f"gen-{int(time.time() if now is None else now)}-{_ENTROPY.hex(10)}"


class Attempt:
    """One try at one endpoint. Times are event-loop monotonic seconds."""

    __slots__ = (
        "cost_micro",
        "ended",
        "endpoint",
        "failure",
        "first_token_at",
        "headers_at",
        "message",
        "prefill_chars",
        "skipped_events",
        "started",
        "status",
        "upstream_body",
        "usage",
    )

    def __init__(self, endpoint: Endpoint, started: float) -> None:
        self.endpoint = endpoint
        self.started = started
        self.headers_at: float | None = None
        self.first_token_at: float | None = None
        self.ended: float | None = None
        self.status: int | None = None
        self.failure: Failure | None = None
        self.message: str | None = None
        self.usage: Usage | None = None
        # What this attempt's part of the answer costs at its endpoint's prices (set with usage).
        self.cost_micro = 0
        # A continuation (resume.py): the characters of answer it was sent as prefill.
        self.prefill_chars: int | None = None
        # Harmless junk lines its stream carried (sse.py), skipped.
        self.skipped_events = 0
        # What was sent upstream, kept only for `debug.echo_upstream_body`.
        self.upstream_body: bytes | None = None

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started

    @property
    def generation_s(self) -> float | None:
        if self.first_token_at is None or self.ended is None:
            return None
        return self.ended - self.first_token_at


class Generation:
    """One caller request, across all its attempts."""

    __slots__ = (
        "app_referer", "app_title", "attempts", "cancelled", "completion_cost_micro",
        "conversation", "cost_micro", "created", "discount_micro", "external_user",
        "finish_reason", "id", "key_id", "model_requested", "native_finish_reason", "notes",
        "overhead", "preset", "prior", "reservation", "served", "session_id", "streamed",
        "surface",
        "trace_parent", "upstream_id", "usage", "user_agent",
    )

    def __init__(self, model_requested: str, streamed: bool, app_referer: str | None = None,
                 app_title: str | None = None, overhead: OverheadTimer | None = None) -> None:
        self.created = int(time.time())
        self.id = new_generation_id(self.created)
        self.model_requested = model_requested
        self.streamed = streamed
        self.app_referer = app_referer
        self.app_title = app_title
        self.user_agent: str | None = None
        self.external_user: str | None = None  # the request's `user` field
        self.session_id: str | None = None
        self.attempts: list[Attempt] = []
        self.served: Attempt | None = None
        # Attempts whose tokens the caller received before their stream broke and was resumed
        # on another endpoint (resume.py): part of the answer, so part of its price.
        self.prior: list[Attempt] = []
        self.usage: Usage | None = None
        self.cost_micro = 0
        self.completion_cost_micro = 0
        self.discount_micro = 0
        self.finish_reason: str | None = None
        self.native_finish_reason: str | None = None
        # The id the serving provider gave its answer (ours replaces it in the body).
        self.upstream_id: str | None = None
        self.cancelled = False
        # The API key it is billed to (its hash), and what it holds against that key's limit.
        self.key_id: str | None = None
        self.reservation: Reservation | None = None
        # The sticky-routing key of the conversation this generation belongs to, if any.
        self.conversation: str | None = None
        self.surface = "chat"
        self.preset: str | None = None
        # What the router changed on its own, in sentences (ledger: `notes`).
        self.notes: list[str] = []
        # The caller's W3C `traceparent`, kept only while tracing is on (observability/).
        self.trace_parent: str | None = None
        # The router's own time on this request; the relay adds its waits on providers.
        self.overhead = overhead or OverheadTimer()

    def price(self, attempt: Attempt, usage: Usage, answered: bool | None = None
              ) -> dict[str, Any]:
        """Settle usage and cost on the attempt that served; return the caller's usage object.

        `answered` says whether the answer is worth paying for; by default (a generated answer)
        it is when it has completion tokens and did not end in error, OpenRouter's zero
        completion insurance. An embeddings answer has no completion tokens and says True.

        A resumed stream's answer is its `prior` parts and this one: each priced at its own
        endpoint, usage and cost their sums."""
        self.served = attempt
        attempt.usage = usage
        attempt.cost_micro = cost_micro(usage, attempt.endpoint.pricing)
        parts = [*self.prior, attempt]
        total = usage if not self.prior else usage_sum([a.usage or usage for a in parts])
        self.usage = total
        if answered is None:
            answered = total.completion_tokens > 0
        billable = answered and self.finish_reason != "error"
        cost = sum(a.cost_micro for a in parts) if billable else 0
        completion = sum(completion_cost_micro(a.usage or usage, a.endpoint.pricing)
                         for a in parts) if billable else 0
        if self.reservation is not None:
            # A key is never billed past what it reserved (accounts/reservation.py).
            ceiling = self.reservation.ceiling(attempt.endpoint)
            cost, completion = min(cost, ceiling), min(completion, ceiling)
        self.cost_micro = cost
        self.completion_cost_micro = completion
        self.discount_micro = sum(cache_discount_micro(a.usage or usage, a.endpoint.pricing)
                                  for a in parts) if billable else 0
        return usage_payload(total, self.cost_micro, self.discount_micro,
                             self.completion_cost_micro)

    def stamp(self, payload: dict[str, Any], endpoint: Endpoint) -> None:
        """Make an upstream object ours: our id, the slug that served, the provider's name."""
        if self.upstream_id is None:
            upstream_id = payload.get("id")
            if isinstance(upstream_id, str) and upstream_id:
                self.upstream_id = upstream_id[:256]
        payload["id"] = self.id
        payload["model"] = endpoint.model
        payload["provider"] = endpoint.provider_name
        if endpoint.simulated:
            payload["crossroads"] = _SIMULATED

    def complete_body(self, attempt: Attempt, parsed: dict[str, Any],
                      request: ChatRequest) -> bytes:
        choice = parsed["choices"][0]
        self.finish_reason, self.native_finish_reason = shape_completion(parsed, self.created)
        if request.plugins.healing and wants_healing(request.body):
            healed = heal_choices(parsed["choices"])
            if healed:
                self.notes.append("response-healing repaired the JSON of choice "
                                  + ", ".join(map(str, healed)))
        exclude = request.excludes_reasoning
        for each in parsed["choices"]:
            message = each["message"]
            if exclude or "reasoning_content" in message:
                shape_reasoning(message, exclude)
        usage = usage_from_openai(parsed.get("usage"), request.image_count,
                                  attempt.endpoint.usage_prompt_includes_cached)
        if usage is None:
            usage = estimate_usage(request, _content_length(choice))
        self.stamp(parsed, attempt.endpoint)
        parsed["usage"] = self.price(attempt, usage)
        return orjson.dumps(parsed)

    def debug_event(self, attempt: Attempt) -> bytes:
        """OpenRouter's `debug.echo_upstream_body` chunk: the body sent to the provider that
        is answering, before its first content (the key travels in a header, never here)."""
        payload: dict[str, Any] = {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": attempt.endpoint.model, "provider": attempt.endpoint.provider_name,
            "choices": [{"index": 0, "delta": {}, "finish_reason": None}],
            "debug": {"echo_upstream_body": orjson.loads(attempt.upstream_body or b"{}")},
        }
        return encode(orjson.dumps(payload))

    def error_event(self, endpoint: Endpoint | None, code: int, message: str,
                    metadata: dict[str, Any]) -> bytes:
        """The one in-band event that ends a stream that cannot finish properly."""
        self.finish_reason = "error"
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": endpoint.model if endpoint else self.model_requested,
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
            "error": {"code": code, "message": message, "metadata": {
                "error_type": ERROR_TYPE_BY_STATUS.get(code, "provider_unavailable"),
                **metadata}},
        }
        if endpoint is not None:
            payload["provider"] = endpoint.provider_name
        return encode(orjson.dumps(payload))


_SIMULATED = {"simulated": True}


def _content_length(choice: Any) -> int:
    if not isinstance(choice, dict):
        return 0
    message = choice.get("message") or choice.get("delta") or {}
    content = message.get("content") if isinstance(message, dict) else None
    return len(content) if isinstance(content, str) else 0


def estimate_usage(request: ChatRequest, completion_chars: int,
                   completion_chunks: int = 0) -> Usage:
    """When a provider reports no usage: a marked estimate, never silently zero."""
    return Usage(
        prompt_tokens=request.prompt_token_estimate(0),
        completion_tokens=max(completion_chunks, (completion_chars + 3) // 4),
        images=request.image_count,
        estimated=True,
    )


ResultSink = Callable[[Generation], None]
