"""What the ledger keeps of one generation: frozen values built once, when the relay is done.

`record_of` runs on the event loop for every generation, so it only reads attributes and does
arithmetic: no I/O, no formatting. Times become integer milliseconds: wall-clock unix ms for the
request start (monotonic + `wall_offset`, the difference the caller measured once at startup),
and offsets from that start for everything else, so a record never mixes clocks.

Derivations from what `Generation` holds today:
- request start = the first attempt's start (the relay creates it immediately); with no attempt,
  `created`.
- end = the latest end of any attempt (falling back to the latest start).
- the serving attempt = `generation.served`; when none was priced (a stream cut or cancelled after
  content reached the caller), the last attempt that produced a first token, because that is the
  provider whose tokens the caller saw. Its absence is what makes a generation "unserved".
- generation time = first token → end of the serving attempt; None when no first token was
  measured (non-streamed answers arrive whole and have no honest generation time).
- TTFT = first token − request start, failover time included, as the stats definition says.
"""

from __future__ import annotations

import msgspec

from crossroads.generation import Attempt, Generation
from crossroads.pricing import Usage

MESSAGE_LIMIT = 500
"""Upstream error messages are kept for diagnosis, bounded so a hostile body cannot bloat rows."""


class AttemptRecord(msgspec.Struct, frozen=True):
    """One try at one endpoint; times are ms from the generation's request start."""

    endpoint_tag: str
    provider_name: str
    model: str
    status: int | None
    failure: str | None
    message: str | None
    started_ms: int
    ended_ms: int | None
    ttft_ms: int | None
    served: bool
    # Added with mid-stream resume (resume.py); defaults keep older journal frames decodable.
    # This attempt's part of the answer, when the caller received tokens from it: its usage and
    # what that cost at its endpoint's prices. None when none of its tokens reached the caller.
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_micro: int | None = None
    usage_estimated: bool = False
    # A continuation: the characters of answer it was sent as assistant prefill.
    prefill_chars: int | None = None
    # Harmless junk lines its stream carried, skipped (sse.py).
    skipped_events: int = 0


class GenerationRecord(msgspec.Struct, frozen=True):
    """One caller request as stored: the row behind GET /generation and every rollup."""

    id: str
    created: int
    started_at_ms: int
    model_requested: str
    model: str | None
    provider_name: str | None
    endpoint_tag: str | None
    app_referer: str | None
    app_title: str | None
    key_id: str | None
    streamed: bool
    cancelled: bool
    finish_reason: str | None
    usage: Usage
    cost_micro: int
    discount_micro: int
    latency_ms: int
    generation_time_ms: int | None
    ttft_ms: int | None
    attempts: tuple[AttemptRecord, ...] = ()
    # Added after the first schema: defaults keep older journal frames decodable.
    upstream_id: str | None = None
    native_finish_reason: str | None = None
    user_agent: str | None = None
    external_user: str | None = None
    session_id: str | None = None
    completion_cost_micro: int | None = None
    """The completion tokens' share of `cost_micro`; None in frames older than the field."""
    surface: str = "chat"
    """The API the caller spoke: chat, responses, messages, completions, embeddings."""
    preset: str | None = None
    notes: tuple[str, ...] = ()
    """What the router changed on its own: a model fallback and why, a middle-out cut."""

    @property
    def unserved(self) -> bool:
        return self.endpoint_tag is None

    @property
    def is_error(self) -> bool:
        """Counted in the `errors` rollup: nothing served, or a stream that ended in error.

        A caller who leaves is counted under `cancelled`, not as an error: it says nothing
        about the model or the provider.
        """
        return not self.cancelled and (self.unserved or self.finish_reason == "error")

    @property
    def app(self) -> str:
        """The app a generation is filed under: its referer, else its title, else ''."""
        return self.app_referer or self.app_title or ""


def _ms(seconds: float) -> int:
    return round(seconds * 1000.0)


def serving_attempt(generation: Generation) -> Attempt | None:
    if generation.served is not None:
        return generation.served
    for attempt in reversed(generation.attempts):
        if attempt.first_token_at is not None:
            return attempt
    return None


def _attempt_record(attempt: Attempt, start: float, served: bool) -> AttemptRecord:
    message = attempt.message
    if message is not None and len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    ttft = attempt.ttft_s
    endpoint = attempt.endpoint
    usage = attempt.usage
    return AttemptRecord(
        endpoint_tag=endpoint.tag,
        provider_name=endpoint.provider_name,
        model=endpoint.model,
        status=attempt.status,
        failure=None if attempt.failure is None else attempt.failure.value,
        message=message,
        started_ms=_ms(attempt.started - start),
        ended_ms=None if attempt.ended is None else _ms(attempt.ended - start),
        ttft_ms=None if ttft is None else _ms(ttft),
        served=served,
        prompt_tokens=None if usage is None else usage.prompt_tokens,
        completion_tokens=None if usage is None else usage.completion_tokens,
        cost_micro=None if usage is None else attempt.cost_micro,
        usage_estimated=usage is not None and usage.estimated,
        prefill_chars=attempt.prefill_chars,
        skipped_events=attempt.skipped_events,
    )


def record_of(generation: Generation, wall_offset: float) -> GenerationRecord:
    """Freeze a finished generation; `wall_offset` = wall clock − event-loop clock (seconds)."""
    attempts = generation.attempts
    serving = serving_attempt(generation)
    if attempts:
        start = attempts[0].started
        started_at_ms = _ms(start + wall_offset)
        end = max((a.ended if a.ended is not None else a.started) for a in attempts)
        latency_ms = _ms(end - start)
    else:
        start = 0.0
        started_at_ms = generation.created * 1000
        latency_ms = 0
    generation_time_ms: int | None = None
    ttft_ms: int | None = None
    if serving is not None and serving.first_token_at is not None:
        ttft_ms = _ms(serving.first_token_at - start)
        if serving.ended is not None:
            generation_time_ms = _ms(serving.ended - serving.first_token_at)
    endpoint = None if serving is None else serving.endpoint
    return GenerationRecord(
        id=generation.id,
        created=generation.created,
        started_at_ms=started_at_ms,
        model_requested=generation.model_requested,
        model=None if endpoint is None else endpoint.model,
        provider_name=None if endpoint is None else endpoint.provider_name,
        endpoint_tag=None if endpoint is None else endpoint.tag,
        app_referer=generation.app_referer,
        app_title=generation.app_title,
        key_id=generation.key_id,
        streamed=generation.streamed,
        cancelled=generation.cancelled,
        finish_reason=generation.finish_reason,
        usage=generation.usage if generation.usage is not None else Usage(),
        cost_micro=generation.cost_micro,
        discount_micro=generation.discount_micro,
        latency_ms=latency_ms,
        generation_time_ms=generation_time_ms,
        ttft_ms=ttft_ms,
        attempts=tuple(_attempt_record(a, start, a is serving) for a in attempts),
        upstream_id=generation.upstream_id,
        native_finish_reason=generation.native_finish_reason,
        user_agent=_bounded(generation.user_agent),
        external_user=_bounded(generation.external_user),
        session_id=generation.session_id,
        completion_cost_micro=generation.completion_cost_micro,
        surface=generation.surface,
        preset=generation.preset,
        notes=tuple(generation.notes),
    )


def _bounded(text: str | None) -> str | None:
    return text if text is None or len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT]
