"""The embeddings surface of an endpoint whose profile has `dimensions`: POST v1/embeddings.

Vectors are deterministic: the same text always gets the same unit-norm vector, drawn from a
SHAKE-256 digest of the text, whatever the endpoint (so two providers of one model agree, as
real ones do). `dimensions` below the model's own size keeps the first that many components
and normalises them again, the way Matryoshka embeddings shorten. Each input costs
4 + ceil(utf-8 bytes / 4) prompt tokens, the same formula as a chat message (prompt.py).

Faults are the chat surface's: a scripted outcome, an outage, an input longer than the context,
a `[[sim:OUTCOME]]` marker in any input, or a fault-rate draw (`EndpointState.decide`), and
each is acted out by the same non-streamed plays (`BLOCK_PLAYS`).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import os
import struct
import time
from array import array
from typing import Any, Final

import orjson

from crossroads.sim.chat import ChatService, Pending
from crossroads.sim.endpoint import EndpointState, LogEntry, SimState
from crossroads.sim.options import PLAIN
from crossroads.sim.play import BLOCK_PLAYS
from crossroads.sim.prompt import MARKER, BadRequestError, ChatRequest, find_marker
from crossroads.sim.render import ERRORS, error_message, retry_after_headers
from crossroads.sim.wire import Exchange, error_body

__all__ = ["EmbeddingsService", "embedding_vector", "input_tokens"]

_UNPARSED: Final = object()
_SCALE: Final = 1 / 32768


def input_tokens(text: str) -> int:
    return 4 + (len(text.encode("utf-8", "surrogatepass")) + 3) // 4


def embedding_vector(text: str, size: int) -> list[float]:
    """The unit vector of `text`, cut to its first `size` components and renormalised."""
    digest = hashlib.shake_256(text.encode("utf-8", "surrogatepass")).digest(2 * size)
    raw = array("h", digest)
    components = [(x + 0.5) * _SCALE for x in raw]  # never all zero
    norm = math.sqrt(math.fsum(c * c for c in components))
    return [c / norm for c in components]


def _inputs(body: dict[str, Any]) -> list[str]:
    value = body.get("input")
    if isinstance(value, str) and value:
        return [value]
    if (isinstance(value, list) and value
            and all(isinstance(t, str) and t for t in value)):
        return value
    raise BadRequestError("`input` must be a non-empty string or array of strings", "input")


def _size(body: dict[str, Any], native: int) -> int:
    wanted = body.get("dimensions")
    if wanted is None:
        return native
    if type(wanted) is not int or not 1 <= wanted <= native:
        raise BadRequestError(f"`dimensions` must be an integer from 1 to {native}",
                              "dimensions")
    return wanted


class EmbeddingAnswer:
    """An embeddings answer about to be sent: the `WholeAnswer` the block plays act out."""

    __slots__ = ("_body", "ex", "slow_first_s", "ttft")

    def __init__(self, ex: Exchange, body: bytes, ttft: float, slow_first_s: float) -> None:
        self.ex = ex
        self._body = body
        self.ttft = ttft
        self.slow_first_s = slow_first_s

    @property
    def generation_s(self) -> float:
        return 0.0  # the vectors arrive whole, after the first-token wait

    def body(self) -> bytes:
        return self._body


class EmbeddingsService:
    """Answers POST v1/embeddings for every endpoint of one sim."""

    __slots__ = ("_chat", "_ids", "_prefix", "_state")

    def __init__(self, state: SimState, chat: ChatService) -> None:
        self._state = state
        self._chat = chat
        self._ids = itertools.count(1)
        self._prefix = os.urandom(4).hex()

    def embed(self, ep: EndpointState, ex: Exchange, parsed: Any = _UNPARSED) -> Pending:
        ep.requests += 1
        now = self._state.elapsed()
        p = ep.profile_at(now)
        reason = self._chat.authorized(ep, ex)
        if reason is not None:
            ep.record(_entry(now, "http_401", 0, None))
            ex.send(401, error_body(reason, "authentication_error", "invalid_api_key"))
            return None
        raw: Any = None
        try:
            raw = orjson.loads(ex.body) if parsed is _UNPARSED else parsed
            if not isinstance(raw, dict):
                raise BadRequestError("request body must be a JSON object")
            if p.dimensions is None:
                raise BadRequestError(f"model `{raw.get('model')}` does not support embeddings",
                                      "model")
            texts = _inputs(raw)
            size = _size(raw, p.dimensions)
            marker = next((find_marker(t) for t in texts if MARKER in t), None)
        except orjson.JSONDecodeError:
            return self._bad(ep, ex, now, BadRequestError("request body is not JSON"), raw)
        except BadRequestError as exc:
            return self._bad(ep, ex, now, exc, raw)

        tokens = [input_tokens(t) for t in texts]
        # Each input must fit the context on its own, so the longest decides.
        decision = ChatRequest(
            body=raw, model=str(raw.get("model")), stream=False, include_usage=False,
            max_tokens=None, tools=None, prompt_tokens=max(tokens), images=0, marker=marker,
            options=PLAIN, last_role="user", last_user="", prefixes=(),
        )
        outcome, detail = ep.decide(decision, now)
        ep.record(_entry(now, outcome, sum(tokens), raw))
        spec = ERRORS.get(outcome)
        if spec is not None:
            message = detail or error_message(outcome, spec, p, max(tokens), None)
            extra = (retry_after_headers(p.retry_after_s)
                     if outcome == "http_429_retry_after" else b"")
            ex.send(spec.status, error_body(message, spec.type, spec.code), extra=extra)
            return None
        body = self._body(raw, texts, size, sum(tokens))
        ttft, _ = ep.sample_timing(self._state.time_scale, now)
        return ep.start(BLOCK_PLAYS[outcome](EmbeddingAnswer(ex, body, ttft,
                                                              p.slow_first_token_s)))

    @staticmethod
    def _bad(ep: EndpointState, ex: Exchange, now: float, exc: BadRequestError,
             raw: Any) -> Pending:
        ep.record(_entry(now, "http_400", 0, raw))
        ex.send(400, error_body(exc.message, "invalid_request_error", None, exc.param))
        return None

    def _body(self, raw: dict[str, Any], texts: list[str], size: int, tokens: int) -> bytes:
        as_base64 = raw.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vector = embedding_vector(text, size)
            encoded: list[float] | str = vector
            if as_base64:
                encoded = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode("ascii")
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        return orjson.dumps({
            "id": f"embd-{self._prefix}{next(self._ids):012d}",
            "object": "list",
            "created": int(time.time()),
            "model": raw.get("model"),
            "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })


def _entry(t: float, outcome: str, tokens: int, body: Any) -> LogEntry:
    model = body.get("model") if isinstance(body, dict) else None
    return LogEntry(
        t=t, outcome=outcome, stream=False, model=model if isinstance(model, str) else None,
        prompt_tokens=tokens, cached_tokens=0, max_tokens=None, has_images=False, body=body,
    )
