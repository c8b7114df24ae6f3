"""The relay: executes a routing plan. The only retry loop in crossroads.

Theory of operation
-------------------
A plan is an ordered list of endpoints. The relay tries them one at a time, and every try is an
*attempt* with its own timings and outcome, reported to live stats whatever happens.

Failing over. Before anything of an answer has reached the caller, a failed attempt is
invisible: the relay moves to the next endpoint. Which failures move on, which count against
uptime and which open the endpoint's breaker is the table in `failures.py`. Three refinements:

* A caller's mistake (400/413/422, a content filter) is final: it is the caller's answer, with
  the provider's reason, and trying elsewhere would only repeat it.
* A context-length rejection moves on only to endpoints with a larger context than the one that
  refused.
* A 429 opens the breaker for Retry-After. When no other endpoint is left and Retry-After is
  short (`timeouts.retry_after_max_wait_s`), the relay waits it out and asks once more; otherwise
  the caller gets the 429 with the Retry-After to honour.

An endpoint whose breaker is open is skipped (`LiveStats.try_begin`), and at most
`routing.max_attempts` attempts are made, all within `timeouts.total_s`.

Limits. Waiting for response headers is bounded by `headers_s`; a streamed answer's first
content token by `first_token_s` (from the attempt's start) *when another endpoint could still
be tried* — for the last candidate, waiting longer beats failing; each later gap between chunks
by `stall_s`. A non-streamed answer must complete within `first_token_s` when a fallback exists,
otherwise within the total budget.

Committing. A stream commits to an endpoint when that endpoint's first content (text, tool call,
reasoning or a finish reason) arrives; role-only preludes are held back until then. Response
headers go to the caller at commit time, or earlier if `keepalive_s` passes first, in which case
`: CROSSROADS PROCESSING` comments keep the connection alive while attempts continue. After
commit nothing is retried, but it may be *resumed*: when the stream is cut, stalls or turns
malformed, the answer so far is sent as an assistant prefill to the next endpoint of the plan
that takes one (same model, `supports_prefill`), and its continuation is spliced into the
caller's stream (`resume.py`: when it applies, the splice, and how the parts are billed). The
loop goes on as a failover would, skipping endpoints that cannot continue; a continuation that
fails before its own first content moves on the same way. A stream that cannot be resumed (tool
calls, JSON, nothing left to try, resume off) ends with one event that carries a top-level
`error` and `finish_reason: "error"`, and no `[DONE]` — a truncated answer is never dressed as a
complete one. If every attempt fails before commit, the caller gets a normal JSON error with the
real status, unless keep-alives already sent a 200, in which case the same in-band error event
ends the stream.

Parsing is tolerant where nothing can be lost: an upstream line that could not have carried a
chunk is skipped and counted on the attempt; one that could have is malformed (`sse.py`).

A stream that ends without `[DONE]` after its finish reason (and usage, if any) is complete, and
the relay finishes it at once; so is one cut or stalled after its finish reason (its usage then
estimated). The caller leaving cancels the task running the relay, which closes
the upstream connection immediately (`UpstreamResponse.close`).

Operations. An embeddings request runs this same loop: the provider builds its upstream call
(`/embeddings` instead of `/chat/completions`), and `_ANSWERS` reads its whole answer; a broken
one fails over like a broken chat answer. It never streams.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from crossroads.catalog import Catalog, endpoint_key
from crossroads.chat_request import ChatRequest
from crossroads.credentials import CredentialRejected, CredentialUnavailable, Rejectable
from crossroads.embeddings_response import embeddings_body
from crossroads.errors import (
    redact,
)
from crossroads.failures import AttemptError, Failure
from crossroads.generation import Attempt, Generation, ResultSink
from crossroads.metrics import OverheadTimer
from crossroads.operations import Operation
from crossroads.providers import PROVIDERS
from crossroads.relay_errors import caller_error, final_error
from crossroads.resume import Resume
from crossroads.routing.plan import Plan
from crossroads.settings import Settings
from crossroads.stats import AttemptReport, LiveStats
from crossroads.streaming import ClientStream, StreamSession
from crossroads.upstream import DeadlinePassed, Upstream, UpstreamResponse

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
_ANSWERS: dict[Operation, Answer] = {
    Operation.CHAT: _chat_answer,
    Operation.EMBEDDINGS: _embeddings_answer,
}


# Transport failures that, once the finish reason has arrived, cost nothing of the answer.
_AFTER_FINISH = frozenset({Failure.CUT, Failure.STALL})


class _KeepAlive:
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


class Relay:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        upstream: Upstream,
        stats: LiveStats,
        sink: ResultSink,
        rng: random.Random,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.upstream = upstream
        self.stats = stats
        self.sink = sink
        self.rng = rng
        self.timeouts = settings.timeouts

    # --- shared plumbing -------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _finish_attempt(self, attempt: Attempt, error: AttemptError | None) -> None:
        attempt.ended = self._now()
        key = endpoint_key(attempt.endpoint)
        if error is not None:
            attempt.failure = error.failure
            attempt.message = error.message
            attempt.status = error.status or attempt.status
            rule = error.rule
            if error.failure is Failure.CANCELLED:
                self.stats.release(key)
                return
            report = AttemptReport(
                ok=False,
                counts_against_uptime=rule.counts_against_uptime,
                trips_breaker=rule.trips_breaker,
                retry_after_s=error.retry_after_s,
                started=attempt.started,
            )
        else:
            report = AttemptReport(
                ok=True,
                counts_against_uptime=True,
                trips_breaker=False,
                ttft_s=attempt.ttft_s,
                latency_s=attempt.ended - attempt.started,
                completion_tokens=attempt.usage.completion_tokens if attempt.usage else 0,
                generation_s=attempt.generation_s,
                started=attempt.started,
            )
        self.stats.record(key, report, attempt.ended)

    async def _open(self, attempt: Attempt, request: ChatRequest, deadline: float,
                    out: ClientStream | None, generation: Generation) -> UpstreamResponse:
        endpoint = attempt.endpoint
        timer = generation.overhead
        provider = PROVIDERS[endpoint.dialect]
        # A key's reservation may have lowered max_tokens for this endpoint, to stay a bound.
        reservation = generation.reservation
        max_tokens = None if reservation is None else reservation.max_tokens.get(endpoint.key)
        if max_tokens is not None and request.max_tokens is not None:
            # A continuation's limit is what the answer so far left of the caller's (resume.py).
            max_tokens = min(max_tokens, request.max_tokens)
        # The provider builds the request; the endpoint's credential authorises it last, so a
        # signature covers the final URL, headers and body.
        built = provider.build(endpoint, None, request, max_tokens)
        credential = self.catalog.credentials.for_endpoint(endpoint)
        try:
            built = credential.authorize(built)
        except CredentialUnavailable as exc:
            raise AttemptError(Failure.CREDENTIAL, exc.reason) from None
        if request.echo_upstream_body:
            attempt.upstream_body = built.body
        headers_deadline = min(deadline, attempt.started + self.timeouts.headers_s)
        what = f"no response headers within {self.timeouts.headers_s:g} s"
        keepalive = None if out is None or out.committed else \
            _KeepAlive(out, self.timeouts.keepalive_s)
        # The client's own timers bound the wait and fire the keep-alives: no task and no
        # asyncio.timeout context per attempt. The wait is the provider's, not overhead.
        timer.begin_wait()
        try:
            response = await self.upstream.send(built, headers_deadline - self._now(), what,
                                                keepalive)
        finally:
            timer.end_wait()
        attempt.status = response.status
        attempt.headers_at = self._now()
        if response.status >= 300:
            timer.begin_wait()
            try:
                body = await self.upstream.error_body(response, 5.0)
            finally:
                timer.end_wait()
            error = provider.classify(response.status, response.headers, body)
            if isinstance(error, CredentialRejected) and isinstance(credential, Rejectable):
                credential.rejected(error.message)
            raise error
        return response

    # --- the loop ---------------------------------------------------------------------------

    async def run(self, request: ChatRequest, plan: Plan, generation: Generation,
                  out: ClientStream | None) -> bytes | None:
        """Serve the request; returns the JSON body for a non-streamed answer."""
        start = self._now()
        total_deadline = start + self.timeouts.total_s
        queue = list(plan.attempts)
        min_context = 0
        last_error: AttemptError | None = None
        errors: list[AttemptError] = []
        waited_for_rate_limit = False
        resume = Resume(request) if out is not None and self.settings.routing.resume_streams \
            else None
        while queue and len(generation.attempts) < self.settings.routing.max_attempts:
            endpoint = queue.pop(0)
            if endpoint.context_length <= min_context or (resume is not None
                                                          and not resume.accepts(endpoint)):
                continue
            now = self._now()
            if now >= total_deadline:
                break
            if not self.stats.try_begin(endpoint_key(endpoint), now):
                continue
            attempt = Attempt(endpoint=endpoint, started=now)
            generation.attempts.append(attempt)
            if resume is not None:
                resume.begin(attempt)
            has_fallback = any(e.context_length > min_context for e in queue)
            first_token_deadline = (
                min(total_deadline, now + self.timeouts.first_token_s)
                if has_fallback else total_deadline
            )
            try:
                if out is None:
                    return await self._complete(attempt, request, generation,
                                                first_token_deadline)
                await self._stream(attempt, request if resume is None else resume.request,
                                   generation, out, first_token_deadline, total_deadline, resume)
                return None
            except AttemptError as error:
                error.message = redact(error.message, self.catalog.api_key(endpoint))
                self._finish_attempt(attempt, error)
                if out is not None and out.committed:
                    attempts_left = (len(generation.attempts) < self.settings.routing.max_attempts
                                     and self._now() < total_deadline)
                    if resume is not None and resume.resumes(attempt, error, generation, queue,
                                                             attempts_left):
                        last_error = error
                        errors.append(error)
                        continue
                    await out.write(generation.error_event(
                        endpoint, 502, f"The provider failed mid-stream: {error.message}",
                        {"provider_name": endpoint.provider_name,
                         "reason": error.failure.value}))
                    self.sink(generation)
                    return None
                last_error = error
                errors.append(error)
                if not error.rule.fail_over:
                    self.sink(generation)
                    raise caller_error(error, attempt.endpoint.provider_name) from None
                if error.failure is Failure.CONTEXT_LENGTH:
                    min_context = max(min_context, endpoint.context_length)
                if (error.failure is Failure.RATE_LIMITED and not waited_for_rate_limit
                        and not queue and error.retry_after_s is not None
                        and error.retry_after_s <= self.timeouts.retry_after_max_wait_s):
                    waited_for_rate_limit = True
                    # Sleep to the breaker's own deadline (not just Retry-After) so the retry
                    # is never refused by clock rounding.
                    until = self.stats.health(endpoint_key(endpoint), self._now()).cooling_until
                    generation.overhead.begin_wait()
                    try:
                        await asyncio.sleep(max(until - self._now(), 0.0) + 0.002)
                    finally:
                        generation.overhead.end_wait()
                    queue.append(endpoint)
            except asyncio.CancelledError:
                self._finish_attempt(attempt, AttemptError(Failure.CANCELLED, "caller left"))
                generation.cancelled = True
                self.sink(generation)
                raise
            except BaseException:
                # Anything else is a refusal (CrossroadsError) or a bug: either way the probe
                # slot must be freed and the generation kept, or the endpoint stays wedged.
                attempt.ended = self._now()
                self.stats.release(endpoint_key(endpoint))
                self.sink(generation)
                raise
        final = final_error(errors, last_error, plan.cooling)
        if out is not None and out.started:
            # Keep-alives already sent a 200: the error can only travel in-band.
            await out.write(generation.error_event(None, final.status, final.message,
                                                   final.metadata))
            self.sink(generation)
            return None
        self.sink(generation)
        raise final

    # --- non-streaming ----------------------------------------------------------------------

    async def _complete(self, attempt: Attempt, request: ChatRequest, generation: Generation,
                        deadline: float) -> bytes:
        timer = generation.overhead
        response = await self._open(attempt, request, deadline, None, generation)
        timer.begin_wait()
        try:
            raw = await response.read(self.settings.server.max_body_bytes, deadline)
        except DeadlinePassed:
            response.close()
            raise AttemptError(Failure.RESPONSE_TIMEOUT,
                               "the provider did not finish its answer in time") from None
        except BaseException:
            response.close()
            raise
        finally:
            timer.end_wait()
        response.release()
        # A non-streamed answer arrives whole: it has a latency but no honest TTFT or
        # throughput, so it feeds neither.
        body = _ANSWERS[request.operation](generation, attempt, raw, request)
        self._finish_attempt(attempt, None)
        self.sink(generation)
        return body

    # --- streaming --------------------------------------------------------------------------

    async def _stream(self, attempt: Attempt, request: ChatRequest, generation: Generation,
                      out: ClientStream, first_token_deadline: float,
                      total_deadline: float, resume: Resume | None = None) -> None:
        timer = generation.overhead
        response = await self._open(attempt, request, first_token_deadline, out, generation)
        translator = PROVIDERS[attempt.endpoint.dialect].stream_translator(request)
        session = StreamSession(attempt, generation, request, translator,
                                self.settings.server.max_body_bytes,
                                None if resume is None else resume.splice)
        if resume is not None:
            resume.watch(session)
        try:
            while not session.saw_done:
                try:
                    chunk = await self._next_chunk(response, out, first_token_deadline,
                                                   total_deadline, timer)
                except AttemptError as error:
                    # Broken after its finish reason: the answer is whole, only usage is lost
                    # (estimated below), as for a clean end without [DONE].
                    if session.finish_reason is None or error.failure not in _AFTER_FINISH:
                        raise
                    chunk = b""
                now = self._now()
                events = session.feed(chunk, now) if chunk else session.end_of_body(now)
                if events:
                    if not out.committed:
                        # Content flows: a probe has proved the endpoint works (issue 18).
                        self.stats.answering(endpoint_key(attempt.endpoint), attempt.started)
                        await self._commit(out, attempt, request, generation)
                    await out.write(b"".join(events))
                if session.error is not None:
                    raise session.error
                if not chunk or session.complete_without_done():
                    break
        except asyncio.CancelledError:
            response.close()
            session.settle_partial()
            raise
        except BaseException:
            response.close()
            raise
        if session.saw_done:
            response.release()
        else:
            response.close()
        tail = session.finish()
        # Recorded before the caller sees [DONE]: an answer the caller has in full is never
        # missing from the ledger.
        self._finish_attempt(attempt, None)
        self.sink(generation)
        if not out.committed:
            await self._commit(out, attempt, request, generation)
        await out.write(tail)

    @staticmethod
    async def _commit(out: ClientStream, attempt: Attempt, request: ChatRequest,
                      generation: Generation) -> None:
        await out.commit()
        if request.echo_upstream_body:
            await out.write(generation.debug_event(attempt))

    async def _next_chunk(self, response: UpstreamResponse, out: ClientStream,
                          first_token_deadline: float, total_deadline: float,
                          timer: OverheadTimer) -> bytes:
        """The stream's next bytes within its limit: the stall limit once committed, the
        first-token deadline before, with keep-alives to the caller while it waits. Deadlines
        are the response's own timers, so a chunk costs no task and no timeout context."""
        stall = self.timeouts.stall_s
        if out.committed:
            deadline, keepalive = min(total_deadline, self._now() + stall), None
            failure, what = Failure.STALL, f"the provider sent nothing for {stall:g} s"
        else:
            deadline, keepalive = first_token_deadline, _KeepAlive(out, self.timeouts.keepalive_s)
            failure, what = Failure.FIRST_TOKEN_TIMEOUT, "no first token in time"
        timer.begin_wait()
        try:
            return await response.next_chunk(deadline, keepalive)
        except DeadlinePassed:
            raise AttemptError(failure, what) from None
        finally:
            timer.end_wait()
