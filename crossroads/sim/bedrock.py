"""Bedrock's Converse API on every simulated endpoint:

    POST /PREFIX/bedrock/model/{modelId}/converse
    POST /PREFIX/bedrock/model/{modelId}/converse-stream

The endpoint is the same one its OpenAI surface serves — same outcome rule, scripted faults,
outages, speeds and prompt cache — reached in Bedrock's dialect, so the router's Converse
translator and its SigV4 signing can be tested against it, failover included. Every request's
signature is verified first (`sigv4.py`: a wrong secret is AWS's 403 InvalidSignatureException).
The model is the path's `modelId`, which at a provider prefix picks the endpoint. The Converse
body is read back into the chat request the sim already knows how to answer; the answer comes
back in Converse's shapes, a stream in AWS's binary event stream (`bedrock_render.py`), and every
error as AWS's JSON error with its `x-amzn-errortype` header.

Prompt caching follows Bedrock's rule: only a request with a `cachePoint` block reads or writes
the cache; it reads the longest prefix the endpoint has cached and writes everything before its
last message (when that reaches `cache_min_tokens`).
"""

from __future__ import annotations

import time
from typing import Any, Final
from urllib.parse import unquote

import orjson

from crossroads.sim.bedrock_render import BedrockReply, bedrock_error
from crossroads.sim.chat import SERVED, ChatService, Pending, entry
from crossroads.sim.endpoint import EndpointState, SimState
from crossroads.sim.play import BLOCK_PLAYS, STREAM_PLAYS
from crossroads.sim.profile import Outcome
from crossroads.sim.prompt import BadRequestError, parse_chat
from crossroads.sim.render import ERRORS, error_message, retry_after_headers
from crossroads.sim.sigv4 import verify
from crossroads.sim.wire import Exchange

__all__ = ["EVENT_STREAM", "BedrockService", "route"]

EVENT_STREAM: Final = b"content-type: application/vnd.amazon.eventstream\r\n"

# Sim outcomes that are HTTP errors, as Bedrock's (status, error type, message or None for the
# sim's own words). A refused key is AccessDenied: the signature was fine, the access is not.
_ERRORS: Final[dict[Outcome, tuple[int, str, str | None]]] = {
    "http_400": (400, "ValidationException", None),
    "context_length": (400, "ValidationException", "Input is too long for requested model."),
    "content_filter": (400, "ValidationException",
                       "The request was blocked by content filters."),
    "http_401": (403, "AccessDeniedException",
                 "You don't have access to the model with the specified model ID."),
    "http_402": (403, "AccessDeniedException", "Your account is not authorized to invoke "
                                                "this model."),
    "http_404": (404, "ResourceNotFoundException", "The provided model identifier is invalid."),
    "http_408": (408, "ModelTimeoutException", "Model has timed out in processing the request."),
    "http_413": (400, "ValidationException", "The request payload is larger than allowed."),
    "http_429": (429, "ThrottlingException", "Too many requests, please wait before trying "
                                             "again."),
    "http_429_retry_after": (429, "ThrottlingException", "Too many tokens, please wait before "
                                                         "trying again."),
    "http_500": (500, "InternalServerException", None),
    "http_502": (424, "ModelErrorException", None),
    "http_503": (503, "ServiceUnavailableException", None),
}


def route(rest: str) -> tuple[str, bool] | None:
    """(model id, streamed) of `bedrock/model/{modelId}/converse[-stream]`, else None."""
    parts = rest.split("/")
    if len(parts) != 4 or parts[:2] != ["bedrock", "model"] or not parts[2]:
        return None
    if parts[3] not in ("converse", "converse-stream"):
        return None
    return unquote(parts[2]), parts[3] == "converse-stream"


def _text(blocks: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            raise BadRequestError("content blocks must be objects")
        if isinstance(block.get("text"), str):
            parts.append({"type": "text", "text": block["text"]})
        elif isinstance(block.get("image"), dict):
            image = block["image"]
            data = (image.get("source") or {}).get("bytes")
            if not isinstance(data, str):
                raise BadRequestError("image.source.bytes is required")
            parts.append({"type": "image_url", "image_url": {
                "url": f"data:image/{image.get('format', 'png')};base64,{data}"}})
    return parts


def _message(turn: Any) -> list[dict[str, Any]]:
    if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
        raise BadRequestError("messages[].role must be user or assistant")
    blocks = turn.get("content")
    if not isinstance(blocks, list) or not blocks:
        raise BadRequestError("messages[].content must be a non-empty list")
    out: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, dict) and isinstance(block.get("toolResult"), dict):
            result = block["toolResult"]
            text = "".join(p.get("text", "") for p in _text(result.get("content")))
            out.append({"role": "tool", "tool_call_id": str(result.get("toolUseId") or ""),
                        "content": text})
    calls = [{"id": str(b["toolUse"].get("toolUseId") or ""), "type": "function",
              "function": {"name": str(b["toolUse"].get("name") or ""),
                           "arguments": orjson.dumps(b["toolUse"].get("input") or {}).decode()}}
             for b in blocks if isinstance(b, dict) and isinstance(b.get("toolUse"), dict)]
    parts = _text(blocks)
    if parts or calls:
        message: dict[str, Any] = {"role": turn["role"], "content": parts or None}
        if calls:
            message["tool_calls"] = calls
        out.append(message)
    return out


