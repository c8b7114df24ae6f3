"""`GET /health/live` and `GET /health/ready`, as service managers and load balancers use them.

Live: the process answers (its event loop runs); nothing else is checked, so a restart is only
triggered by a process that is truly stuck. Ready: it should be sent traffic — at least one
endpoint of the catalog can be routed to (none: 503, a router with no provider can only
refuse). Two troubles make it degraded, not unready, because requests still succeed: the ledger
not taking records (the journal holds them, nothing is lost) and Redis out of reach (this
replica routes on its own state until it is back). `/healthz` stays as it was.
"""

from __future__ import annotations

import os

import orjson

from crossroads.api.http import Receive, Scope, Send, send_json
from crossroads.api.state import AppState


async def live(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await send_json(send, 200, b'{"status":"live"}')


async def ready(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    ledger = state.ledger.health()
    shared = state.shared.status()
    # An endpoint whose credential cannot be had right now (a Google token, AWS keys) is not
    # routable.
    blocked = state.catalog.credentials.blocked(state.clock())
    routable = sum(1 for e in state.catalog.all_endpoints()
                   if e.available and e.key not in blocked)
    checks = {
        "ledger": {"ok": ledger.ok, "backlog": ledger.backlog, "detail": ledger.detail},
        "shared_state": {"ok": shared.healthy, "backend": shared.backend,
                         "detail": shared.reason or None},
        "endpoints": {"ok": routable > 0, "routable": routable,
                      "detail": None if routable else "no endpoint has an API key"},
    }
    accounts = state.accounts.shared
    if accounts is not None:
        mine = accounts.status()
        detail = (f"{mine.reason}; each replica admits against its share of every key's limits"
                  if not mine.healthy else None)
        checks["shared_accounts"] = {"ok": mine.healthy, "backend": mine.backend,
                                     "detail": detail}
    fine = ledger.ok and shared.healthy and (accounts is None or accounts.status().healthy)
    status = "ready" if fine and routable else ("degraded" if routable else "not_ready")
    # The pid tells an operator (and the workers' tests) which process of `--workers N` answered.
    body = orjson.dumps({"status": status, "pid": os.getpid(), "checks": checks})
    await send_json(send, 200 if routable else 503, body)
