"""What the request path tells the observers, as frozen values and pure readings of a record.

The request path emits four things and nothing else: a request started / ended (in-flight
gauges), a request was refused before routing, a generation was settled (its ledger record, the
one fact every log line, counter and span is derived from), and an endpoint's breaker changed.
"""

from __future__ import annotations

import itertools

import msgspec

from crossroads.ledger.records import GenerationRecord

NO_ENDPOINT = "none"
CANCELLED = "cancelled"


class Failover(msgspec.Struct, frozen=True):
    """An attempt failed and the relay moved on to another endpoint."""

    from_endpoint: str
    to_endpoint: str
    reason: str  # the failure kind (failures.py), never the provider's free text
    status: int | None


class BreakerChange(msgspec.Struct, frozen=True):
    """An endpoint's breaker opened (a provider fault, for `cooldown_s`) or closed (a success)."""

    model: str
    endpoint: str
    opened: bool
    cooldown_s: float
    consecutive_failures: int
    source: str  # "local": this process saw it; "shared": another replica's outcome


def failovers(record: GenerationRecord) -> list[Failover]:
    """Each failed attempt that another attempt followed, in order."""
    attempts = record.attempts
    return [Failover(a.endpoint_tag, b.endpoint_tag, a.failure or "unknown", a.status)
            for a, b in itertools.pairwise(attempts) if a.failure is not None]


def status_class(record: GenerationRecord) -> str:
    """What the caller got, as a class: 2xx for an answer, 4xx/5xx for an error (a stream that
    ended in error counts as 5xx), "cancelled" when the caller left first."""
    if record.cancelled:
        return CANCELLED
    if record.endpoint_tag is not None and record.finish_reason != "error":
        return "2xx"
    if record.endpoint_tag is None and record.attempts:
        status = record.attempts[-1].status
        if status is not None and 400 <= status < 500:
            return "4xx"
    return "5xx"


def error_class(record: GenerationRecord) -> str | None:
    """The failure kind that decided an unsuccessful generation; None for a success."""
    if status_class(record) == "2xx":
        return None
    if record.cancelled:
        return CANCELLED
    for attempt in reversed(record.attempts):
        if attempt.failure is not None:
            return attempt.failure
    return "error"
