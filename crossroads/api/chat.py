"""POST /chat/completions, and every surface translated to it: authenticate, validate, plan,
reserve, relay, settle.

A surface (`crossroads.surfaces`) only changes the edges: which header carries the key, how the
body becomes a chat body, how the answer, the stream and the errors are shaped. Everything
between — routing, failover, metering, billing, the ledger — is this one path, so a Responses or
a Messages request fails over and is billed exactly like the chat request it translates to.

POST /embeddings is not chat, but walks the same path with its own parser
(`embeddings_request.py`): the request it makes carries `operation=EMBEDDINGS`, which routing,
the provider and the relay read."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import orjson

from crossroads.accounts.admission import admit, check_caller, settle
from crossroads.api.http import (
    ASGIClientStream,
    ClientGone,
    Headers,
    Receive,
    Scope,
    Send,
    cancel_on_disconnect,
    header,
    read_body,
    send_error,
    send_json,
)
from crossroads.api.state import AppState
from crossroads.api.surface_stream import TranslatingStream
from crossroads.catalog import Catalog
from crossroads.chat_request import ChatRequest, parse_chat_request
from crossroads.embeddings_request import parse_embeddings_request
from crossroads.errors import CrossroadsError
from crossroads.generation import Generation
from crossroads.metrics import OverheadTimer
from crossroads.operations import Operation
from crossroads.presets import Preset, apply_preset
from crossroads.routing.plan import Plan, build_plan
from crossroads.routing.sticky import conversation_key, worth_sticking
from crossroads.surfaces import Surface, Translation
from crossroads.transforms import fit_context

SIMULATED_HEADER = (b"x-crossroads-simulated", b"true")
# Set by `POST /presets/{slug}/chat/completions`: the preset to apply whatever the body says.
PRESET_SCOPE_KEY = "crossroads.preset"

Handler = Callable[[AppState, Scope, Receive, Send], Awaitable[None]]
# The raw body, the x-session-id header and the catalog → the validated request (BadRequest
# when it is not).
RequestParser = Callable[[bytes, str | None, Catalog], ChatRequest]


def _parse_chat(raw: bytes, session_header: str | None, catalog: Catalog) -> ChatRequest:
    return parse_chat_request(raw, session_header)


async def chat_completions(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await _handle(state, scope, receive, send, None)


async def embeddings(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await _handle(state, scope, receive, send, None, parse_embeddings_request)


def surface_handler(surface: Surface) -> Handler:
    """The route handler for a surface translated to chat."""
    async def handle(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
        await _handle(state, scope, receive, send, surface)
    return handle


def _authorization(scope: Scope, surface: Surface | None) -> str | None:
    if surface is None:
        return header(scope, b"authorization")
    for name in surface.credential_headers:
        value = header(scope, name)
        if value is not None:
            return value if name == b"authorization" else f"Bearer {value.strip()}"
    return None


async def send_surface_error(send: Send, error: CrossroadsError, surface: Surface | None,
                             extra: Headers | None = None) -> None:
    """The error in the caller's dialect: chat's envelope, or the surface's."""
    if surface is None:
        await send_error(send, error, extra)
        return
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    await send_json(send, error.status, surface.error_body(error), headers + (extra or []))


