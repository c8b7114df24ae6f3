"""A chat completion request, validated once at the door.

The body is parsed with orjson and checked by hand against the few fields routing and relaying
depend on; every other field is passed to the provider untouched, because providers keep adding
parameters and the router should not be the one to reject them. OpenRouter-only fields are
removed before the body goes upstream.

The same value carries an embeddings request through routing, admission and the relay
(`operation` says which; `embeddings_request.py` builds it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from crossroads.errors import BadRequest, invalid_param, is_int
from crossroads.operations import Operation
from crossroads.plugins import NONE_ASKED, PluginAsk, parse_plugins
from crossroads.reasoning import REASONING_FIELDS, ReasoningAsk, parse_reasoning
from crossroads.routing.prefs import RoutingPrefs, Variant, parse_prefs, split_variant

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

# Fields only the router reads; they never reach a provider. Reasoning is asked for in the
# endpoint's own terms (crossroads/reasoning.py).
ROUTER_FIELDS = frozenset(
    {"models", "provider", "session_id", "usage", "transforms", "route", "plugins", "user_id",
     "preset", "debug", "trace"}
) | REASONING_FIELDS

# Request keys that count as "parameters" for `require_parameters` and endpoint support.
PARAMETERS = frozenset(
    {
        "temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty",
        "presence_penalty", "repetition_penalty", "seed", "max_tokens", "logit_bias",
        "logprobs", "top_logprobs", "response_format", "stop", "tools", "tool_choice",
        "parallel_tool_calls", "reasoning", "include_reasoning", "structured_outputs",
    }
)

MAX_TOKENS_LIMIT = 2**31 - 1
MAX_FALLBACK_MODELS = 8
MAX_SESSION_ID = 256


class ChatRequest(msgspec.Struct, frozen=True):
    body: dict[str, Any]
    models: tuple[str, ...]
    prefs: RoutingPrefs
    stream: bool
    max_tokens: int | None
    has_images: bool
    prompt_chars: int
    image_count: int
    parameters: frozenset[str]
    # Messages of a chat request. For embeddings 1, and `prompt_chars` is the longest input:
    # each input must fit the context on its own, so that is what routing checks.
    message_count: int = 1
    operation: Operation = Operation.CHAT
    reasoning: ReasoningAsk | None = None
    plugins: PluginAsk = NONE_ASKED

    @property
    def echo_upstream_body(self) -> bool:
        """OpenRouter's `debug.echo_upstream_body`, which only streams can carry."""
        debug = self.body.get("debug")
        return self.stream and isinstance(debug, dict) and debug.get("echo_upstream_body") is True

    @property
    def excludes_reasoning(self) -> bool:
        return self.reasoning is not None and self.reasoning.exclude

    def prompt_token_estimate(self, tokens_per_image: int) -> int:
        # ~4 bytes of text per token for Llama-family tokenisers, plus per-message overhead.
        return (self.prompt_chars // 4 + 4 * self.message_count
                + tokens_per_image * self.image_count)

    @property
    def wants_tools(self) -> bool:
        return bool(self.body.get("tools"))

    @property
    def wants_response_format(self) -> bool:
        return self.body.get("response_format") is not None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_image_url(url: Any, where: str) -> None:
    if not isinstance(url, str) or not url:
        raise invalid_param(where, "must be a non-empty string")
    if url.startswith(("https://", "http://")):
        return
    if url.startswith("data:"):
        header, sep, payload = url.partition(",")
        if not sep or not header.startswith("data:image/") or not header.endswith(";base64"):
            raise invalid_param(where, "a data URI must look like data:image/<type>;base64,<data>")
        if not payload or len(payload) % 4 == 1:
            raise invalid_param(where, "the data URI's base64 payload is empty or truncated")
        return
    raise invalid_param(where, "must be an http(s) URL or a data:image/...;base64 URI")


def _scan_content(content: Any, where: str) -> tuple[int, int]:
    """Return (text characters, images) of one message's content."""
    if content is None:
        return 0, 0
    if isinstance(content, str):
        return len(content), 0
    if not isinstance(content, list):
        raise invalid_param(where, "must be a string, an array of content parts, or null")
    chars = images = 0
    for i, part in enumerate(content):
        at = f"{where}[{i}]"
        if not isinstance(part, dict):
            raise invalid_param(at, "must be an object")
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise invalid_param(f"{at}.text", "must be a string")
            chars += len(text)
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            _check_image_url(url, f"{at}.image_url.url")
            images += 1
        elif not isinstance(kind, str):
            raise invalid_param(f"{at}.type", "must be a string")
    return chars, images


