"""Google's Gemini surfaces on every simulated endpoint.

    POST /PREFIX/gemini/v1beta/models/MODEL:generateContent             the Gemini API
    POST /PREFIX/gemini/v1beta/models/MODEL:streamGenerateContent?alt=sse
    POST /PREFIX/vertex/v1/projects/P/locations/L/publishers/google/models/MODEL:…  Vertex AI
    POST /PREFIX/vertex/v1/projects/P/locations/L/endpoints/openapi/chat/completions
                                   Vertex's OpenAI-compatible surface (Llama and other MaaS)

The endpoint is the same one its OpenAI surface serves — same outcome rule, scripted faults,
outages, speeds and prompt cache — reached in Gemini's dialect. Who may call differs by surface,
as on Google's: the Gemini API takes an API key (`x-goog-api-key`, or `?key=`; compared with
the profile's `api_key` when one is set; a wrong one is Google's 400 API_KEY_INVALID), Vertex
takes only a live bearer token from the sim's OAuth endpoint (`google_auth.py`; anything else
is a 401 UNAUTHENTICATED). The body is checked strictly and read as a chat request
(`gemini_request.py`); answers are written as Gemini writes them (`gemini_render.py`), errors
in Google's shape with Google's statuses. Caching is Gemini's implicit caching: any request
reads the longest prefix the endpoint has seen and the prompt's prefixes are remembered.
"""

from __future__ import annotations

import re
import time
from typing import Any, Final
from urllib.parse import parse_qs

import orjson

from crossroads.sim.chat import SERVED, ChatService, Pending
from crossroads.sim.endpoint import EndpointState, LogEntry, SimState
from crossroads.sim.gemini_render import GeminiReply
from crossroads.sim.gemini_request import chat_of
from crossroads.sim.google_auth import google_error
from crossroads.sim.play import BLOCK_PLAYS, STREAM_PLAYS
from crossroads.sim.profile import Outcome
from crossroads.sim.prompt import BadRequestError, ChatRequest, parse_chat
from crossroads.sim.wire import Exchange

__all__ = ["GEMINI_ROUTE", "VERTEX_CHAT_ROUTE", "GeminiService"]

# What follows the endpoint's prefix, for each surface.
GEMINI_ROUTE: Final = re.compile(
    r"^(?:gemini/v1beta|vertex/v1/projects/[^/]+/locations/[^/]+/publishers/google)"
    r"/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$")
VERTEX_CHAT_ROUTE: Final = re.compile(
    r"^vertex/v1/projects/[^/]+/locations/[^/]+/endpoints/openapi/chat/completions$")

