"""Accounts as callers meet them: keys, 401/402/403/429, ownership, the CLI and CORS."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openai
import pytest

from tests.support import Router, Sim, http_json, start_router, wait_for

from .accounts_support import Keys, call, chat_body, client
from .conftest import MODEL, router_config


@pytest.fixture
def router(tmp_path: Path, fresh_sim: Sim) -> Iterator[Router]:
    handle = start_router(router_config(fresh_sim), tmp_path, "--auth", "keys",
                          env={"SIM_KEY": "sim-secret-key"})
    yield handle
    handle.stop()


@pytest.fixture
def keys(router: Router) -> Keys:
    return Keys(router)


def test_missing_unknown_and_malformed_keys_are_401(router: Router, keys: Keys) -> None:
    status, body, _ = call(router, "POST", "/chat/completions", None, chat_body(MODEL))
    assert status == 401 and "Missing API key" in body["error"]["message"]
    assert body["error"]["metadata"]["error_type"] == "authentication"
    for bogus in ("sk-cr-v1-" + "0" * 64, "not-a-key", "sk-or-v1-abc"):
        with pytest.raises(openai.AuthenticationError) as caught:
            client(router, bogus).chat.completions.create(**chat_body(MODEL))
        assert caught.value.status_code == 401
        assert "Invalid API key" in caught.value.message
        assert bogus not in str(caught.value.body)  # never echoed back
    key, _ = keys.create("--name", "works")
    answer = client(router, key).chat.completions.create(**chat_body(MODEL))
    assert answer.choices[0].message.content


def test_disabled_and_expired_keys_are_401(router: Router, keys: Keys) -> None:
    key, key_hash = keys.create("--name", "soon-disabled")
    sdk = client(router, key)
    assert sdk.chat.completions.create(**chat_body(MODEL)).usage.completion_tokens > 0  # type: ignore[union-attr]
    result = keys.run("disable", key_hash)
    assert result.returncode == 0 and "disabled key 'soon-disabled'" in result.stdout

    def refused(client_: openai.OpenAI, reason: str) -> bool:
        try:
            client_.chat.completions.create(**chat_body(MODEL))
        except openai.AuthenticationError as error:
            return reason in error.message
        return False

    # The CLI wrote to the database; the router picks the change up within its poll.
    assert wait_for(lambda: refused(sdk, "disabled"), timeout_s=10)
    assert keys.run("enable", key_hash).returncode == 0
    assert wait_for(lambda: not refused(sdk, "disabled"), timeout_s=10)

    soon = datetime.now(UTC) + timedelta(seconds=2)
    expiring, _ = keys.create("--name", "expiring", "--expires", soon.isoformat())
    short = client(router, expiring)
    assert short.chat.completions.create(**chat_body(MODEL)).choices
    assert wait_for(lambda: refused(short, "expired"), timeout_s=15)


def test_out_of_credit_is_a_402_naming_the_balance(router: Router, keys: Keys) -> None:
    # conftest prices are 0.1-0.4 $/1M: a request of 16 tokens reserves tens of micro-dollars.
    key, _ = keys.create("--name", "tiny", "--limit", "0.0002")
    sdk = client(router, key)
    served = 0
    with pytest.raises(openai.APIStatusError) as caught:
        for _ in range(100):
            sdk.chat.completions.create(**chat_body(MODEL))
            served += 1
    error = caught.value
    assert error.status_code == 402 and served >= 1
    metadata = error.body["metadata"]  # type: ignore[index]
    remaining = metadata["limit_remaining"]
    assert f"${remaining:.6f}".rstrip("0").rstrip(".") in error.message
    assert metadata["error_type"] == "payment_required" and metadata["required"] > remaining
    status, current, _ = call(router, "GET", "/key", key)
    assert status == 200
    data = current["data"]
    assert data["limit"] == 0.0002 and data["limit_remaining"] == remaining
    assert round(data["usage"] + data["limit_remaining"], 9) == 0.0002


def test_rate_limited_key_gets_429_with_the_headers(router: Router, keys: Keys) -> None:
    key, _ = keys.create("--name", "slow", "--rate-limit", "2/1m")
    sdk = client(router, key)
    for _ in range(2):
        sdk.chat.completions.create(**chat_body(MODEL))
    before = time.time()
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(**chat_body(MODEL))
    headers = caught.value.response.headers
    assert headers["x-ratelimit-limit"] == "2" and headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(headers["retry-after"]) <= 60
    reset_ms = int(headers["x-ratelimit-reset"])
    assert before * 1000 < reset_ms <= (before + 61) * 1000
    _, current, _ = call(router, "GET", "/key", key)
    assert current["data"]["rate_limit"] == {
        "requests": 2, "interval": "1m", "note": current["data"]["rate_limit"]["note"]}


def test_key_management_over_http(router: Router, keys: Keys) -> None:
    admin, admin_hash = keys.create("--management", "--name", "admin")
    status, body, _ = call(router, "POST", "/keys", admin,
                           {"name": "team-a", "limit": 5, "limit_reset": "monthly"})
    assert status == 201
    made, info = body["key"], body["data"]
    assert made.startswith("sk-cr-v1-") and len(made) == len("sk-cr-v1-") + 64
    assert info["name"] == "team-a" and info["limit"] == 5 and info["limit_reset"] == "monthly"
    assert info["label"] != made and made not in str(info)
    # The new key works at once, and an inference key may not manage keys.
    assert client(router, made).chat.completions.create(**chat_body(MODEL)).choices
    for method, path in (("GET", "/keys"), ("POST", "/keys"), ("GET", f"/keys/{admin_hash}")):
        status, body, _ = call(router, method, path, made, {"name": "x"})
        assert status == 403, (method, path, body)
        assert body["error"]["metadata"]["error_type"] == "permission_denied"
    # A management key may not call models.
    with pytest.raises(openai.PermissionDeniedError):
        client(router, admin).chat.completions.create(**chat_body(MODEL))

    status, listing, _ = call(router, "GET", "/keys", admin)
    assert {k["name"] for k in listing["data"]} == {"admin", "team-a"}
    team = next(k for k in listing["data"] if k["name"] == "team-a")
    assert team["usage"] > 0 and team["hash"] == info["hash"]
    assert team["last_used_at"] is not None and team["last_used_at"].endswith("Z")
    # The CLI reads the same state: last use is written back within the key poll.
    def listed_as_used() -> bool:
        row = next(line for line in keys.run("list").stdout.splitlines()
                   if info["hash"] in line)
        return not row.rstrip().endswith(" -")  # the LAST USED column

    assert wait_for(listed_as_used, timeout_s=10)
    status, body, _ = call(router, "PATCH", f"/keys/{team['hash']}", admin,
                           {"disabled": True, "limit": None})
    assert status == 200 and body["data"]["disabled"] is True and body["data"]["limit"] is None
    with pytest.raises(openai.AuthenticationError):
        client(router, made).chat.completions.create(**chat_body(MODEL))
    status, listing, _ = call(router, "GET", "/keys", admin)
    assert [k["name"] for k in listing["data"]] == ["admin"]
    status, listing, _ = call(router, "GET", "/keys?include_disabled=true", admin)
    assert len(listing["data"]) == 2
    status, body, _ = call(router, "PATCH", f"/keys/{team['hash']}", admin, {"nmae": "typo"})
    assert status == 400 and "nmae" in body["error"]["message"]
    status, body, _ = call(router, "DELETE", f"/keys/{team['hash']}", admin)
    assert (status, body) == (200, {"deleted": True})
    status, _, _ = call(router, "GET", f"/keys/{team['hash']}", admin)
    assert status == 404
    status, _, _ = call(router, "GET", f"/keys/{'f' * 64}", admin)
    assert status == 404


def test_a_key_reads_only_its_own_generations(router: Router, keys: Keys) -> None:
    first, first_hash = keys.create("--name", "first")
    second, _ = keys.create("--name", "second")
    admin, _ = keys.create("--management", "--name", "admin")
    made = client(router, first).chat.completions.create(**chat_body(MODEL))
    path = f"/generation?id={made.id}"
    status, own, _ = call(router, "GET", path, first)
    assert status == 200 and own["data"]["id"] == made.id
    assert own["data"]["crossroads"]["key_hash"] == first_hash
    status, other, _ = call(router, "GET", path, second)
    # Exactly what an unknown id gets: a 404, so ids cannot be probed.
    status_unknown, unknown, _ = call(router, "GET", "/generation?id=gen-0-nothing", second)
    assert status == status_unknown == 404
    assert other["error"]["code"] == unknown["error"]["code"] == 404
    status, seen, _ = call(router, "GET", path, admin)
    assert status == 200 and seen["data"]["total_cost"] == own["data"]["total_cost"]
    status, _, _ = call(router, "GET", path, None)
    assert status == 401


def test_current_key_and_credits(router: Router, keys: Keys) -> None:
    key, _ = keys.create("--name", "mine", "--limit", "1", "--reset", "weekly")
    sdk = client(router, key)
    costs = [sdk.chat.completions.create(**chat_body(MODEL)).usage.model_dump()  # type: ignore[union-attr]
             ["crossroads"]["cost_micro_usd"] for _ in range(3)]
    status, body, _ = call(router, "GET", "/key", key)
    data = body["data"]
    assert status == 200 and data["is_management_key"] is False
    assert data["crossroads"]["usage_micro_usd"] == sum(costs)
    assert data["usage"] == data["usage_daily"] == data["usage_weekly"] == sum(costs) / 1e6
    assert data["limit_reset"] == "weekly"
    budget = data["effective_budget"]
    assert budget["scope"] == "key_limit" and budget["spend_usd"] == sum(costs) / 1e6
    resets = datetime.fromisoformat(budget["resets_at"].replace("Z", "+00:00"))
    assert resets.weekday() == 0 and (resets.hour, resets.minute) == (0, 0)
    status, credits, _ = call(router, "GET", "/credits", key)
    assert credits["data"]["total_usage"] == sum(costs) / 1e6
    assert round(credits["data"]["total_credits"] - credits["data"]["total_usage"], 9) == \
        data["limit_remaining"]
    status, body, _ = call(router, "GET", "/key", None)
    assert status == 401


def test_the_cli_shows_a_key_once_and_only_hashes_after(router: Router, keys: Keys) -> None:
    result = keys.run("create", "--name", "cli", "--limit", "2.5", "--reset", "daily",
                      "--rate-limit", "10/1s")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    key = lines[-1]
    assert key.startswith("sk-cr-v1-") and key not in "\n".join(lines[:-1])
    listing = keys.run("list")
    assert listing.returncode == 0 and "cli" in listing.stdout and key not in listing.stdout
    assert "$2.5/daily" in listing.stdout
    for args, message in ((("disable", "f" * 64), "no key"), (("disable", "nothex"), "not a key"),
                          (("create", "--reset", "daily"), "--reset needs --limit"),
                          (("create", "--rate-limit", "lots"), "REQUESTS/INTERVAL"),
                          (("create", "--expires", "2001-01-01T00:00:00Z"), "future")):
        failed = keys.run(*args)
        assert failed.returncode in (1, 2) and message in failed.stderr, (args, failed.stderr)
        assert "Traceback" not in failed.stderr


def test_open_mode_is_refused_off_loopback(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "crossroads", "serve", "--host", "0.0.0.0", "--port", "0",
         "--auth", "open", "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "refusing to start" in result.stderr and "loopback" in result.stderr


def test_keys_is_the_default_off_loopback(tmp_path: Path, fresh_sim: Sim) -> None:
    router = start_router(router_config(fresh_sim), tmp_path, "--host", "0.0.0.0",
                          env={"SIM_KEY": "sim-secret-key"})
    try:
        assert router.api.startswith("http://0.0.0.0:")  # the address the banner names
        # It listens on every interface; the test still talks to it over loopback only.
        port = router.api.removeprefix("http://0.0.0.0:").split("/", 1)[0]
        status, body, _ = http_json("POST", f"http://127.0.0.1:{port}/api/v1/chat/completions",
                                    chat_body(MODEL), {"authorization": "Bearer anything"})
        assert status == 401 and body["error"]["metadata"]["auth_mode"] == "keys"
    finally:
        router.stop()


def test_cors_preflight_follows_the_configured_origins(tmp_path: Path, fresh_sim: Sim) -> None:
    config = router_config(fresh_sim).replace(
        "[routing]", '[server]\ncors_origins = ["https://app.example"]\n\n[routing]', 1)
    router = start_router(config, tmp_path, "--auth", "keys", env={"SIM_KEY": "sim-secret-key"})
    try:
        for origin, allowed in (("https://app.example", True), ("https://evil.example", False)):
            request = urllib.request.Request(
                router.api + "/chat/completions", method="OPTIONS",
                headers={"origin": origin, "access-control-request-method": "POST",
                         "access-control-request-headers": "authorization, content-type"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 204
                got = response.headers.get("access-control-allow-origin")
                assert got == (origin if allowed else None)
                if allowed:
                    assert "authorization" in response.headers["access-control-allow-headers"]
        # An allowed origin's ordinary request carries the header a browser needs to read it.
        status, _, headers = http_json("GET", router.api + "/models",
                                       headers={"origin": "https://app.example"})
        assert status == 200
        assert headers["access-control-allow-origin"] == "https://app.example"
        assert "x-generation-id" in headers["access-control-expose-headers"]
    finally:
        router.stop()


def test_activity_per_day_model_and_endpoint(router: Router, keys: Keys) -> None:
    first, first_hash = keys.create("--name", "first")
    second, _ = keys.create("--name", "second")
    admin, _ = keys.create("--management", "--name", "admin")
    made = [client(router, first).chat.completions.create(
        **chat_body(MODEL), extra_body={"provider": {"order": [tag], "allow_fallbacks": False}})
        for tag in ("alpha", "alpha", "bravo")]
    client(router, second).chat.completions.create(**chat_body(MODEL))
    today = datetime.now(UTC).date().isoformat()

    def rows(key: str, query: str = "") -> list[dict[str, object]]:
        # The ledger writes in batches: poll until this traffic is in the rollups.
        status, body, _ = call(router, "GET", f"/activity{query}", key)
        assert status == 200, body
        return list(body["data"])

    assert wait_for(lambda: sum(r["requests"] for r in rows(admin)) == 4)  # type: ignore[misc]
    own = rows(first)
    assert {(r["date"], r["endpoint_id"], r["requests"]) for r in own} == {
        (today, "alpha", 2), (today, "bravo", 1)}
    assert {r["provider_name"] for r in own} == {"Alpha", "Bravo"}
    cost = sum(m.usage.model_dump()["crossroads"]["cost_micro_usd"] for m in made)  # type: ignore[union-attr]
    assert round(sum(r["usage"] for r in own) * 1e6) == cost  # type: ignore[misc]
    assert sum(r["requests"] for r in rows(admin, f"?api_key_hash={first_hash}")) == 3  # type: ignore[misc]
    status, body, _ = call(router, "GET", "/activity?date=2001-01-01", first)
    assert status == 400 and body["error"]["metadata"]["param"] == "date"
    assert rows(first, f"?date={today}") == own
    status, _, _ = call(router, "GET", f"/activity?api_key_hash={first_hash}", second)
    assert status == 403
