"""What the relay reads and writes around its loop: whole answers by operation, the keep-alive
comments an uncommitted stream sends its caller while providers are silent, the commit, and
what live stats learn from a finished attempt."""

from __future__ import annotations

from collections.abc import Callable

from crossroads.chat_request import ChatRequest
from crossroads.embeddings_response import embeddings_body
from crossroads.failures import AttemptError
from crossroads.generation import Attempt, Generation
from crossroads.operations import Operation
from crossroads.providers import PROVIDERS
from crossroads.stats import AttemptReport
from crossroads.streaming import ClientStream

Answer = Callable[[Generation, Attempt, bytes, ChatRequest], bytes]


def _chat_answer(generation: Generation, attempt: Attempt, raw: bytes,
                 request: ChatRequest) -> bytes:
    provider = PROVIDERS[attempt.endpoint.dialect]
    return generation.complete_body(attempt, provider.parse_completion(raw, request), request)


def _embeddings_answer(generation: Generation, attempt: Attempt, raw: bytes,
                       request: ChatRequest) -> bytes:
    provider = PROVIDERS[attempt.endpoint.dialect]
    return embeddings_body(generation, attempt, provider.parse_embeddings(raw), request)


# How a whole upstream answer becomes the caller's, per operation; both raise AttemptError
# for a broken answer, so the loop fails over alike. Only chat streams (`_stream`).
ANSWERS: dict[Operation, Answer] = {
    Operation.CHAT: _chat_answer,
    Operation.EMBEDDINGS: _embeddings_answer,
}


class KeepAlive:
    """`WhileWaiting` for an uncommitted stream: a keep-alive comment to the caller whenever
    `keepalive_s` passed since it last heard from us."""

    __slots__ = ("_interval", "_out")

    def __init__(self, out: ClientStream, interval_s: float) -> None:
        self._out = out
        self._interval = interval_s

    def due(self) -> float:
        return self._out.keepalive_due(self._interval)

    async def fire(self) -> None:
        await self._out.keepalive()


async def commit(out: ClientStream, attempt: Attempt, request: ChatRequest,
                 generation: Generation) -> None:
    """Commit the caller's stream to `attempt` (and echo its upstream body if asked)."""
    await out.commit()
    if request.echo_upstream_body:
        await out.write(generation.debug_event(attempt))


def attempt_report(attempt: Attempt, error: AttemptError | None) -> AttemptReport:
    """What live stats learn from a finished attempt (`error`: how it failed, if it did)."""
    if error is not None:
        rule = error.rule
        return AttemptReport(ok=False, counts_against_uptime=rule.counts_against_uptime,
                             trips_breaker=rule.trips_breaker, retry_after_s=error.retry_after_s,
                             started=attempt.started)
    ended = attempt.ended if attempt.ended is not None else attempt.started
    return AttemptReport(
        ok=True,
        counts_against_uptime=True,
        trips_breaker=False,
        ttft_s=attempt.ttft_s,
        latency_s=ended - attempt.started,
        completion_tokens=attempt.usage.completion_tokens if attempt.usage else 0,
        generation_s=attempt.generation_s,
        started=attempt.started,
    )
