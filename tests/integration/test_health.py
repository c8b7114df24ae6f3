"""Liveness and readiness as a service manager or a load balancer reads them."""

from __future__ import annotations

from tests.support import Router, http_json


def test_live_and_ready_on_a_router_that_can_route(router: Router):
    assert http_json("GET", f"{router.root}/health/live")[:2] == (200, {"status": "live"})
    status, body, _ = http_json("GET", f"{router.root}/health/ready")
    assert status == 200 and body["status"] == "ready"
    assert body["checks"]["ledger"] == {"ok": True, "backlog": 0, "detail": None}
    assert body["checks"]["endpoints"]["ok"] and body["checks"]["endpoints"]["routable"] == 3
