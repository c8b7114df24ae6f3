"""A Responses API request (`POST /responses`) as a chat completion body.

The Responses API says the same things as chat completions in other words: `input` items are
messages, `instructions` a system message, a flat function tool a nested one, `text.format` a
`response_format`, `max_output_tokens` `max_tokens`. This module says them in chat's words and
keeps what the answer must echo back (`Echo`). It is stateless, as OpenRouter's is: anything that
needs a stored response (`previous_response_id`, `store: true`, `conversation`, an
`item_reference`) is a 400 that says so, and so is a built-in tool crossroads cannot run.

Fields this module does not know (`seed`, `top_k`, `provider`, `models`, `route`, `plugins`…) go
through to the chat body untouched, where the chat path reads or forwards them as it always does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from crossroads.errors import invalid_param

# Responses fields with no chat counterpart that change nothing for a stateless router.
_IGNORED: Final = frozenset({
    "include", "truncation", "safety_identifier", "max_tool_calls", "top_logprobs",
    "stream_options", "prompt_cache_options", "stop_server_tools_when", "metadata", "store",
    "background", "previous_response_id", "conversation", "prompt",
})
# Fields this module turns into chat fields of other names or shapes.
_TRANSLATED: Final = frozenset({
    "input", "instructions", "tools", "tool_choice", "text", "reasoning", "max_output_tokens",
})
# Stateful features and what to do instead.
_STATEFUL: Final[tuple[tuple[str, Callable[[Any], bool], str], ...]] = (
    ("previous_response_id", lambda v: v is not None,
     "is not supported: crossroads' Responses API is stateless and stores no responses; "
     "send the whole conversation in `input`"),
    ("store", lambda v: v is True,
     "true is not supported: responses are not stored; leave `store` unset or false"),
    ("conversation", lambda v: v is not None,
     "is not supported: there are no stored conversations; send the whole conversation in "
     "`input`"),
    ("background", lambda v: v is True,
     "true is not supported: responses are answered in the request (stream for long ones)"),
    ("prompt", lambda v: v is not None,
     "is not supported: there are no stored prompt templates; send `instructions` and `input`"),
)
_TOOL_CHOICES: Final = frozenset({"auto", "none", "required"})
_REASONING_KEYS: Final = ("effort", "max_tokens", "enabled", "exclude")
_ROLES: Final = {"user": "user", "assistant": "assistant", "system": "system",
                 # chat providers outside OpenAI know `system`; it means the same.
                 "developer": "system"}
MAX_METADATA_PAIRS: Final = 16


class Echo(msgspec.Struct, frozen=True, kw_only=True):
    """What a response object repeats of its request (OpenAI's and OpenRouter's answers do)."""

    instructions: str | None
    metadata: dict[str, str] | None
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any]
    text: dict[str, Any]
    reasoning: dict[str, Any] | None
    max_output_tokens: int | None
    temperature: float | None
    top_p: float | None
    presence_penalty: float | None
    frequency_penalty: float | None
    parallel_tool_calls: bool
    user: str | None
    service_tier: str | None
    truncation: str

    def fields(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__struct_fields__}


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise invalid_param(where, "must be a string")
    return value


def _image_part(part: dict[str, Any], where: str) -> dict[str, Any]:
    url = part.get("image_url")
    if url is None and part.get("file_id") is not None:
        raise invalid_param(f"{where}.file_id",
                            "is not supported: crossroads stores no files; send "
                            "`image_url` as a URL or a data URL")
    image: dict[str, Any] = {"url": _text(url, f"{where}.image_url")}
    if isinstance(part.get("detail"), str):
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}


def _file_part(part: dict[str, Any], where: str) -> dict[str, Any]:
    data = part.get("file_data", part.get("file_url"))
    if data is None:
        raise invalid_param(where,
                            "needs `file_data` or `file_url`: crossroads stores no files, so "
                            "`file_id` is not supported")
    file = {"file_data": _text(data, f"{where}.file_data")}
    if isinstance(part.get("filename"), str):
        file["filename"] = part["filename"]
    return {"type": "file", "file": file}


_PARTS: Final[dict[str, Callable[[dict[str, Any], str], dict[str, Any]]]] = {
    "input_text": lambda p, at: {"type": "text", "text": _text(p.get("text"), f"{at}.text")},
    "output_text": lambda p, at: {"type": "text", "text": _text(p.get("text"), f"{at}.text")},
    "refusal": lambda p, at: {"type": "text", "text": _text(p.get("refusal"), f"{at}.refusal")},
    "input_image": _image_part,
    "input_file": _file_part,
}


def _parts(content: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        raise invalid_param(where, "must be a string or an array of content parts")
    parts = []
    for i, part in enumerate(content):
        at = f"{where}[{i}]"
        kind = part.get("type") if isinstance(part, dict) else None
        convert = _PARTS.get(kind) if isinstance(kind, str) else None
        if convert is None or not isinstance(part, dict):
            raise invalid_param(f"{at}.type", f"content part {kind!r} is not supported (supported: "
                                f"{', '.join(_PARTS)})")
        parts.append(convert(part, at))
    return parts


def _content(content: Any, role: str, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts = _parts(content, where)
    if role == "assistant" or all(p["type"] == "text" for p in parts):
        # Plain text where it can be: every chat provider takes a string.
        if any(p["type"] != "text" for p in parts):
            raise invalid_param(where, "an assistant message may carry only text")
        return "".join(p["text"] for p in parts)
    return parts


class _Conversation:
    """Input items, in order, becoming chat messages."""

    __slots__ = ("messages", "reasoning")

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        # Reasoning handed back from an earlier response: it belongs to the assistant turn
        # that follows it.
        self.reasoning: list[str] = []

    def _assistant(self, message: dict[str, Any]) -> None:
        if self.reasoning:
            message["reasoning"] = "".join(self.reasoning)
            self.reasoning = []
        self.messages.append(message)

    def message(self, item: dict[str, Any], where: str) -> None:
        given = item.get("role")
        role = _ROLES.get(given) if isinstance(given, str) else None
        if role is None:
            raise invalid_param(f"{where}.role", f"must be one of {', '.join(_ROLES)}")
        content = _content(item.get("content"), role, f"{where}.content")
        if role == "assistant":
            self._assistant({"role": "assistant", "content": content})
        else:
            self.messages.append({"role": role, "content": content})

    def function_call(self, item: dict[str, Any], where: str) -> None:
        call = {"id": _text(item.get("call_id"), f"{where}.call_id"), "type": "function",
                "function": {"name": _text(item.get("name"), f"{where}.name"),
                             "arguments": _text(item.get("arguments"), f"{where}.arguments")}}
        last = self.messages[-1] if self.messages else None
        # One assistant turn: its text and every call it made (parallel calls) are one message.
        if last is not None and last["role"] == "assistant" and not self.reasoning:
            last.setdefault("tool_calls", []).append(call)
            return
        self._assistant({"role": "assistant", "content": None, "tool_calls": [call]})

    def function_call_output(self, item: dict[str, Any], where: str) -> None:
        output = item.get("output")
        content = output if isinstance(output, str) else _parts(output, f"{where}.output")
        self.messages.append({"role": "tool",
                              "tool_call_id": _text(item.get("call_id"), f"{where}.call_id"),
                              "content": content})

    def reasoning_item(self, item: dict[str, Any], where: str) -> None:
        for key, kind in (("content", "reasoning_text"), ("summary", "summary_text")):
            pieces = item.get(key)
            texts: list[str] = [p["text"] for p in pieces if isinstance(p, dict)
                                and p.get("type") == kind and isinstance(p.get("text"), str)
                                ] if isinstance(pieces, list) else []
            if texts:
                self.reasoning.append("\n\n".join(texts))
                return

    def item_reference(self, item: dict[str, Any], where: str) -> None:
        raise invalid_param(where,
                            "item_reference is not supported: crossroads stores no items; send "
                            "the item itself")


_ITEMS: Final[dict[str, Callable[[_Conversation, dict[str, Any], str], None]]] = {
    "message": _Conversation.message,
    "function_call": _Conversation.function_call,
    "function_call_output": _Conversation.function_call_output,
    "reasoning": _Conversation.reasoning_item,
    "item_reference": _Conversation.item_reference,
}


def messages(input_: Any, instructions: Any) -> list[dict[str, Any]]:
    """`instructions` and `input` as chat messages."""
    conversation = _Conversation()
    if instructions is not None:
        conversation.messages.append({"role": "system",
                                      "content": _text(instructions, "instructions")})
    if isinstance(input_, str):
        conversation.messages.append({"role": "user", "content": input_})
        return conversation.messages
    if not isinstance(input_, list) or not input_:
        raise invalid_param("input", "is required: a string or a non-empty array of input items")
    for i, item in enumerate(input_):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise invalid_param(where, "must be an object")
        # An "easy" message has a role and no type.
        kind = item.get("type", "message" if "role" in item else None)
        handle = _ITEMS.get(kind) if isinstance(kind, str) else None
        if handle is None:
            raise invalid_param(f"{where}.type", f"input items of type {kind!r} are not supported "
                                f"(supported: {', '.join(_ITEMS)})")
        handle(conversation, item, where)
    if not conversation.messages:
        raise invalid_param("input", "holds no message")
    return conversation.messages


def tools(value: Any) -> list[dict[str, Any]]:
    """Responses' flat function tools in chat's nested shape; any other tool is refused."""
    if not isinstance(value, list):
        raise invalid_param("tools", "must be an array of tools")
    out = []
    for i, tool in enumerate(value):
        where = f"tools[{i}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "function" or not isinstance(tool, dict):
            raise invalid_param(f"{where}.type",
                                f"tool type {kind!r} is not supported: crossroads runs "
                                "no built-in tools; only function tools are")
        if isinstance(tool.get("function"), dict):  # already chat-shaped
            out.append({"type": "function", "function": tool["function"]})
            continue
        function = {"name": _text(tool.get("name"), f"{where}.name")}
        for key in ("description", "parameters", "strict"):
            if tool.get(key) is not None:
                function[key] = tool[key]
        out.append({"type": "function", "function": function})
    return out


def tool_choice(value: Any) -> str | dict[str, Any]:
    if isinstance(value, str) and value in _TOOL_CHOICES:
        return value
    if isinstance(value, dict) and value.get("type") == "function":
        return {"type": "function",
                "function": {"name": _text(value.get("name"), "tool_choice.name")}}
    raise invalid_param("tool_choice", 'must be "auto", "none", "required" or {"type": "function", '
                        '"name": ...}; other tool choices are not supported')


def response_format(text: Any) -> dict[str, Any] | None:
    """`text.format` as chat's `response_format` (None for plain text)."""
    if not isinstance(text, dict):
        raise invalid_param("text", "must be an object")
    spec = text.get("format")
    if spec is None:
        return None
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind != "json_schema" or not isinstance(spec, dict):
        raise invalid_param("text.format.type", 'must be "text", "json_object" or "json_schema"')
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        raise invalid_param("text.format.schema", "must be a JSON schema object")
    json_schema = {"name": _text(spec.get("name"), "text.format.name"), "schema": schema}
    for key in ("strict", "description"):
        if spec.get(key) is not None:
            json_schema[key] = spec[key]
    return {"type": "json_schema", "json_schema": json_schema}


