"""A simulated answer beyond one plain text: choices, tool calls, JSON, reasoning, logprobs, stop.

`compose` decides what each of the `n` choices says; `completion` and `StepFrames` write it as a
body or as stream events. Token accounting, per choice:

  reasoning   `reasoning_tokens` of the profile, times the effort's scale (options.py), or
              exactly `reasoning.max_tokens`; at most `max_tokens` (or the endpoint's
              `max_output`) - 1, so an answer follows.
              Excluded reasoning is still thought (counted, and streamed as silence), not shown.
  content     text: `completion_tokens` words; JSON: 4-character tokens; cut to what
              `max_tokens` leaves after reasoning (finish "length"), then at the first `stop`
              sequence (finish "stop", the sequence itself not included).
  tool calls  8 per call plus a token per 4 characters of name and arguments, never cut.

`completion_tokens` is the sum over choices of reasoning and content, as OpenAI counts it, and
`completion_tokens_details.reasoning_tokens` the reasoning part, on models that reason.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from crossroads.sim.content import (
    json_object,
    json_pieces,
    logprob_entry,
    reasoning_pieces,
    request_digest,
    text_pieces,
)
from crossroads.sim.options import ReasoningAsk
from crossroads.sim.profile import SimProfile
from crossroads.sim.prompt import ChatRequest
from crossroads.sim.schema_instance import instance
from crossroads.sim.tools import call_tokens, plan_calls

__all__ = ["Answer", "Choice", "StepFrames", "completion", "compose"]

_ARGUMENT_PIECE: Final = 8
_JSON_OBJECT_WORDS: Final = 16


class Choice:
    __slots__ = ("calls", "finish_reason", "index", "pieces", "stop_sequence", "tokens")

    def __init__(self, index: int, pieces: list[str], calls: list[dict[str, Any]],
                 finish_reason: str, tokens: int,
                 stop_sequence: str | None = None) -> None:  # fmt: skip
        self.index = index
        self.pieces = pieces
        self.calls = calls
        self.finish_reason = finish_reason
        self.tokens = tokens
        # The `stop` sequence the text was cut at, if any (Anthropic's surface names it).
        self.stop_sequence = stop_sequence


class Answer:
    __slots__ = ("choices", "reasoning", "reasoning_shown", "top_logprobs")

    def __init__(self, choices: list[Choice], reasoning: list[str], reasoning_shown: bool,
                 top_logprobs: int | None) -> None:  # fmt: skip
        self.choices = choices
        self.reasoning = reasoning
        self.reasoning_shown = reasoning_shown
        self.top_logprobs = top_logprobs  # None: no logprobs asked for

    @property
    def completion_tokens(self) -> int:
        return sum(c.tokens for c in self.choices)

    @property
    def reasoning_tokens(self) -> int:
        return len(self.reasoning) * len(self.choices)

    @property
    def longest(self) -> int:
        return max(c.tokens for c in self.choices)


def _reasoning_length(profile: SimProfile, ask: ReasoningAsk, limit: int | None) -> int:
    if not profile.reasoning or not ask.enabled:
        return 0
    n = ask.max_tokens
    if n is None:
        n = max(1, round(profile.reasoning_tokens * ask.scale))
    # Within the output limit, leaving room for one token of answer.
    n = min(n, (limit if limit is not None else profile.max_output) - 1)
    return max(n, 0)


def _cut_at_stop(pieces: list[str], stops: tuple[str, ...]) -> tuple[list[str], str | None]:
    if not stops:
        return pieces, None
    text = "".join(pieces)
    found = [(i, s) for s in stops if (i := text.find(s)) >= 0]
    if not found:
        return pieces, None
    at, matched = min(found)
    kept: list[str] = []
    used = 0
    for piece in pieces:
        if used >= at:
            break
        kept.append(piece[: at - used])
        used += len(piece)
    return kept, matched


def compose(req: ChatRequest, profile: SimProfile, completion_id: str) -> Answer:
    o = req.options
    limit = req.max_tokens
    thought = _reasoning_length(profile, o.reasoning, limit)
    budget = None if limit is None else limit - thought
    calls = plan_calls(req.tools, o, req.last_role, req.last_user, "call_" + completion_id[9:])
    structured: list[str] | None = None
    if o.format == "json_schema":
        structured = json_pieces(instance(o.schema, req.last_user))
    elif o.format == "json_object":
        structured = json_pieces(json_object(req.body["messages"], req.last_user,
                                             min(profile.completion_tokens, _JSON_OBJECT_WORDS)))
    digest = request_digest(req.body) if o.seed is not None else ""
    choices = []
    for c in range(o.n):
        if calls:
            mine = calls if c == 0 else [{**call, "id": f"{call['id']}_c{c}"} for call in calls]
            spent = call_tokens(mine)
            spent = spent if budget is None else min(spent, budget)
            choices.append(Choice(c, [], mine, "tool_calls", thought + spent))
            continue
        pieces = structured or text_pieces(profile.completion_tokens, c, o.seed, digest)
        finish = "stop"
        if budget is not None and len(pieces) > budget:
            pieces, finish = pieces[:budget], "length"
        pieces, matched = _cut_at_stop(pieces, o.stop)
        choices.append(Choice(c, pieces, [], "stop" if matched else finish,
                              thought + len(pieces), matched))
    shown = thought > 0 and not o.reasoning.exclude
    return Answer(choices, reasoning_pieces(thought), shown,
                  o.top_logprobs if o.logprobs else None)  # fmt: skip


def _logprobs(answer: Answer, pieces: list[str]) -> dict[str, Any]:
    top = answer.top_logprobs or 0
    return {"content": [logprob_entry(p, top) for p in pieces], "refusal": None}


def _message(answer: Answer, choice: Choice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant"}
    if choice.calls:
        message["content"] = None
        message["tool_calls"] = choice.calls
    else:
        message["content"] = "".join(choice.pieces)
    if answer.reasoning_shown:
        message["reasoning"] = "".join(answer.reasoning)
    return message


def completion(answer: Answer, head: dict[str, Any], usage: dict[str, Any]) -> bytes:
    """The whole answer as one chat.completion body; `head` has its id, object, created, model."""
    choices = [
        {
            "index": c.index,
            "message": _message(answer, c),
            "finish_reason": c.finish_reason,
            "logprobs": _logprobs(answer, c.pieces)
            if answer.top_logprobs is not None and not c.calls
            else None,
        }
        for c in answer.choices
    ]
    return orjson.dumps({**head, "choices": choices, "usage": usage})


def _events(answer: Answer, choice: Choice) -> list[dict[str, Any] | None]:
    """One choice's stream, one entry per step; None is a step of silence (hidden reasoning)."""
    out: list[dict[str, Any] | None] = []
    role: dict[str, Any] = {"role": "assistant"}

    def add(delta: dict[str, Any], finish: str | None = None,
            logprobs: dict[str, Any] | None = None) -> None:  # fmt: skip
        nonlocal role
        event: dict[str, Any] = {"index": choice.index, "delta": {**role, **delta},
                                 "finish_reason": finish}  # fmt: skip
        if logprobs is not None:
            event["logprobs"] = logprobs
        role = {}
        out.append(event)

    if answer.reasoning_shown:
        for piece in answer.reasoning:
            add({"reasoning": piece})
    else:
        out.extend([None] * len(answer.reasoning))
    for k, call in enumerate(choice.calls):
        fn = call["function"]
        opening = {"index": k, "id": call["id"], "type": "function",
                   "function": {"name": fn["name"], "arguments": ""}}  # fmt: skip
        add({"content": None, "tool_calls": [opening]})
        args: str = fn["arguments"]
        for at in range(0, len(args), _ARGUMENT_PIECE):
            piece = args[at : at + _ARGUMENT_PIECE]
            add({"tool_calls": [{"index": k, "function": {"arguments": piece}}]})
    if choice.calls:
        add({}, choice.finish_reason)
    elif not choice.pieces:
        add({"content": ""}, choice.finish_reason)
    last = len(choice.pieces) - 1
    for i, piece in enumerate(choice.pieces):
        logprobs = _logprobs(answer, [piece]) if answer.top_logprobs is not None else None
        add({"content": piece}, choice.finish_reason if i == last else None, logprobs)
    return out


class StepFrames:
    """The stream of an answer in steps: step i holds every choice's i-th event, so `n` choices
    stream side by side at one token rate. Steps of hidden reasoning are empty: silence."""

    __slots__ = ("_steps", "n")

    def __init__(self, head: bytes, answer: Answer) -> None:
        per_choice = [_events(answer, c) for c in answer.choices]
        self.n = max(len(events) for events in per_choice)
        self._steps = [
            b"".join(
                b"%s%s]}\n\n" % (head, orjson.dumps(events[i]))
                for events in per_choice
                if i < len(events) and events[i] is not None
            )
            for i in range(self.n)
        ]

    def event(self, i: int) -> bytes:
        return self._steps[i]
