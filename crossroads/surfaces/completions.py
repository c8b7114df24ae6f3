"""Legacy text completions (`POST /completions`), served as chat-translated completions.

The catalog's models are chat models and their providers speak chat, so a completion request
becomes a chat request whose one user message is the prompt, as OpenRouter does for chat-only
providers; the chat answer's text is the completion's `text`. Everything else (routing fields,
sampling parameters, `n`, `stop`, `seed`, `user`, streaming) passes through to chat unchanged.

Translated: `logprobs: k` becomes chat's `logprobs: true, top_logprobs: k`, and the answer's
token log probabilities come back in the legacy shape (`tokens`, `token_logprobs`,
`top_logprobs`, `text_offset`). Refused with a 400 naming the field, because a chat model cannot
honour them: several prompts or token arrays in `prompt`, `echo: true`, `suffix`, `best_of`
above 1, and chat-only fields (`messages`, `tools`, `tool_choice`, `functions`).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from crossroads.chat_request import decode_body
from crossroads.errors import CrossroadsError, invalid_param, is_int
from crossroads.sse import DONE_EVENT
from crossroads.surfaces import sse_event

MAX_LOGPROBS = 5  # OpenAI's limit for legacy completions
# Chat fields a completion request cannot carry: a completion has no messages and no tools.
_CHAT_ONLY: Final = ("messages", "tools", "tool_choice", "functions", "function_call")
# Completion fields that do not exist on chat; each is read here and never passed on.
_COMPLETION_ONLY: Final = frozenset({"prompt", "echo", "suffix", "best_of", "logprobs"})


def _prompt(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    if isinstance(value, list) and value and all(isinstance(p, str) for p in value):
        raise invalid_param("prompt",
                            "one prompt per request: each completion is a chat request, so "
                            "send the prompts as separate requests")
    if isinstance(value, list) and value and (is_int(value[0]) or isinstance(value[0], list)):
        raise invalid_param("prompt", "token arrays are not supported; send the prompt as text")
    raise invalid_param("prompt", "is required and must be a string")


def _check(body: dict[str, Any]) -> None:
    for name in _CHAT_ONLY:
        if name in body:
            raise invalid_param(name,
                                "is not a field of /completions; use /chat/completions for it")
    if body.get("echo"):
        raise invalid_param("echo",
                            "echoing the prompt is not supported (chat-translated completions)")
    if body.get("suffix"):
        raise invalid_param("suffix", "insertion (a suffix) is not supported by chat models")
    best_of = body.get("best_of")
    if best_of is not None and best_of != 1:
        raise invalid_param("best_of", "only 1 is supported")
    logprobs = body.get("logprobs")
    if logprobs is not None and not (is_int(logprobs) and 0 <= logprobs <= MAX_LOGPROBS):
        raise invalid_param("logprobs", f"must be an integer between 0 and {MAX_LOGPROBS}")


def legacy_logprobs(chat: Any) -> dict[str, Any] | None:
    """A chat choice's `logprobs.content` in the legacy shape; None when there is none."""
    content = chat.get("content") if isinstance(chat, dict) else None
    if not isinstance(content, list):
        return None
    tokens: list[str] = []
    token_logprobs: list[float | None] = []
    top: list[dict[str, float] | None] = []
    offsets: list[int] = []
    offset = 0
    for entry in content:
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            continue
        token = entry["token"]
        tokens.append(token)
        logprob = entry.get("logprob")
        token_logprobs.append(logprob if isinstance(logprob, int | float) else None)
        alternatives = entry.get("top_logprobs")
        top.append({a["token"]: a["logprob"] for a in alternatives
                    if isinstance(a, dict) and isinstance(a.get("token"), str)}
                   if isinstance(alternatives, list) else None)
        offsets.append(offset)
        offset += len(token)
    return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": top,
            "text_offset": offsets}


def _text_choice(choice: dict[str, Any], part: str) -> dict[str, Any]:
    body = choice.get(part)
    content = body.get("content") if isinstance(body, dict) else None
    shaped = {
        "text": content if isinstance(content, str) else "",
        "index": choice.get("index", 0),
        "logprobs": legacy_logprobs(choice.get("logprobs")),
        "finish_reason": choice.get("finish_reason"),
    }
    if "native_finish_reason" in choice:
        shaped["native_finish_reason"] = choice["native_finish_reason"]
    return shaped


def _head(chat: dict[str, Any]) -> dict[str, Any]:
    """The members a completion shares with the chat object it came from."""
    head = {"id": chat.get("id"), "object": "text_completion", "created": chat.get("created"),
            "model": chat.get("model")}
    for name in ("provider", "system_fingerprint", "crossroads"):
        if name in chat:
            head[name] = chat[name]
    return head


class CompletionTranslation:
    __slots__ = ("_chat_body",)

    def __init__(self, chat_body: bytes) -> None:
        self._chat_body = chat_body

    @property
    def chat_body(self) -> bytes:
        return self._chat_body

    def answer(self, chat: dict[str, Any]) -> bytes:
        completion = _head(chat)
        completion["choices"] = [_text_choice(c, "message") for c in chat.get("choices") or ()
                                 if isinstance(c, dict)]
        if "usage" in chat:
            completion["usage"] = chat["usage"]
        return orjson.dumps(completion)

    def stream_event(self, chunk: dict[str, Any]) -> list[bytes]:
        completion = _head(chunk)
        choices = [_text_choice(c, "delta") for c in chunk.get("choices") or ()
                   if isinstance(c, dict)]
        # Role-only and reasoning-only deltas carry nothing a completion can show.
        choices = [c for c in choices
                   if c["text"] or c["finish_reason"] is not None or c["logprobs"]]
        if "error" in chunk:
            completion["error"] = chunk["error"]
        elif not choices and "usage" not in chunk:
            return []
        completion["choices"] = choices
        if "usage" in chunk:
            completion["usage"] = chunk["usage"]
        return [sse_event(orjson.dumps(completion))]

    def stream_end(self) -> list[bytes]:
        return [DONE_EVENT]


class CompletionsSurface:
    """OpenAI's legacy `POST /completions`, as OpenAI's SDKs and OpenRouter's docs know it."""

    @property
    def name(self) -> str:
        return "completions"

    @property
    def credential_headers(self) -> tuple[bytes, ...]:
        return (b"authorization",)

    def translate(self, raw: bytes) -> CompletionTranslation:
        body = decode_body(raw)
        if "prompt" not in body:
            raise invalid_param("prompt", "is required")
        prompt = _prompt(body["prompt"])
        _check(body)
        chat = {k: v for k, v in body.items() if k not in _COMPLETION_ONLY}
        chat["messages"] = [{"role": "user", "content": prompt}]
        logprobs = body.get("logprobs")
        if logprobs is not None:
            chat["logprobs"] = True
            chat["top_logprobs"] = logprobs
        return CompletionTranslation(orjson.dumps(chat))

    def error_body(self, error: CrossroadsError) -> bytes:
        # OpenAI's SDKs read legacy completion errors exactly like chat's.
        return error.body()


COMPLETIONS = CompletionsSurface()
