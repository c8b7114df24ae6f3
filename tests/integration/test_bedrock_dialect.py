"""The Bedrock Converse dialect end to end: the official `openai` SDK → crossroads, signing with
SigV4 from the AWS chain in its environment → the simulator's Bedrock surface
(`/alpha/bedrock/model/{id}/converse[-stream]`), which checks every signature with botocore.
Streamed (AWS's binary event stream) and not, tools, images, prompt caching billed to the
micro-dollar, faults failing over invisibly to an OpenAI-dialect endpoint, and a wrong secret
keeping the Bedrock endpoint out with a clear reason while the others serve."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from crossroads.sim.sigv4 import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY
from tests.integration.conftest import router_config
from tests.support import Router, Sim, start_router, wait_for

LLAMA = "test/llama-bedrock"
MODEL_ID = "us.meta.llama4-scout-17b-instruct-v1:0"
PRICES = "{ prompt = 0.17, completion = 0.66, cache_read = 0.017, cache_write = 0.2125 }"
ONLY_BEDROCK = {"provider": {"only": ["bedrock"], "allow_fallbacks": False}}
BEDROCK_FIRST = {"provider": {"order": ["bedrock", "bravo"]}}
SYSTEM = "You are a meticulous assistant who answers briefly. " * 12
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city now",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
         "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
TEXT = "the quick brown fox jumps over a lazy dog while seven bright "


def extra(sim: Sim) -> str:
    """Llama served by the sim's `alpha` in Bedrock's dialect, first; `bravo` (OpenAI's
    dialect) behind it for failover."""
    return f"""
[providers.bedrock]
name = "Amazon Bedrock"
base_url = "{sim.url}/alpha/bedrock"
dialect = "bedrock-converse"
credentials = {{ kind = "aws", region = "us-east-1" }}

[[models]]
slug = "{LLAMA}"
name = "Test Llama on Bedrock"
context_length = 8192
input_modalities = ["text", "image"]

[[endpoints]]
model = "{LLAMA}"
provider = "bedrock"
upstream_model = "{MODEL_ID}"
context_length = 8192
max_output = 4096
price = {PRICES}
input_modalities = ["text", "image"]
supported_parameters = ["max_tokens", "temperature", "tools", "tool_choice"]

