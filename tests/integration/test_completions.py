"""Legacy completions (`POST /completions`) through the official `openai` SDK: a chat-translated
completion, routed, failed over, metered and billed like the chat request it becomes."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from crossroads.sim.render import completion_text
from tests.integration.conftest import MODEL, router_config
from tests.support import Router, Sim, start_router, wait_for

PROMPT = "Once upon a time"
ALPHA_ONLY = {"provider": {"order": ["alpha"], "allow_fallbacks": False}}


@pytest.fixture(scope="module")
def router(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    # One router for the module; no cooldown, so a scripted failure never sidelines a
    # provider for the tests after it.
    handle = start_router(router_config(sim, cooldowns=(0, 0)),
                          tmp_path_factory.mktemp("completions"), env={"SIM_KEY": "k"})
    yield handle
    handle.stop()


def sdk(router: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key="test", max_retries=0, timeout=30)


def raw_completion_stream(router: Router, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The SSE events of a streamed completion as sent, [DONE] as {"done": True}."""
    host, port = router.root.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/api/v1/completions", json.dumps({**body, "stream": True}),
                 {"authorization": "Bearer t", "content-type": "application/json"})
    response = conn.getresponse()
    try:
        assert response.status == 200, response.read()
        while line := response.readline():
            if line.startswith(b"data: "):
                payload = line[6:].strip()
                yield {"done": True} if payload == b"[DONE]" else json.loads(payload)
    finally:
        conn.close()


def test_a_completion_is_the_chat_answer_to_the_prompt(router: Router, fresh_sim: Sim) -> None:
    raw = sdk(router).completions.with_raw_response.create(
        model=MODEL, prompt=PROMPT, max_tokens=8, temperature=0.5, seed=3, user="u-1",
        stop=["\n\n"], extra_body=ALPHA_ONLY)
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.id == raw.headers["x-generation-id"]
    assert completion.model == MODEL
    [choice] = completion.choices
    # A seed makes the simulated text its own (repeatable) words rather than the default ones.
    assert len(choice.text.split()) == 8 and choice.text != completion_text(8)
    assert choice.finish_reason == "length" and choice.index == 0 and choice.logprobs is None
    assert completion.usage is not None and completion.usage.completion_tokens == 8
    assert completion.usage.cost > 0  # type: ignore[attr-defined]
    assert raw.http_response.json()["provider"] == "Alpha"
    # Upstream it was a chat request: the prompt as one user message, the parameters kept.
    [seen] = fresh_sim.requests("alpha")
    body = seen["body"]
    assert body["messages"] == [{"role": "user", "content": PROMPT}]
    assert "prompt" not in body and "provider" not in body
    assert (body["temperature"], body["seed"], body["user"], body["stop"]) == (
        0.5, 3, "u-1", ["\n\n"])


def test_a_prompt_list_of_one_string_is_that_prompt(router: Router, fresh_sim: Sim) -> None:
    completion = sdk(router).completions.create(model=MODEL, prompt=[PROMPT], max_tokens=4)
    assert completion.choices[0].text == completion_text(4)


def test_async_completion(router: Router, fresh_sim: Sim) -> None:
    async def ask() -> openai.types.Completion:
        async with openai.AsyncOpenAI(base_url=router.api, api_key="t", max_retries=0) as aio:
            return await aio.completions.create(model=MODEL, prompt=PROMPT, max_tokens=5)

    completion = asyncio.run(ask())
    assert completion.choices[0].text == completion_text(5)
    assert completion.usage is not None and completion.usage.prompt_tokens > 0


def test_streamed_completion(router: Router, fresh_sim: Sim) -> None:
    chunks = list(sdk(router).completions.create(model=MODEL, prompt=PROMPT, max_tokens=6,
                                                 stream=True))
    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == completion_text(6)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "length" and set(finishes[:-1]) == {None}
    # Usage rides in the last chunk, beside its finish reason (as on chat).
    last = chunks[-1]
    assert last.choices[0].finish_reason == "length"
    assert last.usage is not None and last.usage.completion_tokens == 6
    assert [c.usage is not None for c in chunks].count(True) == 1
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("gen-")


def test_a_failed_provider_is_invisible(router: Router, fresh_sim: Sim) -> None:
    fresh_sim.script("alpha", "http_503")
    raw = sdk(router).completions.with_raw_response.create(
        model=MODEL, prompt=PROMPT, max_tokens=4,
        extra_body={"provider": {"order": ["alpha", "bravo"], "allow_fallbacks": False}})
    completion = raw.parse()
    assert completion.choices[0].text == completion_text(4)
    assert raw.http_response.json()["provider"] == "Bravo"
    found: dict[str, Any] = {}
    assert wait_for(lambda: _stored(router, completion.id, found))
    attempts = found["provider_responses"]
    assert [(a["provider_name"], a["status"]) for a in attempts] == [("Alpha", 503),
                                                                      ("Bravo", 200)]
    assert found["provider_name"] == "Bravo"


