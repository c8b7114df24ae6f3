"""Gigantic and endless answers: bounded memory, bounded time, a clear error or a fallback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Router, Sim, start_router

from .hostile import hostile_provider

MODEL = "test/hostile"
MESSAGES = [{"role": "user", "content": "go on"}]
MAX_BODY = 4 * 1024 * 1024
AWS = '\ncredentials = { kind = "aws", region = "us-east-1" }'


def _config(hostile: str, sim: Sim) -> str:
    rows = [(name, f"{hostile}/{name}/v1", "openai") for name in ("huge", "endless", "oneline")]
    # The same misbehaviour behind Anthropic's dialect: the limits hold whatever the parser.
    rows += [(f"{name}-claude", f"{hostile}/{name}/anthropic/v1", "anthropic")
             for name in ("huge", "oneline")]
    # And behind Bedrock's binary event stream: a huge whole answer, a frame that never ends.
    rows += [(f"{name}-bedrock", f"{hostile}/{name}/bedrock", "bedrock-converse")
             for name in ("huge", "bigframe")]
    rows.append(("alpha", sim.base("alpha"), "openai"))
    return f"""
[server]
max_body_bytes = {MAX_BODY}

[timeouts]
total_s = 3
stall_s = 2
first_token_s = 2
headers_s = 2

[[models]]
slug = "{MODEL}"
name = "Hostile"
""" + "".join(f"""
[providers.{name}]
name = "{name.title()}"
base_url = "{url}"
api_key_env = "SIM_KEY"
dialect = "{dialect}"{AWS if dialect == "bedrock-converse" else ""}

[[endpoints]]
model = "{MODEL}"
provider = "{name}"
context_length = 100000
price = {{ prompt = 1, completion = 1 }}
""" for name, url, dialect in rows)


@pytest.fixture
def hostile_router(tmp_path: Path, fresh_sim: Sim) -> Iterator[Router]:
    with hostile_provider() as base:
        router = start_router(_config(base, fresh_sim), tmp_path, env={
            "SIM_KEY": "k", "AWS_ACCESS_KEY_ID": "AKIAHOSTILE", "AWS_SECRET_ACCESS_KEY": "s"})
        yield router
        router.stop()


def _rss_mb(router: Router) -> float:
    for line in Path(f"/proc/{router.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _only(name: str) -> dict[str, object]:
    return {"order": [name], "allow_fallbacks": False}


@pytest.mark.parametrize("name", ["huge", "huge-claude", "huge-bedrock"])
def test_gigantic_body_is_cut_off_at_the_limit(hostile_router: Router, name: str):
    status, body, _ = hostile_router.post("/chat/completions", {
        "model": MODEL, "messages": MESSAGES, "provider": _only(name)})
    assert status == 502
    assert body["error"]["metadata"]["attempts"][0]["reason"] == "response_too_large"
    assert _rss_mb(hostile_router) < 250


def test_gigantic_body_fails_over_to_a_sane_provider(hostile_router: Router, sim: Sim):
    status, body, _ = hostile_router.post("/chat/completions", {
        "model": MODEL, "messages": MESSAGES, "provider": {"order": ["huge", "alpha"]}})
    assert status == 200 and body["provider"] == "Alpha"


@pytest.mark.parametrize("name", ["oneline", "oneline-claude", "bigframe-bedrock"])
def test_newline_free_event_is_refused_before_it_fills_memory(hostile_router: Router, name: str):
    lines = list(hostile_router.raw_stream({"model": MODEL, "messages": MESSAGES,
                                            "provider": _only(name)}))
    text = b"".join(lines)
    assert b"[DONE]" not in text
    assert b"response_too_large" in text or text.startswith(b"HTTP 502")
    assert _rss_mb(hostile_router) < 250


def test_endless_stream_ends_at_the_total_limit_with_an_error(hostile_router: Router):
    data = [line for line in hostile_router.raw_stream(
        {"model": MODEL, "messages": MESSAGES, "provider": _only("endless")})
        if line.startswith(b"data: ")]
    assert len(data) > 100  # it really streamed ...
    last = json.loads(data[-1][6:])
    assert last["choices"][0]["finish_reason"] == "error"  # ... and was stopped, not completed
    assert all(b"[DONE]" not in line for line in data)
    assert _rss_mb(hostile_router) < 250
