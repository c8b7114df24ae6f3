"""The ASGI application: route table, lifespan-owned state, and the last line of error defence."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from crossroads import __version__
from crossroads.accounts.balance import Balance
from crossroads.accounts.ledger_view import ledger_balances
from crossroads.accounts.service import POLL_S, Accounts, AuthMode
from crossroads.analytics.reload import reload_live_stats
from crossroads.api.activity import get_activity
from crossroads.api.chat import chat_completions, embeddings, send_surface_error, surface_handler
from crossroads.api.cors import Cors
from crossroads.api.generation import get_generation
from crossroads.api.health import live, ready
from crossroads.api.http import Receive, Scope, Send, header, send_json
from crossroads.api.keys import (
    create_key,
    delete_key,
    get_credits,
    get_current_key,
    get_key,
    list_keys,
    update_key,
)
from crossroads.api.model_stats import SECTIONS, model_directory, section_handler
from crossroads.api.models import (
    count_models,
    get_model,
    list_embedding_models,
    list_models,
    list_providers,
    model_endpoints,
)
from crossroads.api.presets import (
    delete_preset,
    get_preset,
    list_presets,
    preset_chat,
    put_preset,
)
from crossroads.api.state import AppState
from crossroads.benchmarks import load_benchmarks
from crossroads.catalog import Catalog
from crossroads.credentials.keeper import CredentialKeeper
from crossroads.errors import (
    CrossroadsError,
    HeadersTooLarge,
    MethodNotAllowed,
    NotFound,
    internal_error_body,
)
from crossroads.generation import Generation
from crossroads.ledger import Store, record_of
from crossroads.metrics import CONTENT_TYPE
from crossroads.observability import Observer
from crossroads.preset_store import PresetBook
from crossroads.relay import Relay
from crossroads.routing.sticky import StickyTable
from crossroads.settings import Settings
from crossroads.shared_state import SharedState, open_shared_state
from crossroads.shutdown import cancel_and_wait
from crossroads.stats import LiveStats
from crossroads.stores import Stores
from crossroads.surfaces import Surface
from crossroads.surfaces.completions import COMPLETIONS
from crossroads.surfaces.messages import MESSAGES
from crossroads.surfaces.responses import ResponsesSurface
from crossroads.upstream import Upstream
from crossroads.web.assets import bundle
from crossroads.web.pages import models_page, page_handler

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
    await send({"type": "http.response.body", "body": state.observer.render()})


# Routes served by a surface (crossroads/surfaces): every error on them, the router's own 405,
# 431 and 500 included, is shaped as that surface's SDK reads it.
SURFACES: dict[str, Surface] = {"/messages": MESSAGES, "/responses": ResponsesSurface(),
                                "/completions": COMPLETIONS}

ROUTES: dict[str, dict[str, Handler]] = {
    "/chat/completions": {"POST": chat_completions},
    **{path: {"POST": surface_handler(surface)} for path, surface in SURFACES.items()},
    "/embeddings": {"POST": embeddings},
    "/embeddings/models": {"GET": list_embedding_models},
    "/models": {"GET": list_models},
    "/models/count": {"GET": count_models},
    "/models/stats": {"GET": model_directory},
    "/providers": {"GET": list_providers},
    "/generation": {"GET": get_generation},
    "/key": {"GET": get_current_key},
    "/credits": {"GET": get_credits},
    "/activity": {"GET": get_activity},
    "/keys": {"GET": list_keys, "POST": create_key},
    "/presets": {"GET": list_presets},
}
SlugHandler = Callable[[AppState, Scope, Receive, Send, str], Awaitable[None]]
# Routes with a parameter inside: (prefix, suffix, segments in the parameter, {method: handler}).
# A model slug is `author/slug` (two segments), a key hash one.
SLUG_ROUTES: tuple[tuple[str, str, int, dict[str, SlugHandler]], ...] = (
    ("/models/", "/endpoints", 2, {"GET": model_endpoints}),
    *(("/models/", f"/stats/{name}", 2, {"GET": section_handler(name)}) for name in SECTIONS),
    ("/models/", "", 2, {"GET": get_model}),
    ("/model/", "", 2, {"GET": get_model}),
    ("/keys/", "", 1, {"GET": get_key, "PATCH": update_key, "DELETE": delete_key}),
    ("/presets/", "/chat/completions", 1, {"POST": preset_chat}),
    ("/presets/", "", 1, {"GET": get_preset, "PUT": put_preset, "DELETE": delete_preset}),
)
BARE_ROUTES: dict[str, dict[str, Handler]] = {
    "/": {"GET": _root},
    "/healthz": {"GET": _health},
    "/health/live": {"GET": live},
    "/health/ready": {"GET": ready},
    "/metrics": {"GET": _metrics},
    "/models": {"GET": models_page},
}


def _surface_of(path: str) -> Surface | None:
    for prefix in API_PREFIXES:
        if path.startswith(prefix + "/"):
            return SURFACES.get(path[len(prefix):])
    return None


async def _send_route_error(send: Send, path: str, error: CrossroadsError) -> None:
    await send_surface_error(send, error, _surface_of(path))


async def ledger_seed(ledger: Store, balance: Balance) -> Balance:
    (view,) = await ledger_balances(ledger, [balance], time.time())
    return view


class CrossroadsApp:
    """The ASGI callable. State is built in the lifespan, never at import."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None,
                 simulated: bool = False, auth_mode: AuthMode = "open",
                 tracer_provider: Any = None) -> None:
        self.settings = settings
        self.catalog = catalog or settings.catalog
        self.simulated = simulated
        self.auth_mode: AuthMode = auth_mode
        self.state: AppState | None = None
        self._upstream: Upstream | None = None
        self._ledger: Store | None = None
        self._stores: Stores | None = None
        self._accounts: Accounts | None = None
        self._presets: PresetBook | None = None
        self._presets_follower: asyncio.Task[None] | None = None
        self._keeper: CredentialKeeper | None = None
        self._shared: SharedState | None = None
        self._observer: Observer | None = None
        # An OpenTelemetry TracerProvider to use instead of the one OTEL_* would build (tests).
        self._tracer_provider = tracer_provider
        origins = settings.server.cors_origins
        self._cors = Cors(["*"] if origins is None and auth_mode == "open" else origins or [])

    async def startup(self) -> None:
        bundle()  # the pages' files: a packaging mistake fails the start, not a page view
        seed = self.settings.routing.seed
        rng = random.Random(seed)
        stats = LiveStats(self.settings.routing, self.settings.breaker)
        self._upstream = Upstream(self.settings.timeouts)
        await self._upstream.start()
        wall_offset = time.time() - asyncio.get_running_loop().time()
        stores = self._stores = Stores(self.settings)
        ledger = self._ledger = stores.ledger
        accounts = self._accounts = Accounts(stores.keys, self.auth_mode)
        # After the ledger opened: its journal has replayed, so the spend read here is all
        # that was ever settled, crashes included.
        accounts.load(ledger.key_rollups(Accounts.recent_days(time.time())),
                      ledger.key_totals())
        accounts.start()
        reload_live_stats(ledger.analytics, self.catalog, stats, time.time(),
                          asyncio.get_running_loop().time())
        sticky = StickyTable(self.settings.routing.sticky_idle_s)
        # After the reload: history from the ledger is this replica's own, never re-published.
        shared = self._shared = open_shared_state(self.settings, stats, sticky, wall_offset)
        await shared.start()
        if self.settings.server.redis_url is not None:
            # Imported only when configured, like shared_state: redis-py is optional.
            from crossroads.accounts.shared import SharedAccounts  # noqa: PLC0415

            accounts.shared = SharedAccounts(self.settings.server.redis_url,
                                             self.settings.server.replicas_hint,
                                             self.settings.timeouts.total_s + 60.0)
            # A key's shared spend is seeded from the ledger, where every replica's is.
            accounts.shared.seeder = lambda balance: ledger_seed(ledger, balance)
            await accounts.shared.start()
        observer = self._observer = Observer(self.settings, self.catalog,
                                             self._tracer_provider)
        observer.watch(stats, ledger, shared.status().backend, shared.healthy)

        def sink(generation: Generation) -> None:
            served = generation.served
            if (served is not None and served.ended is not None and generation.conversation
                    and generation.finish_reason != "error"):
                sticky.remember(generation.conversation, served.endpoint, served.ended)
            record = record_of(generation, wall_offset)
            ledger.submit(record)
            observer.generation_settled(generation, record)

        # Minted credentials (Google tokens) are fetched before serving, then kept fresh.
        keeper = self._keeper = CredentialKeeper(self.catalog.credentials)
        await keeper.start()
        relay = Relay(self.settings, self.catalog, self._upstream, stats, sink, rng)
        presets = self._presets = PresetBook(stores.presets, self.settings.presets)
        self._presets_follower = asyncio.get_running_loop().create_task(
            presets.follow(POLL_S), name="presets-follow")
        self.state = AppState(self.settings, self.catalog, stats, relay, rng, self.simulated,
                              ledger, wall_offset, sticky, observer, accounts,
                              load_benchmarks(self.catalog), presets, shared)

    async def shutdown(self) -> None:
        # uvicorn has stopped serving by now: every finished generation is already submitted.
        if self._observer is not None:
            await self._observer.stop()
        if self._shared is not None:
            await self._shared.stop()
        if self._upstream is not None:
            await self._upstream.close()
        if self._accounts is not None:
            if self._accounts.shared is not None:
                await self._accounts.shared.stop()
            await self._accounts.stop()
            self._accounts.store.close()
        if self._presets_follower is not None:
            await cancel_and_wait([self._presets_follower], 1.0)
        if self._keeper is not None:
            await self._keeper.stop()
        if self._presets is not None:
            self._presets.close()
        if self._ledger is not None:
            await asyncio.to_thread(self._ledger.close)
        if self._stores is not None:
            self._stores.close_database()

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
                    # Where it failed, for the operator; uvicorn itself logs only the message.
                    log.exception("startup failed")
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
        if table is None and (page := page_handler(method, path)) is not None:
            return page
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
        for prefix, suffix, segments, methods in SLUG_ROUTES:
            if not rest.startswith(prefix) or not rest.endswith(suffix):
                continue
            slug = rest[len(prefix):len(rest) - len(suffix)]
            parts = slug.split("/")
            if len(parts) != segments or "" in parts:
                continue
            handler = methods.get(method)
            if handler is None:
                raise MethodNotAllowed(f"{method} is not allowed on {path}; "
                                       f"use {', '.join(methods)}")
            return lambda state, scope, receive, send: handler(state, scope, receive, send, slug)
        raise NotFound(f"No route for {path[:200]}")

    def _methods(self, path: str) -> list[str]:
        """The methods a path answers to (NotFound when it answers to none)."""
        found = []
        for method in ("GET", "POST", "PATCH", "DELETE"):
            try:
                self._resolve(method, path)
            except MethodNotAllowed:
                continue
            found.append(method)
        return found

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.state is not None, "lifespan startup did not run"
        size = sum(len(name) + len(value) for name, value in scope["headers"])
        if size > self.settings.server.max_header_bytes:
            await _send_route_error(send, scope["path"], HeadersTooLarge(
                f"Request headers total {size} bytes; the limit is "
                f"{self.settings.server.max_header_bytes}"))
            return
        method, path = scope["method"], scope["path"]
        if self._cors.enabled and path.startswith(API_PREFIXES):
            origin = header(scope, b"origin")
            if method == "OPTIONS":
                try:
                    methods = self._methods(path)
                except NotFound as error:
                    await _send_route_error(send, path, error)
                    return
                await self._cors.preflight(send, origin, methods)
                return
            if origin is not None:
                send = self._cors.wrap(send, origin)
        try:
            handler = self._resolve(method, path)
        except (NotFound, MethodNotAllowed) as error:
            await _send_route_error(send, path, error)
            return
        try:
            assert handler is not None
            await handler(self.state, scope, receive, send)
        except CrossroadsError as error:
            # Raised past a handler: a store that cannot be reached (DatabaseUnavailable, 503).
            try:
                await _send_route_error(send, path, error)
            except Exception:
                log.debug("could not send the %d (response already started)", error.status)
        except Exception:
            # A bug, not bad input: full detail in the log, nothing of it to the caller.
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            try:
                surface = _surface_of(path)
                body = (internal_error_body() if surface is None
                        else surface.error_body(CrossroadsError("Internal error")))
                await send_json(send, 500, body)
            except Exception:
                log.debug("could not send the 500 (response already started)")
