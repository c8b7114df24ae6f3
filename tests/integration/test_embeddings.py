"""Embeddings (`POST /embeddings`) through the official `openai` SDK: routed among embedding
endpoints only, failed over by the relay's one loop, billed per input token, recorded."""

from __future__ import annotations

import asyncio
import base64
import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openrouter import OpenRouter
from openrouter.utils import BackoffStrategy, RetryConfig

from crossroads.sim.embeddings import embedding_vector, input_tokens
from tests.support import Keys, Router, Sim, http_json, start_router, start_sim, wait_for

EMBED = "test/embed"  # 64 dimensions, shortened on request; two providers
FIXED = "test/embed-fixed"  # 32 dimensions, cannot shorten
CHAT = "test/echo"
PRICES = {"emb-a": 100.0, "emb-b": 250.0}  # USD per 1M input tokens: 100 and 250 µ$ a token

FLEET = """
seed = 3
time_scale = 1.0
""" + "".join(f"""
[[endpoint]]
name = "{name}"
context_length = {context}
max_output = {context}
ttft_ms = 2
ttft_sigma = 0
{dimensions}
""" for name, context, dimensions in (
    ("emb-a", 512, "dimensions = 64"), ("emb-b", 512, "dimensions = 64"),
    ("emb-c", 512, "dimensions = 32"), ("chat", 8192, ""),
))


def _provider(name: str, sim: Sim) -> str:
    return f"""
[providers.{name}]
name = "{name.title()}"
base_url = "{sim.base(name)}"
api_key_env = "SIM_KEY"
"""


def _config(sim: Sim) -> str:
    providers = "".join(_provider(name, sim) for name in ("emb-a", "emb-b", "emb-c", "chat"))
    return f"""
[routing]
seed = 1

[timeouts]
headers_s = 2
first_token_s = 2
total_s = 20

[breaker]
base_cooldown_s = 0
max_cooldown_s = 0
{providers}
[[models]]
slug = "{EMBED}"
name = "Test Embed"
context_length = 512
output_modalities = ["embeddings"]
dimensions = 64

[[models]]
slug = "{FIXED}"
name = "Test Embed Fixed"
output_modalities = ["embeddings"]
dimensions = 32

[[models]]
slug = "{CHAT}"
name = "Test Echo"

[[endpoints]]
model = "{EMBED}"
provider = "emb-a"
upstream_model = "embed-a"
context_length = 512
price = {{ prompt = {PRICES["emb-a"]}, completion = 0 }}
supported_parameters = ["dimensions"]

[[endpoints]]
model = "{EMBED}"
provider = "emb-b"
upstream_model = "embed-b"
context_length = 512
price = {{ prompt = {PRICES["emb-b"]}, completion = 0 }}
supported_parameters = ["dimensions"]

[[endpoints]]
model = "{FIXED}"
provider = "emb-c"
upstream_model = "embed-c"
context_length = 512
price = {{ prompt = 10, completion = 0 }}

[[endpoints]]
model = "{CHAT}"
provider = "chat"
upstream_model = "echo"
context_length = 8192
price = {{ prompt = 1, completion = 1 }}
"""


CHEAPEST_FIRST = {"provider": {"sort": "price"}}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    handle = start_sim(FLEET, tmp_path_factory.mktemp("embed-sim"))
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def router(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    handle = start_router(_config(sim), tmp_path_factory.mktemp("embed-router"),
                          env={"SIM_KEY": "k"})
    yield handle
    handle.stop()


@pytest.fixture
def fresh_sim(sim: Sim) -> Sim:
    sim.reset()
    return sim


@pytest.fixture
def client(router: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key="test", max_retries=0, timeout=30)


def _close(a: list[float], b: list[float]) -> bool:
    # float32 on the wire (base64) against float64: equal to float32 precision.
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-7)
                                    for x, y in zip(a, b, strict=True))


