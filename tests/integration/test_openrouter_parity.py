"""OpenRouter's request vocabulary over real HTTP with the openai SDK: what each field does
when a caller sends it, end to end through routing, the simulated providers and the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.integration.conftest import MODEL
from tests.support import Router, Sim, http_json, start_router


def client(router: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key="anything", max_retries=0)


def record(router: Router, generation_id: str) -> dict[str, Any]:
    status, body, _ = http_json("GET", f"{router.api}/generation?id={generation_id}",
                                headers={"authorization": "Bearer anything"})
    assert status == 200, body
    data: dict[str, Any] = body["data"]
    return data


def test_an_unknown_model_with_a_valid_fallback_is_served_and_the_record_says_why(
        router: Router):
    answer = client(router).chat.completions.create(
        model="nobody/nothing", messages=[{"role": "user", "content": "hi"}], max_tokens=4,
        extra_body={"models": [MODEL]})
    assert answer.model == MODEL
    stored = record(router, answer.id)
    assert stored["crossroads"]["model_requested"] == "nobody/nothing"
    assert stored["crossroads"]["notes"] == [
        f"nobody/nothing is not a valid model ID; fell back to the `models` list: {MODEL}"]
    assert stored["crossroads"]["surface"] == "chat"


SCOUT = "meta-llama/llama-4-scout"
NO_TOOLS = {"novita", "gmicloud"}  # Scout's endpoints without tool calling in the catalog


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    router = start_router("", tmp_path_factory.mktemp("demo"), "--demo")
    yield router
    router.stop()


def test_tools_never_reach_an_endpoint_that_does_not_support_them(demo: Router):
    sdk = client(demo)
    tools: Any = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}}}}]
    messages: Any = [{"role": "user", "content": "hi"}]
    served = set()
    for _ in range(12):
        answer = sdk.chat.completions.create(model=SCOUT, messages=messages, max_tokens=4,
                                             tools=tools)
        served.add(record(demo, answer.id)["crossroads"]["endpoint"].split("/")[0])
    assert served and not served & NO_TOOLS
    with pytest.raises(openai.NotFoundError, match="No endpoints found that support tool use"):
        sdk.chat.completions.create(model=SCOUT, messages=messages, tools=tools,
                                    extra_body={"provider": {"only": sorted(NO_TOOLS)}})
    # Without tools the same preference is served.
    answer = sdk.chat.completions.create(model=SCOUT, messages=messages, max_tokens=4,
                                         extra_body={"provider": {"only": sorted(NO_TOOLS)}})
    assert record(demo, answer.id)["crossroads"]["endpoint"].split("/")[0] in NO_TOOLS


def test_unsupported_plugins_and_variants_are_400s_that_name_them(router: Router):
    sdk = client(router)
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.BadRequestError, match="web-search backend") as web:
        sdk.chat.completions.create(model=MODEL, messages=messages,
                                    extra_body={"plugins": [{"id": "web"}]})
    assert web.value.status_code == 400
    with pytest.raises(openai.BadRequestError, match="web-search backend"):
        sdk.chat.completions.create(model=f"{MODEL}:online", messages=messages)
    with pytest.raises(openai.BadRequestError, match="unknown plugin 'mind-reader'"):
        sdk.chat.completions.create(model=MODEL, messages=messages,
                                    extra_body={"plugins": [{"id": "mind-reader"}]})
    # Switched off, any documented plugin is fine.
    answer = sdk.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=2,
        extra_body={"plugins": [{"id": "web", "enabled": False}]})
    assert answer.choices[0].message.content


def test_middle_out_fits_a_long_conversation_and_the_record_says_what_went(
        router: Router, fresh_sim: Sim):
    turns = [{"role": "user" if i % 2 == 0 else "assistant",
              "content": f"turn {i} " + "words " * 4000} for i in range(31)]
    sdk = client(router)
    with pytest.raises(openai.BadRequestError, match="more than any endpoint"):
        sdk.chat.completions.create(model=MODEL, messages=turns, max_tokens=8)
    answer = sdk.chat.completions.create(model=MODEL, messages=turns, max_tokens=8,
                                         extra_body={"transforms": ["middle-out"]})
    [note] = record(router, answer.id)["crossroads"]["notes"]
    assert note.startswith("middle-out removed ") and "32768-token context" in note
    served = record(router, answer.id)["crossroads"]["endpoint"]
    assert served == "charlie"  # the only endpoint whose context the cut was made for
    sent = fresh_sim.requests("charlie")[-1]["body"]["messages"]
    assert sent[0]["content"].startswith("turn 0 ") and sent[-1]["content"].startswith(
        "turn 30 ")
    assert 2 <= len(sent) < len(turns)
