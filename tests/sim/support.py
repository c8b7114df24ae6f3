"""The test fleet, a handle on a running sim, and request helpers."""

from __future__ import annotations

from typing import Any

import httpx

from crossroads.sim.profile import SimFleet, SimProfile
from crossroads.sim.server import SimServer

KEY = "sk-test"

# time_scale 0: nothing sleeps unless a test turns time back on through PATCH /_sim/fleet.
TEST_FLEET = SimFleet(
    seed=7,
    time_scale=0.0,
    endpoints=(
        SimProfile(name="plain", context_length=4096, max_output=512, completion_tokens=16),
        SimProfile(
            name="cached",
            context_length=65536,
            max_output=4096,
            completion_tokens=8,
            cache=True,
            cache_min_tokens=64,
        ),
        SimProfile(
            name="cached-excl",
            context_length=65536,
            max_output=4096,
            completion_tokens=8,
            cache=True,
            cache_min_tokens=64,
            usage_prompt_includes_cached=False,
        ),
        SimProfile(
            name="textonly",
            context_length=4096,
            max_output=512,
            supports_images=False,
            supports_tools=False,
        ),
        SimProfile(name="keyed", context_length=4096, max_output=512, api_key="sk-right"),
        SimProfile(
            name="flaky",
            context_length=4096,
            max_output=512,
            completion_tokens=4,
            fault_rates={"http_500": 0.3, "http_429": 0.2},
        ),
        SimProfile(name="thinker", context_length=8192, max_output=1024, completion_tokens=8,
                   reasoning=True, reasoning_tokens=10),
        # Two models of one provider, told apart by the request's `model`.
        SimProfile(
            name="acme.big", provider="acme", model="acme-big", context_length=65536,
            max_output=4096, completion_tokens=8,
        ),
        SimProfile(
            name="acme.small", provider="acme", model="acme-small", context_length=4096,
            max_output=256, completion_tokens=4,
        ),
        # An embedding model beside a chat model of the same provider.
        SimProfile(
            name="vec.embed", provider="vec", model="vec-embed", context_length=64,
            max_output=64, dimensions=48,
        ),
        SimProfile(name="vec.chat", provider="vec", model="vec-chat", context_length=4096,
                   max_output=256),
    ),
)


class Sim:
    """Test-side handle: URLs, the control API, and raw requests."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.port = server.port
        self.http = httpx.Client(base_url=server.url, timeout=10)

    def base_url(self, name: str) -> str:
        return self.server.base_url(name)

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, "/_sim" + path, json=body)

    def script(self, name: str, *outcomes: str) -> None:
        resp = self.control("POST", f"/endpoints/{name}/script", {"outcomes": list(outcomes)})
        assert resp.status_code == 200, resp.text

    def patch(self, name: str, **fields: Any) -> None:
        resp = self.control("PATCH", f"/endpoints/{name}", fields)
        assert resp.status_code == 200, resp.text

    def log(self, name: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.control("GET", f"/endpoints/{name}/requests").json()[
            "requests"
        ]
        return entries

    def post(self, name: str, body: Any, *, key: str = KEY, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        return self.http.post(f"/{name}/v1/chat/completions", json=body, headers=headers, **kw)


def chat(content: str = "Hello there", **extra: Any) -> dict[str, Any]:
    """A minimal chat body."""
    return {"model": "test/model", "messages": [{"role": "user", "content": content}], **extra}


def tokens_of(text: str) -> int:
    """The sim's documented per-message prompt cost."""
    return 4 + (len(text.encode()) + 3) // 4