def _stored(router: Router, generation_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def ready() -> bool:
        status, body, _ = router.get(f"/generation?id={generation_id}")
        if status == 200:
            found.update(body["data"])
        return status == 200

    assert wait_for(ready)
    return found


def test_one_text_one_unit_vector_always_the_same(client: openai.OpenAI,
                                                  fresh_sim: Sim) -> None:
    raw = client.embeddings.with_raw_response.create(model=EMBED, input="hello world",
                                                     encoding_format="float")
    first = raw.parse()
    again = client.embeddings.create(model=EMBED, input="hello world", encoding_format="float")
    [item] = first.data
    assert item.object == "embedding" and item.index == 0 and first.object == "list"
    assert len(item.embedding) == 64
    assert math.isclose(math.fsum(x * x for x in item.embedding), 1.0, rel_tol=1e-9)
    assert item.embedding == again.data[0].embedding == embedding_vector("hello world", 64)
    assert first.model == EMBED
    body = raw.http_response.json()
    assert body["id"] == raw.headers["x-generation-id"] and body["id"].startswith("gen-")
    assert body["provider"] in ("Emb-A", "Emb-B")


def test_a_batch_keeps_its_order(client: openai.OpenAI, fresh_sim: Sim) -> None:
    texts = ["alpha", "bravo", "charlie", "delta"]
    response = client.embeddings.create(model=EMBED, input=texts, encoding_format="float")
    assert [d.index for d in response.data] == [0, 1, 2, 3]
    for text, item in zip(texts, response.data, strict=True):
        assert item.embedding == embedding_vector(text, 64)
    assert response.usage.prompt_tokens == sum(input_tokens(t) for t in texts)
    assert response.usage.total_tokens == response.usage.prompt_tokens


def test_dimensions_shorten_the_vector(client: openai.OpenAI, fresh_sim: Sim) -> None:
    response = client.embeddings.create(model=EMBED, input="hello", dimensions=16,
                                        encoding_format="float")
    vector = response.data[0].embedding
    assert len(vector) == 16 and vector == embedding_vector("hello", 16)
    served = [r for name in ("emb-a", "emb-b") for r in fresh_sim.requests(name)]
    assert [r["body"]["dimensions"] for r in served] == [16]


def test_base64_decodes_to_the_floats(client: openai.OpenAI, fresh_sim: Sim) -> None:
    floats = client.embeddings.create(model=EMBED, input=["x", "y"], encoding_format="float")
    packed = client.embeddings.create(model=EMBED, input=["x", "y"], encoding_format="base64")
    # The SDK's own default asks for base64 and decodes it itself.
    default = client.embeddings.create(model=EMBED, input=["x", "y"])
    for f, p, d in zip(floats.data, packed.data, default.data, strict=True):
        assert isinstance(p.embedding, str)
        raw = base64.b64decode(p.embedding)
        decoded = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        assert _close(decoded, f.embedding) and _close(list(d.embedding), f.embedding)
    # Upstream always asked for floats: the router encodes.
    served = [r for name in ("emb-a", "emb-b") for r in fresh_sim.requests(name)]
    assert {r["body"]["encoding_format"] for r in served} == {"float"}


def test_async_client(router: Router, fresh_sim: Sim) -> None:
    async def embed() -> openai.types.CreateEmbeddingResponse:
        async with openai.AsyncOpenAI(base_url=router.api, api_key="t", max_retries=0) as aio:
            return await aio.embeddings.create(model=FIXED, input="async")

    response = asyncio.run(embed())
    assert _close(list(response.data[0].embedding), embedding_vector("async", 32))


def test_cost_is_prompt_tokens_times_the_price(client: openai.OpenAI, router: Router,
                                                fresh_sim: Sim) -> None:
    texts = ["the quick brown fox", "jumps over the lazy dog"]
    raw = client.embeddings.with_raw_response.create(model=EMBED, input=texts,
                                                     extra_body=CHEAPEST_FIRST)
    response = raw.parse()
    tokens = sum(input_tokens(t) for t in texts)
    usage: Any = response.usage
    assert usage.prompt_tokens == tokens
    assert usage.crossroads["cost_micro_usd"] == tokens * 100  # emb-a: 100 µ$ a token
    assert usage.cost == pytest.approx(tokens * 100 / 1e6)
    assert usage.cost_details["upstream_inference_completions_cost"] == 0
    record = _stored(router, raw.headers["x-generation-id"])
    assert record["tokens_prompt"] == tokens and record["tokens_completion"] == 0
    assert record["total_cost"] == pytest.approx(usage.cost)
    assert record["provider_name"] == "Emb-A" and record["api_type"] == "embeddings"
    assert record["streamed"] is False


def test_a_failed_provider_is_invisible_and_billed_once(client: openai.OpenAI, router: Router,
                                                        fresh_sim: Sim) -> None:
    fresh_sim.script("emb-a", "http_500")
    raw = client.embeddings.with_raw_response.create(model=EMBED, input="fail over",
                                                     encoding_format="float",
                                                     extra_body=CHEAPEST_FIRST)
    response = raw.parse()
    assert response.data[0].embedding == embedding_vector("fail over", 64)
    assert raw.http_response.json()["provider"] == "Emb-B"
    tokens = input_tokens("fail over")
    record = _stored(router, raw.headers["x-generation-id"])
    attempts = [(a["provider_name"], a["status"]) for a in record["provider_responses"]]
    assert attempts == [("Emb-A", 500), ("Emb-B", 200)]
    # Billed once, at the price of the endpoint that served.
    assert record["crossroads"]["cost_micro_usd"] == tokens * 250
    assert [r["outcome"] for r in fresh_sim.requests("emb-a")] == ["http_500"]
    assert [r["outcome"] for r in fresh_sim.requests("emb-b")] == ["ok"]


def test_openrouters_own_sdk_reads_the_answer_the_listing_and_the_record(
        router: Router, fresh_sim: Sim) -> None:
    no_retries = RetryConfig("none", BackoffStrategy(0, 0, 0, 0), False)
    with OpenRouter(api_key="k", server_url=router.api, retry_config=no_retries) as sdk:
        response = sdk.embeddings.generate(model=EMBED, input=["one", "two"], dimensions=16,
                                           encoding_format="float", provider={"sort": "price"})
        assert not isinstance(response, str)
        assert [len(d.embedding) for d in response.data] == [16, 16]
        assert response.data[1].embedding == embedding_vector("two", 16)
        assert response.usage is not None and response.usage.cost == pytest.approx(
            response.usage.prompt_tokens * 100 / 1e6)
        listed = sdk.embeddings.list_models()
        assert {EMBED, FIXED} <= {m.id for m in listed.result.data}
        assert response.id is not None
        record = sdk.generations.get_generation(id=response.id).data
        assert record.api_type == "embeddings" and record.provider_name == "Emb-A"
        assert record.tokens_prompt == response.usage.prompt_tokens


def test_a_key_pays_for_its_embeddings_and_must_cover_them(sim: Sim, tmp_path: Path) -> None:
    router = start_router(_config(sim), tmp_path, "--auth", "keys", env={"SIM_KEY": "k"})
    try:
        keys = Keys(router)
        key, _ = keys.create("--name", "embedder", "--limit", "1")
        sdk = openai.OpenAI(base_url=router.api, api_key=key, max_retries=0)
        usage: Any = sdk.embeddings.create(model=EMBED, input=["a", "b"],
                                           extra_body=CHEAPEST_FIRST).usage
        cost = usage.crossroads["cost_micro_usd"]
        assert cost == usage.prompt_tokens * 100
        status, body, _ = http_json("GET", router.api + "/key",
                                    headers={"authorization": f"Bearer {key}"})
        assert status == 200 and body["data"]["crossroads"]["usage_micro_usd"] == cost
        # The worst case is held before the first attempt: every input byte a token, at the
        # dearest eligible endpoint (250 µ$ a token here), which a $0.01 limit cannot cover.
        small, _ = keys.create("--name", "small", "--limit", "0.01")
        with pytest.raises(openai.APIStatusError) as caught:
            openai.OpenAI(base_url=router.api, api_key=small, max_retries=0).embeddings.create(
                model=EMBED, input="x" * 100)
        assert caught.value.status_code == 402
    finally:
        router.stop()


@pytest.mark.parametrize("fault", ["malformed_sse", "empty_200", "stream_cut", "http_429"])
def test_a_broken_answer_fails_over_too(client: openai.OpenAI, fresh_sim: Sim,
                                        fault: str) -> None:
    fresh_sim.script("emb-a", fault)
    raw = client.embeddings.with_raw_response.create(model=EMBED, input="again",
                                                     extra_body=CHEAPEST_FIRST)
    assert raw.http_response.json()["provider"] == "Emb-B"
    assert len(raw.parse().data[0].embedding) == 64


def test_a_sim_marker_in_the_input_is_the_callers_fault(client: openai.OpenAI,
                                                        fresh_sim: Sim) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=EMBED, input=["fine", "bad [[sim:http_400]]"],
                                 extra_body=CHEAPEST_FIRST)
    assert caught.value.status_code == 400
    # Final at once: a caller's mistake is not retried elsewhere.
    assert fresh_sim.hits("emb-b") == 0


