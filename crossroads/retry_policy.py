"""Same model first: when the relay tries the endpoint that just failed once more.

Moving to the next endpoint of the same model costs the caller nothing, so it is always
preferred. Moving to a *different* model (`models: [...]`) does cost them: they asked for this
one. So before the relay leaves a model — no endpoint of it is left in the plan — it retries the
endpoint that just failed, once per request, when the failure is likely gone in a moment:

* a 429 whose Retry-After is at most `timeouts.retry_after_max_wait_s`: after exactly that
  wait (the breaker's own deadline, which is the Retry-After);
* a transient 5xx (500, 502, 503, 504, 529), when another model is all that is left: after a
  jittered backoff (`retry_backoff_s` ×0.5–1.5), or the breaker's cooldown if that is longer,
  when the wait is at most `same_endpoint_max_wait_s`. With nothing at all left, the 5xx is
  the caller's answer, as before (a short Retry-After is still waited out).

The retry is an ordinary attempt: it passes the breaker (`LiveStats.try_begin`) after the
wait, counts towards `routing.max_attempts`, and never outlives `timeouts.total_s`. With
`same_endpoint_retry = false` only the older rule stands: a short Retry-After is waited out
when no endpoint at all is left.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from crossroads.catalog import Endpoint, endpoint_key
from crossroads.failures import AttemptError, Failure
from crossroads.metrics import OverheadTimer
from crossroads.settings import FailoverConfig, Settings, TimeoutConfig
from crossroads.stats import LiveStats

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504, 529})
# Past the breaker's deadline, so the retry is never refused by clock rounding.
BREAKER_MARGIN_S = 0.002


def leaves_model(endpoint: Endpoint, queue: Sequence[Endpoint], min_context: int) -> bool:
    """Would moving on leave `endpoint`'s model (no other endpoint of it left to try)?"""
    return not any(e.model == endpoint.model and e.context_length > min_context for e in queue)


def retry_wait(error: AttemptError, endpoint: Endpoint, queue: Sequence[Endpoint],
               min_context: int, *, cooling_left_s: float, time_left_s: float,
               failover: FailoverConfig, timeouts: TimeoutConfig,
               rng: random.Random) -> float | None:
    """Seconds to wait before trying `endpoint` again, or None to move on (module doc).
    The caller allows one retry per request and checks `max_attempts` itself."""
    cooled = max(cooling_left_s, 0.0) + BREAKER_MARGIN_S
    if error.failure is Failure.RATE_LIMITED:
        if error.retry_after_s is None or error.retry_after_s > timeouts.retry_after_max_wait_s:
            return None
        if queue and not (failover.same_endpoint_retry
                          and leaves_model(endpoint, queue, min_context)):
            return None
        wait = cooled
    elif (failover.same_endpoint_retry and error.failure is Failure.SERVER_ERROR
            and error.status in TRANSIENT_STATUSES and queue
            and leaves_model(endpoint, queue, min_context)):
        wait = max(failover.retry_backoff_s * rng.uniform(0.5, 1.5), cooled)
        if wait > failover.same_endpoint_max_wait_s:
            return None
    else:
        return None
    return wait if wait < time_left_s else None


async def retry_same(error: AttemptError, endpoint: Endpoint, queue: list[Endpoint],
                     min_context: int, stats: LiveStats, settings: Settings,
                     total_deadline: float, rng: random.Random,
                     overhead: OverheadTimer) -> bool:
    """When `retry_wait` says so, wait (not the router's overhead), put `endpoint` first in
    `queue` again and say True."""
    now = asyncio.get_running_loop().time()
    wait = retry_wait(error, endpoint, queue, min_context,
                      cooling_left_s=stats.health(endpoint_key(endpoint), now).cooling_until - now,
                      time_left_s=total_deadline - now, failover=settings.failover,
                      timeouts=settings.timeouts, rng=rng)
    if wait is None:
        return False
    overhead.begin_wait()
    try:
        await asyncio.sleep(wait)
    finally:
        overhead.end_wait()
    queue.insert(0, endpoint)
    return True