def chat_body(body: Any, model: str, stream: bool) -> dict[str, Any]:
    """A Converse request as the chat request the sim answers."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise BadRequestError("messages is required")
    messages: list[dict[str, Any]] = []
    system = _text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for turn in body["messages"]:
        messages += _message(turn)
    chat: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    config = body.get("inferenceConfig") or {}
    for ours, theirs in (("max_tokens", "maxTokens"), ("temperature", "temperature"),
                         ("top_p", "topP"), ("stop", "stopSequences")):
        if theirs in config:
            chat[ours] = config[theirs]
    tools = (body.get("toolConfig") or {}).get("tools") or []
    specs = [t["toolSpec"] for t in tools if isinstance(t, dict) and "toolSpec" in t]
    if specs:
        chat["tools"] = [{"type": "function", "function": {
            "name": s.get("name"), "description": s.get("description", ""),
            "parameters": (s.get("inputSchema") or {}).get("json") or {}}} for s in specs]
    if stream:
        chat["stream_options"] = {"include_usage": True}
    # A model thinks on Bedrock only when asked to (additionalModelRequestFields.thinking).
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking")
    chat["reasoning"] = {"enabled": isinstance(thinking, dict)}
    return chat


class BedrockService:
    __slots__ = ("_chat", "_state")

    def __init__(self, state: SimState, chat: ChatService) -> None:
        self._state = state
        self._chat = chat

    @staticmethod
    def _error(ex: Exchange, status: int, kind: str, message: str, extra: bytes = b"") -> None:
        body, headers = bedrock_error(kind, message)
        ex.send(status, body, extra=headers + extra)

    def not_found(self, ex: Exchange, model: str) -> Pending:
        self._error(ex, 404, "ResourceNotFoundException", f"Model {model!r} not found.")
        return None

    def authorized(self, ex: Exchange) -> bool:
        host = ex.headers.get(b"host", b"").decode("ascii", "replace")
        rejection = verify(f"http://{host}{ex.path}", ex.headers, ex.body)
        if rejection is not None:
            self._error(ex, 403, *rejection)
        return rejection is None

    def converse(self, ep: EndpointState, ex: Exchange, model: str, stream: bool) -> Pending:
        """Answer one signed Converse request; the caller has checked the signature."""
        ep.requests += 1
        p = ep.profile
        now = self._state.elapsed()
        raw: Any = None
        try:
            raw = orjson.loads(ex.body)
            chat = chat_body(raw, model, stream)
            req = parse_chat(chat, p.image_tokens, p.cache)
        except (orjson.JSONDecodeError, BadRequestError) as exc:
            message = exc.message if isinstance(exc, BadRequestError) else "Malformed JSON body"
            ep.record(entry(now, "http_400", None, raw))
            self._error(ex, 400, "ValidationException", message)
            return None

        marked = p.cache and b"cachePoint" in ex.body
        cached = ep.cache.lookup(req.prefixes, p.cache_min_tokens) if marked else 0
        outcome, detail = ep.decide(req, now)
        ep.record(entry(now, outcome, req, dict(raw, model=model, stream=stream), cached))

        error = _ERRORS.get(outcome)
        if error is not None:
            status, kind, words = error
            message = detail or words or error_message(outcome, ERRORS[outcome], p,
                                                        req.prompt_tokens, req.max_tokens)
            extra = retry_after_headers(p.retry_after_s) \
                if outcome == "http_429_retry_after" else b""
            self._error(ex, status, kind, message, extra)
            return None
        written = 0
        if marked and outcome in SERVED:
            upto = req.prefixes[-2][1] if len(req.prefixes) > 1 else 0
            if upto >= p.cache_min_tokens and upto > cached:
                written = upto - cached
            ep.cache.remember(req.prefixes[:-1], p.cache_min_tokens)

        ex.stream_type = EVENT_STREAM
        reply = BedrockReply(ex, req, p, completion_id=self._chat.next_id(),
                             created=int(time.time()), cached=cached,
                             timing=ep.sample_timing(self._state.time_scale), written=written)
        plays = STREAM_PLAYS if stream else BLOCK_PLAYS
        return ep.start(plays[outcome](reply))