def test_every_provider_failing_is_a_502(client: openai.OpenAI, fresh_sim: Sim) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.embeddings.create(model=EMBED, input="down [[sim:http_503]]")
    assert caught.value.status_code == 502
    assert fresh_sim.hits("emb-a") == fresh_sim.hits("emb-b") == 1


def test_an_input_longer_than_the_context_is_refused_before_routing(
        client: openai.OpenAI, fresh_sim: Sim) -> None:
    with pytest.raises(openai.BadRequestError, match="longest input needs about 1004 tokens"):
        client.embeddings.create(model=EMBED, input=["short", "x" * 4000])
    assert fresh_sim.hits("emb-a") == fresh_sim.hits("emb-b") == 0
    # Many short inputs are fine: each must fit the context, not their sum.
    response = client.embeddings.create(model=EMBED, input=["y" * 1500] * 4)
    assert len(response.data) == 4


@pytest.mark.parametrize(("model", "route", "message"), [
    (CHAT, "embeddings", "does not return embeddings"),
    (EMBED, "chat", "is an embedding model"),
])
def test_the_wrong_kind_of_model_is_a_400(client: openai.OpenAI, fresh_sim: Sim, model: str,
                                          route: str, message: str) -> None:
    with pytest.raises(openai.BadRequestError, match=message) as caught:
        if route == "embeddings":
            client.embeddings.create(model=model, input="hello")
        else:
            client.chat.completions.create(model=model,
                                           messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 400
    assert fresh_sim.hits("chat") == 0


@pytest.mark.parametrize(("fields", "param"), [
    ({"input": [[1, 2, 3]]}, "input"),
    ({"input": [1, 2, 3]}, "input"),
    ({"input": ""}, "input"),
    ({"input": ["ok", ""]}, "input[1]"),
    ({"input": [{"content": [{"type": "text", "text": "x"}]}]}, "input"),
    ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"input": "x", "dimensions": 0}, "dimensions"),
    ({"input": "x", "dimensions": 65}, "dimensions"),
    ({"input": "x", "stream": True}, "stream"),
])
def test_bad_fields_are_a_400_naming_them(router: Router, fields: dict[str, Any],
                                          param: str) -> None:
    status, body, _ = router.post("/embeddings", {"model": EMBED, **fields})
    assert status == 400, body
    assert body["error"]["metadata"]["param"] == param


