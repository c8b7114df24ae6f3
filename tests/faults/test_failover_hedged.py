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
from tests.support import Router

HEDGING = "\n[failover]\nhedge = true\n"


@pytest.fixture
def router(make_router: Callable[..., Router]) -> Router:
    return make_router(extra=HEDGING)