def reasoning(value: Any) -> dict[str, Any] | None:
    """OpenRouter's `reasoning` object: effort, max_tokens, enabled, exclude (no summaries)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_param("reasoning", "must be an object")
    kept = {k: value[k] for k in _REASONING_KEYS if value.get(k) is not None}
    return kept or None


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if (not isinstance(value, dict) or len(value) > MAX_METADATA_PAIRS
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
        raise invalid_param("metadata", f"must be an object of at most {MAX_METADATA_PAIRS} string "
                            "values")
    return value


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _truncation(value: Any) -> str:
    # "auto" would drop the conversation's middle to fit; crossroads sends it whole (or
    # OpenRouter's context-compression plugin does, when asked), so both read the same here.
    if value is None:
        return "disabled"
    if value not in ("auto", "disabled"):
        raise invalid_param("truncation", 'must be "auto" or "disabled"')
    return str(value)


def _echo(body: dict[str, Any]) -> Echo:
    tool_list = body.get("tools") or []
    max_output = body.get("max_output_tokens")
    return Echo(
        instructions=body.get("instructions"),
        metadata=_metadata(body.get("metadata")),
        tools=tool_list,
        tool_choice=body.get("tool_choice") or "auto",
        text=body.get("text") or {"format": {"type": "text"}},
        reasoning=body.get("reasoning"),
        max_output_tokens=max_output if isinstance(max_output, int) else None,
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        presence_penalty=_number(body, "presence_penalty"),
        frequency_penalty=_number(body, "frequency_penalty"),
        parallel_tool_calls=body.get("parallel_tool_calls") is not False,
        user=body.get("user") if isinstance(body.get("user"), str) else None,
        service_tier=body.get("service_tier") if isinstance(body.get("service_tier"), str)
        else None,
        truncation=_truncation(body.get("truncation")),
    )


def chat_body(body: dict[str, Any]) -> tuple[dict[str, Any], Echo]:
    """The chat completion body a Responses request means, and what its answer echoes."""
    for key, refused, message in _STATEFUL:
        if refused(body.get(key)):
            raise invalid_param(key, message)
    chat = {k: v for k, v in body.items() if k not in _IGNORED and k not in _TRANSLATED}
    chat["messages"] = messages(body.get("input"), body.get("instructions"))
    if body.get("tools") is not None:
        chat["tools"] = tools(body["tools"])
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = tool_choice(body["tool_choice"])
    if body.get("text") is not None:
        fmt = response_format(body["text"])
        if fmt is not None:
            chat["response_format"] = fmt
    effort = reasoning(body.get("reasoning"))
    if effort is not None:
        chat["reasoning"] = effort
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    return chat, _echo(body)