[[endpoints]]
model = "{LLAMA}"
provider = "bravo"
upstream_model = "echo-bravo"
context_length = 8192
max_output = 1024
price = {{ prompt = 3.0, completion = 9.0 }}
input_modalities = ["text", "image"]
supported_parameters = ["max_tokens", "temperature", "tools", "tool_choice"]
"""


@pytest.fixture
def make_bedrock(tmp_path: Path, fresh_sim: Sim) -> Iterator[Callable[[str], Router]]:
    """A router whose AWS chain (its environment) holds the access key id the sim knows and
    the given secret."""
    started: list[Router] = []

    def make(secret: str = SIM_SECRET_ACCESS_KEY) -> Router:
        fresh_sim.patch("alpha", cache=True, cache_min_tokens=16, completion_tokens=12)
        env = {"SIM_KEY": "sim-secret-key", "AWS_ACCESS_KEY_ID": SIM_ACCESS_KEY_ID,
               "AWS_SECRET_ACCESS_KEY": secret}
        router = start_router(router_config(fresh_sim, extra(fresh_sim)), tmp_path, env=env)
        started.append(router)
        return router

    yield make
    for router in started:
        router.stop()


@pytest.fixture
def bedrock(make_bedrock: Callable[..., Router]) -> Router:
    return make_bedrock()


def client(router: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key="any-key", max_retries=0, timeout=30)


def last_body(sim: Sim) -> dict[str, Any]:
    return dict(sim.requests("alpha")[-1]["body"])


def test_a_plain_answer_goes_out_signed_in_converse_shape(bedrock: Router,
                                                          fresh_sim: Sim) -> None:
    reply = client(bedrock).chat.completions.create(
        model=LLAMA, max_tokens=100, temperature=0.2, extra_body=ONLY_BEDROCK,
        messages=[{"role": "system", "content": "Be terse."},
                  {"role": "user", "content": "Say hello."}])
    assert reply.choices[0].message.content == TEXT
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model_extra is not None and reply.model_extra["provider"] == "Amazon Bedrock"
    assert reply.usage is not None and reply.usage.completion_tokens == 12
    sent = last_body(fresh_sim)
    assert sent["model"] == MODEL_ID  # from the path: the sim logs it beside the body
    assert sent["system"] == [{"text": "Be terse."}]
    assert sent["messages"] == [{"role": "user", "content": [{"text": "Say hello."}]}]
    assert sent["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.2}


def test_a_streamed_answer_arrives_as_chat_chunks_with_usage_last(bedrock: Router,
                                                                  fresh_sim: Sim) -> None:
    chunks = list(client(bedrock).chat.completions.create(
        model=LLAMA, stream=True, extra_body=ONLY_BEDROCK,
        messages=[{"role": "user", "content": "Say hello."}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert [c for c in chunks if c.usage is not None] == [chunks[-1]]
    log = fresh_sim.requests("alpha")[-1]
    assert log["stream"] is True and log["outcome"] == "ok"
    assert last_body(fresh_sim)["inferenceConfig"] == {"maxTokens": 4096}


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_round_trip_through_the_bedrock_dialect(bedrock: Router, fresh_sim: Sim,
                                                           stream: bool) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    api = client(bedrock)
    if stream:
        chunks = list(api.chat.completions.create(
            model=LLAMA, messages=messages, tools=[WEATHER], stream=True,
            extra_body=ONLY_BEDROCK))
        pieces = [p for c in chunks if c.choices for p in c.choices[0].delta.tool_calls or ()]
        assert {p.index for p in pieces} == {0}
        call_id = next(p.id for p in pieces if p.id)
        arguments = "".join(p.function.arguments or "" for p in pieces if p.function)
        assert len([p for p in pieces if p.function and p.function.arguments]) > 1
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
    else:
        reply = api.chat.completions.create(model=LLAMA, messages=messages, tools=[WEATHER],
                                            extra_body=ONLY_BEDROCK)
        assert reply.choices[0].finish_reason == "tool_calls"
        [call] = reply.choices[0].message.tool_calls or []
        call_id, arguments = call.id, call.function.arguments  # type: ignore[union-attr]
    assert json.loads(arguments) == {"city": "Paris"}
    spec = last_body(fresh_sim)["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "get_weather" and spec["inputSchema"]["json"]["required"] == ["city"]
    messages += [{"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function",
         "function": {"name": "get_weather", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "18 C and sunny"}]
    final = api.chat.completions.create(model=LLAMA, messages=messages, tools=[WEATHER],
                                        extra_body=ONLY_BEDROCK)
    assert final.choices[0].finish_reason == "stop" and final.choices[0].message.content
    sent = last_body(fresh_sim)["messages"]
    assert sent[1]["content"][0]["toolUse"]["toolUseId"] == call_id
    assert sent[2]["content"] == [{"toolResult": {"toolUseId": call_id,
                                                  "content": [{"text": "18 C and sunny"}]}}]


def test_images_travel_as_bytes_blocks(bedrock: Router, fresh_sim: Sim) -> None:
    reply = client(bedrock).chat.completions.create(
        model=LLAMA, max_tokens=50, extra_body=ONLY_BEDROCK, messages=[{"role": "user",
        "content": [{"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": PIXEL}}]}])
    assert reply.choices[0].message.content
    blocks = last_body(fresh_sim)["messages"][0]["content"]
    assert blocks[1] == {"image": {"format": "png",
                                   "source": {"bytes": PIXEL.split(",", 1)[1]}}}
    assert fresh_sim.requests("alpha")[-1]["has_images"] is True


def expected_cost(usage: Any) -> int:
    """µ$ at $0.17 fresh, $0.017 cache read, $0.2125 cache write, $0.66 out per 1M (PRICES)."""
    details = usage.prompt_tokens_details
    read, written = details.cached_tokens, details.cache_write_tokens
    fresh = usage.prompt_tokens - read - written
    per_million = (fresh * 170_000 + read * 17_000 + written * 212_500
                   + usage.completion_tokens * 660_000)
    return (per_million + 500_000) // 1_000_000


@pytest.mark.parametrize("stream", [False, True])
def test_cache_reads_and_writes_are_billed_exactly(bedrock: Router, fresh_sim: Sim,
                                                   stream: bool) -> None:
    system = {"role": "system", "content": [
        {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]}
    messages: list[Any] = [system, {"role": "user", "content": "Plan day one."}]
    api = client(bedrock)
    usages = []
    for turn in range(3):
        if stream:
            chunks = list(api.chat.completions.create(
                model=LLAMA, messages=messages, max_tokens=40, stream=True,
                extra_body=ONLY_BEDROCK))
            usage = chunks[-1].usage
            content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            reply = api.chat.completions.create(model=LLAMA, messages=messages,
                                                max_tokens=40, extra_body=ONLY_BEDROCK)
            usage, content = reply.usage, reply.choices[0].message.content or ""
        assert usage is not None
        usages.append(usage)
        messages += [{"role": "assistant", "content": content},
                     {"role": "user", "content": f"And day {turn + 2}?"}]
    assert last_body(fresh_sim)["system"][1] == {"cachePoint": {"type": "default"}}
    first, second, third = usages
    written_first = first.prompt_tokens_details.cache_write_tokens
    assert first.prompt_tokens_details.cached_tokens == 0 and written_first > 0
    assert second.prompt_tokens_details.cached_tokens == written_first
    written_second = second.prompt_tokens_details.cache_write_tokens
    assert third.prompt_tokens_details.cached_tokens == written_first + written_second
    for usage, seen in zip(usages, fresh_sim.requests("alpha"), strict=True):
        assert usage.prompt_tokens == seen["prompt_tokens"]  # inputTokens + read + written
        assert usage.prompt_tokens_details.cached_tokens == seen["cached_tokens"]
        assert usage.model_extra["crossroads"]["cost_micro_usd"] == expected_cost(usage)
        assert usage.model_extra["cost"] == pytest.approx(expected_cost(usage) / 1e6)


@pytest.mark.parametrize(("outcome", "stream"), [
    ("http_503", False),  # ServiceUnavailableException
    ("http_429_retry_after", True),  # ThrottlingException
    ("http_502", True),  # ModelErrorException (424)
    ("http_408", False),  # ModelTimeoutException
    ("reset", True),
    ("empty_200", True),
    ("malformed_sse", False),
])
def test_a_fault_at_the_bedrock_endpoint_fails_over_to_an_openai_one(
        bedrock: Router, fresh_sim: Sim, outcome: str, stream: bool) -> None:
    fresh_sim.script("alpha", outcome)
    body = {"model": LLAMA, "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 20, "extra_body": BEDROCK_FIRST}
    if stream:
        chunks = list(client(bedrock).chat.completions.create(**body, stream=True))
        assert {c.model_extra["provider"] for c in chunks if c.model_extra} == {"Bravo"}
        assert chunks[-1].choices[0].finish_reason == "stop"
    else:
        reply = client(bedrock).chat.completions.create(**body)
        assert reply.model_extra is not None and reply.model_extra["provider"] == "Bravo"
    assert [r["outcome"] for r in fresh_sim.requests("alpha")] == [outcome]
    assert fresh_sim.hits("bravo") == 1


@pytest.mark.parametrize("outcome", ["stream_cut", "malformed_sse"])
def test_a_cut_or_a_bad_frame_after_content_ends_the_stream_with_an_in_band_error(
        bedrock: Router, fresh_sim: Sim, outcome: str) -> None:
    # malformed_sse puts SSE bytes inside the binary stream: the next prelude's CRC fails.
    fresh_sim.script("alpha", outcome)
    received = []
    with pytest.raises(openai.APIError, match="failed mid-stream"):
        for chunk in client(bedrock).chat.completions.create(
                model=LLAMA, stream=True, extra_body=BEDROCK_FIRST,
                messages=[{"role": "user", "content": "Say hello."}]):
            received.append(chunk)
    assert any(c.choices and c.choices[0].delta.content for c in received)
    assert fresh_sim.hits("bravo") == 0  # committed to Bedrock: no second answer mixed in


def test_a_stream_without_its_closing_metadata_is_whole_with_estimated_usage(
        bedrock: Router, fresh_sim: Sim) -> None:
    fresh_sim.script("alpha", "no_done")
    chunks = list(client(bedrock).chat.completions.create(
        model=LLAMA, stream=True, extra_body=ONLY_BEDROCK,
        messages=[{"role": "user", "content": "Say hello."}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage is not None


def endpoint_state(router: Router) -> dict[str, Any]:
    status, body, _ = router.get(f"/models/{LLAMA}/endpoints")
    assert status == 200
    return next(e["crossroads"] for e in body["data"]["endpoints"] if e["tag"] == "bedrock")


def test_a_wrong_secret_keeps_bedrock_out_with_a_clear_reason_while_others_serve(
        make_bedrock: Callable[..., Router], fresh_sim: Sim) -> None:
    wrong = "this-is-not-the-secret-access-key"
    router = make_bedrock(wrong)
    api = client(router)
    body = {"model": LLAMA, "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 20, "extra_body": BEDROCK_FIRST}
    # The first attempt is refused as AWS refuses it; the caller never sees it.
    reply = api.chat.completions.create(**body)
    assert reply.model_extra is not None and reply.model_extra["provider"] == "Bravo"
    assert fresh_sim.hits("alpha") == 0  # refused before the sim's endpoint saw a request
    state = endpoint_state(router)
    assert state["state"] == "unavailable"
    reason = state["unavailable_reason"]
    assert "AWS refused the signature of access key AKIA" in reason
    assert "signature we calculated does not match" in reason
    assert wrong not in reason and SIM_SECRET_ACCESS_KEY not in reason
    # Later requests go straight to the others: no second refused attempt.
    for _ in range(2):
        again = api.chat.completions.create(**body)
        assert again.model_extra is not None and again.model_extra["provider"] == "Bravo"
    assert fresh_sim.hits("bravo") == 3
    # Only Bedrock allowed: the caller is told why, without a secret.
    with pytest.raises(openai.APIStatusError) as caught:
        api.chat.completions.create(model=LLAMA, messages=body["messages"],
                                    extra_body=ONLY_BEDROCK)
    assert caught.value.status_code == 503
    assert "AWS refused the signature" in caught.value.message
    assert wrong not in str(caught.value.body)
    log = router.log.read_text()
    assert wrong not in log
    assert log.count("AWS refused the signature of access key AKIA") == 1  # said once


def test_no_aws_credentials_at_all_is_a_reason_too(tmp_path: Path, fresh_sim: Sim) -> None:
    router = start_router(router_config(fresh_sim, extra(fresh_sim)), tmp_path,
                          env={"SIM_KEY": "sim-secret-key"})
    try:
        assert wait_for(lambda: endpoint_state(router)["state"] == "unavailable")
        assert endpoint_state(router)["unavailable_reason"].startswith(
            "AWS credentials unavailable")
        reply = client(router).chat.completions.create(
            model=LLAMA, max_tokens=20, extra_body=BEDROCK_FIRST,
            messages=[{"role": "user", "content": "Say hello."}])
        assert reply.model_extra is not None and reply.model_extra["provider"] == "Bravo"
        assert fresh_sim.hits("alpha") == 0
    finally:
        router.stop()


def test_demo_mode_serves_llama_on_simulated_bedrock_signed(tmp_path: Path) -> None:
    """The shipped catalog in demo mode: Scout and Maverick on Bedrock's simulated twins, signed
    with the sim's key pair whatever the (empty) AWS chain holds, whole and streamed."""
    router = start_router("", tmp_path, "--demo")
    only = {"provider": {"only": ["bedrock"], "allow_fallbacks": False}}
    messages = [{"role": "user", "content": "Say hello."}]
    try:
        api = client(router)
        for slug in ("meta-llama/llama-4-scout", "meta-llama/llama-4-maverick"):
            chunks = list(api.chat.completions.create(
                model=slug, messages=messages, max_tokens=8, stream=True, extra_body=only))
            assert {c.model_extra["provider"] for c in chunks if c.model_extra} == {
                "Amazon Bedrock (simulated)"}
            assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 8
            reply = api.chat.completions.create(model=slug, messages=messages, max_tokens=8,
                                                extra_body=only)
            assert reply.model_extra is not None
            assert reply.model_extra["provider"] == "Amazon Bedrock (simulated)"
            assert reply.choices[0].message.content
    finally:
        router.stop()
