"""Demo mode serves the whole catalog: every model answers through a simulated twin of one of its
own endpoints, over real loopback with the official `openai` SDK."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from crossroads.catalog import Model
from crossroads.settings import load_settings
from tests.support import Router, start_router

CATALOG = load_settings(env={}).catalog
CHAT_MODELS = [m.slug for m in CATALOG.models() if not m.embeds]
EMBEDDING_MODELS = [m for m in CATALOG.models() if m.embeds]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    router = start_router("", tmp_path_factory.mktemp("demo-catalog"), "--demo")
    yield router
    router.stop()


@pytest.mark.parametrize("slug", CHAT_MODELS)
def test_every_catalog_model_answers_from_its_own_twin(demo: Router, slug: str) -> None:
    sdk = openai.OpenAI(base_url=demo.api, api_key="anything", max_retries=0, timeout=30)
    raw = sdk.chat.completions.with_raw_response.create(
        model=slug, max_tokens=8, messages=[{"role": "user", "content": "Say hello."}])
    response = raw.parse()
    assert response.model == slug
    assert response.choices[0].message.content
    assert response.usage is not None and response.usage.completion_tokens == 8
    served_by = raw.http_response.json()["provider"]
    assert served_by in {f"{e.provider_name} (simulated)" for e in CATALOG.endpoints(slug)}


@pytest.mark.parametrize("model", EMBEDDING_MODELS, ids=lambda m: m.slug)
def test_every_embedding_model_embeds_at_its_own_size(demo: Router, model: Model) -> None:
    sdk = openai.OpenAI(base_url=demo.api, api_key="anything", max_retries=0, timeout=30)
    raw = sdk.embeddings.with_raw_response.create(model=model.slug, input=["a", "b"],
                                                  encoding_format="float")
    response = raw.parse()
    assert response.model == model.slug and len(response.data) == 2
    assert {len(d.embedding) for d in response.data} == {model.dimensions}
    assert response.usage.prompt_tokens > 0
    served_by = raw.http_response.json()["provider"]
    assert served_by in {f"{e.provider_name} (simulated)" for e in CATALOG.endpoints(model.slug)}


def test_the_listing_shows_every_model_with_every_endpoint_simulated(demo: Router) -> None:
    status, body, _ = demo.get("/models?output_modalities=all")
    assert status == 200
    assert {m["id"] for m in body["data"]} == {m.slug for m in CATALOG.models()}
    for model in body["data"]:
        extras = model["crossroads"]
        assert extras["simulated"] and extras["endpoints"] == extras["endpoints_available"]
    status, body, _ = demo.get("/models/count")
    assert status == 200 and body["data"]["count"] == len(CHAT_MODELS)
    status, body, _ = demo.get("/embeddings/models")
    assert status == 200
    assert [m["id"] for m in body["data"]] == [m.slug for m in EMBEDDING_MODELS]
    demo.assert_schema_kept()


# Endpoints that speak something other than OpenAI's dialect with a static key: each answers in
# demo mode through its own simulated surface (Gemini's API, Vertex AI with Google OAuth tokens
# from the simulator's token endpoint, Vertex's OpenAI-compatible Llama).
NATIVE = [(e.model, e.tag) for e in CATALOG.all_endpoints()
          if e.dialect != "openai" or e.credentials is not None]


@pytest.mark.parametrize(("slug", "tag"), NATIVE, ids=str)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_every_native_dialect_endpoint_answers_in_demo_mode(demo: Router, slug: str, tag: str,
                                                            stream: bool) -> None:
    sdk = openai.OpenAI(base_url=demo.api, api_key="anything", max_retries=0, timeout=30)
    ask = {"model": slug, "max_tokens": 8, "messages": [{"role": "user", "content": "Hi."}],
           "extra_body": {"provider": {"only": [tag], "allow_fallbacks": False}}}
    if stream:
        chunks = list(sdk.chat.completions.create(stream=True, **ask))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = chunks[-1].usage
    else:
        reply = sdk.chat.completions.create(**ask)
        text, usage = reply.choices[0].message.content or "", reply.usage
    assert text and usage is not None and usage.completion_tokens == 8
