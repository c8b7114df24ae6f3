"""POST /chat/completions: validate, plan, relay."""

from __future__ import annotations

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
from crossroads.chat_request import parse_chat_request
from crossroads.errors import CrossroadsError, Unauthorized
from crossroads.generation import Generation
from crossroads.metrics import OverheadTimer
from crossroads.routing.plan import build_plan
from crossroads.routing.sticky import conversation_key, worth_sticking

SIMULATED_HEADER = (b"x-crossroads-simulated", b"true")


def _check_auth(scope: Scope) -> None:
    # Keys and credits arrive in a later release; until then any bearer token is accepted,
    # but one must be sent so clients are already shaped for keys.
    value = header(scope, b"authorization")
    if not value or not value.lower().startswith("bearer ") or not value[7:].strip():
        raise Unauthorized("Missing bearer token: send 'Authorization: Bearer <any key>'")


async def chat_completions(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    loop_time = state.clock
    try:
        _check_auth(scope)
        raw = await read_body(scope, receive, state.settings.server.max_body_bytes,
                              state.settings.timeouts.client_body_s)
        overhead = OverheadTimer()
        request = parse_chat_request(raw, header(scope, b"x-session-id"))
        now = loop_time()
        conversation = (conversation_key(request) if state.settings.routing.sticky
                        and worth_sticking(request, state.catalog) else None)
        plan = build_plan(request, state.catalog, state.stats, state.settings.routing,
                          state.rng, now, state.sticky.lookup(conversation, now))
    except CrossroadsError as error:
        await send_error(send, error)
        return
    except ClientGone:
        return

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
    extra: Headers = [(b"x-generation-id", generation.id.encode())]
    if any(e.simulated for e in plan.attempts):
        extra.append(SIMULATED_HEADER)

    out = ASGIClientStream(send, extra, loop_time(), overhead) if request.stream else None
    try:
        try:
            left, body = await cancel_on_disconnect(
                scope, receive, state.relay.run(request, plan, generation, out))
        except CrossroadsError as error:
            # For a stream, raised only while nothing was sent: a plain JSON error with the
            # real status.
            await send_error(send, error, [*extra, overhead.header()])
            return
        if left:
            return
        if out is not None:
            await out.end()
        elif body is not None:
            await send_json(send, 200, body, [*extra, overhead.header()])
    finally:
        state.metrics.observe_overhead(request.stream, overhead)
