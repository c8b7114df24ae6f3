"""Nothing the router writes holds a secret: not its logs, its database and journal, its
metrics, nor any response body or header — except the one response that hands a new key over."""

from __future__ import annotations

import http.client
import json
import secrets
import urllib.request
from pathlib import Path
from typing import Any

from tests.support import Router, Sim, http_json, start_router

from .accounts_support import Keys, call, chat_body, state_files
from .conftest import MODEL, router_config


def _stream(router: Router, key: str) -> tuple[int, bytes, str]:
    host, port = router.root.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", "/api/v1/chat/completions",
                     json.dumps({**chat_body(MODEL), "stream": True}),
                     {"authorization": f"Bearer {key}", "content-type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read(), repr(response.getheaders())
    finally:
        conn.close()


def test_no_secret_in_anything_the_router_wrote(tmp_path: Path, fresh_sim: Sim) -> None:
    provider_key = "prov-" + secrets.token_hex(16)
    # The sim checks it, so it really is the key the router sends upstream.
    for name in ("alpha", "bravo", "charlie"):
        fresh_sim.patch(name, api_key=provider_key)
    router = start_router(router_config(fresh_sim), tmp_path, "--auth", "keys",
                          env={"SIM_KEY": provider_key})
    keys = Keys(router)
    user, _ = keys.create("--name", "user", "--limit", "1")
    admin, _ = keys.create("--management", "--name", "admin")
    seen: list[str] = []

    def record(reply: tuple[int, Any, dict[str, str]]) -> tuple[int, Any, dict[str, str]]:
        seen.append(repr(reply))
        return reply

    try:
        first = record(call(router, "POST", "/chat/completions", user, chat_body(MODEL)))
        assert first[0] == 200
        status, body, headers = _stream(router, user)
        assert status == 200 and b"[DONE]" in body
        seen.append(repr(body) + headers)
        # Failures on the way: a provider failing (its error text passed through, redacted),
        # a wrong key, a disabled one, a malformed body.
        fresh_sim.script("alpha", "http_401", "http_500")
        record(call(router, "POST", "/chat/completions", user,
                    chat_body(MODEL, provider={"order": ["alpha"], "allow_fallbacks": False})))
        record(call(router, "POST", "/chat/completions", user + "x", chat_body(MODEL)))
        record(call(router, "POST", "/chat/completions", user, b"{not json"))
        created = call(router, "POST", "/keys", admin, {"name": "handed-over"})
        assert created[0] == 201
        new_key = created[1]["key"]
        for path in ("/keys", "/key", "/credits", "/models", f"/models/{MODEL}/endpoints"):
            record(call(router, "GET", path, admin if path == "/keys" else user))
        assert record(call(router, "GET", f"/generation?id={first[1]['id']}", admin))[0] == 200
        with urllib.request.urlopen(router.root + "/metrics", timeout=10) as metrics:
            seen.append(metrics.read().decode() + repr(metrics.headers.items()))
        record(http_json("GET", router.root + "/"))
    finally:
        router.stop()

    secrets_used = {"provider key": provider_key, "user key": user, "management key": admin,
                    "created key": new_key}
    written = {str(path): path.read_bytes() for path in state_files(router)
               if path.name != "crossroads.toml"}
    assert any(name.endswith("crossroads.db") for name in written)
    assert any(name.endswith("router.log") for name in written)
    for what, secret in secrets_used.items():
        for name, data in written.items():
            assert secret.encode() not in data, f"{what} found in {name}"
        for reply in seen:
            assert secret not in reply, f"{what} found in a response: {reply[:300]}"
    # The one exception, by design: the response that creates a key shows it, once.
    assert new_key in repr(created) and new_key.startswith("sk-cr-v1-")
