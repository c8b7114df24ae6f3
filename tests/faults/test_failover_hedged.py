"""The whole failover fault suite again, with hedging on (`failover.hedge`).

Every fault before, during and after the first token must end exactly as it does without
hedging: a slow first attempt now races the next endpoint instead of being abandoned, and the
caller still sees one provider's complete answer, or the same clear error, never two answers
spliced and never a truncated one dressed as complete.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.faults.test_failover import *  # noqa: F403 - the suite under test, collected again
from tests.faults.test_failover import stream_all
from tests.support import Router, Sim

HEDGING = "\n[failover]\nhedge = true\n"


@pytest.fixture
def router(make_router: Callable[..., Router]) -> Router:
    return make_router(extra=HEDGING)


def test_this_suite_really_hedges(router: Router, sim: Sim) -> None:
    """A first token later than first_token_s starts bravo alongside; alpha loses the race."""
    sim.patch("alpha", slow_first_token_s=1.6)
    sim.script("alpha", "slow_first_token")
    chunks, _ = stream_all(router)
    assert {c.provider for c in chunks} == {"Bravo"}  # type: ignore[attr-defined]
    status, body, _ = router.get(f"/generation?id={chunks[0].id}")
    assert status == 200, body
    assert [(a["provider_name"], a["crossroads"]["failure"])
            for a in body["data"]["provider_responses"]] == [("Alpha", "hedged_loser"),
                                                             ("Bravo", None)]
