"""How long an attempt is given before its first token, from what the endpoint has shown.

A fixed first-token deadline has to suit the slowest endpoint, so it is far too patient with a
fast one: an endpoint whose first token always comes in 300 ms is, after 2 s of silence, almost
surely stuck, and 30 s of waiting is 30 s the caller could have spent on the next endpoint.

So when another endpoint could still be tried, a stream's first-token budget is
`ttft_multiple` × the endpoint's measured TTFT p99 (live stats: 5 minutes, 30 when thin), at
least `ttft_floor_s`, plus `ttft_per_1k_prompt_s` per 1,000 prompt tokens — the p99 of mostly
short prompts says little about a 100k-token one, whose prefill alone takes seconds — and never
more than `timeouts.first_token_s`. With fewer than `ttft_min_samples`
measurements the constant `first_token_s` stands, as it does for the last candidate (where
waiting beats failing: the deadline is the total one) and for non-streamed answers (their
deadline bounds the whole answer, which TTFT says nothing about).

With hedging on, the budget marks when the next endpoint starts alongside (`hedging.py`); the
late attempt races on until the constant `first_token_s` (or twice its budget, if that is
longer: with no measurements the budget is the constant, and a late attempt still gets as long
again as it has had).
"""

from __future__ import annotations

import msgspec

from crossroads.settings import FailoverConfig
from crossroads.stats import Percentiles


class AttemptLimits(msgspec.Struct, frozen=True):
    """Loop times: abandon the attempt with no first token at `first_token_deadline`; start
    a hedge at `hedge_at` (None: no hedge)."""

    first_token_deadline: float
    hedge_at: float | None = None


def first_token_budget(ttft: Percentiles | None, failover: FailoverConfig,
                       ceiling_s: float, prompt_tokens: int = 0) -> float:
    """Seconds an endpoint with these TTFT measurements gets for a prompt's first token."""
    if (not failover.adaptive_first_token or ttft is None
            or ttft.samples < failover.ttft_min_samples):
        return ceiling_s
    prefill = failover.ttft_per_1k_prompt_s * prompt_tokens / 1000
    return min(ceiling_s,
               max(failover.ttft_floor_s, failover.ttft_multiple * ttft.p99) + prefill)


def attempt_limits(*, now: float, total_deadline: float, has_fallback: bool, streamed: bool,
                   ttft: Percentiles | None, failover: FailoverConfig, first_token_s: float,
                   prompt_tokens: int = 0) -> AttemptLimits:
    """The limits of an attempt starting at `now` (module doc)."""
    if not has_fallback:
        return AttemptLimits(total_deadline)
    if not streamed:
        return AttemptLimits(min(total_deadline, now + first_token_s))
    budget = first_token_budget(ttft, failover, first_token_s, prompt_tokens)
    if failover.hedge and now + budget < total_deadline:
        return AttemptLimits(min(total_deadline, now + max(first_token_s, 2 * budget)),
                             now + budget)
    return AttemptLimits(min(total_deadline, now + budget))
