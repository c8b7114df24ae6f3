"""Anthropic's Messages API on every simulated endpoint: POST /PREFIX/anthropic/v1/messages.

The endpoint is the same one its OpenAI surface serves — same outcome rule, scripted faults,
outages, speeds and prompt cache — reached in Anthropic's dialect, so a router's Anthropic
translator can be tested against it, failover included. A request is authenticated by its
`x-api-key` header, or a bearer token as Anthropic's current SDK sends it (compared with the
profile's `api_key` when one is set), read with the
Messages types the router's own Anthropic surface uses, and rewritten as the chat request the
sim already knows how to answer; the answer and every error come back in Anthropic's shapes
(`anthropic_render.py`; errors as https://docs.anthropic.com/en/api/errors lists them, with
an overload as 529 `overloaded_error`).

Prompt caching follows Anthropic's rule that only a request with a `cache_control` breakpoint
reads or writes the cache: such a request reads the longest prefix the endpoint has cached and
writes everything before its last message (when that reaches `cache_min_tokens`); a request
without one is neither read from nor written to the cache.
"""

from __future__ import annotations

import time
from typing import Any, Final

import orjson

from crossroads.errors import BadRequest
from crossroads.sim.anthropic_render import AnthropicReply, anthropic_error
from crossroads.sim.chat import SERVED, ChatService, Pending, entry
from crossroads.sim.continuation import REFUSAL, prefill_of
from crossroads.sim.endpoint import EndpointState, SimState
from crossroads.sim.play import BLOCK_PLAYS, STREAM_PLAYS
from crossroads.sim.profile import Outcome
from crossroads.sim.prompt import BadRequestError, parse_chat
from crossroads.sim.render import ERRORS, error_message, retry_after_headers
from crossroads.sim.wire import Exchange
from crossroads.surfaces.messages_chat import chat_body
from crossroads.surfaces.messages_request import parse

__all__ = ["AnthropicService"]

# Sim outcomes that are HTTP errors, as Anthropic's (status, error type).
_ERRORS: Final[dict[Outcome, tuple[int, str]]] = {
    "http_400": (400, "invalid_request_error"),
    "context_length": (400, "invalid_request_error"),
    "content_filter": (400, "invalid_request_error"),
    "http_401": (401, "authentication_error"),
    "http_402": (402, "billing_error"),
    "http_404": (404, "not_found_error"),
    "http_408": (408, "timeout_error"),
    "http_413": (413, "request_too_large"),
    "http_429": (429, "rate_limit_error"),
    "http_429_retry_after": (429, "rate_limit_error"),
    "http_500": (500, "api_error"),
    "http_502": (502, "api_error"),
    "http_503": (529, "overloaded_error"),
}


class AnthropicService:
    __slots__ = ("_chat", "_state")

    def __init__(self, state: SimState, chat: ChatService) -> None:
        self._state = state
        self._chat = chat

    @staticmethod
    def authorized(ep: EndpointState, ex: Exchange) -> str | None:
        key = ex.headers.get(b"x-api-key", b"").strip()
        if not key:
            # Anthropic's own SDK (2.x) sends the key as a bearer token; the API takes both.
            scheme, _, token = ex.headers.get(b"authorization", b"").partition(b" ")
            key = token.strip() if scheme.lower() == b"bearer" else b""
        if not key:
            return "x-api-key header is required"
        expected = ep.profile.api_key
        if expected is not None and key.decode("utf-8", "replace") != expected:
            return "invalid x-api-key"
        return None

    def not_found(self, ex: Exchange, model: Any) -> Pending:
        ex.send(404, anthropic_error("not_found_error", f"model: {model}"))
        return None

    def model_of(self, ex: Exchange) -> Any:
        try:
            body = orjson.loads(ex.body)
        except orjson.JSONDecodeError:
            return None
        return body.get("model") if isinstance(body, dict) else None

    def messages(self, ep: EndpointState, ex: Exchange) -> Pending:
        ep.requests += 1
        now = self._state.elapsed()
        p = ep.profile_at(now)
        reason = self.authorized(ep, ex)
        if reason is not None:
            ep.record(entry(now, "http_401", None, None))
            ex.send(401, anthropic_error("authentication_error", reason))
            return None
        raw: Any = None
        try:
            request, raw = parse(ex.body)
            chat = chat_body(request, raw)
            chat["model"] = request.model
            # Claude thinks only when `thinking` asks it to, whatever the model can do.
            chat.setdefault("reasoning", {"enabled": False})
            req = parse_chat(chat, p.image_tokens, p.cache)
            prefill = prefill_of(req)
            if prefill is not None and not p.supports_prefill:
                raise BadRequestError(REFUSAL, "messages")
            if prefill is not None and prefill != prefill.rstrip():
                # Anthropic's own rule for a prefilled assistant turn.
                raise BadRequestError("messages: final assistant content cannot end with "
                                      "trailing whitespace", "messages")
        except (BadRequest, BadRequestError) as exc:
            ep.record(entry(now, "http_400", None, raw))
            ex.send(400, anthropic_error("invalid_request_error", exc.message))
            return None

        marked = p.cache and b"cache_control" in ex.body
        cached = ep.cache.lookup(req.prefixes, p.cache_min_tokens) if marked else 0
        outcome, detail = ep.decide(req, now)
        ep.record(entry(now, outcome, req, raw, cached))

        error = _ERRORS.get(outcome)
        if error is not None:
            status, kind = error
            message = detail or error_message(outcome, ERRORS[outcome], p, req.prompt_tokens,
                                              req.max_tokens)
            if outcome == "context_length":
                message = (f"prompt is too long: {req.prompt_tokens + (req.max_tokens or 0)} "
                           f"tokens > {p.context_length} maximum")
            extra = retry_after_headers(p.retry_after_s) \
                if outcome == "http_429_retry_after" else b""
            ex.send(status, anthropic_error(kind, message), extra=extra)
            return None
        written = 0
        if marked and outcome in SERVED:
            upto = req.prefixes[-2][1] if len(req.prefixes) > 1 else 0
            if upto >= p.cache_min_tokens and upto > cached:
                written = upto - cached
            ep.cache.remember(req.prefixes[:-1], p.cache_min_tokens)

        reply = AnthropicReply(ex, req, p, completion_id=self._chat.next_id(),
                               created=int(time.time()), cached=cached,
                               timing=ep.sample_timing(self._state.time_scale, now),
                               written=written)
        plays = STREAM_PLAYS if req.stream else BLOCK_PLAYS
        return ep.start(plays[outcome](reply))
