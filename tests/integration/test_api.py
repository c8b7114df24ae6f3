"""The API as an OpenAI SDK user meets it, against the demo: the simulated Scout fleet."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import openai
import pytest

from tests.support import Router, http_json, start_router

SCOUT = "meta-llama/llama-4-scout"
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()
IMAGE_MESSAGES = [{"role": "user", "content": [
    {"type": "text", "text": "What is in this picture?"},
    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
]}]
TEXT_MESSAGES = [{"role": "user", "content": "Say hello in three languages."}]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    tmp = tmp_path_factory.mktemp("demo")
    router = start_router("[server]\nmax_body_bytes = 200000\n", tmp, "--demo")
    yield router
    router.stop()


@pytest.fixture(scope="module")
def sdk(demo: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=demo.api, api_key="anything", max_retries=0)


@pytest.mark.parametrize("messages", [TEXT_MESSAGES, IMAGE_MESSAGES], ids=["text", "image"])
def test_sdk_non_streaming(sdk: openai.OpenAI, messages):
    raw = sdk.chat.completions.with_raw_response.create(
        model=SCOUT, messages=messages, max_tokens=12)
    response = raw.parse()
    assert raw.headers["x-generation-id"] == response.id and response.id.startswith("gen-")
    assert raw.headers["x-crossroads-simulated"] == "true"
    assert response.model == SCOUT
    assert response.choices[0].message.content
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 12
    assert response.provider.endswith("(simulated)")  # type: ignore[attr-defined]
    assert response.usage.cost > 0  # type: ignore[attr-defined]
    if messages is IMAGE_MESSAGES:
        assert "Cerebras" not in response.provider  # type: ignore[attr-defined]


@pytest.mark.parametrize("messages", [TEXT_MESSAGES, IMAGE_MESSAGES], ids=["text", "image"])
def test_sdk_streaming(sdk: openai.OpenAI, messages):
    chunks = list(sdk.chat.completions.create(model=f"{SCOUT}:nitro", messages=messages,
                                              max_tokens=20, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 20
    assert len({c.id for c in chunks}) == 1
    assert chunks[-1].usage.completion_tokens == 20
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and
              c.choices[0].finish_reason]
    assert finish == ["length"]
    expected = "Groq" if messages is IMAGE_MESSAGES else "Cerebras"  # fastest that can serve
    assert chunks[0].provider.startswith(expected)  # type: ignore[attr-defined]


def test_the_docs_stream_loop_reads_choices_zero_on_every_chunk(sdk: openai.OpenAI):
    """OpenAI's documented loop indexes `choices[0]` on every chunk: usage rides in the last
    chunk beside its finish reason, never in a chunk with no choices."""
    stream = sdk.chat.completions.create(model=SCOUT, messages=TEXT_MESSAGES, max_tokens=6,
                                         stream=True)
    text = ""
    chunks = []
    for chunk in stream:
        text += chunk.choices[0].delta.content or ""
        chunks.append(chunk)
    assert len(text.split()) == 6
    assert [c.usage is not None for c in chunks].count(True) == 1
    assert chunks[-1].usage.completion_tokens == 6
    assert chunks[-1].choices[0].finish_reason == "length"


def test_include_usage_gets_openais_usage_only_chunk(sdk: openai.OpenAI):
    """A caller who asks for OpenAI's usage chunk gets exactly that: empty choices, last."""
    chunks = list(sdk.chat.completions.create(
        model=SCOUT, messages=TEXT_MESSAGES, max_tokens=6, stream=True,
        stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 6
    assert all(c.choices for c in chunks[:-1])
    assert [c.usage is not None for c in chunks].count(True) == 1


def test_tools_and_response_format_pass_through(sdk: openai.OpenAI):
    response = sdk.chat.completions.create(
        model=SCOUT, max_tokens=8,
        messages=[{"role": "user", "content": "call a tool please"}],
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {
            "type": "object", "properties": {"q": {"type": "string"}}}}}],
    )
    assert response.choices[0].finish_reason == "tool_calls"
    assert response.choices[0].message.tool_calls[0].function.name == "lookup"


