"""Whether a simulated model calls a tool, which one, and with what arguments.

With function tools offered and `tool_choice` not "none":
  * a `tool_choice` naming a function calls that function;
  * "required" calls the best match (below), even after a tool's result;
  * "auto" (the default) calls the best match when the user spoke last, and answers in text when
    the last message is anything else, a tool's result above all: that is the loop an agent runs.
The best match is a function the last user message names — a word of its name, other than
"get", "set" and the like, is in the message ("weather" finds `get_weather`); with
`parallel_tool_calls` not false every function it names is called, in the order offered ("weather
and local time" calls `get_weather` and `get_time`). When it names none, the function whose name
and description share the most words with the message, the first one offered on a tie or when
none shares a word. Arguments are an instance of the function's `parameters` schema
(schema_instance.py), filled from the user's words where they fit.
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from crossroads.sim.options import Options
from crossroads.sim.schema_instance import instance

__all__ = ["call_tokens", "functions", "plan_calls"]

_WORD: Final = re.compile(r"[a-z0-9]+")
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Words too common to say which tool is meant.
_COMMON: Final = frozenset((
    "a", "an", "the", "is", "are", "am", "be", "to", "of", "in", "on", "at", "for", "from", "by",
    "with", "and", "or", "not", "it", "its", "this", "that", "these", "what", "whats", "which",
    "who", "how", "when", "where", "why", "do", "does", "did", "can", "could", "would", "should",
    "will", "please", "me", "my", "i", "you", "your", "we", "our", "us", "tell", "give", "get",
    "set", "call", "use", "tool", "tools", "function", "some", "any", "s",
))  # fmt: skip


def functions(tools: list[Any] | None) -> list[dict[str, Any]]:
    """The function definitions among `tools` (other tool types are not the sim's to call)."""
    out = []
    for tool in tools or ():
        fn = tool.get("function") if isinstance(tool, dict) else None
        if (isinstance(fn, dict) and isinstance(fn.get("name"), str)
                and tool.get("type", "function") == "function"):  # fmt: skip
            out.append(fn)
    return out


def _words(text: str) -> set[str]:
    return set(_WORD.findall(_CAMEL.sub(" ", text).lower())) - _COMMON


def _chosen(fns: list[dict[str, Any]], options: Options, last_role: str,
            user_text: str) -> list[dict[str, Any]]:  # fmt: skip
    if not fns or options.tool_choice == "none":
        return []
    if options.forced is not None:
        return [fn for fn in fns if fn["name"] == options.forced][:1]
    if options.tool_choice == "auto" and last_role != "user":
        return []
    said = _words(user_text)
    named = [len(said & _words(fn["name"])) for fn in fns]
    if any(named):
        if options.parallel_tool_calls:
            return [fn for fn, hits in zip(fns, named, strict=True) if hits]
        return [fns[max(range(len(fns)), key=lambda i: (named[i], -i))]]
    scores = [len(said & _words(f"{fn['name']} {fn.get('description') or ''}")) for fn in fns]
    return [fns[max(range(len(fns)), key=lambda i: (scores[i], -i))]]


def plan_calls(tools: list[Any] | None, options: Options, last_role: str, user_text: str,
               call_id: str) -> list[dict[str, Any]]:  # fmt: skip
    """The tool calls of one answer, or [] when it answers in text."""
    calls = []
    for k, fn in enumerate(_chosen(functions(tools), options, last_role, user_text)):
        params = fn.get("parameters")
        args = instance(params if isinstance(params, dict) else {"type": "object"}, user_text)
        arguments = orjson.dumps(args if isinstance(args, dict) else {}).decode()
        calls.append({
            "id": call_id if k == 0 else f"{call_id}_{k}",
            "type": "function",
            "function": {"name": fn["name"], "arguments": arguments},
        })  # fmt: skip
    return calls


def call_tokens(calls: list[dict[str, Any]]) -> int:
    """What the calls cost in completion tokens: the sim's formula, 8 per call plus its text."""
    return sum(
        8 + (len(c["function"]["name"]) + len(c["function"]["arguments"]) + 3) // 4 for c in calls
    )
