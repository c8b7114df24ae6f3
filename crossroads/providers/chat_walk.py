"""The walk over an OpenAI-shaped chat body that every non-OpenAI dialect makes.

Anthropic, Gemini and Bedrock Converse read the same chat messages, content parts, tool calls,
tools and `response_format`; only the blocks they write differ. The walk lives here once, and
each dialect hands in the small callables that shape its own blocks, so the validation (and its
error messages) cannot drift apart between dialects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.errors import BadRequest, invalid_param
from crossroads.reasoning import DEFAULT_EFFORT, EFFORT_SHARE

SYSTEM_ROLES = frozenset({"system", "developer"})
TOOL_ROLES = frozenset({"tool", "function"})
MIN_THINKING_BUDGET = 1024  # Anthropic's minimum `budget_tokens` (Claude on Bedrock too)
JSON_INSTRUCTION = ("Answer with a single JSON value and nothing else: no prose, no code fence. "
                    "It must conform to this JSON schema: ")

Block = dict[str, Any]
Blocks = Callable[[dict[str, Any]], list[Block]]


def content_part(part: Any, text: Callable[[Any], Block | None], image: Callable[[str], Block],
                 unsupported: Callable[[str], BadRequest]) -> Block | None:
    """One content part (text / image_url / refusal) as a dialect's block; None for what the
    dialect leaves out. `text` gets the part's raw `text` and decides what is empty."""
    if not isinstance(part, dict):
        return None
    kind = part.get("type")
    if kind == "text":
        return text(part.get("text"))
    if kind == "image_url":
        image_url = part.get("image_url")
        url = image_url.get("url") if isinstance(image_url, dict) else image_url
        return image(str(url))
    if kind == "refusal":
        return None
    raise unsupported(f"A content part of type {kind!r}")


def arguments(raw: Any) -> dict[str, Any]:
    """A tool call's arguments as an object: every dialect wants one, and a string that is not
    a JSON object is kept under `_raw_arguments` rather than lost."""
    if isinstance(raw, dict):
        return raw
    try:
        parsed = orjson.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"_raw_arguments": raw}


def tool_calls(message: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(call id, function name, parsed arguments) of an assistant message's function calls."""
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        yield (str(call.get("id") or ""), str(function.get("name") or ""),
               arguments(function.get("arguments")))


def conversation(messages: list[dict[str, Any]], *, system: Blocks, tool_result: Blocks,
                 assistant: Blocks, user: Blocks, assistant_role: str = "assistant",
                 user_role: str | None = None,
                 key: str = "content") -> tuple[list[Block], list[dict[str, Any]]]:
    """(system blocks, turns). System and developer messages go to the system blocks wherever
    they stand; tool results travel in a user turn; consecutive turns of one role are merged
    (none of these dialects takes two in a row). `user_role` None keeps the message's role."""
    system_blocks: list[Block] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role in SYSTEM_ROLES:
            system_blocks += system(message)
            continue
        if role in TOOL_ROLES:
            role, blocks = "user", tool_result(message)
        elif role == "assistant":
            role, blocks = assistant_role, assistant(message)
        else:
            role, blocks = user_role or role, user(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1][key] += blocks
        else:
            turns.append({"role": role, key: blocks})
    return system_blocks, turns


def function_tools(tools: list[Any],
                   shape: Callable[[dict[str, Any], dict[str, Any]], Block]) -> list[Block]:
    """The caller's tools, each checked to be a named function tool, shaped by
    `shape(tool, function)`."""
    out = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) \
                or tool.get("type", "function") != "function":
            raise invalid_param(f"tools[{i}]", "must be a function tool with a name")
        out.append(shape(tool, function))
    return out


def response_schema(response_format: Any) -> dict[str, Any] | None:
    """The JSON schema asked for; a bare object for `json_object`; None for plain text."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return schema if isinstance(schema, dict) else {"type": "object"}
    if kind == "json_object":
        return {"type": "object"}
    return None


def json_instruction(schema: dict[str, Any]) -> str:
    """The system instruction that asks for a JSON answer where no JSON mode can."""
    return JSON_INSTRUCTION + orjson.dumps(schema).decode()


def thinking_budget(request: ChatRequest, endpoint: Endpoint, limit: int) -> int | None:
    """Anthropic's thinking budget (on its own API and on Bedrock): the caller's, or the
    effort's share of the output limit, at least the minimum and below the limit."""
    ask = request.reasoning
    if ask is None or not ask.enabled or "reasoning" not in endpoint.supported_parameters:
        return None
    budget = ask.max_tokens
    if budget is None:
        budget = int(EFFORT_SHARE.get(ask.effort or DEFAULT_EFFORT, 0.5) * limit)
    budget = min(max(budget, MIN_THINKING_BUDGET), limit - 1)
    return budget if budget >= MIN_THINKING_BUDGET else None
