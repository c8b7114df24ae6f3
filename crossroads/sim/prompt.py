"""Reading a chat request as a provider would: validate it, count its prompt, hash its prefixes.

Token counting is a fixed, documented formula rather than a real tokenizer, so tests elsewhere can
predict usage exactly: each message costs 4 + ceil(utf8 bytes / 4) tokens, plus `image_tokens` per
image part. Tool-call names and arguments in assistant messages count as text. The generation
options (options.py) are read here too, so a malformed one is a 400 before any outcome is spent.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Final

import msgspec
import orjson

from crossroads.sim.bad_request import BadRequestError
from crossroads.sim.options import Options, parse_options
from crossroads.sim.profile import OUTCOMES, Outcome

__all__ = ["MARKER", "BadRequestError", "ChatRequest", "PrefixCache", "find_marker", "parse_chat"]

_IMAGE_PARTS: Final = frozenset({"image_url", "input_image", "image"})
_OUTCOME_BY_NAME: Final[dict[str, Outcome]] = {name: name for name in OUTCOMES}
MARKER: Final = "[[sim:"


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The parts of a chat completion request the sim acts on."""

    body: dict[str, Any]
    model: str
    stream: bool
    include_usage: bool
    max_tokens: int | None
    tools: list[Any] | None
    prompt_tokens: int
    images: int
    marker: Outcome | None
    options: Options
    # Who spoke last ("user", "tool", ...), and the text of the last user message: what a
    # simulated model answers, and where it takes its tool arguments from.
    last_role: str
    last_user: str
    # (cumulative digest, cumulative tokens) after each message; empty unless caching is on.
    prefixes: tuple[tuple[bytes, int], ...]


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _content_text(content: Any, index: int) -> tuple[str, int]:
    """The text of one message's content and how many images it carries."""
    if isinstance(content, str):
        return content, 0
    if content is None:
        return "", 0
    where = f"messages[{index}]"
    if not isinstance(content, list):
        raise BadRequestError(
            f"{where}.content must be a string, an array of parts, or null", where
        )
    texts: list[str] = []
    images = 0
    for i, part in enumerate(content):
        if not isinstance(part, dict):
            raise BadRequestError(f"{where}.content[{i}] must be an object", where)
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise BadRequestError(f"{where}.content[{i}].text must be a string", where)
            texts.append(text)
        elif kind in _IMAGE_PARTS:
            images += 1
    return "".join(texts), images


def _tool_call_text(calls: Any) -> str:
    if not isinstance(calls, list):
        return ""
    out: list[str] = []
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict):
            out.extend(v for v in (fn.get("name"), fn.get("arguments")) if isinstance(v, str))
    return "".join(out)


def _tool_names(tools: list[Any]) -> list[str]:
    names = []
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, dict) else None
        name = fn.get("name") if isinstance(fn, dict) else None
        if isinstance(name, str):
            names.append(name)
    return names


def find_marker(text: str) -> Outcome | None:
    start = text.find(MARKER)
    if start < 0:
        return None
    end = text.find("]]", start)
    name = text[start + len(MARKER) : end] if end > 0 else ""
    outcome = _OUTCOME_BY_NAME.get(name)
    if outcome is None:
        raise BadRequestError(f"unknown sim marker [[sim:{name}]]; known: {', '.join(OUTCOMES)}")
    return outcome


def _check_positive(value: Any, key: str) -> None:
    if type(value) is not int or value < 1:  # bool is an int subclass; type() excludes it
        raise BadRequestError(f"`{key}` must be a positive integer", key)


def parse_chat(body: Any, image_tokens: int, with_prefixes: bool) -> ChatRequest:
    """Validate a decoded chat completion body and measure its prompt."""
    if not isinstance(body, dict):
        raise BadRequestError("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequestError("`model` must be a non-empty string", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("`messages` must be a non-empty array", "messages")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise BadRequestError("`stream` must be a boolean", "stream")
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
        if max_tokens is not None:
            _check_positive(max_tokens, "max_tokens")
    else:
        _check_positive(max_tokens, "max_completion_tokens")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise BadRequestError("`tools` must be an array", "tools")
    options = parse_options(body, _tool_names(tools) if tools else [])

    total = 0
    images = 0
    marker: Outcome | None = None
    last_user = ""
    last_role = ""
    prefixes: list[tuple[bytes, int]] = []
    digest = b""
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if not isinstance(role, str):
            raise BadRequestError(
                f"messages[{i}] must be an object with a string `role`", "messages"
            )
        content = msg.get("content")
        # Plain string content is the common case; keep it off the general path.
        text, n_images = (content, 0) if type(content) is str else _content_text(content, i)
        if "tool_calls" in msg:
            text += _tool_call_text(msg["tool_calls"])
        size = len(text) if text.isascii() else _utf8_len(text)
        total += 4 + (size + 3) // 4 + n_images * image_tokens
        images += n_images
        if marker is None and MARKER in text:
            marker = find_marker(text)
        if role == "user":
            last_user = text
        # Results that arrived since the model last spoke are what it answers, even when the
        # caller added a user line beside them (Anthropic's tool_result + text): "tool" wins.
        if role == "assistant" or last_role != "tool":
            last_role = role
        if with_prefixes:
            # Chained digests: equal digests at position i mean equal messages[0..i].
            raw = orjson.dumps(msg, option=orjson.OPT_SORT_KEYS)
            digest = hashlib.blake2b(digest + raw, digest_size=16).digest()
            prefixes.append((digest, total))

    return ChatRequest(
        body=body,
        model=model,
        stream=bool(stream),
        include_usage=include_usage,
        max_tokens=max_tokens,
        tools=tools or None,
        prompt_tokens=total,
        images=images,
        marker=marker,
        options=options,
        last_role=last_role,
        last_user=last_user,
        prefixes=tuple(prefixes),
    )


class PrefixCache:
    """Which message prefixes an endpoint has seen, least recently used first out."""

    __slots__ = ("_capacity", "_seen")

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[bytes, int] = OrderedDict()

    def lookup(self, prefixes: tuple[tuple[bytes, int], ...], min_tokens: int) -> int:
        """Tokens of the longest seen prefix, the final message excluded (it is the new turn)."""
        for digest, tokens in reversed(prefixes[:-1]):
            if digest in self._seen:
                self._seen.move_to_end(digest)
                return tokens if tokens >= min_tokens else 0
        return 0

    def remember(self, prefixes: tuple[tuple[bytes, int], ...], min_tokens: int) -> None:
        for digest, tokens in prefixes:
            if tokens >= min_tokens:
                self._seen[digest] = tokens
                self._seen.move_to_end(digest)
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)

    def clear(self) -> None:
        self._seen.clear()
