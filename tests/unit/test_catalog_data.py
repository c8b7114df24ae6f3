"""The shipped catalog: every model the page needs, with its facts, and their sources noted."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from crossroads.catalog import Architecture
from crossroads.settings import ConfigError, load_settings

EXPECTED = {
    "meta-llama/llama-4-scout", "meta-llama/llama-4-maverick",
    "meta-llama/llama-3.3-70b-instruct", "meta-llama/llama-3.1-8b-instruct",
    "google/gemma-3-27b-it", "qwen/qwen3-32b", "qwen/qwen3-235b-a22b",
    "deepseek/deepseek-chat-v3-0324", "mistralai/mistral-small-3.2-24b-instruct",
    "openai/gpt-oss-120b", "qwen/qwen3-embedding-8b", "baai/bge-m3",
}
EMBEDDING = {"qwen/qwen3-embedding-8b": 4096, "baai/bge-m3": 1024}
# Closed-weight models: no licence file, Hugging Face id or published architecture; served by
# their maker in its own dialect (Bedrock and Vertex rows come with those dialects).
PROPRIETARY = {"anthropic/claude-haiku-4.5": "anthropic", "google/gemini-2.5-flash": "gemini"}


def test_every_model_has_its_facts_and_real_endpoints() -> None:
    catalog = load_settings(env={}).catalog
    assert {m.slug for m in catalog.models()} == EXPECTED | PROPRIETARY.keys()
    for model in catalog.models():
        if model.slug in PROPRIETARY:
            assert model.released and model.pricing is not None
            endpoints = catalog.endpoints(model.slug)
            assert {e.dialect for e in endpoints} == {PROPRIETARY[model.slug]}
            # Each caches prompts; Anthropic's writes are billed, Gemini's implicit ones not.
            assert all(e.base_url.startswith("https://") and e.pricing.cache_read
                       and (e.pricing.cache_write is not None) == (e.dialect == "anthropic")
                       for e in endpoints)
            continue
        assert model.license and model.released and model.hugging_face_id, model.slug
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", model.released)
        arch = model.architecture
        assert arch is not None and arch.kind in ("dense", "moe") and arch.parameters_b
        assert (arch.experts is not None) == (arch.kind == "moe"), model.slug
        endpoints = catalog.endpoints(model.slug)
        assert 2 <= len(endpoints) <= 10, model.slug
        assert len({e.tag for e in endpoints}) == len(endpoints)
        for ep in endpoints:
            assert ep.base_url.startswith("https://") and ep.pricing.prompt > 0
            assert ep.max_output <= ep.context_length


def test_embedding_models_say_so_and_give_their_size() -> None:
    catalog = load_settings(env={}).catalog
    for model in catalog.models():
        assert model.embeds == (model.slug in EMBEDDING), model.slug
        assert model.dimensions == EMBEDDING.get(model.slug), model.slug
        if model.embeds:
            assert model.output_modalities == {"embeddings"}
            assert all(e.pricing.completion == 0 for e in catalog.endpoints(model.slug))


def test_an_embedding_model_without_its_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "crossroads.toml"
    path.write_text('[[models]]\nslug = "x/embed"\nname = "E"\n'
                    'output_modalities = ["embeddings"]\n')
    with pytest.raises(ConfigError, match=r"dimensions: required for an embedding model"):
        load_settings(str(path), env={})
    path.write_text('[[models]]\nslug = "x/embed"\nname = "E"\n'
                    'output_modalities = ["embeddings"]\ndimensions = 0\n')
    with pytest.raises(ConfigError, match=r"dimensions: must be positive"):
        load_settings(str(path), env={})


def test_qwen3_235b_is_a_mixture_of_experts() -> None:
    model = load_settings(env={}).catalog.model("qwen/qwen3-235b-a22b")
    assert model is not None
    assert model.architecture == Architecture(kind="moe", parameters_b=235,
                                              active_parameters_b=22, experts=128,
                                              active_experts=8)


def test_every_model_and_endpoint_block_names_its_source() -> None:
    text = resources.files("crossroads").joinpath("data/catalog.toml").read_text("utf-8")
    blocks = text.split("[[models]]")[1:]
    for block in blocks:
        comment = text[:text.index(block)].rsplit("\n\n", 1)[-1]
        slug = block.split('slug = "', 1)[1].split('"', 1)[0]
        assert re.search(r"\b(verified|listing)\b", comment + block), slug


def test_operator_file_sets_the_new_model_fields(tmp_path: Path) -> None:
    path = tmp_path / "crossroads.toml"
    path.write_text('[[models]]\nslug = "meta-llama/llama-4-scout"\nlicense = "Custom"\n'
                    'released = "2025-04-06"\n'
                    'architecture = { kind = "dense", parameters_b = 1 }\n')
    model = load_settings(str(path), env={}).catalog.model("meta-llama/llama-4-scout")
    assert model is not None and model.license == "Custom" and model.released == "2025-04-06"
    assert model.architecture == Architecture(kind="dense", parameters_b=1)
    path.write_text('[[models]]\nslug = "meta-llama/llama-4-scout"\nreleased = "April 2025"\n')
    with pytest.raises(ConfigError, match="released: expected YYYY-MM-DD"):
        load_settings(str(path), env={})
    path.write_text('[[models]]\nslug = "x/y"\nname = "Y"\narchitecture = { kind = "big" }\n')
    with pytest.raises(ConfigError, match=r"architecture\.kind"):
        load_settings(str(path), env={})
