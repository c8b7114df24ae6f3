"""A request's worst-case cost, reserved against its key's limit before the first attempt.

The bound must really be a bound, or concurrent requests could overdraw a key, so it is
pessimistic on purpose:

* prompt tokens: at most the request body's length in bytes, plus a chat-template allowance per
  message and a fixed one, plus `image_tokens` per image. Every byte-level BPE or byte-fallback
  tokenizer emits at least one byte per token outside its special tokens, and JSON escaping only
  makes the body longer than the text it carries;
* completion tokens: the request's `max_tokens`, or the endpoint's maximum output when absent;
* at the most expensive endpoint of the plan (only one attempt is ever billed).

An endpoint whose worst case is above the per-request cap (`[auth] max_reservation_usd`) gets
`max_tokens` lowered so that it fits: a request without `max_tokens` on an expensive model locks
at most the cap, not its maximum output. The relay then never bills a generation more than the
worst case reserved for the endpoint that served it (`Reservation.ceiling`): if a provider ever
returns more tokens than it was allowed, the difference is the operator's, not the key's.
"""

from __future__ import annotations

import msgspec

from crossroads.catalog import MICRO, Endpoint, Pricing

MESSAGE_ALLOWANCE = 16  # template tokens around one message (role markers, separators)
REQUEST_ALLOWANCE = 64  # begin/end-of-text, generation prompt


class Reservation(msgspec.Struct, kw_only=True):
    """What one request holds against its key, and the limits that make it a bound."""

    amount: int  # micro-dollars
    ceilings: dict[str, int]  # endpoint key → the most its generation may be billed
    max_tokens: dict[str, int]  # endpoint key → lowered max_tokens, where the cap required it
    # With Redis (accounts/shared.py): its id there; "" when it is held only by this replica.
    hold_id: str = ""

    def ceiling(self, endpoint: Endpoint) -> int:
        return self.ceilings.get(endpoint.key, self.amount)


def _cost(pricing: Pricing, prompt: int, completion: int, images: int) -> int:
    # The dearest rate any prompt token can be billed at: cache writes may cost more than
    # fresh input.
    prompt_rate = max(pricing.prompt, pricing.cache_write or 0, pricing.cache_read or 0)
    per_million = prompt * prompt_rate + completion * pricing.completion
    return -(-per_million // MICRO) + images * pricing.image + pricing.request


def prompt_bound(body_bytes: int, messages: int, images: int, image_tokens: int) -> int:
    return (body_bytes + MESSAGE_ALLOWANCE * messages + REQUEST_ALLOWANCE
            + images * image_tokens)


def plan_reservation(endpoints: tuple[Endpoint, ...], prompt_tokens: int,
                     max_tokens: int | None, images: int, cap_micro: int) -> Reservation:
    """The reservation for a plan: the worst case over its endpoints, each held under the cap
    by lowering its max_tokens when it would not be."""
    ceilings: dict[str, int] = {}
    lowered: dict[str, int] = {}
    for endpoint in endpoints:
        pricing = endpoint.pricing
        completion = max_tokens if max_tokens is not None else endpoint.max_output
        worst = _cost(pricing, prompt_tokens, completion, images)
        if worst > cap_micro and pricing.completion > 0:
            fixed = _cost(pricing, prompt_tokens, 0, images)
            fits = max(1, (cap_micro - fixed) * MICRO // pricing.completion)
            if fits < completion:
                completion = fits
                lowered[endpoint.key] = fits
                worst = _cost(pricing, prompt_tokens, completion, images)
        ceilings[endpoint.key] = worst
    amount = max(ceilings.values(), default=0)
    return Reservation(amount=amount, ceilings=ceilings, max_tokens=lowered)
