"""The ready-made fleet: Llama 4 Scout as its eight real providers serve it.

Limits are the providers' published ones; speeds are typical medians, not promises. Upstream model
ids are each provider's own spelling, since a router must translate the slug per endpoint.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from crossroads.sim.profile import SimFleet, SimProfile

__all__ = ["scout_fleet"]


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