_INVALID: Final = "INVALID_ARGUMENT"
# Sim outcomes that are HTTP errors, as Google's (status, google.rpc status, message).
_ERRORS: Final[dict[Outcome, tuple[int, str, str]]] = {
    "http_400": (400, _INVALID, "Simulated bad request."),
    "context_length": (400, _INVALID, ""),
    "http_401": (401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
    "http_402": (400, "FAILED_PRECONDITION", "Billing is not enabled for this project."),
    "http_404": (404, "NOT_FOUND", "Publisher model was not found or your project does not "
                                   "have access to it."),
    "http_408": (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
    "http_413": (400, _INVALID, "Request payload size exceeds the limit: 20971520 bytes."),
    "http_429": (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    "http_429_retry_after": (429, "RESOURCE_EXHAUSTED",
                             "You exceeded your current quota, please check your plan."),
    "http_500": (500, "INTERNAL", "An internal error has occurred."),
    "http_502": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "http_503": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
}
_BAD_KEY: Final = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]


def _log(t: float, outcome: str, req: ChatRequest | None, model: str, stream: bool,
         body: Any, cached: int = 0) -> LogEntry:
    return LogEntry(t=t, outcome=outcome, stream=stream, model=model,
                    prompt_tokens=req.prompt_tokens if req is not None else 0,
                    cached_tokens=cached, max_tokens=req.max_tokens if req is not None else None,
                    has_images=bool(req.images) if req is not None else False, body=body)


class GeminiService:
    __slots__ = ("_chat", "_state")

    def __init__(self, state: SimState, chat: ChatService) -> None:
        self._state = state
        self._chat = chat

    # --- who may call ---------------------------------------------------------------------

    @staticmethod
    def _api_key(ep: EndpointState, ex: Exchange) -> tuple[int, bytes] | None:
        key = ex.headers.get(b"x-goog-api-key", b"").strip().decode("utf-8", "replace")
        if not key:
            key = (parse_qs(ex.query).get("key") or [""])[0]
        if not key:
            return 403, google_error(403, "PERMISSION_DENIED", "Method doesn't allow "
                                     "unregistered callers (callers without established "
                                     "identity). Please use API Key or other form of API "
                                     "consumer identity to call this API.")
        expected = ep.profile.api_key
        if expected is not None and key != expected:
            return 400, google_error(400, _INVALID, "API key not valid. Please pass a valid "
                                     "API key.", _BAD_KEY)
        return None

    def _vertex(self, ex: Exchange) -> tuple[int, bytes] | None:
        reason = self._state.google.check_bearer(ex)
        if reason is None:
            return None
        return 401, google_error(401, "UNAUTHENTICATED", reason)

    def _refused(self, ep: EndpointState, ex: Exchange, vertex: bool) -> bool:
        refusal = self._vertex(ex) if vertex else self._api_key(ep, ex)
        if refusal is None:
            return False
        ep.record(_log(self._state.elapsed(), "http_401", None, ep.profile.model, False, None))
        ex.send(*refusal)
        return True

    # --- the surfaces ---------------------------------------------------------------------

    def vertex_chat(self, ep: EndpointState, ex: Exchange) -> Pending:
        """Vertex's OpenAI-compatible chat: a Google token, then the endpoint's chat."""
        if self._refused(ep, ex, vertex=True):
            ep.requests += 1
            return None
        return self._chat.completions(ep, ex, authorized=True)

    def generate(self, ep: EndpointState, ex: Exchange, model: str, method: str,
                 vertex: bool) -> Pending:
        ep.requests += 1
        if self._refused(ep, ex, vertex):
            return None
        now = self._state.elapsed()
        # The profile as the fleet's timeline has it now (speeds, faults, outages).
        p = ep.profile_at(now)
        stream = method == "streamGenerateContent"
        raw: Any = None
        try:
            if stream and "alt=sse" not in ex.query.split("&"):
                raise BadRequestError("the simulator streams Gemini only as alt=sse")
            raw = orjson.loads(ex.body)
            ask = chat_of(raw, model, stream, p.reasoning)
            req = parse_chat(ask.chat, p.image_tokens, p.cache)
        except (orjson.JSONDecodeError, BadRequestError) as exc:
            message = exc.message if isinstance(exc, BadRequestError) else \
                "Invalid JSON payload received."
            ep.record(_log(now, "http_400", None, model, stream, raw))
            ex.send(400, google_error(400, _INVALID, message))
            return None

        cached = ep.cache.lookup(req.prefixes, p.cache_min_tokens) if p.cache else 0
        outcome, detail = ep.decide(req, now)
        ep.record(_log(now, outcome, req, model, stream, raw, cached))
        if outcome == "content_filter":
            # Gemini blocks a prompt with a 200: no candidates, and the reason.
            ex.send(200, orjson.dumps({"promptFeedback": {"blockReason": "SAFETY"},
                                       "usageMetadata": {"promptTokenCount": req.prompt_tokens,
                                                         "totalTokenCount": req.prompt_tokens},
                                       "modelVersion": model}))
            return None
        error = _ERRORS.get(outcome)
        if error is not None:
            status, name, message = error
            if outcome == "context_length":
                message = (f"The input token count ({req.prompt_tokens}) exceeds the maximum "
                           f"number of tokens allowed ({p.context_length}).")
            elif detail:
                message = detail
            details = None
            if outcome == "http_429_retry_after":
                # Google says when to retry in RetryInfo, not in a header.
                details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": f"{p.retry_after_s:g}s"}]
            ex.send(status, google_error(status, name, message, details))
            return None
        if p.cache and outcome in SERVED:
            ep.cache.remember(req.prefixes, p.cache_min_tokens)
        reply = GeminiReply(ex, req, p, completion_id=self._chat.next_id(),
                            created=int(time.time()), cached=cached,
                            timing=ep.sample_timing(self._state.time_scale),
                            include_thoughts=ask.include_thoughts)
        plays = STREAM_PLAYS if req.stream else BLOCK_PLAYS
        return ep.start(plays[outcome](reply))