async def _handle(state: AppState, scope: Scope, receive: Receive, send: Send,
                  surface: Surface | None, parse: RequestParser = _parse_chat) -> None:
    loop_time = state.clock
    accounts = state.accounts
    translation: Translation | None = None
    try:
        caller = accounts.authenticate(_authorization(scope, surface))
        check_caller(accounts, caller)
        raw = await read_body(scope, receive, state.settings.server.max_body_bytes,
                              state.settings.timeouts.client_body_s)
        overhead = OverheadTimer()
        if surface is not None:
            translation = surface.translate(raw)
            raw = translation.chat_body
        preset = None
        forced = scope.get(PRESET_SCOPE_KEY)
        if forced is not None or b"@preset/" in raw or b'"preset"' in raw:
            raw, preset = _with_preset(raw, state, forced)
        request = parse(raw, header(scope, b"x-session-id"), state.catalog)
        compressed = None
        if request.operation is Operation.CHAT:
            request, compressed = fit_context(request, state.catalog,
                                              state.settings.routing.image_token_estimate)
        now = loop_time()
        conversation = (conversation_key(request) if state.settings.routing.sticky
                        and request.operation is Operation.CHAT
                        and worth_sticking(request, state.catalog) else None)
        plan = build_plan(request, state.catalog, state.stats, state.settings.routing,
                          state.rng, now, state.sticky.lookup(conversation, now))
        balance = caller.balance
        shared = accounts.shared
        # Last: from here on, the `finally` below settles whatever was admitted.
        if balance is None:
            reservation = None
        elif shared is None:
            reservation = admit(accounts, balance, request, plan.attempts, len(raw),
                                state.settings.auth)
        else:
            reservation = await shared.admit(caller, request, plan.attempts, len(raw),
                                             state.settings.auth)
    except CrossroadsError as error:
        state.observer.rejected(_surface_name(surface, parse), error.status)
        await send_surface_error(send, error, surface)
        return
    except ClientGone:
        return
    generation: Generation | None = None
    try:
        generation = _generation(scope, request, overhead, conversation)
        generation.key_id = caller.key_hash
        if state.observer.tracing:
            generation.trace_parent = header(scope, b"traceparent")
        if surface is not None:
            generation.surface = surface.name
        elif request.operation is Operation.EMBEDDINGS:
            generation.surface = "embeddings"
        generation.notes.extend(plan.notes)
        generation.preset = None if preset is None else preset.slug
        if compressed is not None:
            generation.notes.append(compressed)
        generation.reservation = reservation
        await _serve(state, scope, receive, send, request, plan, generation, surface,
                     translation)
    finally:
        if balance is not None:
            cost = 0 if generation is None else generation.cost_micro
            created = time.time() if generation is None else generation.created
            if shared is None:
                settle(balance, reservation, cost, created)
            else:
                shared.settle(caller, reservation, cost, created)


def _surface_name(surface: Surface | None, parse: RequestParser) -> str:
    if surface is not None:
        return surface.name
    return "embeddings" if parse is parse_embeddings_request else "chat"


def _with_preset(raw: bytes, state: AppState, forced: str | None) -> tuple[bytes, Preset | None]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw, None  # parse_chat_request says what is wrong with it
    if not isinstance(body, dict):
        return raw, None
    merged, preset = apply_preset(body, state.presets.by_slug, forced)
    return (raw if preset is None else orjson.dumps(merged)), preset


def _generation(scope: Scope, request: ChatRequest, overhead: OverheadTimer,
                conversation: str | None) -> Generation:
    generation = Generation(
        request.models[0],
        request.stream,
        app_referer=header(scope, b"http-referer") or header(scope, b"referer"),
        app_title=header(scope, b"x-title") or header(scope, b"x-openrouter-title"),
        overhead=overhead,
    )
    generation.conversation = conversation
    generation.user_agent = header(scope, b"user-agent")
    generation.session_id = request.prefs.session_id
    user = request.body.get("user")
    generation.external_user = user if isinstance(user, str) else None
    return generation


async def _serve(state: AppState, scope: Scope, receive: Receive, send: Send,
                 request: ChatRequest, plan: Plan, generation: Generation,
                 surface: Surface | None, translation: Translation | None) -> None:
    overhead = generation.overhead
    extra: Headers = [(b"x-generation-id", generation.id.encode())]
    if any(e.simulated for e in plan.attempts):
        extra.append(SIMULATED_HEADER)
    out: ASGIClientStream | TranslatingStream | None = None
    body: bytes | None = None
    if request.stream:
        out = ASGIClientStream(send, extra, state.clock(), overhead)
        if translation is not None:
            out = TranslatingStream(out, translation)
    observer = state.observer
    observer.request_started(generation.surface, request.stream)
    try:
        try:
            left, body = await cancel_on_disconnect(
                scope, receive, state.relay.run(request, plan, generation, out))
        except CrossroadsError as error:
            # For a stream, raised only while nothing was sent: a plain JSON error with the
            # real status.
            await send_surface_error(send, error, surface, [*extra, overhead.header()])
            return
        if left:
            return
        if out is not None:
            await out.end()
        elif body is not None:
            if translation is not None:
                body = translation.answer(orjson.loads(body))
            await send_json(send, 200, body, [*extra, overhead.header()])
    finally:
        observer.request_ended(generation.surface, request.stream, overhead)
        if observer.content_logged:
            observer.exchange(generation.id, request.body.get("messages",
                                                               request.body.get("input")), body)

