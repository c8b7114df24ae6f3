"""The model pages' JSON twins: `GET /models/stats` and `GET /models/{author}/{slug}/stats/*`.

Each returns exactly what its page section draws (`schema/stats.py`), built by `analytics/`
from rollups. Public, like the catalog routes and OpenRouter's model pages: they hold
aggregates and the names apps chose to send, never a key or a prompt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import msgspec

from crossroads.analytics.overview import benchmarks_section, overview
from crossroads.analytics.performance import RANGES, performance_section
from crossroads.analytics.prices import pricing_section
from crossroads.analytics.providers import providers_section
from crossroads.analytics.spans import daily_span
from crossroads.analytics.traffic import activity_section, apps_section, directory
from crossroads.analytics.uptime import uptime_section
from crossroads.api.http import Receive, Scope, Send, send_error, send_json
from crossroads.api.state import AppState
from crossroads.catalog import Model
from crossroads.errors import BadRequest, CrossroadsError, NotFound
from crossroads.schema.stats import (
    ActivityDaysResponse,
    AppsResponse,
    BenchmarksResponse,
    ModelDirectory,
    OverviewResponse,
    PerformanceResponse,
    PricingResponse,
    ProvidersResponse,
    UptimeResponse,
)

_encode = msgspec.json.Encoder().encode
Section = Callable[[AppState, Model, dict[str, str]], msgspec.Struct]
SlugHandler = Callable[[AppState, Scope, Receive, Send, str], Awaitable[None]]


def wall_now(state: AppState) -> float:
    return state.clock() + state.wall_offset


def _overview(state: AppState, model: Model, query: dict[str, str]) -> msgspec.Struct:
    return OverviewResponse(data=overview(state.catalog, model))


def _providers(state: AppState, model: Model, query: dict[str, str]) -> msgspec.Struct:
    span = daily_span(wall_now(state))
    daily = state.ledger.analytics.endpoint_rollups("daily", model.slug, span.since, span.until)
    return ProvidersResponse(data=providers_section(
        state.catalog, state.stats, state.settings.routing, model.slug, state.clock(), daily))


def _pricing(state: AppState, model: Model, query: dict[str, str]) -> msgspec.Struct:
    return PricingResponse(data=pricing_section(state.ledger.analytics, state.catalog,
                                                model.slug, wall_now(state)))


def _performance(state: AppState, model: Model, query: dict[str, str]) -> msgspec.Struct:
    span = query.get("range", "72h")
    if span not in RANGES:
        raise BadRequest(f"range: must be one of {', '.join(RANGES)}",
                         metadata={"param": "range"})
    return PerformanceResponse(data=performance_section(
        state.ledger.analytics, state.catalog, model.slug, wall_now(state),
        "72h" if span == "72h" else "30d"))


def _uptime(state: AppState, model: Model, query: dict[str, str]) -> msgspec.Struct:
    return UptimeResponse(data=uptime_section(state.ledger.analytics, state.catalog,
                                              model.slug, wall_now(state)))


def _benchmarks(state: AppState, model: Model, query: dict[str, str]) -> msgspec.Struct:
    return BenchmarksResponse(data=benchmarks_section(state.benchmarks, model.slug))


def _apps(state: AppState, model: Model, query: dict[str, str]) -> msgspec.Struct:
    return AppsResponse(data=apps_section(state.ledger.analytics, model.slug, wall_now(state)))


def _activity(state: AppState, model: Model, query: dict[str, str]) -> msgspec.Struct:
    return ActivityDaysResponse(data=activity_section(state.ledger.analytics, model.slug,
                                                      wall_now(state)))


SECTIONS: dict[str, Section] = {
    "overview": _overview, "providers": _providers, "pricing": _pricing,
    "performance": _performance, "uptime": _uptime, "benchmarks": _benchmarks,
    "apps": _apps, "activity": _activity,
}


def _query(scope: Scope) -> dict[str, str]:
    raw = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {name: values[-1] for name, values in raw.items()}


def section_handler(name: str) -> SlugHandler:
    build = SECTIONS[name]

    async def handle(state: AppState, scope: Scope, receive: Receive, send: Send,
                     slug: str) -> None:
        try:
            model = state.catalog.model(slug)
            if model is None:
                raise NotFound(f"Model {slug[:200]} is not in the catalog",
                               metadata={"model": slug[:200]})
            # What the caller's own last request did shows at once; under steady traffic the
            # wait is at most the writer's batch delay.
            await state.ledger.caught_up(0.05)
            body = build(state, model, _query(scope))
        except CrossroadsError as error:
            await send_error(send, error)
            return
        await send_json(send, 200, _encode(body))

    return handle


async def model_directory(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    body = ModelDirectory(data=directory(state.ledger.analytics, state.catalog,
                                         wall_now(state)))
    await send_json(send, 200, _encode(body))
