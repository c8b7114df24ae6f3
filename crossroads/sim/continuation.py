"""Assistant prefill: a request whose last message is the assistant's unfinished answer.

Anthropic's Messages API continues a trailing assistant turn natively (OpenRouter passes it on
the same way); the router uses it to resume a stream that broke mid-answer on another endpoint
(crossroads/resume.py). The simulated model
continues *the same deterministic answer*: it composes the answer it would give to the
conversation without the prefill (so a `seed` reads the same words), and when the prefill is a
prefix of that answer's text it sends only what follows, cut to `max_tokens` counted from there.
A prefill that is not a prefix of the answer gets the whole answer, as a model that reads the
prefill its own way would. A continuation never reasons again: the thinking is behind it.

The prefill counts in the prompt (prompt.py counts every message), which is how providers bill
it. An endpoint whose profile says `supports_prefill = false` refuses such a request with a 400,
as providers that reject a trailing assistant message do.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from crossroads.sim.answer import Answer, Choice, compose
from crossroads.sim.profile import SimProfile
from crossroads.sim.prompt import ChatRequest, parse_chat

__all__ = ["REFUSAL", "continue_answer", "prefill_of"]

REFUSAL: Final = "This model does not support assistant message prefill."
_LIMITS: Final = ("max_tokens", "max_completion_tokens")


def prefill_of(req: ChatRequest) -> str | None:
    """The text of a trailing assistant message that is an answer to continue, else None."""
    messages = req.body["messages"]
    if req.last_role != "assistant" or len(messages) < 2:
        return None  # an assistant turn alone is a conversation to answer, not an answer
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "assistant" or last.get("tool_calls"):
        return None
    content = last.get("content")
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        content = "".join(t for t in texts if isinstance(t, str))
    return content if isinstance(content, str) and content else None


def _rest(pieces: list[str], prefill: str) -> list[str]:
    """The pieces after `prefill`, the one it ends inside cut where it ends. Whitespace left
    of a cut piece joins the next one, as a tokenizer reads " fox" after "brown"."""
    text = "".join(pieces)
    if not text.startswith(prefill):
        return pieces
    rest: list[str] = []
    used = 0
    for piece in pieces:
        end = used + len(piece)
        if end > len(prefill):
            rest.append(piece[max(len(prefill) - used, 0):])
        used = end
    if len(rest) > 1 and not rest[0].strip():
        rest[:2] = [rest[0] + rest[1]]
    return rest


def continue_answer(req: ChatRequest, profile: SimProfile, completion_id: str,
                    prefill: str) -> Answer:
    body: dict[str, Any] = {k: v for k, v in req.body.items() if k not in _LIMITS}
    body["messages"] = req.body["messages"][:-1]
    base = parse_chat(body, profile.image_tokens, False)
    whole = compose(base, msgspec.structs.replace(profile, reasoning=False), completion_id)
    limit = req.max_tokens
    choices = []
    for choice in whole.choices:
        if choice.calls:
            choices.append(choice)
            continue
        rest = _rest(choice.pieces, prefill)
        finish = choice.finish_reason
        if limit is not None and len(rest) > limit:
            rest, finish = rest[:limit], "length"
        matched = choice.stop_sequence if finish == choice.finish_reason else None
        choices.append(Choice(choice.index, rest, [], finish, len(rest), matched))
    return Answer(choices, [], False, whole.top_logprobs)
