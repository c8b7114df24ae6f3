"""The hard filters of routing, as a table, and the funnel they leave behind.

Each filter removes the endpoints that cannot (or, by the caller's word, must not) serve the
request. The funnel records how many endpoints each filter left, so an empty result can say
exactly why: `initial 8 → available 8 → context 3 → parameters 1 → max_price 0`.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.routing.prefs import RoutingPrefs


class Needs(msgspec.Struct, frozen=True):
    """What the request requires of an endpoint, computed once per request."""

    prompt_tokens: int
    max_tokens: int | None
    has_images: bool
    parameters: frozenset[str]
    prefs: RoutingPrefs

    @classmethod
    def of(cls, request: ChatRequest, tokens_per_image: int) -> Needs:
        return cls(
            prompt_tokens=request.prompt_token_estimate(tokens_per_image),
            max_tokens=request.max_tokens,
            has_images=request.has_images,
            parameters=request.parameters,
            prefs=request.prefs,
        )


Predicate = Callable[[Endpoint, Needs], bool]


def _available(e: Endpoint, n: Needs) -> bool:
    return e.available


def _only(e: Endpoint, n: Needs) -> bool:
    only = n.prefs.only
    return only is None or any(e.matches_provider(name) for name in only)


def _ignore(e: Endpoint, n: Needs) -> bool:
    return not any(e.matches_provider(name) for name in n.prefs.ignore)


def _quantization(e: Endpoint, n: Needs) -> bool:
    wanted = n.prefs.quantizations
    return wanted is None or e.quantization in wanted


def _data_policy(e: Endpoint, n: Needs) -> bool:
    if n.prefs.zdr and not e.data_policy.zdr:
        return False
    return not (n.prefs.deny_data_collection and e.data_policy.training)


def _context(e: Endpoint, n: Needs) -> bool:
    return n.prompt_tokens + (n.max_tokens or 0) <= e.context_length


def _max_output(e: Endpoint, n: Needs) -> bool:
    return n.max_tokens is None or n.max_tokens <= e.max_output


def _images(e: Endpoint, n: Needs) -> bool:
    return not n.has_images or e.serves_images()


def _parameters(e: Endpoint, n: Needs) -> bool:
    return not n.prefs.require_parameters or n.parameters <= e.supported_parameters


def _max_price(e: Endpoint, n: Needs) -> bool:
    caps = n.prefs.max_price
    if caps is None:
        return True
    for name, price in (
        ("prompt", e.pricing.prompt),
        ("completion", e.pricing.completion),
        ("image", e.pricing.image),
        ("request", e.pricing.request),
    ):
        cap = caps.micro(name)
        if cap is not None and price > cap:
            return False
    return True


FILTERS: tuple[tuple[str, Predicate], ...] = (
    ("available", _available),
    ("only", _only),
    ("ignore", _ignore),
    ("quantizations", _quantization),
    ("data_policy", _data_policy),
    ("context", _context),
    ("max_output", _max_output),
    ("image_input", _images),
    ("parameters", _parameters),
    ("max_price", _max_price),
)


class Funnel(msgspec.Struct, frozen=True):
    """How many endpoints each filter left for one model, and who each filter removed."""

    model: str
    initial: int
    steps: tuple[tuple[str, int], ...]
    removed: tuple[tuple[str, tuple[str, ...]], ...]

    def emptied_by(self) -> str | None:
        for name, left in self.steps:
            if left == 0:
                return name
        return None

    def describe(self) -> str:
        parts = [f"initial {self.initial}"]
        before = self.initial
        for name, left in self.steps:
            if left != before:
                parts.append(f"{name} {left}")
            before = left
        return " → ".join(parts)

    def as_metadata(self) -> dict[str, object]:
        return {
            "model": self.model,
            "funnel": self.describe(),
            "removed": {name: list(tags) for name, tags in self.removed if tags},
        }


def apply_filters(
    model: str, endpoints: tuple[Endpoint, ...], needs: Needs
) -> tuple[list[Endpoint], Funnel]:
    remaining = list(endpoints)
    steps: list[tuple[str, int]] = []
    removed: list[tuple[str, tuple[str, ...]]] = []
    for name, keep in FILTERS:
        kept = [e for e in remaining if keep(e, needs)]
        if len(kept) != len(remaining):
            kept_ids = {id(e) for e in kept}
            dropped = tuple(e.tag for e in remaining if id(e) not in kept_ids)
            removed.append((name, dropped))
        steps.append((name, len(kept)))
        remaining = kept
        if not remaining:
            break
    return remaining, Funnel(model, len(endpoints), tuple(steps), tuple(removed))
