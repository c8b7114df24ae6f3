"""POST /chat/completions under fuzz: valid requests succeed, everything else is a clean 4xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossroads.chat_request import ROUTER_FIELDS
from tests.fuzz.conftest import MODEL, fuzz_config
from tests.fuzz.strategies import (
    DEEP,
    INVALID,
    bad_image_urls,
    bad_messages,
    deep_json,
    json_values,
    mutated_bytes,
    unknown_fields,
    valid_requests,
    with_deep,
    with_image,
)
from tests.fuzz.support import (
    Client,
    check,
    check_chat,
    check_error,
    fuzz_settings,
    raw_depth,
)
from tests.support import Sim, start_router

PATHS = st.sampled_from(["/api/v1/chat/completions", "/v1/chat/completions"])
BASE = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}


@fuzz_settings(250)
@given(body=valid_requests(), path=PATHS, ensure_ascii=st.booleans())
def test_valid_requests_succeed(client: Client, body: dict[str, Any], path: str,
                                ensure_ascii: bool) -> None:
    reply = client.chat(body, path=path, ensure_ascii=ensure_ascii)
    assert reply.status == 200, (reply.status, reply.body[:1000], body)
    check_chat(reply, body)
    if body.get("stream") is not True:
        assert reply.json["model"] == MODEL


@fuzz_settings(40)
@given(extra=unknown_fields.filter(bool), router_only=st.sets(st.sampled_from(
    ["session_id", "usage", "transforms", "route", "plugins", "user_id"])))
def test_unknown_fields_reach_the_provider_and_router_fields_do_not(
        client: Client, fuzz_sim: Sim, extra: dict[str, Any], router_only: set[str]) -> None:
    body = {**BASE, **extra, **{name: None for name in router_only},
            "provider": {"only": ["alpha"]}}
    reply = check_chat(client.chat(body), body)
    assert reply.status == 200, reply.body[:1000]
    upstream = fuzz_sim.requests("alpha")[-1]["body"]
    # Whatever the provider got is what the caller sent, after one JSON round trip.
    assert {k: upstream.get(k) for k in extra} == json.loads(json.dumps(extra))
    assert not (ROUTER_FIELDS & upstream.keys()), upstream.keys()


@fuzz_settings(300)
@given(data=st.data(), field=st.sampled_from(sorted(INVALID)), stream=st.booleans())
def test_an_invalid_field_is_a_400_naming_it(client: Client, data: st.DataObject, field: str,
                                             stream: bool) -> None:
    value = data.draw(INVALID[field], label=field)
    body = {**BASE, field: value}
    if field != "stream":
        body["stream"] = stream
    reply = client.chat(body)
    check(reply)
    assert reply.status == 400, (reply.status, reply.body[:500])
    error = check_error(reply)
    param = error["metadata"].get("param", "")
    assert param.startswith(field) or (field == "model" and param == "models"), error


@fuzz_settings(60)
@given(bad=bad_messages, position=st.integers(0, 2), stream=st.booleans())
def test_a_bad_message_is_a_400_naming_it(client: Client, bad: tuple[dict[str, Any], str],
                                          position: int, stream: bool) -> None:
    message, suffix = bad
    messages = [{"role": "user", "content": "a"}] * position + [message]
    reply = client.chat({**BASE, "messages": messages, "stream": stream})
    assert reply.status == 400, (reply.status, reply.body[:500])
    error = check_error(reply)
    assert error["metadata"]["param"] == f"messages[{position}]{suffix}", error


TOP_LEVEL = sorted(set(INVALID) | {"messages", "logit_bias", "user", "metadata", "x_extra"})
PROVIDER_KEYS = ["order", "only", "ignore", "allow_fallbacks", "require_parameters",
                 "data_collection", "zdr", "quantizations", "sort", "max_price",
                 "preferred_min_throughput", "preferred_max_latency"]


def _place(body: dict[str, Any], where: str, key: str, value: Any) -> None:
    if where == "top":
        body[key] = value
    elif where == "message":
        body["messages"][0] = value
    elif where == "message_field":
        body["messages"][0] = {**body["messages"][0], key: value}
    elif where == "part":
        body["messages"][0] = {"role": "user", "content": [{"type": "text", "text": "x",
                                                            key: value}]}
    elif where == "image_part":
        body["messages"][0] = {"role": "user", "content": [{"type": "image_url", key: value}]}
    else:
        provider = body.get("provider")
        body["provider"] = {**(provider if isinstance(provider, dict) else {}), key: value}


@fuzz_settings(300)
@given(base=valid_requests(), where=st.sampled_from(
    ["top", "top", "message", "message_field", "part", "image_part", "provider"]),
    data=st.data(), value=json_values)
def test_any_value_in_any_field_is_a_200_or_a_clean_4xx(
        client: Client, base: dict[str, Any], where: str, data: st.DataObject,
        value: Any) -> None:
    keys = {"top": TOP_LEVEL, "message": ["-"], "message_field": ["role", "content", "name"],
            "part": ["type", "text"], "image_part": ["type", "image_url"],
            "provider": PROVIDER_KEYS}[where]
    key = data.draw(st.sampled_from(keys), label="key")
    _place(base, where, key, value)
    check_chat(client.chat(base), base)


@fuzz_settings(100)
@given(url=bad_image_urls, as_object=st.booleans(), stream=st.booleans())
def test_a_bad_image_url_is_a_400_naming_it(client: Client, url: Any, as_object: bool,
                                            stream: bool) -> None:
    body = {**with_image(url, as_object), "stream": stream}
    reply = check_chat(client.chat(body), body)
    if reply.status != 200:  # `data:image/x;base64,!!!!` is accepted: the payload is not decoded
        assert reply.status == 400, reply.body[:500]
        param = check_error(reply)["metadata"]["param"]
        assert param == "messages[0].content[1].image_url.url", param


@fuzz_settings(250)
@given(raw=mutated_bytes())
def test_damaged_bytes_are_a_200_or_a_clean_4xx(client: Client, raw: bytes) -> None:
    reply = client.chat(raw)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    check_chat(reply, body)
    if body is None:
        assert reply.status == 400, (reply.status, reply.body[:300])


DEEP_TEMPLATES: dict[str, Any] = {
    "body": DEEP,
    "unknown_field": {**BASE, "x_deep": DEEP},
    "content_part": {**BASE, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "x"}, {"type": "input_audio", "input_audio": DEEP}]}]},
    "provider": {**BASE, "provider": {"order": DEEP}},
    "messages": {**BASE, "messages": DEEP},
    "stream": {**BASE, "stream": DEEP},
    "tools": {**BASE, "tools": DEEP},
}
# Fields whose validation refuses any nested value, however deep.
ALWAYS_400 = {"body", "provider", "messages", "stream", "tools"}
ORJSON_MAX_DEPTH = 1024  # orjson.loads refuses deeper documents


@fuzz_settings(120)
@given(depth=st.integers(1, 300) | st.integers(1, 10_000), kind=st.sampled_from(["list", "dict"]),
       where=st.sampled_from(sorted(DEEP_TEMPLATES)), stream=st.booleans())
def test_deep_nesting_is_a_200_or_a_clean_4xx(client: Client, depth: int, kind: str, where: str,
                                              stream: bool) -> None:
    template = DEEP_TEMPLATES[where]
    if isinstance(template, dict) and where != "stream":
        template = {**template, "stream": stream}
    raw = with_deep(template, deep_json(depth, kind))
    reply = check(client.chat(raw), chat=True, stream=stream)
    total = raw_depth(raw)
    if where in ALWAYS_400 or total > ORJSON_MAX_DEPTH:
        assert reply.status == 400, (total, reply.status, reply.body[:300])
    elif total < 200:
        assert reply.status == 200, (total, reply.status, reply.body[:300])


# --- specific cases the brief names, as plain tests -------------------------------------------


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("where", ["body", "field"])
def test_nesting_10000_deep_is_a_400(client: Client, kind: str, where: str) -> None:
    deep = deep_json(10_000, kind)
    reply = client.chat(deep if where == "body" else with_deep({**BASE, "x_deep": DEEP}, deep))
    assert reply.status == 400, reply.body[:300]
    assert "not valid JSON" in check_error(reply)["message"]


@pytest.mark.parametrize("value", [0, -1, 2**31, 2**63, 2**64, 10**100, 1.5, 1e308, "16",
                                   True, None, [16], {"n": 16}])
@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_absurd_max_tokens(client: Client, field: str, value: Any) -> None:
    reply = client.chat({**BASE, field: value})
    if value is None:  # null means "not set"
        assert reply.status == 200
        return
    assert reply.status == 400, reply.body[:300]
    assert check_error(reply)["metadata"]["param"] == field


def test_a_body_of_nothing_but_unknown_fields_still_needs_model_and_messages(
        client: Client) -> None:
    reply = client.chat({"x_a": 1, "x_b": [1, 2]})
    assert reply.status == 400
    assert check_error(reply)["metadata"]["param"] == "model"


# --- bugs the fuzzer found, fixed: each stays as a regression test -----------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("depth", [254, 300, 1000])
def test_pass_through_field_nested_past_the_encoder_limit(client: Client, depth: int,
                                                          stream: bool) -> None:
    body = {**BASE, "stream": stream, "x_deep": DEEP}
    reply = check(client.chat(with_deep(body, deep_json(depth, "list"))), chat=True, stream=stream)
    assert reply.status < 500, reply.body[:300]


def test_content_part_nested_past_the_encoder_limit(client: Client) -> None:
    body = {**BASE, "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": DEEP}]}]}
    reply = check(client.chat(with_deep(body, deep_json(300, "dict"))), chat=True)
    assert reply.status < 500, reply.body[:300]


@pytest.mark.parametrize("role", [[], ["user"], {}, {"role": "user"}])
def test_an_array_or_object_role_is_a_400(client: Client, role: Any) -> None:
    reply = check(client.chat({**BASE, "messages": [{"role": role, "content": "hi"}]}), chat=True)
    assert reply.status == 400, reply.body[:300]
    assert check_error(reply)["metadata"]["param"] == "messages[0].role"


@pytest.mark.parametrize("field", ["prompt", "completion", "image", "request"])
def test_huge_max_price(client: Client, field: str) -> None:
    reply = check(client.chat({**BASE, "provider": {"max_price": {field: 1e308}}}), chat=True)
    assert reply.status == 400, reply.body[:300]
    assert check_error(reply)["metadata"]["param"] == f"provider.max_price.{field}"


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_every_provider_finds_too_long_is_a_400(client: Client, stream: bool) -> None:
    # 40,000 emoji: ~10,000 tokens by the router's estimate (only charlie, 32,768, fits);
    # 40,004 by the provider's count.
    body = {**BASE, "stream": stream,
            "messages": [{"role": "user", "content": "\U0001F600" * 40_000}]}
    reply = check(client.chat(body, ensure_ascii=False), chat=True, stream=stream)
    assert reply.status == 400, reply.body[:400]
    check_error(reply)


def test_one_crashing_request_does_not_wedge_a_recovering_endpoint(
        fuzz_sim: Sim, tmp_path: Path) -> None:
    router = start_router(fuzz_config(fuzz_sim, tmp_path, "[breaker]\nbase_cooldown_s = 0\n"
                                      "max_cooldown_s = 0\n"), tmp_path,
                          env={"SIM_KEY": "sim-secret-key"})
    only_alpha = {**BASE, "provider": {"only": ["alpha"]}}
    try:
        fuzz_sim.script("alpha", "http_500")
        status, _, _ = router.post("/chat/completions", only_alpha)
        assert status == 502  # one upstream failure: alpha's breaker is now half-open
        crash = with_deep({**only_alpha, "x_deep": DEEP}, deep_json(300, "list"))
        status, _, _ = router.post("/chat/completions", crash)
        assert status in (200, 400, 500)
        status, body, _ = router.post("/chat/completions", only_alpha)
        assert status == 200, body
    finally:
        router.stop()
        fuzz_sim.reset()
