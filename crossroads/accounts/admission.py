"""The account checks in front of every inference request: who, how often, how much.

`admit` runs after routing has made a plan (the reservation needs the plan's endpoints) and
before the first attempt; whatever it admits, the caller must `settle` exactly once.
"""

from __future__ import annotations

import math

from crossroads.accounts.balance import Balance
from crossroads.accounts.rate_limit import Decision
from crossroads.accounts.reservation import Reservation, plan_reservation, prompt_bound
from crossroads.accounts.service import Accounts, Caller
from crossroads.catalog import MICRO, Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.errors import Forbidden, PaymentRequired, RateLimited
from crossroads.settings import AuthConfig


def check_caller(accounts: Accounts, caller: Caller) -> None:
    """Management keys do not call models (as on OpenRouter); a rate-limited key may be over
    its limit: 429 with Retry-After and the X-RateLimit headers."""
    if caller.management:
        raise Forbidden("Management keys cannot call models; use an inference key "
                        "(POST /api/v1/keys creates one).")
    decision = accounts.rate_check(caller)
    if decision is not None and not decision.allowed:
        raise rate_limited(decision, caller)


def rate_limited(decision: Decision, caller: Caller) -> RateLimited:
    """The 429 of a refused decision, with Retry-After and the X-RateLimit headers."""
    wait = max(1, math.ceil(decision.retry_after_s))
    rule = caller.record.rate_limit if caller.record is not None else None
    per = f" per {rule.interval}" if rule is not None else ""
    return RateLimited(
        f"Rate limit of this API key exceeded ({decision.limit} requests{per}); "
        f"retry in {wait} s.",
        headers={
            "retry-after": str(wait),
            "x-ratelimit-limit": str(decision.limit),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(math.ceil(decision.reset_at * 1000)),
        },
        metadata={"limit": decision.limit, "retry_after": wait},
    )


def _usd(micro: int) -> str:
    return f"${micro / MICRO:.6f}".rstrip("0").rstrip(".")


def payment_required(remaining: int, available: int, amount: int) -> PaymentRequired:
    """The 402 of a request whose worst case does not fit what its key has left."""
    held = (f", {_usd(remaining - available)} of it held by requests in flight"
            if remaining > available else "")
    return PaymentRequired(
        f"This API key has {_usd(remaining)} of its limit left{held}; this request may "
        f"cost up to {_usd(amount)} (its prompt plus max_tokens at the dearest "
        "eligible provider). Lower max_tokens, or raise the key's limit.",
        metadata={"limit_remaining": remaining / MICRO, "available": available / MICRO,
                  "required": amount / MICRO},
    )


def admit(accounts: Accounts, balance: Balance, request: ChatRequest,
          attempts: tuple[Endpoint, ...], body_bytes: int, auth: AuthConfig) -> Reservation | None:
    """Reserve the request's worst case against a limited key (402 when it does not fit).

    An unlimited key reserves nothing and gets None: there is nothing to cap."""
    now = accounts.clock()
    if balance.record.limit_micro is None:
        balance.try_reserve(0, now)
        return None
    bound = prompt_bound(body_bytes, request.message_count, request.image_count,
                         auth.image_token_bound)
    reservation = plan_reservation(attempts, bound, request.max_tokens, request.image_count,
                                   round(auth.max_reservation_usd * MICRO))
    if not balance.try_reserve(reservation.amount, now):
        raise payment_required(balance.limit_remaining(now) or 0, balance.available(now) or 0,
                               reservation.amount)
    return reservation


def settle(balance: Balance, reservation: Reservation | None, cost: int,
           created: float) -> None:
    """The request is over: its reservation becomes its real cost (0 when nothing billed)."""
    balance.settle(0 if reservation is None else reservation.amount, cost, created)