def test_models_and_endpoints_listing(demo: Router):
    status, body, _ = demo.get("/models")
    assert status == 200
    scout = next(m for m in body["data"] if m["id"] == SCOUT)
    assert scout["architecture"]["modality"] == "text+image->text"
    assert scout["pricing"]["prompt"] == "0.0000001" and scout["context_length"] == 10_000_000
    status, body, _ = demo.get(f"/models/{SCOUT}/endpoints")
    assert status == 200
    endpoints = body["data"]["endpoints"]
    assert len(endpoints) == 9  # eight in OpenAI's dialect, Amazon Bedrock's in Converse
    assert all(e["crossroads"]["simulated"] and e["status"] in (0, -5)
               and e["crossroads"]["state"] in ("available", "cooling_down")
               for e in endpoints)
    groq = next(e for e in endpoints if e["tag"] == "groq")
    assert groq["pricing"]["prompt"] == "0.00000011" and groq["context_length"] == 131072
    status, _, _ = http_json("GET", demo.root + "/v1/models")
    assert status == 200


def _post_raw(router: Router, raw: bytes, auth: bool = True) -> tuple[int, dict]:
    headers = {"authorization": "Bearer x"} if auth else {}
    status, body, _ = http_json("POST", router.api + "/chat/completions", raw, headers)
    return status, body


BAD = [
    (b"{", 400),
    (b"[]", 400),
    (json.dumps({"model": SCOUT}).encode(), 400),
    (json.dumps({"model": SCOUT, "messages": []}).encode(), 400),
    (json.dumps({"model": 12, "messages": TEXT_MESSAGES}).encode(), 400),
    (json.dumps({"model": "nobody/nothing", "messages": TEXT_MESSAGES}).encode(), 400),
    (json.dumps({"model": SCOUT, "messages": TEXT_MESSAGES, "max_tokens": -1}).encode(), 400),
    (json.dumps({"model": SCOUT, "messages": TEXT_MESSAGES, "max_tokens": 10**9}).encode(), 400),
    (json.dumps({"model": SCOUT, "messages": TEXT_MESSAGES,
                 "provider": {"only": ["nobody"]}}).encode(), 404),
    (json.dumps({"model": SCOUT, "max_tokens": 1_040_000,
                 "messages": [{"role": "user", "content": "x" * 150_000}]}).encode(), 400),
    (b'{"model": "' + b"x" * 300_000 + b'"}', 413),
    ("\udcff".encode("utf-8", "surrogatepass"), 400),
]


BAD_IDS = ["truncated-json", "array", "no-messages", "empty-messages", "model-type",
           "unknown-model", "negative-max-tokens", "huge-max-tokens", "nothing-matches",
           "context-too-long", "oversized", "invalid-utf8"]


@pytest.mark.parametrize(("raw", "status"), BAD, ids=BAD_IDS)
def test_bad_input_gets_openai_style_4xx(demo: Router, raw: bytes, status: int):
    got, body = _post_raw(demo, raw)
    assert got == status
    error = body["error"]
    assert error["code"] == status and error["message"] and error["type"]
    assert "metadata" in error and "Traceback" not in json.dumps(body)


def test_no_endpoint_error_explains_the_funnel(demo: Router):
    status, body = _post_raw(demo, json.dumps({
        "model": SCOUT, "messages": TEXT_MESSAGES, "max_tokens": 4,
        "provider": {"quantizations": ["bf16"], "max_price": {"completion": 0.5}}}).encode())
    assert status == 200 and body["provider"].startswith("GMICloud")
    _, body = _post_raw(demo, json.dumps({
        "model": SCOUT, "messages": TEXT_MESSAGES,
        "provider": {"quantizations": ["bf16"], "max_price": {"completion": 0.4}}}).encode())
    assert "initial 9 → quantizations 2 → max_price 0" in body["error"]["message"]
    assert body["error"]["metadata"]["funnels"][0]["removed"]["max_price"] == [
        "novita", "gmicloud"]


def test_auth_routes_and_methods(demo: Router):
    status, body = _post_raw(demo, json.dumps({"model": SCOUT, "messages": TEXT_MESSAGES})
                             .encode(), auth=False)
    assert status == 401 and body["error"]["type"] == "authentication_error"
    status, body, _ = http_json("GET", demo.api + "/chat/completions")
    assert status == 405
    status, body, _ = http_json("GET", demo.api + "/nothing-here")
    assert status == 404 and body["error"]["code"] == 404
    status, body, _ = http_json("GET", demo.api + "/models/nobody/nothing/endpoints")
    assert status == 404


def test_sdk_errors_are_typed(sdk: openai.OpenAI):
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="nobody/nothing", messages=TEXT_MESSAGES)
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model=SCOUT, messages=TEXT_MESSAGES,
                                    extra_body={"provider": {"only": ["nobody"]}})
