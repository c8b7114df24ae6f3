"""How every way an attempt can fail is treated: one table, read by the relay.

A failure kind decides four things: whether the next endpoint of the plan is tried, whether it
counts against the endpoint's uptime (caller mistakes and rate limits do not), whether it opens
the endpoint's circuit breaker, and which status the caller sees if no other endpoint succeeds.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec


class Failure(StrEnum):
    CONNECT = "connect_error"
    HEADERS_TIMEOUT = "headers_timeout"
    FIRST_TOKEN_TIMEOUT = "first_token_timeout"
    RESPONSE_TIMEOUT = "response_timeout"
    STALL = "stream_stall"
    CUT = "stream_cut"
    MALFORMED = "malformed_response"
    EMPTY = "empty_response"
    TOO_LARGE = "response_too_large"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    UPSTREAM_AUTH = "upstream_auth"
    CREDENTIAL = "credential_unavailable"
    UPSTREAM_NOT_FOUND = "upstream_not_found"
    UPSTREAM_TIMEOUT = "upstream_timeout"
    CONTEXT_LENGTH = "context_length"
    CONTENT_FILTER = "content_filter"
    CALLER_ERROR = "caller_error"
    CANCELLED = "cancelled"
    # Started alongside a late attempt (hedging.py) and cancelled when the other answered
    # first: no verdict on the endpoint, and what it may have cost is the router's.
    HEDGED_LOSER = "hedged_loser"


class Rule(msgspec.Struct, frozen=True):
    fail_over: bool
    counts_against_uptime: bool
    trips_breaker: bool
    caller_status: int


_PROVIDER_FAULT = Rule(fail_over=True, counts_against_uptime=True, trips_breaker=True,
                       caller_status=502)
_TIMEOUT = Rule(fail_over=True, counts_against_uptime=True, trips_breaker=True,
                caller_status=408)
_CALLER = Rule(fail_over=False, counts_against_uptime=False, trips_breaker=False,
               caller_status=400)

RULES: dict[Failure, Rule] = {
    Failure.CONNECT: _PROVIDER_FAULT,
    Failure.HEADERS_TIMEOUT: _TIMEOUT,
    Failure.FIRST_TOKEN_TIMEOUT: _TIMEOUT,
    Failure.RESPONSE_TIMEOUT: _TIMEOUT,
    Failure.STALL: _TIMEOUT,
    Failure.CUT: _PROVIDER_FAULT,
    Failure.MALFORMED: _PROVIDER_FAULT,
    Failure.EMPTY: _PROVIDER_FAULT,
    Failure.TOO_LARGE: _PROVIDER_FAULT,
    Failure.SERVER_ERROR: _PROVIDER_FAULT,
    Failure.UPSTREAM_AUTH: _PROVIDER_FAULT,
    Failure.UPSTREAM_NOT_FOUND: _PROVIDER_FAULT,
    # Our side could not authorise the request (a token not yet minted or expired): the
    # endpoint itself did nothing wrong, so its uptime and breaker are left alone.
    Failure.CREDENTIAL: Rule(fail_over=True, counts_against_uptime=False, trips_breaker=False,
                             caller_status=503),
    Failure.UPSTREAM_TIMEOUT: _TIMEOUT,
    # 429s cool the endpoint down but say nothing about its uptime.
    Failure.RATE_LIMITED: Rule(fail_over=True, counts_against_uptime=False, trips_breaker=True,
                               caller_status=429),
    # Only an endpoint with a larger context is worth trying; the relay enforces that.
    Failure.CONTEXT_LENGTH: Rule(fail_over=True, counts_against_uptime=False,
                                 trips_breaker=False, caller_status=400),
    Failure.CONTENT_FILTER: _CALLER,
    Failure.CALLER_ERROR: _CALLER,
    Failure.CANCELLED: Rule(fail_over=False, counts_against_uptime=False, trips_breaker=False,
                            caller_status=499),
    Failure.HEDGED_LOSER: Rule(fail_over=True, counts_against_uptime=False, trips_breaker=False,
                               caller_status=502),
}

STATUS_FAILURE: dict[int, Failure] = {
    401: Failure.UPSTREAM_AUTH,
    402: Failure.UPSTREAM_AUTH,
    403: Failure.UPSTREAM_AUTH,
    404: Failure.UPSTREAM_NOT_FOUND,
    408: Failure.UPSTREAM_TIMEOUT,
    429: Failure.RATE_LIMITED,
}


class AttemptError(Exception):
    """One attempt failed; `failure` says how, the rest is for the caller and the record."""

    def __init__(
        self,
        failure: Failure,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s

    @property
    def rule(self) -> Rule:
        return RULES[self.failure]
