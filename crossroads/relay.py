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
* Same model first (`retry_policy.py`). Endpoints of one model come before the next model's
  (the plan's order). Before leaving a model, the endpoint that just failed is tried once more
  per request: after a short Retry-After (`timeouts.retry_after_max_wait_s`, also when nothing
  else is left) or, for a transient 5xx when another model is next, after a jittered backoff or
  its breaker's cooldown, whichever is longer (`failover.*`). Otherwise a 429 reaches the
  caller with the Retry-After to honour.

An endpoint whose breaker is open is skipped (`LiveStats.try_begin`), and at most
`routing.max_attempts` attempts are made, all within `timeouts.total_s`.

Limits. Waiting for response headers is bounded by `headers_s`; a streamed answer's first
content token (from the attempt's start) *when another endpoint could still be tried* by a
budget adaptive to the endpoint's measured TTFT, `first_token_s` at most (`deadlines.py`) — for
the last candidate, waiting longer beats failing; each later gap between chunks by `stall_s`.
A non-streamed answer must complete within `first_token_s` when a fallback exists, otherwise
within the total budget. With `failover.hedge`, a stream late by its budget is not abandoned:
the next endpoint starts alongside and the first to produce content commits (`hedging.py`).

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
(`/embeddings` instead of `/chat/completions`), and `relay_io.ANSWERS` reads its whole answer; a
broken one fails over like a broken chat answer. It never streams.
"""

from __future__ import annotations

import asyncio
import random

from crossroads.catalog import Catalog, Endpoint, endpoint_key
from crossroads.chat_request import ChatRequest
from crossroads.credentials import CredentialRejected, CredentialUnavailable, Rejectable
from crossroads.deadlines import AttemptLimits, attempt_limits
from crossroads.errors import redact
from crossroads.failures import AttemptError, Failure
from crossroads.generation import Attempt, Generation, ResultSink
from crossroads.hedging import Race
from crossroads.metrics import OverheadTimer
from crossroads.providers import PROVIDERS
from crossroads.relay_errors import caller_error, final_error
from crossroads.relay_io import ANSWERS, KeepAlive, attempt_report, commit
from crossroads.resume import Resume
from crossroads.retry_policy import retry_same
from crossroads.routing.plan import Plan
from crossroads.settings import Settings
from crossroads.stats import LiveStats
from crossroads.streaming import ClientStream, StreamSession
from crossroads.upstream import DeadlinePassed, Upstream, UpstreamResponse

# Transport failures that, once the finish reason has arrived, cost nothing of the answer.
_AFTER_FINISH = frozenset({Failure.CUT, Failure.STALL})


class Relay:
    def __init__(self, settings: Settings, catalog: Catalog, upstream: Upstream,
                 stats: LiveStats, sink: ResultSink, rng: random.Random) -> None:
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
            if error.failure is Failure.CANCELLED:
                self.stats.release(key)
                return
        self.stats.record(key, attempt_report(attempt, error), attempt.ended)

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
            KeepAlive(out, self.timeouts.keepalive_s)
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

    def _next_attempt(self, request: ChatRequest, queue: list[Endpoint], min_context: int,
                      generation: Generation, total_deadline: float, resume: Resume | None,
                      streamed: bool = True) -> tuple[Attempt, AttemptLimits] | None:
        """Start the plan's next endpoint that can be tried now, with its limits."""
        while queue and len(generation.attempts) < self.settings.routing.max_attempts:
            endpoint = queue.pop(0)
            if endpoint.context_length <= min_context or (resume is not None
                                                          and not resume.accepts(endpoint)):
                continue
            now = self._now()
            if now >= total_deadline:
                return None
            key = endpoint_key(endpoint)
            if not self.stats.try_begin(key, now):
                continue
            attempt = Attempt(endpoint=endpoint, started=now)
            generation.attempts.append(attempt)
            if resume is not None:
                resume.begin(attempt)
            return attempt, attempt_limits(
                now=now, total_deadline=total_deadline, streamed=streamed,
                has_fallback=any(e.context_length > min_context for e in queue),
                ttft=self.stats.health(key, now).speed.ttft_s, failover=self.settings.failover,
                first_token_s=self.timeouts.first_token_s,
                prompt_tokens=request.prompt_token_estimate(0))
        return None

    async def run(self, request: ChatRequest, plan: Plan, generation: Generation,
                  out: ClientStream | None) -> bytes | None:
        """Serve the request; returns the JSON body for a non-streamed answer."""
        total_deadline = self._now() + self.timeouts.total_s
        queue = list(plan.attempts)
        min_context = 0
        last_error: AttemptError | None = None
        errors: list[AttemptError] = []
        retried = False
        resume = Resume(request) if out is not None and self.settings.routing.resume_streams \
            else None

        def failed(attempt: Attempt, error: AttemptError) -> None:
            error.message = redact(error.message, self.catalog.api_key(attempt.endpoint))
            self._finish_attempt(attempt, error)
            errors.append(error)

        def challenger() -> tuple[Attempt, float] | None:
            picked = self._next_attempt(request, queue, min_context, generation,
                                        total_deadline, resume)
            return None if picked is None else (picked[0], picked[1].first_token_deadline)

        while (picked := self._next_attempt(request, queue, min_context, generation,
                                            total_deadline, resume, out is not None)) is not None:
            attempt, limits = picked
            endpoint = attempt.endpoint
            race = None
            try:
                if out is None:
                    return await self._complete(attempt, request, generation,
                                                limits.first_token_deadline)
                if limits.hedge_at is None or out.committed:  # a continuation never races
                    await self._stream(attempt, request if resume is None else resume.request,
                                       generation, out, limits.first_token_deadline,
                                       total_deadline, resume)
                else:  # before any commit, so nothing was resumed: the caller's request
                    race = Race(out, self.stats, request, generation,
                                lambda a, lane, ftd: self._stream(
                                    a, request, generation, lane, ftd, total_deadline, resume),
                                challenger, failed)
                    await race.run(attempt, limits.hedge_at, limits.first_token_deadline)
                return None
            except AttemptError as error:
                attempt = race.owner if race is not None and race.owner else attempt
                endpoint = attempt.endpoint
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
                if not retried and len(generation.attempts) < self.settings.routing.max_attempts:
                    retried = await retry_same(error, endpoint, queue, min_context,
                                               self.stats, self.settings, total_deadline,
                                               self.rng, generation.overhead)
            except asyncio.CancelledError:
                if attempt.ended is None:  # a hedge racer that failed earlier is recorded
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
        body = ANSWERS[request.operation](generation, attempt, raw, request)
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
                        if resume is not None:
                            resume.watch(session)  # a hedge's winner is the one to resume
                        await commit(out, attempt, request, generation)
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
            await commit(out, attempt, request, generation)
        await out.write(tail)

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
            deadline, keepalive = first_token_deadline, KeepAlive(out, self.timeouts.keepalive_s)
            failure, what = Failure.FIRST_TOKEN_TIMEOUT, "no first token in time"
        timer.begin_wait()
        try:
            return await response.next_chunk(deadline, keepalive)
        except DeadlinePassed:
            raise AttemptError(failure, what) from None
        finally:
            timer.end_wait()
