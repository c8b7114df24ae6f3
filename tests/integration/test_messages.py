"""POST /v1/messages as an Anthropic SDK user meets it: a real router on loopback, the
simulated fleet behind it, the official `anthropic` SDK in front.

Each test checks both sides of the translation: what the SDK gets back, and what the provider
was asked (the simulator logs every chat body it received)."""

from __future__ import annotations

import asyncio
import http.client
import json

import anthropic
import pytest

from tests.support import Router, Sim, http_json

from .conftest import MODEL
from .messages_support import (
    ANSWER,
    ANSWER_TOKENS,
    PNG,
    async_sdk,
    base_url,
    generation,
    sdk,
    sim_tokens,
    upstream_bodies,
)

ALPHA = {"provider": {"order": ["alpha"], "allow_fallbacks": False}}


@pytest.mark.parametrize("suffix", ["/api", ""], ids=["base-api", "base-root"])
def test_create_with_system_and_multi_turn(router: Router, sim: Sim, suffix: str):
    client = sdk(router, url=router.root + suffix)
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=64, system="You are terse.", extra_body=ALPHA,
        messages=[{"role": "user", "content": "Hello"},
                  {"role": "assistant", "content": "Hi there"},
                  {"role": "user", "content": [{"type": "text", "text": "How are you?"}]}])
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.model == MODEL
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    # The message id leads back to the generation record, as does the header.
    generation_id = raw.headers["x-generation-id"]
    assert message.id == f"msg_{generation_id}"
    prompt = sim_tokens("You are terse.", "Hello", "Hi there", "How are you?")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (prompt, ANSWER_TOKENS)
    assert (message.usage.cache_read_input_tokens,
            message.usage.cache_creation_input_tokens) == (0, 0)
    record = generation(router, generation_id)
    assert (record["native_tokens_prompt"], record["native_tokens_completion"]) == (
        prompt, ANSWER_TOKENS)
    assert record["total_cost"] == message.usage.cost  # type: ignore[attr-defined]
    [body] = upstream_bodies(sim, "alpha")
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi there"},
        {"role": "user", "content": "How are you?"},
    ]
    assert body["max_tokens"] == 64 and not body.get("stream")


def test_async_create(router: Router, sim: Sim):
    async def ask() -> anthropic.types.Message:
        async with async_sdk(router) as client:
            return await client.messages.create(
                model=MODEL, max_tokens=32, messages=[{"role": "user", "content": "Hi"}])
    message = asyncio.run(ask())
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    assert message.usage.output_tokens == ANSWER_TOKENS


def test_async_stream(router: Router, sim: Sim):
    async def ask() -> tuple[str, anthropic.types.Message]:
        async with async_sdk(router) as client, client.messages.stream(
                model=MODEL, max_tokens=32,
                messages=[{"role": "user", "content": "Hi"}]) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            return text, await stream.get_final_message()
    text, message = asyncio.run(ask())
    assert text == ANSWER and message.usage.output_tokens == ANSWER_TOKENS


def test_stream_text_and_final_message(router: Router, sim: Sim):
    with sdk(router).messages.stream(
            model=MODEL, max_tokens=64, system=[{"type": "text", "text": "Be kind."}],
            messages=[{"role": "user", "content": "Tell me a story"}],
            extra_body=ALPHA) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == ANSWER
    assert final.content[0].text == ANSWER  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == sim_tokens("Be kind.", "Tell me a story")
    assert final.usage.output_tokens == ANSWER_TOKENS
    record = generation(router, final.id.removeprefix("msg_"))
    assert record["streamed"] is True
    assert record["native_tokens_completion"] == ANSWER_TOKENS
    [body] = upstream_bodies(sim, "alpha")
    assert body["stream"] is True
    assert body["messages"][0] == {"role": "system",
                                   "content": [{"type": "text", "text": "Be kind."}]}


def test_raw_stream_is_anthropics_event_sequence(router: Router):
    lines = _raw_stream(router, {"model": MODEL, "max_tokens": 32, "stream": True,
                                 "messages": [{"role": "user", "content": "Hi"}]})
    names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    data = [json.loads(line.removeprefix("data: ")) for line in lines
            if line.startswith("data: ")]
    assert [d["type"] for d in data] == names
    assert names[0] == "message_start" and names[1] == "content_block_start"
    assert set(names[2:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert data[0]["message"]["content"] == [] and data[0]["message"]["usage"]["input_tokens"] == 0
    assert data[-2]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert data[-2]["usage"]["output_tokens"] == ANSWER_TOKENS


def _raw_stream(router: Router, body: dict[str, object]) -> list[str]:
    host, port = router.root.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", "/api/v1/messages", json.dumps(body),
                     {"x-api-key": "k", "content-type": "application/json",
                      "anthropic-version": "2023-06-01"})
        response = conn.getresponse()
        assert response.status == 200, response.read()
        assert response.getheader("content-type", "").startswith("text/event-stream")
        return response.read().decode().splitlines()
    finally:
        conn.close()


def test_image_blocks_become_image_parts(router: Router, sim: Sim):
    message = sdk(router).messages.create(
        model=MODEL, max_tokens=16, extra_body=ALPHA, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            {"type": "text", "text": "What is in these pictures?"},
        ]}])
    assert message.stop_reason == "end_turn"
    [entry] = sim.requests("alpha")
    assert entry["has_images"] is True
    assert entry["body"]["messages"] == [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "text", "text": "What is in these pictures?"},
    ]}]
    # Two images at the simulator's 765 tokens each, as the provider counted them.
    assert message.usage.input_tokens == entry["prompt_tokens"] >= 2 * 765


