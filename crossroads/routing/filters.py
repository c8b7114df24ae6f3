"""The hard filters of routing, as a table, and the funnel they leave behind.

Each filter removes the endpoints that cannot (or, by the caller's word, must not) serve the
request. The funnel records how many endpoints each filter left, so an empty result can say
exactly why: `initial 8 → available 8 → context 3 → parameters 1 → max_price 0`.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from crossroads.catalog import EndpointTable
from crossroads.chat_request import ChatRequest
from crossroads.routing.prefs import RoutingPrefs, Variant


class Needs(msgspec.Struct, frozen=True):
    """What the request requires of an endpoint, computed once per request."""

    prompt_tokens: int
    max_tokens: int | None
    has_images: bool
    parameters: frozenset[str]
    prefs: RoutingPrefs
    tools: bool = False
    # Endpoint key → why its credential cannot be used now (`CredentialSet.blocked`).
    blocked: dict[str, str] = {}

    @classmethod
    def of(cls, request: ChatRequest, tokens_per_image: int) -> Needs:
        return cls(
            prompt_tokens=request.prompt_token_estimate(tokens_per_image),
            max_tokens=request.max_tokens,
            has_images=request.has_images,
            parameters=request.parameters,
            prefs=request.prefs,
            tools=request.wants_tools,
        )


# Each filter keeps, of the candidates (indices into the model's table), those it lets through.
# A filter is one comprehension over the survivors with the request's side computed once, not a
# predicate called per endpoint: routing runs on every request.
Keep = Callable[[EndpointTable, list[int], Needs], list[int]]


def _provider_matcher(names: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """`Endpoint.matches_provider` for several names at once: exact slugs or tags, and
    base-slug prefixes ("deepinfra" matches "deepinfra/fp8")."""
    lowered = [name.lower() for name in names]
    return frozenset(lowered), tuple(name + "/" for name in lowered)


def _credentials(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    blocked, keys = n.blocked, t.keys
    return [i for i in kept if keys[i] not in blocked]


def _only(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    exact, prefixes = _provider_matcher(n.prefs.only or ())
    eps = t.endpoints
    return [i for i in kept if eps[i].provider in exact or eps[i].tag in exact
            or eps[i].tag.startswith(prefixes)]


def _ignore(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    exact, prefixes = _provider_matcher(n.prefs.ignore)
    eps = t.endpoints
    return [i for i in kept if not (eps[i].provider in exact or eps[i].tag in exact
                                    or eps[i].tag.startswith(prefixes))]


def _quantization(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    wanted = n.prefs.quantizations
    if wanted is None:
        return kept
    eps = t.endpoints
    return [i for i in kept if eps[i].quantization in wanted]


def _data_policy(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    zdr, deny = n.prefs.zdr, n.prefs.deny_data_collection
    eps = t.endpoints
    return [i for i in kept if not (zdr and not eps[i].data_policy.zdr)
            and not (deny and eps[i].data_policy.training)]


def _context(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    needed = n.prompt_tokens + (n.max_tokens or 0)
    eps = t.endpoints
    return [i for i in kept if needed <= eps[i].context_length]


def _max_output(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    limit = n.max_tokens
    if limit is None:
        return kept
    eps = t.endpoints
    return [i for i in kept if limit <= eps[i].max_output]


def _images(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    if not n.has_images:
        return kept
    eps = t.endpoints
    return [i for i in kept if eps[i].serves_images()]


def _tools(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    # As OpenRouter: a request that offers tools only goes where tools are understood, whatever
    # `require_parameters` says — an endpoint that drops them would answer as if none existed.
    eps = t.endpoints
    return [i for i in kept if "tools" in eps[i].supported_parameters]


def _free(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    eps = t.endpoints
    return [i for i in kept if eps[i].pricing.is_free]


def _reasoning(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    eps = t.endpoints
    return [i for i in kept if "reasoning" in eps[i].supported_parameters]


def _parameters(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    if not n.prefs.require_parameters:
        return kept
    wanted = n.parameters
    eps = t.endpoints
    return [i for i in kept if wanted <= eps[i].supported_parameters]


def _max_price(t: EndpointTable, kept: list[int], n: Needs) -> list[int]:
    caps = n.prefs.max_price
    if caps is None:
        return kept
    prompt, completion = caps.micro("prompt"), caps.micro("completion")
    image, request = caps.micro("image"), caps.micro("request")
    eps = t.endpoints
    return [
        i for i in kept
        if (prompt is None or eps[i].pricing.prompt <= prompt)
        and (completion is None or eps[i].pricing.completion <= completion)
        and (image is None or eps[i].pricing.image <= image)
        and (request is None or eps[i].pricing.request <= request)
    ]


Active = Callable[[Needs], bool]
# Can the filter remove anything from this table? Filters whose limits every endpoint meets
# (the common case for context and max_tokens) are listed in the funnel but never run.
Bites = Callable[[EndpointTable, Needs], bool]


# Memoised survivor tables per model; far more than the distinct subsets real traffic makes.
MAX_SUBSETS = 256


def _always(n: Needs) -> bool:
    return True


def _may(t: EndpointTable, n: Needs) -> bool:
    return True


# (name, keep, does this request make the filter matter at all?, can it remove anything from
# this table?) in funnel order; "available" is the catalog's own split (`EndpointTable`).
FILTERS: tuple[tuple[str, Keep, Active, Bites], ...] = (
    ("only", _only, lambda n: n.prefs.only is not None, _may),
    ("ignore", _ignore, lambda n: bool(n.prefs.ignore), _may),
    ("quantizations", _quantization, lambda n: n.prefs.quantizations is not None, _may),
    ("data_policy", _data_policy, lambda n: n.prefs.zdr or n.prefs.deny_data_collection, _may),
    ("context", _context, _always,
     lambda t, n: n.prompt_tokens + (n.max_tokens or 0) > t.min_context),
    ("max_output", _max_output, lambda n: n.max_tokens is not None,
     lambda t, n: n.max_tokens is not None and n.max_tokens > t.min_max_output),
    ("image_input", _images, lambda n: n.has_images, lambda t, n: not t.all_serve_images),
    ("tools", _tools, lambda n: n.tools, _may),
    ("free", _free, lambda n: n.prefs.variant is Variant.FREE, _may),
    ("reasoning", _reasoning, lambda n: n.prefs.variant is Variant.THINKING, _may),
    ("parameters", _parameters, lambda n: n.prefs.require_parameters, _may),
    ("max_price", _max_price, lambda n: n.prefs.max_price is not None, _may),
    # Last: when it is what empties the funnel, the error names each credential's reason.
    ("credentials", _credentials, lambda n: bool(n.blocked), _may),
)


def _prefs_filter(prefs: RoutingPrefs) -> bool:
    """Does the caller's `provider` object ask for any filter? (Most requests do not.)"""
    return not (prefs.only is None and not prefs.ignore and prefs.quantizations is None
                and not prefs.zdr and not prefs.deny_data_collection
                and not prefs.require_parameters and prefs.max_price is None
                and prefs.variant not in FILTERING_VARIANTS)


