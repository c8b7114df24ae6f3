"""The mid-stream resume suite again, with hedging on and immediate: once an endpoint has a few
measured first tokens, every stream with a fallback races two endpoints from its start. Resume
and hedging meet at the commit: the race decides who commits, resume continues whoever did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crossroads.sim.render import completion_text
from tests.faults.test_resume import *  # noqa: F403 - the suite under test, collected again
from tests.faults.test_resume import CUT, FULL, TOKENS, stream, text_of
from tests.integration import conftest
from tests.integration.messages_support import generation
from tests.support import Router, Sim

HEDGING = """
[failover]
hedge = true
ttft_multiple = 0.001
ttft_floor_s = 0
ttft_per_1k_prompt_s = 0
ttft_min_samples = 3
"""


@pytest.fixture(autouse=True)
def hedging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = conftest.router_config

    def with_hedging(*args: Any, **kwargs: Any) -> str:
        return original(*args, **kwargs) + HEDGING

    monkeypatch.setattr(conftest, "router_config", with_hedging)
    yield


# Its bookkeeping assumes that alpha, once tried, is the endpoint that commits; racing, bravo
# may win from the start and answer whole. What the caller gets is checked the same below.
del test_any_break_point_gives_the_exact_answer  # noqa: F821 - star-imported above


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(1, TOKENS - 1), fault=st.sampled_from(["stream_cut", "malformed_sse"]),
       limit=st.one_of(st.none(), st.integers(1, 90)))
def test_any_break_point_gives_the_exact_answer_while_racing(
        quick: Router, fresh_sim: Sim, cut: int, fault: str, limit: int | None) -> None:
    whole = TOKENS if limit is None else min(TOKENS, limit)
    assume(fault != "malformed_sse" or cut < whole)
    fresh_sim.patch("alpha", fault_after_tokens=cut)
    # Replacing: an earlier example's fault stays queued when alpha, cooling, was skipped.
    fresh_sim.script("alpha", fault, replace=True)
    before = len(fresh_sim.requests("bravo"))
    chunks = stream(quick, **({} if limit is None else {"max_tokens": limit}))
    assert text_of(chunks) == completion_text(whole)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices
                and c.choices[0].finish_reason]
    assert finishes == ["length" if whole < TOKENS else "stop"]
    assert chunks[-1].usage is not None
    continued = [r for r in fresh_sim.requests("bravo")[before:]
                 if r["body"]["messages"][-1]["role"] == "assistant"]
    assert len(continued) <= (0 if cut >= whole else 1)


def test_the_race_winner_that_breaks_is_resumed(resumable: Callable[..., Router],
                                                 sim: Sim) -> None:
    """Alpha is late (no measurements yet: the hedge point is first_token_s, 1 s), bravo starts
    alongside, sends its headers and then nothing; alpha's first token wins, alpha breaks after
    token 40, and the continuation goes to charlie: one whole answer, and bravo only lost a
    race. (Resume must follow the winner's stream, not the last one opened.)"""
    router = resumable()
    sim.patch("alpha", ttft_ms=1200, ttft_sigma=0)
    sim.patch("bravo", slow_first_token_s=3)
    sim.script("bravo", "slow_first_token")
    sim.script("alpha", "stream_cut")
    chunks = stream(router)
    assert text_of(chunks) == FULL
    assert len({c.id for c in chunks}) == 1
    record = generation(router, chunks[0].id)
    assert [(a["provider_name"], a["crossroads"]["failure"], a["crossroads"]["served"])
            for a in record["provider_responses"]] == [
        ("Alpha", "stream_cut", False), ("Bravo", "hedged_loser", False),
        ("Charlie", None, True)]
    assert record["provider_responses"][2]["crossroads"]["prefill_chars"] == \
        len(completion_text(CUT))
    assert sim.requests("charlie")[0]["body"]["messages"][-1]["role"] == "assistant"
