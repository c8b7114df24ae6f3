"""Hedging: a late stream gets a challenger instead of being abandoned (`failover.hedge`).

When a streamed attempt has no first token by its adaptive budget (`deadlines.py`), the next
endpoint of the plan starts alongside it and the two race; whichever produces content first
wins and the other is cancelled at once, its upstream connection closed.

The commit point is the one gate. Each racer streams through its own `_Lane`, a `ClientStream`
that forwards to the caller's. A racer commits when its first content arrives (the relay's
`_stream`); its lane's `commit` first *claims* the race, and the claim cancels every other
racer's task before anything has been written, all without an `await` in between. A cancelled
task never runs again, so only the winner ever writes content to the caller. Keep-alive
comments before the claim go through whichever lane is due, one at a time.

The caller pays for the winner only: the loser never priced anything (it had no content), and
it is marked at the claim, before the winner can hand the generation to the ledger, as
`hedged_loser`, with the prompt cost it may have run up estimated in its message — the
router's cost, not the key's. A loser is no verdict on its endpoint: its breaker and uptime are
left alone, and a probe slot it held is freed.

A racer that fails before any claim while the other still runs is an ordinary failed attempt,
recorded at once (`failed`); the race goes on with the other. The last racer's failure, or a
winner's failure after commit, is the relay loop's to handle, like any single attempt's, and
`owner` says whose it is. At most two racers: a challenger never hedges again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from crossroads.catalog import endpoint_key
from crossroads.chat_request import ChatRequest
from crossroads.failures import AttemptError, Failure
from crossroads.generation import Attempt, Generation
from crossroads.pricing import Usage, cost_micro
from crossroads.stats import LiveStats
from crossroads.streaming import ClientStream

# Streams one attempt to a lane, until its first-token deadline (loop time) at the latest.
StreamFn = Callable[[Attempt, ClientStream, float], Awaitable[None]]
# The next endpoint of the plan as a started attempt with its first-token deadline, or None.
Challenger = Callable[[], "tuple[Attempt, float] | None"]
Failed = Callable[[Attempt, AttemptError], None]


class _Lane:
    """One racer's view of the caller's stream (module doc)."""

    __slots__ = ("_attempt", "_race")

    def __init__(self, race: Race, attempt: Attempt) -> None:
        self._race = race
        self._attempt = attempt

    @property
    def started(self) -> bool:
        return self._race.out.started

    @property
    def committed(self) -> bool:
        return self._race.out.committed

    def keepalive_due(self, interval_s: float) -> float:
        return self._race.out.keepalive_due(interval_s)

    async def keepalive(self) -> None:
        race = self._race
        if race.winner is not None or race.keeping:
            return
        race.keeping = True
        try:
            await race.out.keepalive()
        finally:
            race.keeping = False

    async def commit(self) -> None:
        self._race.claim(self._attempt)
        await self._race.out.commit()

    async def write(self, data: bytes) -> None:
        race = self._race
        if race.winner is None:
            race.claim(self._attempt)
        if race.winner is not self._attempt:
            raise asyncio.CancelledError  # unreachable while claims cancel at once
        await race.out.write(data)


class Race:
    """One hedged attempt: the first racer, perhaps a challenger, and the claim between them."""

    __slots__ = ("_challenger", "_failed", "_generation", "_request", "_stats", "_stream",
                 "_tasks", "keeping", "out", "owner", "winner")

    def __init__(self, out: ClientStream, stats: LiveStats, request: ChatRequest,
                 generation: Generation, stream: StreamFn, challenger: Challenger,
                 failed: Failed) -> None:
        self.out = out
        self._stats = stats
        self._request = request
        self._generation = generation
        self._stream = stream
        self._challenger = challenger
        self._failed = failed
        self._tasks: list[tuple[Attempt, asyncio.Task[None]]] = []
        self.winner: Attempt | None = None
        self.keeping = False
        # Whose outcome `run` returned or raised.
        self.owner: Attempt | None = None

    async def run(self, first: Attempt, hedge_at: float, first_deadline: float) -> None:
        """Stream `first`; at `hedge_at`, with no claim yet, start a challenger alongside."""
        self.owner = first
        loop = asyncio.get_running_loop()
        lead = self._start(first, first_deadline)
        try:
            done, _ = await asyncio.wait((lead,), timeout=max(hedge_at - loop.time(), 0.0))
            if not done and self.winner is None:
                picked = self._challenger()
                if picked is not None:
                    self._start(*picked)
            await self._settle()
        except BaseException:
            await self._stop(Failure.CANCELLED, "caller left")
            raise

    def claim(self, attempt: Attempt) -> None:
        """`attempt` has content: it wins, and every other racer is cancelled and marked now,
        before the winner can hand the generation to the ledger."""
        if self.winner is not None:
            return
        self.winner = attempt
        for other, task in self._tasks:
            if other is not attempt and not task.done():
                task.cancel()
                self._lose(other, f"lost a hedge race to {attempt.endpoint.tag}")
                if other.headers_at is not None:
                    # Its role prelude may have stamped the generation with its upstream id;
                    # the winner's next chunk stamps its own.
                    self._generation.upstream_id = None

    def _start(self, attempt: Attempt, deadline: float) -> asyncio.Task[None]:
        task = asyncio.ensure_future(self._stream(attempt, _Lane(self, attempt), deadline))
        self._tasks.append((attempt, task))
        return task

    def _lose(self, attempt: Attempt, why: str) -> None:
        """Mark a racer the race gave up on: no verdict, its cost the router's."""
        attempt.ended = asyncio.get_running_loop().time()
        attempt.failure = Failure.HEDGED_LOSER
        estimate = Usage(prompt_tokens=self._request.prompt_token_estimate(0), estimated=True)
        cost = cost_micro(estimate, attempt.endpoint.pricing)
        attempt.message = (f"{why}; cancelled. Its cost (~{cost} µUSD, estimated prompt) is the "
                           "router's, not the caller's")
        self._stats.release(endpoint_key(attempt.endpoint))

    async def _settle(self) -> None:
        """Wait until the race is decided and its outcome is the loop's (module doc)."""
        while True:
            running = [task for _, task in self._tasks if not task.done()]
            if running:
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for attempt, task in list(self._tasks):
                if not task.done() or task.cancelled():
                    continue
                self._tasks.remove((attempt, task))
                error = task.exception()
                others = any(not t.done() for _, t in self._tasks)
                if self.winner is not None and attempt is not self.winner:
                    # It failed in the same moment the other claimed, before we looked: a
                    # failure of its own, which cannot unseat the winner.
                    if isinstance(error, AttemptError):
                        self._failed(attempt, error)
                    elif attempt.ended is None:
                        self._lose(attempt, f"lost a hedge race to {self.winner.endpoint.tag}")
                    continue
                if (isinstance(error, AttemptError) and others and self.winner is None
                        and error.rule.fail_over):
                    self._failed(attempt, error)
                    continue
                # Decided: a success, the winner's failure, the last racer's, or a refusal.
                self.owner = attempt
                if error is not None and not isinstance(error, AttemptError):
                    # A refusal or a bug: free its probe slot, or the endpoint stays wedged.
                    attempt.ended = asyncio.get_running_loop().time()
                    self._stats.release(endpoint_key(attempt.endpoint))
                await self._stop(Failure.HEDGED_LOSER, "the race ended")
                if error is not None:
                    raise error
                return
            if not any(not task.cancelled() for _, task in self._tasks):
                return  # unreachable: a claim leaves its winner running

    async def _stop(self, failure: Failure, why: str) -> None:
        """Cancel and reap every racer still running; mark those not yet marked."""
        for attempt, task in self._tasks:
            if task.done():
                continue
            task.cancel()
            if attempt.ended is None and attempt is not self.owner:
                if failure is Failure.HEDGED_LOSER:
                    self._lose(attempt, why)
                else:
                    attempt.ended = asyncio.get_running_loop().time()
                    attempt.failure = failure
                    attempt.message = why
                    self._stats.release(endpoint_key(attempt.endpoint))
        tasks = [task for _, task in self._tasks]
        self._tasks.clear()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
