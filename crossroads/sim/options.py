"""The generation options of a chat request, validated as a provider would.

`n`, `logprobs` and `top_logprobs`, `stop`, `seed`, `tool_choice` and `parallel_tool_calls`,
`response_format`, and OpenRouter's `reasoning` ({effort, max_tokens, exclude, enabled}), its
`reasoning_effort` shorthand and the legacy `include_reasoning`. A request that sets none of them
(most of a benchmark's) shares one frozen `PLAIN` value and costs one set check.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from crossroads.sim.bad_request import BadRequestError

__all__ = ["EFFORTS", "PLAIN", "Options", "ReasoningAsk", "parse_options"]

# How much longer than `reasoning_tokens` (the profile's medium) each effort reasons.
EFFORTS: Final[dict[str, float]] = {
    "minimal": 0.25, "low": 0.5, "medium": 1.0, "high": 2.0, "xhigh": 3.0, "max": 3.0,
}  # fmt: skip
_KEYS: Final = frozenset({
    "n", "logprobs", "top_logprobs", "stop", "seed", "tool_choice", "parallel_tool_calls",
    "response_format", "reasoning", "reasoning_effort", "include_reasoning",
})  # fmt: skip
_CHOICES: Final = frozenset({"auto", "none", "required"})
_FORMATS: Final = frozenset({"text", "json_object", "json_schema"})
MAX_N: Final = 128
MAX_TOP_LOGPROBS: Final = 20


class ReasoningAsk(msgspec.Struct, frozen=True, kw_only=True):
    """What the request asks of a model that reasons (others ignore it, as real ones do)."""

    enabled: bool = True
    scale: float = 1.0
    max_tokens: int | None = None
    exclude: bool = False


class Options(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    n: int = 1
    logprobs: bool = False
    top_logprobs: int = 0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    tool_choice: str = "auto"  # "auto", "none" or "required"
    forced: str | None = None  # the function a `tool_choice` object names
    parallel_tool_calls: bool = True
    reasoning: ReasoningAsk = ReasoningAsk()
    format: str = "text"  # "text", "json_object" or "json_schema"
    schema: dict[str, Any] | None = None  # json_schema's schema


PLAIN: Final = Options()


def _is_int(v: Any) -> bool:
    return type(v) is int  # bool is an int subclass; type() excludes it


def _int_in(body: dict[str, Any], key: str, lo: int, hi: int, default: int) -> int:
    v = body.get(key)
    if v is None:
        return default
    if not _is_int(v) or not lo <= v <= hi:
        raise BadRequestError(f"`{key}` must be an integer between {lo} and {hi}", key)
    return int(v)


def _bool(body: dict[str, Any], key: str, where: str | None = None) -> bool | None:
    v = body.get(key)
    if v is not None and not isinstance(v, bool):
        name = where or key
        raise BadRequestError(f"`{name}` must be a boolean", name)
    return v


def _stop(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,) if v else ()
    if isinstance(v, list) and all(isinstance(s, str) for s in v):
        return tuple(s for s in v if s)
    raise BadRequestError("`stop` must be a string or an array of strings", "stop")


def _tool_choice(v: Any, names: list[str]) -> tuple[str, str | None]:
    if v is None:
        return "auto", None
    if isinstance(v, str):
        if v not in _CHOICES:
            raise BadRequestError(
                '`tool_choice` must be "none", "auto", "required" or a function', "tool_choice"
            )
        return v, None
    is_function = isinstance(v, dict) and v.get("type") == "function"
    fn = v.get("function") if is_function else None
    # {"type": "function", "name": ...} is the Responses API's spelling of the same choice.
    name = fn.get("name") if isinstance(fn, dict) else v.get("name") if is_function else None
    if not isinstance(name, str):
        raise BadRequestError(
            '`tool_choice` must be "none", "auto", "required" or '
            '{"type": "function", "function": {"name": ...}}',
            "tool_choice",
        )
    if names and name not in names:
        raise BadRequestError(f"`tool_choice` names {name!r}, which is not in `tools`",
                              "tool_choice")  # fmt: skip
    return "required", name


def _format(v: Any) -> tuple[str, dict[str, Any] | None]:
    kind = v.get("type") if isinstance(v, dict) else None
    if kind not in _FORMATS:
        return "text", None  # an unknown format reads as none, as providers that lack it do
    assert isinstance(v, dict)
    if kind != "json_schema":
        return str(kind), None
    spec = v.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    # A json_schema without a usable schema still asks for JSON: an object it is.
    return ("json_schema", schema) if isinstance(schema, dict) else ("json_object", None)


def _reasoning(body: dict[str, Any]) -> ReasoningAsk:
    ask = body.get("reasoning")
    if ask is None:
        ask = {}
    if not isinstance(ask, dict):
        raise BadRequestError("`reasoning` must be an object", "reasoning")
    effort = ask.get("effort", body.get("reasoning_effort"))
    if effort is not None and effort != "none" and effort not in EFFORTS:
        raise BadRequestError(
            f"`reasoning.effort` must be one of none, {', '.join(EFFORTS)}", "reasoning"
        )
    budget = ask.get("max_tokens")
    if budget is not None and (not _is_int(budget) or budget < 0):
        raise BadRequestError("`reasoning.max_tokens` must be a non-negative integer",
                              "reasoning")  # fmt: skip
    enabled = _bool(ask, "enabled", "reasoning.enabled")
    exclude = _bool(ask, "exclude", "reasoning.exclude")
    include = _bool(body, "include_reasoning")
    return ReasoningAsk(
        enabled=enabled is not False and effort != "none" and budget != 0,
        scale=EFFORTS.get(effort, 1.0) if isinstance(effort, str) else 1.0,
        max_tokens=budget,
        exclude=exclude is True or include is False,
    )


def parse_options(body: dict[str, Any], tool_names: list[str]) -> Options:
    """The request's generation options; raises BadRequestError for a malformed one."""
    if _KEYS.isdisjoint(body):
        return PLAIN
    choice, forced = _tool_choice(body.get("tool_choice"), tool_names)
    seed = body.get("seed")
    if seed is not None and not _is_int(seed):
        raise BadRequestError("`seed` must be an integer", "seed")
    fmt, schema = _format(body.get("response_format"))
    return Options(
        n=_int_in(body, "n", 1, MAX_N, 1),
        logprobs=_bool(body, "logprobs") is True,
        top_logprobs=_int_in(body, "top_logprobs", 0, MAX_TOP_LOGPROBS, 0),
        stop=_stop(body.get("stop")),
        seed=seed,
        tool_choice=choice,
        forced=forced,
        parallel_tool_calls=_bool(body, "parallel_tool_calls") is not False,
        reasoning=_reasoning(body),
        format=fmt,
        schema=schema,
    )
