"""Google credentials end to end: a service account's token minted through the simulated OAuth
endpoint, renewed before it expires with no request failing, shared by Gemini-on-Vertex and
Vertex's OpenAI-compatible Llama; and a credential that cannot be had takes only its own
endpoints out, saying why."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from tests.integration.gemini_support import (
    GEMINI,
    LLAMA,
    catalog,
    client,
    google_credentials,
    service_account,
    vertex_base,
)
from tests.support import Router, Sim

ONLY_VERTEX = {"provider": {"only": ["vertex"], "allow_fallbacks": False}}


def google(sim: Sim) -> dict[str, object]:
    return dict(sim.control("GET", "google"))


def test_a_vertex_token_that_expires_mid_run_is_renewed_with_no_failed_request(
        make_router: Callable[..., Router], fresh_sim: Sim, tmp_path: Path) -> None:
    # Tokens live two seconds: the router must renew each one before it lapses.
    fresh_sim.control("PATCH", "google", {"token_lifetime_s": 2})
    before = google(fresh_sim)
    router = make_router(catalog(fresh_sim, service_account(fresh_sim, tmp_path)))
    api = client(router)
    served = 0
    deadline = time.monotonic() + 30
    while int(google(fresh_sim)["issued"]) < int(before["issued"]) + 4:  # type: ignore[call-overload]
        assert time.monotonic() < deadline, "the router stopped renewing its token"
        reply = api.chat.completions.create(
            model=GEMINI, max_tokens=8, extra_body=ONLY_VERTEX,
            messages=[{"role": "user", "content": f"Request {served}."}])
        assert reply.choices[0].message.content
        llama = api.chat.completions.create(
            model=LLAMA, max_tokens=8, messages=[{"role": "user", "content": "Hi."}])
        assert llama.choices[0].message.content
        served += 2
    after = google(fresh_sim)
    # Several tokens came and went; the sim never saw a stale one.
    assert after["rejected"] == before["rejected"]
    assert {r["outcome"] for r in fresh_sim.requests("charlie")} == {"ok"}
    assert served >= 2


def test_vertex_llama_is_openai_dialect_with_a_google_bearer_token(
        make_router: Callable[..., Router], fresh_sim: Sim, tmp_path: Path) -> None:
    router = make_router(catalog(fresh_sim, service_account(fresh_sim, tmp_path)))
    chunks = list(client(router).chat.completions.create(
        model=LLAMA, max_tokens=8, stream=True,
        messages=[{"role": "user", "content": "Say hello."}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert {c.model_extra["provider"] for c in chunks if c.model_extra} == {"Vertex MaaS"}
    seen = fresh_sim.requests("bravo")[-1]
    assert seen["outcome"] == "ok"
    assert seen["body"]["model"] == "meta/llama-4-scout-17b-16e-instruct-maas"


def unobtainable(sim: Sim, tmp_path: Path) -> str:
    """The catalog plus a second Vertex provider whose service account Google does not know."""
    stranger = service_account(sim, tmp_path, register=False, email="stranger@elsewhere.iam")
    return catalog(sim, service_account(sim, tmp_path)) + f"""
[providers.vertex-eu]
name = "Vertex EU"
base_url = "{vertex_base(sim, 'charlie', region='europe-west4')}"
dialect = "gemini"
credentials = {google_credentials(sim, stranger)}

[[endpoints]]
model = "{GEMINI}"
provider = "vertex-eu"
upstream_model = "gemini-test"
context_length = 8192
max_output = 4096
price = {{ prompt = 0.01, completion = 0.01 }}
supported_parameters = ["max_tokens"]
"""


REASON = "Google credential unavailable: invalid_grant: Invalid grant: account not found"


def test_an_unobtainable_credential_takes_out_only_its_endpoints_and_says_why(
        make_router: Callable[..., Router], fresh_sim: Sim, tmp_path: Path) -> None:
    router = make_router(unobtainable(fresh_sim, tmp_path))
    # The cheapest endpoint cannot be used: the others serve, and nobody calls the one that
    # has no token.
    for _ in range(3):
        reply = client(router).chat.completions.create(
            model=GEMINI, max_tokens=8, messages=[{"role": "user", "content": "Say hello."}])
        assert reply.model_extra is not None
        assert reply.model_extra["provider"] in {"Gemini", "Vertex", "Bravo"}
    assert not [r for r in fresh_sim.requests("charlie")
                if "europe-west4" in str(r.get("body"))]
    status, body, _ = router.get(f"/models/{GEMINI}/endpoints")
    assert status == 200
    by_tag = {e["tag"]: e for e in body["data"]["endpoints"]}
    assert by_tag["vertex-eu"]["crossroads"]["state"] == "unavailable"
    assert by_tag["vertex-eu"]["crossroads"]["unavailable_reason"] == REASON
    assert by_tag["vertex"]["crossroads"]["unavailable_reason"] is None
    # Asked for that provider alone, the caller hears the reason, and no secret.
    with pytest.raises(openai.APIStatusError) as caught:
        client(router).chat.completions.create(
            model=GEMINI, max_tokens=8, messages=[{"role": "user", "content": "Say hello."}],
            extra_body={"provider": {"only": ["vertex-eu"]}})
    assert caught.value.status_code == 503
    assert f"vertex-eu: {REASON}" in caught.value.message
    assert "PRIVATE KEY" not in router.log.read_text()


def test_a_missing_key_file_is_a_reason_too(make_router: Callable[..., Router],
                                            fresh_sim: Sim, tmp_path: Path) -> None:
    router = make_router(catalog(fresh_sim, tmp_path / "nowhere.json"))
    reply = client(router).chat.completions.create(
        model=GEMINI, max_tokens=8, messages=[{"role": "user", "content": "Say hello."}])
    assert reply.model_extra is not None and reply.model_extra["provider"] != "Vertex"
    status, body, _ = router.get(f"/models/{GEMINI}/endpoints")
    assert status == 200
    reason = {e["tag"]: e["crossroads"]["unavailable_reason"]
              for e in body["data"]["endpoints"]}["vertex"]
    assert reason is not None and "nowhere.json" in reason
