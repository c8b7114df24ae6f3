"""The sim's embeddings surface: deterministic unit vectors, the chat surface's token count and
the chat surface's scripted faults, spoken to with the official `openai` SDK."""

from __future__ import annotations

import base64
import math
import struct

import openai
import pytest

from crossroads.sim.embeddings import embedding_vector

from .support import KEY, Sim, tokens_of


def _client(sim: Sim) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url("vec.embed"), api_key=KEY, max_retries=0)


def _embed(sim: Sim, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    resp = sim.http.post("/vec/v1/embeddings", json={"model": "vec-embed", **body},
                         headers={"Authorization": f"Bearer {KEY}"})
    return resp.status_code, resp.json()


def test_the_same_text_is_always_the_same_unit_vector(sim: Sim) -> None:
    client = _client(sim)
    first = client.embeddings.create(model="vec-embed", input=["cat", "dog", "cat"],
                                     encoding_format="float")
    vectors = [d.embedding for d in first.data]
    assert [len(v) for v in vectors] == [48, 48, 48]
    assert vectors[0] == vectors[2] != vectors[1]
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-12) for v in vectors)
    again = client.embeddings.create(model="vec-embed", input="cat", encoding_format="float")
    assert again.data[0].embedding == vectors[0] == embedding_vector("cat", 48)
    assert first.usage.prompt_tokens == 2 * tokens_of("cat") + tokens_of("dog")
    assert first.usage.total_tokens == first.usage.prompt_tokens
    assert [e["prompt_tokens"] for e in sim.log("vec.embed")] == [first.usage.prompt_tokens,
                                                                  tokens_of("cat")]


def test_dimensions_keep_a_renormalised_prefix(sim: Sim) -> None:
    full = embedding_vector("text", 48)
    short = _client(sim).embeddings.create(model="vec-embed", input="text", dimensions=8,
                                           encoding_format="float").data[0].embedding
    norm = math.sqrt(math.fsum(x * x for x in full[:8]))
    assert len(short) == 8
    assert all(math.isclose(s, f / norm, rel_tol=1e-12) for s, f in zip(short, full, strict=False))
    status, body = _embed(sim, {"input": "text", "dimensions": 49})
    assert status == 400 and "dimensions" in str(body)


def test_base64_is_little_endian_float32(sim: Sim) -> None:
    status, body = _embed(sim, {"input": "pack me", "encoding_format": "base64"})
    assert status == 200
    data = body["data"]
    assert isinstance(data, list)
    raw = base64.b64decode(data[0]["embedding"])
    unpacked = struct.unpack(f"<{len(raw) // 4}f", raw)
    expected = embedding_vector("pack me", 48)
    assert len(unpacked) == 48
    assert all(math.isclose(u, e, rel_tol=1e-6, abs_tol=1e-7)
               for u, e in zip(unpacked, expected, strict=True))


@pytest.mark.parametrize(("outcome", "status"), [("http_500", 500), ("http_429", 429),
                                                 ("http_401", 401), ("context_length", 400)])
def test_scripted_and_marked_faults_are_the_chat_surfaces(sim: Sim, outcome: str,
                                                          status: int) -> None:
    sim.script("vec.embed", outcome)
    assert _embed(sim, {"input": "x"})[0] == status
    assert _embed(sim, {"input": ["fine", f"then [[sim:{outcome}]]"]})[0] == status
    assert _embed(sim, {"input": "x"})[0] == 200
    assert [e["outcome"] for e in sim.log("vec.embed")] == [outcome, outcome, "ok"]


def test_a_malformed_answer_and_an_empty_one_are_played_like_chat(sim: Sim) -> None:
    sim.script("vec.embed", "malformed_sse", "empty_200")
    resp = sim.http.post("/vec/v1/embeddings", json={"model": "vec-embed", "input": "x"},
                         headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == 200 and resp.content.startswith(b'{"id": "chatcmpl-sim"')
    resp = sim.http.post("/vec/v1/embeddings", json={"model": "vec-embed", "input": "x"},
                         headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == 200 and resp.content == b""


def test_each_input_must_fit_the_context(sim: Sim) -> None:
    # 64-token context: 200 bytes is 4 + 50 tokens; two such inputs together would not fit.
    assert _embed(sim, {"input": ["a" * 200, "b" * 200]})[0] == 200
    assert _embed(sim, {"input": ["a" * 400]})[0] == 400


def test_what_is_not_an_embeddings_request_is_refused(sim: Sim) -> None:
    assert _embed(sim, {"input": ""})[0] == 400
    assert _embed(sim, {"input": [1, 2]})[0] == 400
    unsigned = sim.http.post("/vec/v1/embeddings", json={"model": "vec-embed", "input": "x"})
    assert unsigned.status_code == 401
    # A chat model of the same provider does not embed, and an unknown model is a 404.
    resp = sim.http.post("/vec/v1/embeddings", json={"model": "vec-chat", "input": "x"},
                         headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == 400 and "does not support embeddings" in resp.text
    resp = sim.http.post("/vec/v1/embeddings", json={"model": "vec-nothing", "input": "x"},
                         headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status_code == 404
