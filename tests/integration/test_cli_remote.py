"""`crossroads models` and `crossroads generation` against a real router over loopback."""

from __future__ import annotations

import json
from collections.abc import Callable

import openai

from tests.integration.cli_support import against, crossroads, line_with, nobody_url
from tests.integration.conftest import MODEL
from tests.support import Keys, Router, Sim

MESSAGES = [{"role": "user", "content": "hello"}]


def sdk(router: Router, key: str = "anything") -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key=key, max_retries=0, timeout=30)


def test_models_shows_the_live_catalog_with_states(router: Router, sim: Sim):
    # :floor tries the cheapest endpoint (alpha) first; its 500 opens alpha's breaker.
    sim.script("alpha", "http_500")
    reply = sdk(router).chat.completions.create(model=f"{MODEL}:floor", messages=MESSAGES)
    assert reply.provider == "Bravo"  # type: ignore[attr-defined]
    result = against(router, "models")
    assert result.returncode == 0, result.stderr
    assert f"live from {router.root}" in result.stdout
    assert MODEL in line_with("Alpha (alpha)", result.stdout)
    assert "cooling_down" in line_with("Alpha (alpha)", result.stdout)
    bravo = line_with("Bravo (bravo)", result.stdout)
    assert "available" in bravo and "100.0 %" in bravo  # one attempt, served
    assert "32,768" in line_with("Charlie (charlie)", result.stdout)
    assert "0.400" in line_with("Charlie (charlie)", result.stdout)  # $/M


def test_models_filter_and_no_match(router: Router):
    assert "Alpha (alpha)" in against(router, "models", "--model", "ECHO").stdout
    none = against(router, "models", "--model", "no-such-model")
    assert none.returncode == 0 and "no model matches" in none.stdout
    assert "Alpha" not in none.stdout


def test_models_offline_from_a_config_file(router: Router):
    config = router.log.parent / "crossroads.toml"
    result = crossroads("models", "--config", str(config), env={"SIM_KEY": "k"})
    assert result.returncode == 0, result.stderr
    assert "configured catalog" in result.stdout and "no live stats" in result.stdout
    assert "available" in line_with("Alpha (alpha)", result.stdout)
    without_key = crossroads("models", "--config", str(config))
    assert "unavailable" in line_with("Alpha (alpha)", without_key.stdout)


def test_models_with_an_invalid_config_points_at_check_config(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[routing]\nmax_attempts = 'x'\n")
    result = crossroads("models", "--config", str(bad))
    assert result.returncode == 1
    assert "routing.max_attempts" in result.stderr and "check-config" in result.stderr


def test_models_with_no_router_at_the_given_url_exits_3():
    url = nobody_url()
    result = crossroads("models", "--url", url)
    assert result.returncode == 3
    assert f"no router answers at {url}" in result.stderr
    assert "Traceback" not in result.stderr


def test_generation_shows_a_generation_and_its_failover(router: Router, sim: Sim):
    sim.script("alpha", "http_500")
    reply = sdk(router).chat.completions.create(model=f"{MODEL}:floor", messages=MESSAGES)
    result = against(router, "generation", reply.id)
    assert result.returncode == 0, result.stderr
    assert f"generation {reply.id}" in result.stdout
    assert "Bravo" in line_with("provider", result.stdout)
    assert MODEL in line_with("requested", result.stdout)
    assert "attempts (2; failed over 1 time)" in result.stdout
    assert "served" in line_with("│ 2 │", result.stdout)
    assert "500" in line_with("│ 1 │", result.stdout)
    cost = reply.usage.cost  # type: ignore[union-attr]
    assert f"${cost:.8f}" in line_with("cost", result.stdout)


def test_generation_json_is_the_router_body(router: Router):
    reply = sdk(router).chat.completions.create(model=MODEL, messages=MESSAGES)
    result = against(router, "generation", reply.id, "--json")
    assert result.returncode == 0
    body = json.loads(result.stdout)
    assert body["data"]["id"] == reply.id
    assert body["data"]["tokens_completion"] == reply.usage.completion_tokens  # type: ignore


def test_generation_unknown_id_exits_1(router: Router):
    result = against(router, "generation", "gen-0-doesnotexist")
    assert result.returncode == 1
    assert "generation gen-0-doesnotexist not found" in result.stderr


def test_generation_invalid_id_exits_1_with_the_router_reason(router: Router):
    result = against(router, "generation", "g" * 200)
    assert result.returncode == 1
    assert "400: id: exactly one generation id is required" in result.stderr


def test_generation_with_no_router_exits_3():
    result = crossroads("generation", "gen-1-x", "--url", nobody_url() + "/api/v1")
    assert result.returncode == 3 and "no router answers" in result.stderr


def test_generation_refused_key_exits_4_and_a_real_key_works(
        make_router: Callable[..., Router]):
    router = make_router(extra='[auth]\nmode = "keys"\n')
    key, _ = Keys(router).create("--name", "cli")
    reply = sdk(router, key).chat.completions.create(model=MODEL, messages=MESSAGES)
    refused = against(router, "generation", reply.id)
    assert refused.returncode == 4
    assert "refused the key (401)" in refused.stderr and "--key" in refused.stderr
    assert against(router, "generation", reply.id, "--key", key).returncode == 0
    from_env = crossroads("generation", reply.id, "--url", router.root,
                          env={"CROSSROADS_API_KEY": key})
    assert from_env.returncode == 0 and reply.id in from_env.stdout
