"""The ready-made fleets: every catalog endpoint's twin, and Llama 4 Scout's eight stand-ins.

Limits are the providers' published ones; speeds are typical medians, not promises. Upstream model
ids are each provider's own spelling, since a router must translate the slug per endpoint.

`catalog_fleet` is what demo mode serves: one profile per (provider, upstream model), served
under `/PROVIDER/v1` and picked by the request's `model`, as the real provider would. `scout_fleet`
predates it: eight stand-ins named after their providers that answer any model, kept because
tests and benchmarks steer them by those names and rely on their pinned speeds.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from crossroads.catalog import Catalog, Endpoint
from crossroads.sim.profile import SimFleet, SimProfile

__all__ = ["catalog_fleet", "profile_name", "scout_fleet"]

_MAX_NAME: Final = 64


def profile_name(endpoint: Endpoint) -> str:
    """The control API's handle for an endpoint's twin: "groq.llama-3.3-70b-instruct"."""
    tag = endpoint.tag.replace("/", "-")
    return f"{tag}.{endpoint.model.rsplit('/', 1)[-1]}"[:_MAX_NAME]


def catalog_fleet(catalog: Catalog, seed: int = 0, *, time_scale: float = 1.0) -> SimFleet:
    """A twin of every catalog endpoint, available or not, with its own limits and speeds.

    Two tags of one model at one provider that name the same upstream model are one endpoint to
    the provider too, so they share the first one's twin.
    """
    profiles: dict[tuple[str, str], SimProfile] = {}
    for ep in catalog.all_endpoints():
        pair = (ep.provider, ep.upstream_model)
        if pair in profiles:
            continue
        model = catalog.model(ep.model)
        profiles[pair] = SimProfile(
            name=profile_name(ep),
            provider=ep.provider,
            model=ep.upstream_model,
            context_length=ep.context_length,
            max_output=ep.max_output,
            ttft_ms=ep.nominal_ttft_ms,
            tokens_per_s=ep.nominal_throughput,
            supports_images=ep.serves_images(),
            supports_tools="tools" in ep.supported_parameters,
            reasoning="reasoning" in ep.supported_parameters,
            # A published cache-read price means the provider caches prompt prefixes.
            cache=ep.pricing.cache_read is not None,
            usage_prompt_includes_cached=ep.usage_prompt_includes_cached,
            dimensions=model.dimensions if model is not None and model.embeds else None,
        )
    return SimFleet(endpoints=tuple(profiles.values()), seed=seed, time_scale=time_scale)


class _Row(NamedTuple):
    name: str
    model: str
    context_length: int
    max_output: int
    ttft_ms: float
    tokens_per_s: float
    cache: bool


_SCOUT: Final[tuple[_Row, ...]] = (
    _Row("deepinfra", "meta-llama/Llama-4-Scout-17B-16E-Instruct", 327680, 16384, 600, 95, True),
    _Row("groq", "meta-llama/llama-4-scout-17b-16e-instruct", 131072, 8192, 300, 600, False),
    _Row("novita", "meta-llama/llama-4-scout-17b-16e-instruct", 131072, 131072, 900, 70, False),
    _Row("lambda", "llama-4-scout-17b-16e-instruct", 1048576, 1048576, 700, 110, True),
    _Row("parasail", "parasail-llama-4-scout-instruct", 158000, 158000, 500, 130, False),
    _Row(
        "gmicloud", "meta-llama/Llama-4-Scout-17B-16E-Instruct", 1048576, 1048576, 1100, 60, False
    ),
    _Row(
        "google-vertex", "meta/llama-4-scout-17b-16e-instruct-maas", 1048576, 8192, 800, 140, False
    ),
    _Row("cerebras", "llama-4-scout-17b-16e-instruct", 32768, 8192, 250, 2600, False),
)


def scout_fleet(seed: int = 0, *, time_scale: float = 1.0) -> SimFleet:
    """Eight endpoints of a text+image model, all healthy; faults are added per test or demo."""
    return SimFleet(
        endpoints=tuple(
            SimProfile(
                name=row.name,
                model=row.model,
                context_length=row.context_length,
                max_output=row.max_output,
                ttft_ms=row.ttft_ms,
                tokens_per_s=row.tokens_per_s,
                cache=row.cache,
            )
            for row in _SCOUT
        ),
        seed=seed,
        time_scale=time_scale,
    )
