"""Presets end to end: defined in the config file or through the API, used in every documented
way, merged as OpenRouter merges them, and guarded like the key routes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.integration.accounts_support import call
from tests.integration.conftest import MODEL
from tests.support import Keys, Router, Sim

CONFIG_PRESET = f"""
[auth]
mode = "keys"

[presets.careful]
name = "Careful"
description = "Low temperature, the cheap endpoints first, a house style."
system_prompt = "Answer in one sentence."
config = {{ model = "{MODEL}", temperature = 0.1, max_tokens = 5, provider = {{ sort = "price" }} }}
"""


@pytest.fixture
def setup(make_router: Callable[..., Router]) -> tuple[Router, str, str]:
    router = make_router(extra=CONFIG_PRESET)
    keys = Keys(router)
    admin, _ = keys.create("--management", "--name", "admin")
    user, _ = keys.create("--name", "user")
    return router, admin, user


def sent_to(sim: Sim) -> dict[str, Any]:
    latest = [r for name in ("alpha", "bravo", "charlie") for r in sim.requests(name)]
    return max(latest, key=lambda r: r["t"])["body"]  # type: ignore[no-any-return]


def generation(router: Router, key: str, generation_id: str) -> dict[str, Any]:
    status, body, _ = call(router, "GET", f"/generation?id={generation_id}", key)
    assert status == 200, body
    return body["data"]  # type: ignore[no-any-return]


def test_a_config_preset_in_every_documented_spelling(setup: tuple[Router, str, str],
                                                      fresh_sim: Sim):
    router, _, user = setup
    sdk = openai.OpenAI(base_url=router.api, api_key=user, max_retries=0)
    hello: Any = [{"role": "user", "content": "hello"}]
    for kwargs in ({"model": "@preset/careful"},
                   {"model": MODEL, "extra_body": {"preset": "careful"}},
                   {"model": f"{MODEL}@preset/careful"}):
        answer = sdk.chat.completions.create(messages=hello, **kwargs)
        assert answer.model == MODEL
        assert answer.usage is not None and answer.usage.completion_tokens == 5
        body = sent_to(fresh_sim)
        assert body["messages"][0] == {"role": "system", "content": "Answer in one sentence."}
        assert body["messages"][1:] == hello
        assert body["temperature"] == 0.1
        record = generation(router, user, answer.id)
        assert record["crossroads"]["preset"] == "careful"
        assert record["preset_id"] is not None
    # Request fields win over the preset's.
    sdk.chat.completions.create(model="@preset/careful", messages=hello, temperature=0.9)
    assert sent_to(fresh_sim)["temperature"] == 0.9
    # The preset's own route.
    status, body, _ = call(router, "POST", "/presets/careful/chat/completions", user,
                           {"messages": hello})
    assert status == 200 and body["usage"]["completion_tokens"] == 5
    with pytest.raises(openai.BadRequestError, match="Unknown preset 'nope'"):
        sdk.chat.completions.create(model="@preset/nope", messages=hello)


def test_presets_through_the_api(setup: tuple[Router, str, str], fresh_sim: Sim):
    router, admin, user = setup
    tool = {"type": "function", "function": {"name": "clock", "parameters": {"type": "object"}}}
    preset = {"name": "Tools", "system_prompt": None,
              "config": {"models": [MODEL], "tools": [tool], "max_tokens": 3}}
    assert call(router, "PUT", "/presets/tooling", user, preset)[0] == 403
    status, created, _ = call(router, "PUT", "/presets/tooling", admin, preset)
    assert status == 201, created
    version = created["data"]["designated_version"]
    assert version["version"] == 1 and version["config"]["tools"] == [tool]
    assert created["data"]["source"] == "api"
    status, again, _ = call(router, "PUT", "/presets/tooling", admin, preset)
    assert status == 200 and again["data"]["designated_version"]["version"] == 2
    assert again["data"]["id"] == created["data"]["id"]
    # Tools are the union of the preset's and the request's.
    mine = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    status, _, _ = call(router, "POST", "/chat/completions", user, {
        "model": "@preset/tooling", "messages": [{"role": "user", "content": "hi"}],
        "tools": [mine]})
    assert status == 200
    assert [t["function"]["name"] for t in sent_to(fresh_sim)["tools"]] == ["clock", "weather"]
    # Listing and reading, with OpenRouter's fields.
    status, listed, _ = call(router, "GET", "/presets", user)
    assert status == 200 and listed["total_count"] == 2
    assert {p["slug"]: p["source"] for p in listed["data"]} == {"tooling": "api",
                                                                 "careful": "config"}
    status, one, _ = call(router, "GET", "/presets/careful", user)
    assert status == 200
    assert one["data"]["designated_version"]["system_prompt"] == "Answer in one sentence."
    # The config file's presets are its own; bad presets are refused at the door.
    assert call(router, "PUT", "/presets/careful", admin, preset)[0] == 409
    assert call(router, "DELETE", "/presets/careful", admin)[0] == 409
    status, bad, _ = call(router, "PUT", "/presets/broken", admin,
                          {"config": {"temperature": 7}})
    assert status == 400 and "temperature" in bad["error"]["message"]
    assert call(router, "PUT", "/presets/Not%20A%20Slug", admin, preset)[0] == 400
    assert call(router, "DELETE", "/presets/tooling", admin)[0] == 200
    assert call(router, "GET", "/presets/tooling", user)[0] == 404
    assert call(router, "GET", "/presets", None)[0] == 401


def test_a_bad_preset_in_the_config_file_stops_the_start(tmp_path: Path):
    config = tmp_path / "bad.toml"
    config.write_text("[presets.hot]\nconfig = { temperature = 9 }\n")
    result = subprocess.run(
        [sys.executable, "-m", "crossroads", "serve", "--port", "0", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert result.returncode != 0
    assert "presets.hot.config.temperature" in result.stdout + result.stderr