def _stored(router: Router, generation_id: str, found: dict[str, Any]) -> bool:
    status, body, _ = router.get(f"/generation?id={generation_id}")
    if status == 200:
        found.update(body["data"])
    return status == 200


def test_a_stream_cut_after_its_first_token_ends_in_band(router: Router, fresh_sim: Sim) -> None:
    fresh_sim.script("alpha", "stream_cut")
    events = list(raw_completion_stream(router, {"model": MODEL, "prompt": PROMPT,
                                                 "max_tokens": 16, **ALPHA_ONLY}))
    assert {"done": True} not in events
    *texts, last = events
    assert texts and all(e["object"] == "text_completion" for e in events)
    assert "".join(e["choices"][0]["text"] for e in texts)
    assert last["error"]["code"] == 502 and last["choices"][0]["finish_reason"] == "error"
    assert last["choices"][0]["text"] == ""
    # The SDK reads the same event as the error it is.
    fresh_sim.script("alpha", "stream_cut")
    with pytest.raises(openai.APIError, match="mid-stream"):
        for _ in sdk(router).completions.create(model=MODEL, prompt=PROMPT, max_tokens=16,
                                                stream=True, extra_body=ALPHA_ONLY):
            pass


def test_it_is_billed_and_recorded_like_chat(router: Router, fresh_sim: Sim) -> None:
    completion = sdk(router).completions.create(model=MODEL, prompt=PROMPT, max_tokens=8,
                                                extra_body=ALPHA_ONLY)
    found: dict[str, Any] = {}
    assert wait_for(lambda: _stored(router, completion.id, found))
    assert completion.usage is not None
    assert found["tokens_completion"] == 8 == completion.usage.completion_tokens
    assert found["tokens_prompt"] == completion.usage.prompt_tokens
    assert found["total_cost"] == pytest.approx(completion.usage.cost)  # type: ignore[attr-defined]
    assert found["total_cost"] > 0 and found["api_type"] == "completions"


@pytest.mark.parametrize(("body", "param"), [
    ({"prompt": ["one", "two"]}, "prompt"),
    ({"prompt": [1, 2, 3]}, "prompt"),
    ({"prompt": "x", "echo": True}, "echo"),
    ({"prompt": "x", "suffix": " end"}, "suffix"),
    ({"prompt": "x", "best_of": 3}, "best_of"),
    ({"prompt": "x", "logprobs": 9}, "logprobs"),
    ({"prompt": "x", "messages": []}, "messages"),
    ({"prompt": "x", "tools": []}, "tools"),
    ({}, "prompt"),
])
def test_what_a_chat_model_cannot_do_is_a_400_naming_the_field(
        router: Router, body: dict[str, Any], param: str) -> None:
    fields = dict(body)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(router).completions.create(model=MODEL, max_tokens=4, prompt=fields.pop("prompt", None),
                                       extra_body=fields)
    error = caught.value
    assert error.status_code == 400 and param in error.message
    assert isinstance(error.body, dict) and error.body["metadata"]["param"] == param


def test_an_embedding_model_is_not_completed(make_router: Callable[..., Router]) -> None:
    router = make_router(extra=EMBEDDING_MODEL)
    with pytest.raises(openai.BadRequestError, match="is an embedding model") as caught:
        sdk(router).completions.create(model="test/embed", prompt=PROMPT, max_tokens=4)
    assert caught.value.status_code == 400


def test_logprobs_are_asked_of_chat_as_top_logprobs(router: Router, fresh_sim: Sim) -> None:
    completion = sdk(router).completions.create(model=MODEL, prompt=PROMPT, max_tokens=4,
                                                logprobs=2, extra_body=ALPHA_ONLY)
    [seen] = fresh_sim.requests("alpha")
    assert seen["body"]["logprobs"] is True and seen["body"]["top_logprobs"] == 2
    # Chat's per-token logprobs come back in the legacy shape.
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.tokens is not None
    assert "".join(logprobs.tokens) == completion.choices[0].text
    assert logprobs.token_logprobs is not None and len(logprobs.token_logprobs) == 4
    assert all(p <= 0 for p in logprobs.token_logprobs)
    assert logprobs.top_logprobs is not None and all(len(t) == 2 for t in logprobs.top_logprobs)
    offsets = [sum(len(t) for t in logprobs.tokens[:i]) for i in range(4)]
    assert logprobs.text_offset == offsets


EMBEDDING_MODEL = """
[[models]]
slug = "test/embed"
name = "Test Embed"
output_modalities = ["embeddings"]
dimensions = 8

[[endpoints]]
model = "test/embed"
provider = "alpha"
upstream_model = "embed-alpha"
context_length = 8192
price = { prompt = 1, completion = 0 }
"""
