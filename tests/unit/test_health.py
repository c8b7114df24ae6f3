"""Readiness decided from the ledger's and the catalog's state (the states a loopback router
cannot be put in on demand: a failing database, no routable endpoint)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from crossroads.api.health import ready
from crossroads.catalog import CredentialSpec
from crossroads.ledger.store import LedgerHealth
from crossroads.shared_state import SharedStatus

from .factories import catalog, endpoint

LOCAL = SharedStatus("memory", True)


def answer(ledger: LedgerHealth, available: list[bool],
           shared: SharedStatus = LOCAL, **kw: Any) -> tuple[int, dict[str, Any]]:
    state = SimpleNamespace(
        ledger=SimpleNamespace(health=lambda: ledger),
        shared=SimpleNamespace(status=lambda: shared),
        accounts=SimpleNamespace(shared=None),
        catalog=catalog(*(endpoint(f"e{i}", available=ok, **kw)
                          for i, ok in enumerate(available))),
        clock=lambda: 0.0)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    asyncio.run(ready(state, {"headers": []}, receive, send))  # type: ignore[arg-type]
    return sent[0]["status"], orjson.loads(sent[1]["body"])


FINE = LedgerHealth(True, 0, None)
FAILING = LedgerHealth(False, 12, "database writes have failed for 3 s; records wait in the "
                                  "journal")


@pytest.mark.parametrize(("ledger", "available", "status", "word"), [
    (FINE, [True, False], 200, "ready"),
    (FAILING, [True], 200, "degraded"),  # requests still succeed; the journal keeps records
    (FINE, [False, False], 503, "not_ready"),
    (FAILING, [], 503, "not_ready"),
])
def test_readiness(ledger: LedgerHealth, available: list[bool], status: int, word: str):
    code, body = answer(ledger, available)
    assert (code, body["status"]) == (status, word)
    assert body["checks"]["ledger"] == {"ok": ledger.ok, "backlog": ledger.backlog,
                                        "detail": ledger.detail}
    assert body["checks"]["endpoints"]["routable"] == sum(available)


def test_redis_out_of_reach_is_degraded_not_unready():
    down = SharedStatus("redis", False, "Redis unreachable: Connection refused")
    code, body = answer(FINE, [True], down)
    assert (code, body["status"]) == (200, "degraded")
    assert body["checks"]["shared_state"] == {
        "ok": False, "backend": "redis", "detail": "Redis unreachable: Connection refused"}


def test_endpoints_whose_google_token_is_not_there_are_not_routable():
    # No token minted yet (nothing refreshed it): routing would skip them, so must readiness.
    google = CredentialSpec("google", (("service_account_env", "UNSET_ANYWHERE"),))
    code, body = answer(FINE, [True, True], credentials=google)
    assert (code, body["status"]) == (503, "not_ready")
    assert body["checks"]["endpoints"]["routable"] == 0
