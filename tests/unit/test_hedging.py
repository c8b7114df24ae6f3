"""The hedge race on its own: fake streams that commit, write or fail when told, one caller."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from crossroads.failures import AttemptError, Failure
from crossroads.generation import Attempt, Generation
from crossroads.hedging import Race
from crossroads.settings import BreakerConfig, RoutingConfig
from crossroads.stats import LiveStats
from crossroads.streaming import ClientStream
from tests.unit.factories import endpoint, request

Step = Callable[[Attempt, ClientStream], Awaitable[None]]


class Caller:
    """The caller's stream: what was committed and written, by whom (the bytes say)."""

    def __init__(self) -> None:
        self.started = False
        self.committed = False
        self.writes: list[bytes] = []
        self.keepalives = 0

    def keepalive_due(self, interval_s: float) -> float:
        return asyncio.get_running_loop().time() + interval_s

    async def keepalive(self) -> None:
        self.keepalives += 1

    async def commit(self) -> None:
        assert not self.committed, "committed twice"
        self.started = self.committed = True

    async def write(self, data: bytes) -> None:
        self.writes.append(data)


def answers(delay: float, chunks: int = 3) -> Step:
    async def step(attempt: Attempt, lane: ClientStream) -> None:
        await asyncio.sleep(delay)
        await lane.commit()
        for i in range(chunks):
            await lane.write(f"{attempt.endpoint.tag}:{i};".encode())
            await asyncio.sleep(0)
    return step


def fails(delay: float, failure: Failure = Failure.SERVER_ERROR) -> Step:
    async def step(attempt: Attempt, lane: ClientStream) -> None:
        await asyncio.sleep(delay)
        raise AttemptError(failure, f"{attempt.endpoint.tag} failed", status=500)
    return step


class Setup:
    def __init__(self, first: Step, second: Step | None) -> None:
        self.caller = Caller()
        self.stats = LiveStats(RoutingConfig(), BreakerConfig())
        self.generation = Generation("test/model", True)
        self.steps = {"alpha": first, "bravo": second}
        self.failed: list[tuple[str, Failure]] = []
        self.first = self._attempt("alpha")
        self.second: Attempt | None = None
        self.race = Race(self.caller, self.stats, request(), self.generation, self._stream,
                         self._challenger, self._failed)

    def _attempt(self, tag: str) -> Attempt:
        attempt = Attempt(endpoint(tag), asyncio.get_running_loop().time())
        self.generation.attempts.append(attempt)
        return attempt

    def _stream(self, attempt: Attempt, lane: ClientStream, deadline: float) -> Awaitable[None]:
        step = self.steps[attempt.endpoint.tag]
        assert step is not None
        return step(attempt, lane)

    def _challenger(self) -> tuple[Attempt, float] | None:
        if self.steps["bravo"] is None:
            return None
        self.second = self._attempt("bravo")
        return self.second, 1e9

    def _failed(self, attempt: Attempt, error: AttemptError) -> None:
        attempt.ended = 0.0
        attempt.failure = error.failure
        self.failed.append((attempt.endpoint.tag, error.failure))

    async def run(self, hedge_after: float = 0.05) -> None:
        now = asyncio.get_running_loop().time()
        await self.race.run(self.first, now + hedge_after, 1e9)

    def writers(self) -> set[str]:
        return {w.decode().split(":")[0] for w in self.caller.writes}


def race(first: Step, second: Step | None,
         check: Callable[[Setup], None], raises: Failure | None = None) -> None:
    async def main() -> None:
        setup = Setup(first, second)
        if raises is None:
            await setup.run()
        else:
            with pytest.raises(AttemptError) as caught:
                await setup.run()
            assert caught.value.failure is raises
        await asyncio.sleep(0.01)
        check(setup)
    asyncio.run(main())


def test_a_challenger_that_answers_first_wins_and_the_late_attempt_is_cancelled() -> None:
    def check(s: Setup) -> None:
        assert s.writers() == {"bravo"} and len(s.caller.writes) == 3
        assert s.race.owner is s.second
        assert s.first.failure is Failure.HEDGED_LOSER and s.first.ended is not None
        assert s.first.message is not None and "router's" in s.first.message
        assert s.generation.served is None  # nothing priced by the loser
    race(answers(1.0), answers(0.01), check)


def test_an_attempt_that_answers_before_the_hedge_point_races_nobody() -> None:
    def check(s: Setup) -> None:
        assert s.writers() == {"alpha"} and s.second is None and s.first.failure is None
    race(answers(0.0), answers(0.0), check)


def test_content_at_the_same_moment_still_has_one_writer() -> None:
    def check(s: Setup) -> None:
        assert len(s.writers()) == 1 and len(s.caller.writes) == 3
        loser = s.second if s.writers() == {"alpha"} else s.first
        assert loser is not None and loser.failure is Failure.HEDGED_LOSER
    # Both become ready in the same loop iteration, well after the hedge point.
    race(answers(0.2), answers(0.15), check)


def test_a_racer_that_fails_is_recorded_and_the_other_goes_on() -> None:
    def check(s: Setup) -> None:
        assert s.failed == [("alpha", Failure.SERVER_ERROR)]
        assert s.writers() == {"bravo"} and s.race.owner is s.second
    race(fails(0.1), answers(0.2), check)


def test_when_both_fail_the_last_failure_is_the_loops() -> None:
    def check(s: Setup) -> None:
        assert s.failed == [("bravo", Failure.SERVER_ERROR)]
        assert s.race.owner is s.first and s.caller.writes == []
    race(fails(0.3), fails(0.0), check, raises=Failure.SERVER_ERROR)


def test_a_callers_mistake_ends_the_race_at_once() -> None:
    def check(s: Setup) -> None:
        assert s.failed == [] and s.race.owner is s.first
        assert s.second is not None and s.second.failure is Failure.HEDGED_LOSER
    race(fails(0.1, Failure.CALLER_ERROR), answers(5.0), check, raises=Failure.CALLER_ERROR)


def test_the_caller_leaving_cancels_both_racers() -> None:
    async def main() -> None:
        setup = Setup(answers(5.0), answers(5.0))
        task = asyncio.ensure_future(setup.run())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert setup.second is not None and setup.second.failure is Failure.CANCELLED
        # The first attempt is the relay loop's to close, as without hedging.
        assert setup.first.ended is None
        assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    asyncio.run(main())


def test_a_racer_that_failed_just_before_the_claim_does_not_unseat_the_winner() -> None:
    gate = asyncio.Event()

    async def first(attempt: Attempt, lane: ClientStream) -> None:
        await asyncio.sleep(0.1)  # past the hedge point: the challenger waits at the gate
        gate.set()
        await asyncio.sleep(0)  # the challenger fails now; the race has not looked yet
        await answers(0.0)(attempt, lane)

    async def second(attempt: Attempt, lane: ClientStream) -> None:
        await gate.wait()
        raise AttemptError(Failure.SERVER_ERROR, "bravo failed", status=500)

    def check(s: Setup) -> None:
        assert s.writers() == {"alpha"} and s.race.owner is s.first
        assert s.first.failure is None
        assert s.failed == [("bravo", Failure.SERVER_ERROR)]
    race(first, second, check)