def _scan_messages(messages: Any) -> tuple[int, int]:
    if not isinstance(messages, list) or not messages:
        raise invalid_param("messages", "must be a non-empty array")
    chars = images = 0
    for i, message in enumerate(messages):
        at = f"messages[{i}]"
        if not isinstance(message, dict):
            raise invalid_param(at, "must be an object")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise invalid_param(f"{at}.role", f"must be one of {', '.join(sorted(ROLES))}")
        if "content" not in message and role != "assistant":
            raise invalid_param(f"{at}.content", "is required")
        c, n = _scan_content(message.get("content"), f"{at}.content")
        chars += c
        images += n
    return chars, images


def _check(body: dict[str, Any], name: str, ok: Callable[[Any], bool], expected: str) -> None:
    value = body.get(name)
    if value is not None and not ok(value):
        raise invalid_param(name, f"must be {expected}")


_FIELD_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    name: (ok, expected) for name, ok, expected in (
    ("stream", lambda v: isinstance(v, bool), "a boolean"),
    ("temperature", lambda v: _is_number(v) and 0 <= v <= 2, "a number between 0 and 2"),
    ("top_p", lambda v: _is_number(v) and 0 <= v <= 1, "a number between 0 and 1"),
    ("n", lambda v: is_int(v) and 1 <= v <= 128, "an integer between 1 and 128"),
    ("seed", is_int, "an integer"),
    ("stop", lambda v: isinstance(v, str) or (isinstance(v, list) and all(
        isinstance(s, str) for s in v)), "a string or an array of strings"),
    ("tools", lambda v: isinstance(v, list) and all(isinstance(t, dict) for t in v),
     "an array of objects"),
    ("tool_choice", lambda v: isinstance(v, str | dict), "a string or an object"),
    ("response_format", lambda v: isinstance(v, dict) and isinstance(v.get("type"), str),
     'an object with a "type"'),
    ("stream_options", lambda v: isinstance(v, dict), "an object"),
    ("debug", lambda v: isinstance(v, dict) and isinstance(v.get("echo_upstream_body", False),
                                                           bool),
     'an object with a boolean "echo_upstream_body"'),
    ("frequency_penalty", lambda v: _is_number(v) and -2 <= v <= 2, "a number between -2 and 2"),
    ("presence_penalty", lambda v: _is_number(v) and -2 <= v <= 2, "a number between -2 and 2"),
    )
}


def _max_tokens(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not is_int(value) or not 1 <= value <= MAX_TOKENS_LIMIT:
            raise invalid_param(name, f"must be an integer between 1 and {MAX_TOKENS_LIMIT}")
        return int(value)
    return None


def requested_models(body: dict[str, Any]) -> tuple[str, ...]:
    primary = body.get("model")
    fallbacks = body.get("models")
    if fallbacks is not None and (
        not isinstance(fallbacks, list)
        or not all(isinstance(m, str) and m for m in fallbacks)
        or len(fallbacks) > MAX_FALLBACK_MODELS
    ):
        raise invalid_param("models",
                            f"must be an array of at most {MAX_FALLBACK_MODELS} model ids")
    if primary is None and fallbacks:
        primary = fallbacks[0]
    if not isinstance(primary, str) or not primary:
        raise invalid_param("model", "is required and must be a string")
    ordered = [primary, *(fallbacks or ())]
    return tuple(dict.fromkeys(ordered))


def decode_body(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object, or the 400 every route gives when it is not one."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    return body


def parse_chat_request(raw: bytes, session_header: str | None = None) -> ChatRequest:
    """Validate a raw body; raise BadRequest naming the first bad field."""
    body = decode_body(raw)
    models = requested_models(body)
    chars, images = _scan_messages(body.get("messages"))
    for name in body.keys() & _FIELD_CHECKS.keys():
        ok, expected = _FIELD_CHECKS[name]
        _check(body, name, ok, expected)
    max_tokens = _max_tokens(body)
    session_id = body.get("session_id", session_header)
    if session_id is not None and (not isinstance(session_id, str)
                                   or len(session_id) > MAX_SESSION_ID):
        raise invalid_param("session_id",
                            f"must be a string of at most {MAX_SESSION_ID} characters")
    slug, variant = split_variant(models[0])
    models = (slug, *(split_variant(m)[0] for m in models[1:]))
    prefs = parse_prefs(body.get("provider"), variant, session_id, body.get("route"))
    parameters = frozenset(k for k in body if k in PARAMETERS)
    if "max_completion_tokens" in body:
        parameters |= {"max_tokens"}
    reasoning = parse_reasoning(body, variant is Variant.THINKING)
    if reasoning is not None and reasoning.enabled:
        parameters |= {"reasoning"}
    return ChatRequest(
        body=body,
        models=tuple(dict.fromkeys(models)),
        prefs=prefs,
        stream=bool(body.get("stream", False)),
        max_tokens=max_tokens,
        has_images=images > 0,
        prompt_chars=chars,
        image_count=images,
        parameters=parameters,
        message_count=len(body["messages"]),
        reasoning=reasoning,
        plugins=parse_plugins(body),
    )