FILTERING_VARIANTS = frozenset({Variant.FREE, Variant.THINKING})


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
    model: str, table: EndpointTable, needs: Needs,
    subsets: dict[tuple[int, ...], EndpointTable] | None = None,
) -> tuple[EndpointTable, Funnel]:
    """The endpoints of `table` that pass every filter (the table itself when all do), and the
    funnel: each endpoint is charged to the first filter, in funnel order, that removed it.

    `subsets` memoises the tables of survivors by their indices: the same few subsets recur
    (a long prompt always loses the same short-context endpoints), and a recurring table lets
    live stats keep its health set current instead of reading every member again."""
    left = len(table.endpoints)
    steps: list[tuple[str, int]] = [("available", left)]
    removed = (("available", table.unavailable),) if table.unavailable else ()
    if not left:
        return table, Funnel(model, table.initial, tuple(steps), removed)
    if (not needs.has_images and not needs.tools and not needs.blocked
            and not _prefs_filter(needs.prefs)):
        # The usual request: only context and max_tokens can bite, and mostly cannot.
        context = needs.prompt_tokens + (needs.max_tokens or 0) > table.min_context
        max_tokens = needs.max_tokens
        if not context and (max_tokens is None or max_tokens <= table.min_max_output):
            steps.append(("context", left))
            if max_tokens is not None:
                steps.append(("max_output", left))
            return table, Funnel(model, table.initial, tuple(steps), removed)

    kept = list(range(left))
    # (catalog position of the first endpoint it removed, name, tags): the original funnel
    # listed filters in the order their first victim came up in the catalog.
    charged: list[tuple[int, str, tuple[str, ...]]] = []
    if table.unavailable:
        charged.append((table.first_unavailable, "available", table.unavailable))
    for name, keep, active, bites in FILTERS:
        if not active(needs):
            continue
        if left and bites(table, needs):
            survivors = keep(table, kept, needs)
            if len(survivors) != left:
                passed = set(survivors)
                gone = [i for i in kept if i not in passed]
                charged.append((table.positions[gone[0]], name,
                                tuple(table.endpoints[i].tag for i in gone)))
                kept, left = survivors, len(survivors)
        steps.append((name, left))
        if not left:
            break
    charged.sort()
    funnel = Funnel(model, table.initial, tuple(steps),
                    tuple((name, tags) for _, name, tags in charged))
    if left == len(table.endpoints):
        return table, funnel
    if subsets is None:
        return EndpointTable.of(tuple(table.endpoints[i] for i in kept)), funnel
    key = tuple(kept)
    subset = subsets.get(key)
    if subset is None:
        if len(subsets) >= MAX_SUBSETS:
            subsets.clear()
        subset = subsets[key] = EndpointTable.of(tuple(table.endpoints[i] for i in kept))
    return subset, funnel
