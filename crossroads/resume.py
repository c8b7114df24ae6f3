"""Mid-stream resume: a committed stream that breaks is continued on another endpoint.

Once a stream has sent content the caller cannot be failed over invisibly: the answer has begun.
But it can be *continued*. When the stream is cut, stalls or turns malformed, the relay asks the
next endpoint of the plan for a continuation: the same request with the text already delivered
appended as a trailing assistant message (assistant prefill). The continuation's chunks are
spliced into the caller's stream, which reads as one answer: the same id, `created` and model,
every character once, one `finish_reason` and one final usage.

When it applies (`Resume.resumes`); otherwise the stream ends with the in-band error, as before:

* `[routing] resume_streams` is on (the default);
* the failure is the provider's (cut, stall, malformed, too large), not a refusal: an in-band
  error that blames the request, or a continuation refused with a 4xx (the endpoint rejects
  prefill after all), is final;
* the answer is plain text so far: no tool-call deltas (a half-built call cannot be continued),
  no `response_format` (a JSON document resumed by another model is not guaranteed valid), one
  choice (`n` = 1), no finish reason yet (the answer was whole);
* some text was delivered. A stream cut while still reasoning has nothing to prefill, and a
  second chain of thought after the first would not read as one; it keeps today's behaviour.
  Reasoning already delivered stays; a continuation's own reasoning is dropped, not spliced in;
* an endpoint that can continue is left in the plan: `supports_prefill` in the catalog (per
  endpoint or provider; by default true for the anthropic dialect, false for openai, whose
  reference API answers a trailing assistant message anew rather than continuing it), the same
  model as the answer so far, within `max_attempts` and the total deadline.

A continuation that fails before its first content moves on to the next such endpoint, like any
failover; one that breaks after content is resumed again, from the longer text.

A caller that sent its own prefill (a trailing assistant message) gets one assistant turn: its
prefill and the delivered text together. The prefill is that text with trailing whitespace
removed (Anthropic refuses a prefill that ends in whitespace, and a tokenizer continues a word
boundary better from the word); the whitespace the continuation repeats at its start is
dropped, so nothing is sent twice. Its
`max_tokens` is what the caller's limit leaves after the text chunks delivered, each counted as
one token: exact for providers that stream a token per chunk (most do), a lower bound otherwise,
so an answer is never cut short of the caller's limit; its billing estimate (below) is apart.

Billing. The caller pays what the providers charged for what the caller received, each part at
its own endpoint's prices (`Generation.prior`, `Generation.price`): the broken attempt's prompt
and the completion tokens it delivered (the provider's usage if it sent any before breaking,
otherwise an estimate from the delivered text, marked `estimated`), plus the continuation's own
usage, whose prompt includes the prefill. The final usage chunk and the ledger carry the sums;
each attempt's record carries its own part (`prompt_tokens`, `completion_tokens`, `cost_micro`,
`prefill_chars`). A resumed answer that still ends in error is not billed, as before.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.failures import AttemptError
from crossroads.generation import Attempt, Generation, estimate_usage
from crossroads.pricing import cost_micro
from crossroads.streaming import StreamSession

__all__ = ["REASONING_KEYS", "Resume", "Splice"]

REASONING_KEYS: Final = ("reasoning", "reasoning_content", "reasoning_details")
_LIMITS: Final = ("max_tokens", "max_completion_tokens")


class Splice:
    """Joins one continuation's chunks to the answer already sent: the same `created`, no
    second role prelude, no second chain of thought, and the whitespace trimmed off the prefill
    sent only once."""

    __slots__ = ("_created", "_overlap")

    def __init__(self, overlap: str, created: int | None) -> None:
        self._overlap = overlap
        self._created = created

    def __call__(self, payload: dict[str, Any]) -> None:
        if self._created is not None:
            payload["created"] = self._created
        choices = payload["choices"]
        if not choices:
            return
        delta = choices[0]["delta"]
        delta.pop("role", None)
        for key in REASONING_KEYS:
            delta.pop(key, None)
        content = delta.get("content")
        if not self._overlap or not isinstance(content, str) or not content:
            return
        same = 0
        for mine, theirs in zip(self._overlap, content, strict=False):
            if mine != theirs:
                break
            same += 1
        # Still inside the repeated whitespace: the rest of it may come in the next delta.
        self._overlap = self._overlap[same:] if same == len(content) else ""
        delta["content"] = content[same:]


def _caller_prefill(messages: list[Any]) -> str:
    """The caller's own prefill (a trailing assistant message of plain text), which the answer
    continues, and so must the resumed answer: one assistant turn, not two."""
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "assistant" and not last.get("tool_calls"):
        content = last.get("content")
        if isinstance(content, str):
            return content
    return ""


def _plain_text(request: ChatRequest) -> bool:
    body = request.body
    fmt = body.get("response_format")
    structured = isinstance(fmt, dict) and fmt.get("type") not in (None, "text")
    return not structured and body.get("n") in (None, 1)


class Resume:
    """One streamed generation's resumes: what was delivered, and the request that continues it.

    The relay creates one per streamed request when `resume_streams` is on, hands each attempt's
    `StreamSession` to `watch`, and asks `resumes` when a committed attempt fails."""

    __slots__ = ("_base", "_created", "_delivered", "_head", "_model", "_session", "_spent",
                 "request", "splice")

    def __init__(self, request: ChatRequest) -> None:
        self._base = request
        self.request = request  # what the next attempt sends
        self.splice: Splice | None = None  # set once a continuation is under way
        self._delivered: list[str] = []
        self._head = _caller_prefill(request.body.get("messages") or [])
        self._model: str | None = None
        self._created: int | None = None
        # Text chunks delivered: at least one token each, and exactly the tokens for providers
        # that stream a token per chunk. What the caller's max_tokens is charged with.
        self._spent = 0
        self._session: StreamSession | None = None

    @property
    def plain(self) -> bool:
        return _plain_text(self._base)

    def watch(self, session: StreamSession) -> None:
        self._session = session

    def accepts(self, endpoint: Endpoint) -> bool:
        """Whether `endpoint` may be tried now: anything before a resume, afterwards only an
        endpoint that continues a prefill, of the model that began the answer."""
        return self._model is None or (endpoint.supports_prefill and endpoint.model == self._model)

    def resumes(self, attempt: Attempt, error: AttemptError, generation: Generation,
                queue: list[Endpoint], attempts_left: bool) -> bool:
        """After committed `attempt` failed: prepare the continuation and say True, or say False
        and leave the stream to end with the in-band error (module doc)."""
        if not error.rule.fail_over or not attempts_left or not self.plain:
            return False
        session = self._session
        fresh = session is not None and session.attempt is attempt and session.has_content
        if self._model is not None and not fresh:
            # A continuation failed before its first content: the same one, on the next.
            return any(self.accepts(e) for e in queue)
        if session is None or not fresh or session.tool_calls or session.finish_reason:
            return False
        model = self._model or attempt.endpoint.model
        text = "".join([*self._delivered, *session.text])
        full = self._head + text
        prefill = full.rstrip()
        if not text.strip() or not any(e.supports_prefill and e.model == model for e in queue):
            return False
        spent = self._spent + sum(1 for piece in session.text if piece)
        remaining = None if self._base.max_tokens is None else self._base.max_tokens - spent
        if remaining is not None and remaining <= 0:
            return False
        self._bill(attempt, session, generation)
        self._spent = spent
        self._model = model
        if self._created is None:
            self._created = session.created
        self._delivered = [text]
        self.splice = Splice(full[len(prefill):], self._created)
        self.request = self._continuation(prefill, remaining)
        generation.notes.append(
            f"resumed a stream that broke ({error.failure.value}) after {len(text)} characters "
            f"from {attempt.endpoint.provider_name}, by continuing it on the next provider")
        return True

    def begin(self, attempt: Attempt) -> None:
        """`attempt` is about to continue the answer: record from where."""
        if self.splice is not None:
            attempt.prefill_chars = len("".join(self._delivered))

    def _bill(self, attempt: Attempt, session: StreamSession, generation: Generation) -> None:
        """Price the part of the answer `attempt` delivered: its provider's usage if any came
        before the break, else an estimate from what was sent."""
        usage = attempt.usage
        if usage is None:
            usage = estimate_usage(self.request, session.chars, session.chunks)
        attempt.usage = usage
        attempt.cost_micro = cost_micro(usage, attempt.endpoint.pricing)
        if generation.served is attempt:
            generation.served = None
        generation.prior.append(attempt)

    def _continuation(self, prefill: str, remaining: int | None) -> ChatRequest:
        base = self._base
        body = dict(base.body)
        messages = base.body["messages"][:-1] if self._head else base.body["messages"]
        body["messages"] = [*messages, {"role": "assistant", "content": prefill}]
        if remaining is not None:
            for key in _LIMITS:
                if key in body:
                    body[key] = remaining
        return msgspec.structs.replace(
            base, body=body, max_tokens=remaining,
            prompt_chars=base.prompt_chars + len(prefill) - len(self._head),
            message_count=base.message_count + 1)
