"""The live state replicas share: one protocol, two implementations.

* `LocalState` (local.py), the default: nothing is shared, live stats stay in this process's
  memory exactly as they always were, and it is always healthy.
* `RedisState` (redis_state.py), chosen by `serve --redis-url` or `[server] redis_url`: every
  replica publishes the attempt outcomes it records and merges everyone else's into its own live
  stats, so an endpoint failing on one replica is avoided by all of them within a flush and a
  read (well under the 2 s the scale-out promise allows); sticky pins travel the same way.

Routing never waits on either: it reads `LiveStats` in memory; sharing happens in background
tasks. `healthy()` and `status()` say whether the sharing works right now (for readiness and
metrics); when it does not, every replica keeps serving on what it saw itself.
"""

from __future__ import annotations

import importlib.util
from typing import Literal, Protocol

import msgspec

from crossroads.routing.sticky import StickyTable
from crossroads.settings import Settings
from crossroads.stats import LiveStats

Backend = Literal["memory", "redis"]


class SharedStatus(msgspec.Struct, frozen=True):
    backend: Backend
    healthy: bool
    reason: str = ""  # why not, when not healthy; never holds a secret


class SharedState(Protocol):
    async def start(self) -> None:
        """Begin sharing; returns at once, whether or not the backend is reachable."""

    async def stop(self) -> None:
        """Publish what is pending (briefly, best effort) and let go of the backend."""

    def healthy(self) -> bool: ...

    def status(self) -> SharedStatus: ...


class MissingExtra(Exception):
    """A Redis URL was given but the `redis` extra is not installed."""


def check_extra(settings: Settings) -> None:
    """Refuse a Redis URL up front when redis-py is not installed."""
    if settings.server.redis_url is not None and importlib.util.find_spec("redis") is None:
        raise MissingExtra("server.redis_url: needs the redis extra "
                           "(pip install 'crossroads[redis]')")


def open_shared_state(settings: Settings, stats: LiveStats, sticky: StickyTable,
                      wall_offset: float) -> SharedState:
    """The implementation the settings choose, not started yet."""
    url = settings.server.redis_url
    if url is None:
        from crossroads.shared_state.local import LocalState  # noqa: PLC0415 (no cycle)

        return LocalState()
    check_extra(settings)
    # Imported only when configured: redis-py is an optional dependency.
    from crossroads.shared_state.redis_state import RedisState  # noqa: PLC0415

    return RedisState(url, stats, sticky, wall_offset, settings.routing, settings.breaker)