def test_sampling_stop_sequences_and_user_pass_through(router: Router, sim: Sim):
    # This SDK release no longer has keywords for the sampling parameters older clients send.
    sampling = {"temperature": 0.3, "top_p": 0.9, "top_k": 40}
    message = sdk(router).messages.create(
        model=MODEL, max_tokens=16, extra_body={**ALPHA, **sampling},
        stop_sequences=["\n\nHuman:", "END"], metadata={"user_id": "user-42"},
        messages=[{"role": "user", "content": "Count to ten"}])
    # The simulator does not stop on sequences: its finish is a plain stop, so end_turn.
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    [body] = upstream_bodies(sim, "alpha")
    assert body["stop"] == ["\n\nHuman:", "END"]
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.3, 0.9, 40)
    assert body["user"] == "user-42"
    record = generation(router, message.id.removeprefix("msg_"))
    assert record["external_user"] == "user-42"


def test_max_tokens_ends_as_max_tokens(router: Router, sim: Sim):
    message = sdk(router).messages.create(
        model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 5


def test_thinking_and_structured_output_are_translated(router: Router, sim: Sim):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}},
              "required": ["answer"]}
    message = sdk(router).messages.create(
        model=MODEL, max_tokens=2048, extra_body=ALPHA,
        thinking={"type": "enabled", "budget_tokens": 1024},
        output_config={"format": {"type": "json_schema", "schema": schema}},
        messages=[{"role": "user", "content": "Answer in JSON"}])
    [body] = upstream_bodies(sim, "alpha")
    # A 1024-token budget of 2048 is half: the endpoint is asked for "medium" effort, in the
    # OpenAI dialect's own field (crossroads/reasoning.py).
    assert body["reasoning_effort"] == "medium" and "reasoning" not in body
    assert body["response_format"]["json_schema"]["schema"] == schema
    # The simulator answers with an instance of the schema.
    assert json.loads(message.content[0].text) == {"answer": "JSON"}  # type: ignore[union-attr]


def test_routing_fields_pass_through(router: Router, sim: Sim):
    message = sdk(router).messages.create(
        model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "Hi"}],
        extra_body={"provider": {"order": ["charlie"], "allow_fallbacks": False}})
    assert message.provider == "Charlie"  # type: ignore[attr-defined]
    assert sim.hits("charlie") == 1 and sim.hits("alpha") == 0


BACKUP = "test/backup"
BACKUP_MODEL = f"""
[[models]]
slug = "{BACKUP}"
name = "Test Backup"
context_length = 8192

[[endpoints]]
model = "{BACKUP}"
provider = "alpha"
upstream_model = "backup-alpha"
context_length = 8192
max_output = 4096
price = {{ prompt = 0.1, completion = 0.1 }}
"""


def test_anthropic_style_fallbacks_are_the_models_list(make_router, sim: Sim):
    router = make_router(extra=BACKUP_MODEL)
    for name in ("alpha", "bravo", "charlie"):
        sim.script(name, "http_503")
    message = sdk(router).messages.create(
        model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "Hi"}],
        extra_body={"fallbacks": [{"model": BACKUP}]})
    assert message.model == BACKUP and message.content[0].text == ANSWER  # type: ignore[union-attr]
    assert sim.requests("alpha")[-1]["model"] == "backup-alpha"
    with pytest.raises(anthropic.BadRequestError):
        sdk(router).messages.create(
            model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "Hi"}],
            extra_body={"fallbacks": [{"model": BACKUP}], "models": [BACKUP]})


def test_missing_max_tokens_and_bad_blocks_are_400s(router: Router, sim: Sim):
    client = sdk(router)
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=MODEL, max_tokens=anthropic.omit,  # type: ignore[arg-type]
                               messages=[{"role": "user", "content": "Hi"}])
    assert info.value.body["type"] == "error"  # type: ignore[index]
    assert info.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "max_tokens" in info.value.body["error"]["message"]  # type: ignore[index]
    status, body, _ = http_json("POST", base_url(router) + "/v1/messages", {
        "model": MODEL, "max_tokens": 8,
        "messages": [{"role": "user", "content": [{"type": "hologram"}]}]},
        {"x-api-key": "k"})
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert "hologram" in body["error"]["message"]
    assert sim.hits("alpha") + sim.hits("bravo") + sim.hits("charlie") == 0


def test_router_errors_on_the_route_are_anthropic_shaped(router: Router):
    status, body, _ = http_json("GET", base_url(router) + "/v1/messages",
                                headers={"x-api-key": "k"})
    assert status == 405
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    # The same statuses as chat: an unknown model is a 400, an emptied funnel a 404.
    with pytest.raises(anthropic.BadRequestError) as bad:
        sdk(router).messages.create(model="nobody/nothing", max_tokens=8,
                                    messages=[{"role": "user", "content": "Hi"}])
    assert bad.value.body["error"]["error_type"] == "invalid_request"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError) as info:
        sdk(router).messages.create(model=MODEL, max_tokens=8,
                                    messages=[{"role": "user", "content": "Hi"}],
                                    extra_body={"provider": {"only": ["nowhere"]}})
    assert info.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert info.value.body["error"]["error_type"] == "not_found"  # type: ignore[index]
    status, chat, _ = router.post("/chat/completions", {
        "model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}],
        "provider": {"only": ["nowhere"]}})
    assert status == 404 and chat["error"]["message"] == info.value.body["error"]["message"]  # type: ignore[index]