def test_a_fixed_size_model_refuses_other_sizes_but_accepts_its_own(
        client: openai.OpenAI, fresh_sim: Sim) -> None:
    with pytest.raises(openai.BadRequestError, match="cannot shorten"):
        client.embeddings.create(model=FIXED, input="x", dimensions=16)
    response = client.embeddings.create(model=FIXED, input="x", dimensions=32,
                                        encoding_format="float")
    assert len(response.data[0].embedding) == 32
    # Its own size is no request at all: the provider is not asked to resize.
    [seen] = fresh_sim.requests("emb-c")
    assert "dimensions" not in seen["body"]


def test_the_listings_show_embedding_models(router: Router) -> None:
    status, body, _ = router.get("/embeddings/models")
    assert status == 200
    listed = {m["id"] for m in body["data"]}
    # The shipped catalog's embedding models are there too (the config adds to it).
    assert {EMBED, FIXED, "baai/bge-m3", "qwen/qwen3-embedding-8b"} <= listed
    assert CHAT not in listed
    for model in body["data"]:
        assert model["architecture"]["output_modalities"] == ["embeddings"]
        assert model["architecture"]["modality"] == "text->embeddings"
        assert model["top_provider"]["max_completion_tokens"] is None
    # /models keeps OpenRouter's default of text models, and shows the rest when asked.
    status, body, _ = router.get("/models")
    assert CHAT in {m["id"] for m in body["data"]}
    assert not listed & {m["id"] for m in body["data"]}
    status, body, _ = router.get("/models?output_modalities=embeddings")
    assert {m["id"] for m in body["data"]} == listed
    status, body, _ = router.get(f"/models/{EMBED}/endpoints")
    assert status == 200 and len(body["data"]["endpoints"]) == 2
    assert body["data"]["architecture"]["output_modalities"] == ["embeddings"]
