"""The ASGI application: route table, lifespan-owned state, and the last line of error defence."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from crossroads import __version__
from crossroads.api.chat import chat_completions
from crossroads.api.generation import get_generation
from crossroads.api.http import Receive, Scope, Send, send_error, send_json
from crossroads.api.models import (
    count_models,
    get_model,
    list_models,
    list_providers,
    model_endpoints,
)
from crossroads.api.state import AppState
from crossroads.catalog import Catalog
from crossroads.errors import HeadersTooLarge, MethodNotAllowed, NotFound, internal_error_body
from crossroads.generation import Generation
from crossroads.ledger import SQLiteLedger, record_of
from crossroads.metrics import CONTENT_TYPE, Metrics
from crossroads.relay import Relay
from crossroads.routing.sticky import StickyTable
from crossroads.settings import Settings
from crossroads.stats import LiveStats
from crossroads.upstream import Upstream

log = logging.getLogger("crossroads")

Handler = Callable[[AppState, Scope, Receive, Send], Awaitable[None]]
API_PREFIXES = ("/api/v1", "/v1")


async def _health(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await send_json(send, 200, b'{"ok":true}')


async def _root(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    body = {
        "name": "crossroads",
        "version": __version__,
        "api": "/api/v1",
        "models": [m.slug for m in state.catalog.models()],
        "simulated": state.simulated,
        "note": "Providers are simulated (demo mode)." if state.simulated else None,
    }
    await send_json(send, 200, orjson.dumps(body))


async def _metrics(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", CONTENT_TYPE)]})
    await send({"type": "http.response.body", "body": state.metrics.render()})


ROUTES: dict[str, dict[str, Handler]] = {
    "/chat/completions": {"POST": chat_completions},
    "/models": {"GET": list_models},
    "/models/count": {"GET": count_models},
    "/providers": {"GET": list_providers},
    "/generation": {"GET": get_generation},
}
SlugHandler = Callable[[AppState, Scope, Receive, Send, str], Awaitable[None]]
# Routes with a model slug (`author/slug`) inside: (prefix, suffix, {method: handler}).
SLUG_ROUTES: tuple[tuple[str, str, dict[str, SlugHandler]], ...] = (
    ("/models/", "/endpoints", {"GET": model_endpoints}),
    ("/models/", "", {"GET": get_model}),
    ("/model/", "", {"GET": get_model}),
)
BARE_ROUTES: dict[str, dict[str, Handler]] = {
    "/": {"GET": _root},
    "/healthz": {"GET": _health},
    "/metrics": {"GET": _metrics},
}


class CrossroadsApp:
    """The ASGI callable. State is built in the lifespan, never at import."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None,
                 simulated: bool = False) -> None:
        self.settings = settings
        self.catalog = catalog or settings.catalog
        self.simulated = simulated
        self.state: AppState | None = None
        self._upstream: Upstream | None = None
        self._ledger: SQLiteLedger | None = None

    async def startup(self) -> None:
        seed = self.settings.routing.seed
        rng = random.Random(seed)
        stats = LiveStats(self.settings.routing, self.settings.breaker)
        self._upstream = Upstream(self.settings.timeouts)
        await self._upstream.start()
        wall_offset = time.time() - asyncio.get_running_loop().time()
        ledger = self._ledger = SQLiteLedger(
            Path(self.settings.server.state_dir) / "crossroads.db")

        sticky = StickyTable(self.settings.routing.sticky_idle_s)

        def sink(generation: Generation) -> None:
            served = generation.served
            if (served is not None and served.ended is not None and generation.conversation
                    and generation.finish_reason != "error"):
                sticky.remember(generation.conversation, served.endpoint, served.ended)
            ledger.submit(record_of(generation, wall_offset))

        relay = Relay(self.settings, self.catalog, self._upstream, stats, sink, rng)
        self.state = AppState(self.settings, self.catalog, stats, relay, rng, self.simulated,
                              ledger, wall_offset, sticky, Metrics())

    async def shutdown(self) -> None:
        # uvicorn has stopped serving by now: every finished generation is already submitted.
        if self._upstream is not None:
            await self._upstream.close()
        if self._ledger is not None:
            await asyncio.to_thread(self._ledger.close)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _resolve(self, method: str, path: str) -> Callable[..., Awaitable[None]] | None:
        table: dict[str, Handler] | None = BARE_ROUTES.get(path)
        rest = path
        if table is None:
            for prefix in API_PREFIXES:
                if path.startswith(prefix + "/"):
                    rest = path[len(prefix):]
                    break
            else:
                raise NotFound(f"No route for {path[:200]}")
            table = ROUTES.get(rest)
        if table is None:
            return self._resolve_slug(method, path, rest)
        handler = table.get(method)
        if handler is None:
            raise MethodNotAllowed(f"{method} is not allowed on {path}; use {', '.join(table)}")
        return handler

    @staticmethod
    def _resolve_slug(method: str, path: str, rest: str) -> Callable[..., Awaitable[None]]:
        for prefix, suffix, methods in SLUG_ROUTES:
            if not rest.startswith(prefix) or not rest.endswith(suffix):
                continue
            slug = rest[len(prefix):len(rest) - len(suffix)]
            if slug.count("/") != 1 or "" in slug.split("/"):
                continue
            handler = methods.get(method)
            if handler is None:
                raise MethodNotAllowed(f"{method} is not allowed on {path}; "
                                       f"use {', '.join(methods)}")
            return lambda state, scope, receive, send: handler(state, scope, receive, send, slug)
        raise NotFound(f"No route for {path[:200]}")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.state is not None, "lifespan startup did not run"
        size = sum(len(name) + len(value) for name, value in scope["headers"])
        if size > self.settings.server.max_header_bytes:
            await send_error(send, HeadersTooLarge(
                f"Request headers total {size} bytes; the limit is "
                f"{self.settings.server.max_header_bytes}"))
            return
        try:
            handler = self._resolve(scope["method"], scope["path"])
        except (NotFound, MethodNotAllowed) as error:
            await send_error(send, error)
            return
        try:
            assert handler is not None
            await handler(self.state, scope, receive, send)
        except Exception:
            # A bug, not bad input: full detail in the log, nothing of it to the caller.
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            try:
                await send_json(send, 500, internal_error_body())
            except Exception:
                log.debug("could not send the 500 (response already started)")
