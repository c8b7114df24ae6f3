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


Active = Callable[[Needs], bool]


def _always(n: Needs) -> bool:
    return True


# (name, keep?, does this request make the filter matter at all?) in funnel order. Skipping
# filters that cannot remove anything keeps routing cheap on the hot path.
FILTERS: tuple[tuple[str, Predicate, Active], ...] = (
    ("available", _available, _always),
    ("only", _only, lambda n: n.prefs.only is not None),
    ("ignore", _ignore, lambda n: bool(n.prefs.ignore)),
    ("quantizations", _quantization, lambda n: n.prefs.quantizations is not None),
    ("data_policy", _data_policy, lambda n: n.prefs.zdr or n.prefs.deny_data_collection),
    ("context", _context, _always),
    ("max_output", _max_output, lambda n: n.max_tokens is not None),
    ("image_input", _images, lambda n: n.has_images),
    ("parameters", _parameters, lambda n: n.prefs.require_parameters),
    ("max_price", _max_price, lambda n: n.prefs.max_price is not None),
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
    active = [(name, keep) for name, keep, matters in FILTERS if matters(needs)]
    kept: list[Endpoint] = []
    removed: dict[str, list[str]] = {}
    for endpoint in endpoints:
        for name, keep in active:
            if not keep(endpoint, needs):
                removed.setdefault(name, []).append(endpoint.tag)
                break
        else:
            kept.append(endpoint)
    steps: list[tuple[str, int]] = []
    left = len(endpoints)
    for name, _ in active:
        left -= len(removed.get(name, ()))
        steps.append((name, left))
        if not left:
            break
    return kept, Funnel(model, len(endpoints), tuple(steps),
                        tuple((name, tuple(tags)) for name, tags in removed.items()))
