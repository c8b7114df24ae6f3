"""POST /chat/completions: authenticate, validate, plan, reserve, relay, settle."""

from __future__ import annotations

import time

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
from crossroads.chat_request import ChatRequest, parse_chat_request
from crossroads.errors import CrossroadsError
from crossroads.generation import Generation
from crossroads.metrics import OverheadTimer
from crossroads.routing.plan import Plan, build_plan
from crossroads.routing.sticky import conversation_key, worth_sticking

SIMULATED_HEADER = (b"x-crossroads-simulated", b"true")


async def chat_completions(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    loop_time = state.clock
    accounts = state.accounts
    try:
        caller = accounts.authenticate(header(scope, b"authorization"))
        check_caller(accounts, caller)
        raw = await read_body(scope, receive, state.settings.server.max_body_bytes,
                              state.settings.timeouts.client_body_s)
        overhead = OverheadTimer()
        request = parse_chat_request(raw, header(scope, b"x-session-id"))
        now = loop_time()
        conversation = (conversation_key(request) if state.settings.routing.sticky
                        and worth_sticking(request, state.catalog) else None)
        plan = build_plan(request, state.catalog, state.stats, state.settings.routing,
                          state.rng, now, state.sticky.lookup(conversation, now))
        balance = caller.balance
        # Last: from here on, the `finally` below settles whatever was admitted.
        reservation = None if balance is None else admit(
            accounts, balance, request, plan.attempts, len(raw), state.settings.auth)
    except CrossroadsError as error:
        await send_error(send, error)
        return
    except ClientGone:
        return
    generation: Generation | None = None
    try:
        generation = _generation(scope, request, overhead, conversation)
        generation.key_id = caller.key_hash
        generation.reservation = reservation
        await _serve(state, scope, receive, send, request, plan, generation)
    finally:
        if balance is not None:
            settle(balance, reservation,
                   0 if generation is None else generation.cost_micro,
                   time.time() if generation is None else generation.created)


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
                 request: ChatRequest, plan: Plan, generation: Generation) -> None:
    overhead = generation.overhead
    extra: Headers = [(b"x-generation-id", generation.id.encode())]
    if any(e.simulated for e in plan.attempts):
        extra.append(SIMULATED_HEADER)
    out = ASGIClientStream(send, extra, state.clock(), overhead) if request.stream else None
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

