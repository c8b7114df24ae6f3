"""Security properties that a test can prove, referenced from SECURITY.md."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.support import Router, Sim

from .conftest import MODEL


@pytest.fixture
def canary() -> Iterator[tuple[str, list[str]]]:
    """A loopback server that records every request it receives."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_image_urls_are_passed_to_providers_never_fetched_by_the_router(
        router: Router, sim: Sim, canary: tuple[str, list[str]]):
    url, seen = canary
    image = f"{url}/private/secret.png"
    status, body, _ = router.post("/chat/completions", {
        "model": MODEL, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "describe"},
            {"type": "image_url", "image_url": {"url": image}}]}],
        "provider": {"order": ["alpha"]}})
    assert status == 200, body
    assert seen == []  # the router never dereferenced the URL ...
    forwarded = sim.requests("alpha")[0]["body"]["messages"][0]["content"][1]
    assert forwarded["image_url"]["url"] == image  # ... it handed it to the provider as is


def test_provider_key_is_sent_upstream_only_as_a_bearer_header(router: Router, sim: Sim):
    status, body, headers = router.post("/chat/completions", {"model": MODEL, "messages": [
        {"role": "user", "content": "hi"}]})
    assert status == 200
    text = repr(body) + repr(headers)
    assert "sim-secret-key" not in text
    for name in ("alpha", "bravo", "charlie"):
        for request in sim.requests(name):
            assert "sim-secret-key" not in repr(request["body"])
    status, listing, _ = router.get(f"/models/{MODEL}/endpoints")
    assert status == 200 and "sim-secret-key" not in repr(listing)
