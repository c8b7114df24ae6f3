"""Reasoning, asked for in any of OpenRouter's spellings and answered in one.

Callers ask with `reasoning: {effort | max_tokens, exclude, enabled}`, the `reasoning_effort`
shorthand, the legacy `include_reasoning`, or the `:thinking` variant. `parse_reasoning` folds
them into one `ReasoningAsk`, refusing contradictions with a 400 that names the field.

Upstream, an OpenAI-dialect endpoint that reasons (`reasoning` in its supported parameters) is
sent `reasoning_effort`, the one reasoning control that dialect has; a token budget is turned
into the effort whose share of `max_tokens` is nearest (OpenRouter's shares: max and xhigh 95 %,
high 80 %, medium 50 %, low 20 %, minimal 10 %). Endpoints that do not reason are sent nothing,
and the caller's own spellings never reach any provider.

Downstream, the provider's `reasoning_content` (vLLM, DeepSeek) is returned as OpenRouter's
`reasoning`, and with `exclude` the reasoning is removed from the answer (still billed: its
tokens were generated).
"""

from __future__ import annotations

from typing import Any

import msgspec

from crossroads.errors import invalid_param

EFFORT_SHARE: dict[str, float] = {
    "max": 0.95, "xhigh": 0.95, "high": 0.80, "medium": 0.50, "low": 0.20, "minimal": 0.10,
}
EFFORTS = (*EFFORT_SHARE, "none")
# Request fields that ask for reasoning; none is forwarded as the caller wrote it.
REASONING_FIELDS = frozenset({"reasoning", "reasoning_effort", "include_reasoning"})
# Where providers put reasoning text in a message or a delta.
REASONING_KEYS = ("reasoning", "reasoning_content", "reasoning_details")
DEFAULT_EFFORT = "medium"  # `enabled: true` alone, `include_reasoning: true`, `:thinking`


class ReasoningAsk(msgspec.Struct, frozen=True):
    enabled: bool
    effort: str | None = None
    max_tokens: int | None = None
    exclude: bool = False

    def upstream_effort(self, max_tokens: int | None) -> str | None:
        """The `reasoning_effort` to send an OpenAI-dialect endpoint; None: send none."""
        if not self.enabled:
            return None
        if self.effort is not None:
            return self.effort
        if self.max_tokens is not None and max_tokens:
            share = self.max_tokens / max_tokens
            return min(EFFORT_SHARE, key=lambda name: abs(EFFORT_SHARE[name] - share))
        if self.max_tokens is not None:
            return "high" if self.max_tokens >= 8192 else DEFAULT_EFFORT
        return DEFAULT_EFFORT


def _effort(value: Any, param: str) -> str | None:
    if value is None:
        return None
    if value not in EFFORTS:
        raise invalid_param(param, f"must be one of {', '.join(EFFORTS)}")
    return str(value)


def parse_reasoning(body: dict[str, Any], thinking: bool) -> ReasoningAsk | None:
    """The caller's reasoning request, or None when it said nothing about reasoning."""
    raw = body.get("reasoning")
    shorthand = _effort(body.get("reasoning_effort"), "reasoning_effort")
    include = body.get("include_reasoning")
    if raw is None and shorthand is None and include is None and not thinking:
        return None
    if raw is not None and not isinstance(raw, dict):
        raise invalid_param("reasoning", "must be an object")
    raw = raw or {}
    effort = _effort(raw.get("effort"), "reasoning.effort")
    if shorthand is not None and effort is not None and shorthand != effort:
        raise invalid_param("reasoning_effort", "differs from reasoning.effort; send one of them")
    effort = effort or shorthand
    budget = raw.get("max_tokens")
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool)
                               or budget < 0):
        raise invalid_param("reasoning.max_tokens", "must be a non-negative integer")
    if effort is not None and budget is not None:
        raise invalid_param("reasoning", "give effort or max_tokens, not both")
    for name in ("exclude", "enabled"):
        if raw.get(name) is not None and not isinstance(raw[name], bool):
            raise invalid_param(f"reasoning.{name}", "must be a boolean")
    if include is not None and not isinstance(include, bool):
        raise invalid_param("include_reasoning", "must be a boolean")
    enabled = raw.get("enabled")
    if enabled is None:
        # Any request for it turns it on, except an effort of "none" or a zero budget;
        # `include_reasoning: false` only hides it.
        asked = bool(raw) or shorthand is not None or include is True or thinking
        enabled = asked and effort != "none" and budget != 0
    exclude = bool(raw.get("exclude", False)) or include is False
    return ReasoningAsk(enabled=enabled, effort=None if effort == "none" else effort,
                        max_tokens=budget, exclude=exclude)


def shape_reasoning(part: dict[str, Any], exclude: bool) -> None:
    """One message or delta, in place: the provider's `reasoning_content` as `reasoning`, or
    every reasoning field gone when the caller excluded it."""
    if exclude:
        for key in REASONING_KEYS:
            part.pop(key, None)
        return
    text = part.pop("reasoning_content", None)
    if text is not None and part.get("reasoning") is None:
        part["reasoning"] = text
