"""What the caller said about routing: the model variant and OpenRouter's `provider` object.

Parsing is strict: a misspelt key in `provider` is a 400 naming it, because silently ignoring
`"ignroe": ["groq"]` would route somewhere the caller said not to.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec

from crossroads.catalog import MICRO
from crossroads.errors import BadRequest


class Sort(StrEnum):
    PRICE = "price"
    THROUGHPUT = "throughput"
    LATENCY = "latency"
    # Quality first (OpenRouter's "Auto Exacto" ordering): the most faithful quantization, then
    # uptime, then price. It orders; unlike the `:exacto` variant it pins nothing.
    EXACTO = "exacto"


class Variant(StrEnum):
    NITRO = "nitro"
    FLOOR = "floor"
    EXACTO = "exacto"
    FREE = "free"  # only endpoints that charge nothing
    THINKING = "thinking"  # reasoning on, only endpoints that can reason
    EXTENDED = "extended"  # longest context first
    ONLINE = "online"  # OpenRouter's web-search variant: needs a search backend


# Variants whose feature needs something this router does not have: a clear 400, never a
# silent plain answer.
UNSUPPORTED_VARIANTS: dict[Variant, str] = {
    Variant.ONLINE: "The :online variant searches the web, and this router has no web-search "
                    "backend configured. Remove :online (or the `web` plugin).",
}


VARIANT_SORT: dict[Variant, Sort] = {Variant.NITRO: Sort.THROUGHPUT, Variant.FLOOR: Sort.PRICE}


class Percentiles(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    p50: float | None = None
    p75: float | None = None
    p90: float | None = None
    p99: float | None = None

    def items(self) -> tuple[tuple[str, float], ...]:
        return tuple(
            (name, value)
            for name in ("p50", "p75", "p90", "p99")
            if (value := getattr(self, name)) is not None
        )


# No price is a trillion dollars; the bound keeps caps finite in integer micro-dollars.
Cap = Annotated[float, msgspec.Meta(ge=0, le=1e12)]


class MaxPrice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Hard caps in USD per 1M tokens (image: per image; request: per request)."""

    prompt: Cap | None = None
    completion: Cap | None = None
    image: Cap | None = None
    request: Cap | None = None

    def micro(self, name: str) -> int | None:
        value: float | None = getattr(self, name)
        return None if value is None else round(value * MICRO)


class SortObject(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    by: Sort | None = None
    partition: Literal["model", "none"] | None = None


class ProviderPrefs(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order: list[str] | None = None
    only: list[str] | None = None
    ignore: list[str] | None = None
    allow_fallbacks: bool | None = None
    require_parameters: bool = False
    data_collection: Literal["allow", "deny"] = "allow"
    zdr: bool = False
    enforce_distillable_text: bool = False
    quantizations: list[str] | None = None
    sort: Sort | SortObject | None = None
    max_price: MaxPrice | None = None
    preferred_min_throughput: float | Percentiles | None = None
    preferred_max_latency: float | Percentiles | None = None


class RoutingPrefs(msgspec.Struct, frozen=True):
    variant: Variant | None = None
    order: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    allow_fallbacks: bool | None = None
    require_parameters: bool = False
    deny_data_collection: bool = False
    zdr: bool = False
    quantizations: frozenset[str] | None = None
    sort: Sort | None = None
    # "none": one ordering across every model of `models`, not the primary model's first.
    partition_none: bool = False
    distillable_only: bool = False
    max_price: MaxPrice | None = None
    min_throughput: Percentiles | None = None
    max_latency_s: Percentiles | None = None
    session_id: str | None = None

    @property
    def effective_sort(self) -> Sort | None:
        if self.sort is not None:
            return self.sort
        return VARIANT_SORT.get(self.variant) if self.variant else None


def split_variant(model: str) -> tuple[str, Variant | None]:
    """`meta-llama/llama-4-scout:nitro` → (`meta-llama/llama-4-scout`, NITRO)."""
    slug, sep, suffix = model.partition(":")
    if not sep:
        return model, None
    try:
        variant = Variant(suffix)
    except ValueError:
        known = ", ".join(f":{v.value}" for v in Variant if v not in UNSUPPORTED_VARIANTS)
        raise BadRequest(
            f"Unknown model variant ':{suffix}' in {model!r}; known variants: {known}",
            metadata={"param": "model"},
        ) from None
    if variant in UNSUPPORTED_VARIANTS:
        raise BadRequest(UNSUPPORTED_VARIANTS[variant], metadata={"param": "model"})
    return slug, variant


def _as_percentiles(value: float | Percentiles | None) -> Percentiles | None:
    if value is None or isinstance(value, Percentiles):
        return value
    return Percentiles(p50=float(value))


def _lower(names: list[str] | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(n.lower() for n in names)


# The deprecated top-level `route` is an alias of `provider.sort.partition`.
ROUTE_PARTITION = {"fallback": "model", "sort": "none"}


def _numeric_prices(provider: dict[str, Any]) -> dict[str, Any]:
    """OpenRouter's schema types `max_price` values as strings ("0.5"); numbers work too."""
    caps = provider.get("max_price")
    if not isinstance(caps, dict) or not any(isinstance(v, str) for v in caps.values()):
        return provider
    numeric: dict[str, Any] = {}
    for name, value in caps.items():
        numeric[name] = value
        if isinstance(value, str):
            try:
                numeric[name] = float(value)
            except ValueError:
                path = f"provider.max_price.{name}"
                raise BadRequest(f"{path}: expected a number (or a numeric string), "
                                 f"got {value[:40]!r}", metadata={"param": path}) from None
    return {**provider, "max_price": numeric}


def parse_prefs(
    provider: Any, variant: Variant | None, session_id: str | None, route: Any = None
) -> RoutingPrefs:
    """Validate the raw `provider` object; errors name the offending key."""
    if route is not None and route not in ROUTE_PARTITION:
        raise BadRequest('route: must be "fallback" or "sort" (deprecated: use '
                         "provider.sort.partition)", metadata={"param": "route"})
    if provider is None:
        return RoutingPrefs(variant=variant, session_id=session_id,
                            partition_none=ROUTE_PARTITION.get(route) == "none")
    if isinstance(provider, dict):
        provider = _numeric_prices(provider)
    try:
        raw = msgspec.convert(provider, ProviderPrefs)
    except msgspec.ValidationError as exc:
        text, _, where = str(exc).rpartition(" - at `$")
        path = "provider" + where.rstrip("`") if text else "provider"
        raise BadRequest(f"{path}: {text or exc}", metadata={"param": path}) from None
    sort = raw.sort.by if isinstance(raw.sort, SortObject) else raw.sort
    partition = raw.sort.partition if isinstance(raw.sort, SortObject) else None
    partition_name: str | None = partition or ROUTE_PARTITION.get(route)
    return RoutingPrefs(
        variant=variant,
        order=_lower(raw.order) or (),
        only=_lower(raw.only),
        ignore=_lower(raw.ignore) or (),
        allow_fallbacks=raw.allow_fallbacks,
        require_parameters=raw.require_parameters,
        deny_data_collection=raw.data_collection == "deny",
        zdr=raw.zdr,
        quantizations=frozenset(q.lower() for q in raw.quantizations)
        if raw.quantizations is not None
        else None,
        sort=sort,
        partition_none=partition_name == "none",
        distillable_only=raw.enforce_distillable_text,
        max_price=raw.max_price,
        min_throughput=_as_percentiles(raw.preferred_min_throughput),
        max_latency_s=_as_percentiles(raw.preferred_max_latency),
        session_id=session_id,
    )
