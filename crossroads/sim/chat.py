"""The provider surface of one endpoint: POST chat/completions and GET models.

A chat request is authenticated, parsed, given its outcome (see `endpoint.py` for the rule),
logged, and then either answered with an error status here or handed to a play.
Only well-formed, authenticated requests consume a scripted outcome.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Sequence
from typing import Any, Final

import orjson

from crossroads.sim.continuation import REFUSAL, prefill_of
from crossroads.sim.endpoint import EndpointState, LogEntry, SimState
from crossroads.sim.play import BLOCK_PLAYS, STREAM_PLAYS, Reply
from crossroads.sim.profile import OUTCOMES, Outcome
from crossroads.sim.prompt import BadRequestError, ChatRequest, parse_chat
from crossroads.sim.render import ERRORS, error_message, retry_after_headers
from crossroads.sim.wire import Exchange, error_body

__all__ = ["SERVED", "ChatService", "Pending", "entry"]

Pending = asyncio.Task[None] | None

_UNPARSED: Final = object()

# Outcomes in which the provider processed the prompt, so its prefixes enter the cache.
SERVED: Final[frozenset[Outcome]] = frozenset(OUTCOMES) - set(ERRORS) - {"reset", "no_answer"}


class ChatService:
    """Answers the provider routes of every endpoint of one sim."""

    __slots__ = ("_ids", "_prefix", "_state")

    def __init__(self, state: SimState) -> None:
        self._state = state
        self._ids = itertools.count(1)
        # A per-process prefix keeps ids unique across sim restarts sharing one ledger.
        self._prefix = os.urandom(4).hex()

    def next_id(self) -> str:
        """A new completion id, unique across this sim's surfaces."""
        return f"chatcmpl-{self._prefix}{next(self._ids):012d}"

    def authorized(self, ep: EndpointState, ex: Exchange) -> str | None:
        """None when authorized, else the reason for a 401."""
        header = ex.headers.get(b"authorization", b"")
        scheme, _, key = header.partition(b" ")
        if scheme.lower() != b"bearer" or not key.strip():
            return "Missing bearer token in the Authorization header."
        expected = ep.profile.api_key
        if expected is not None and key.strip().decode("utf-8", "replace") != expected:
            return "Incorrect API key provided."
        return None

    def models(self, eps: Sequence[EndpointState], ex: Exchange) -> Pending:
        """The models served under one prefix that this caller's key may use."""
        reasons = [self.authorized(ep, ex) for ep in eps]
        listed = [
            {
                "id": ep.profile.model,
                "object": "model",
                "created": 0,
                "owned_by": ep.profile.provider or ep.profile.name,
                "context_length": ep.profile.context_length,
                "max_output": ep.profile.max_output,
            }
            for ep, reason in zip(eps, reasons, strict=True)
            if reason is None
        ]
        if not listed:
            ex.send(401, error_body(reasons[0] or "", "authentication_error", "invalid_api_key"))
            return None
        ex.send(200, orjson.dumps({"object": "list", "data": listed}))
        return None

    def _reject(
        self, ep: EndpointState, ex: Exchange, status: int, body: bytes, entry: LogEntry
    ) -> Pending:
        ep.record(entry)
        ex.send(status, body)
        return None

    def completions(self, ep: EndpointState, ex: Exchange, parsed: Any = _UNPARSED,
                    authorized: bool = False) -> Pending:
        """Answer one chat request; `parsed` is its body when the server already decoded it,
        `authorized` when the surface already checked the caller its own way (Vertex)."""
        ep.requests += 1
        now = self._state.elapsed()
        p = ep.profile_at(now)
        reason = None if authorized else self.authorized(ep, ex)
        if reason is not None:
            body = error_body(reason, "authentication_error", "invalid_api_key")
            return self._reject(ep, ex, 401, body, entry(now, "http_401", None, None))
        raw: Any = None
        try:
            raw = orjson.loads(ex.body) if parsed is _UNPARSED else parsed
            req = parse_chat(raw, p.image_tokens, p.cache)
            if not p.supports_prefill and prefill_of(req) is not None:
                raise BadRequestError(REFUSAL, "messages")
        except (orjson.JSONDecodeError, BadRequestError) as exc:
            message = (
                exc.message if isinstance(exc, BadRequestError) else "request body is not JSON"
            )
            param = exc.param if isinstance(exc, BadRequestError) else None
            body = error_body(message, "invalid_request_error", None, param)
            return self._reject(ep, ex, 400, body, entry(now, "http_400", None, raw))

        cached = ep.cache.lookup(req.prefixes, p.cache_min_tokens) if p.cache else 0
        outcome, detail = ep.decide(req, now)
        ep.record(entry(now, outcome, req, req.body, cached))

        spec = ERRORS.get(outcome)
        if spec is not None:
            message = detail or error_message(outcome, spec, p, req.prompt_tokens, req.max_tokens)
            extra = (
                retry_after_headers(p.retry_after_s) if outcome == "http_429_retry_after" else b""
            )
            ex.send(spec.status, error_body(message, spec.type, spec.code), extra=extra)
            return None
        if p.cache and outcome in SERVED:
            ep.cache.remember(req.prefixes, p.cache_min_tokens)

        reply = Reply(
            ex,
            req,
            p,
            completion_id=self.next_id(),
            created=int(time.time()),
            cached=cached,
            timing=ep.sample_timing(self._state.time_scale, now),
        )
        plays = STREAM_PLAYS if req.stream else BLOCK_PLAYS
        return ep.start(plays[outcome](reply))


def entry(t: float, outcome: str, req: ChatRequest | None, body: Any,
          cached: int = 0) -> LogEntry:
    model = body.get("model") if isinstance(body, dict) else None
    return LogEntry(
        t=t,
        outcome=outcome,
        stream=bool(body.get("stream")) if isinstance(body, dict) else False,
        model=model if isinstance(model, str) else None,
        prompt_tokens=req.prompt_tokens if req is not None else 0,
        cached_tokens=cached,
        max_tokens=req.max_tokens if req is not None else None,
        has_images=bool(req.images) if req is not None else False,
        body=body,
    )
