"""Faults behind the Messages API: it fails over, bills and breaks exactly like chat.

The same scripted fault is put behind a Messages request and behind a chat request, each on a
fresh router (so neither inherits the other's breaker state), and the two generation records
must list the same attempts and the same cost. A stream cut after the first token must reach
the Anthropic SDK as an error, never as a finished message."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from tests.integration.conftest import MODEL
from tests.integration.messages_support import ANSWER, ANSWER_TOKENS, generation, sdk
from tests.support import Router, Sim

FLOOR = f"{MODEL}:floor"
QUESTION = "tell me something"


def _attempts(record: dict[str, Any]) -> list[tuple[str, int, bool]]:
    return [(a["provider_name"], a["status"], a["crossroads"]["served"])
            for a in record["provider_responses"]]


def _messages_generation(router: Router, stream: bool) -> dict[str, Any]:
    kw: dict[str, Any] = {"model": FLOOR, "max_tokens": 64,
                          "messages": [{"role": "user", "content": QUESTION}]}
    if stream:
        with sdk(router).messages.stream(**kw) as events:
            text = "".join(events.text_stream)
            message = events.get_final_message()
    else:
        message = sdk(router).messages.create(**kw)
        text = message.content[0].text  # type: ignore[union-attr]
    assert text == ANSWER and message.usage.output_tokens == ANSWER_TOKENS
    return generation(router, message.id.removeprefix("msg_"))


def _chat_generation(router: Router, stream: bool) -> dict[str, Any]:
    client = openai.OpenAI(base_url=router.api, api_key="k", max_retries=0, timeout=30)
    kw: dict[str, Any] = {"model": FLOOR, "max_tokens": 64,
                          "messages": [{"role": "user", "content": QUESTION}]}
    if stream:
        chunks = list(client.chat.completions.create(stream=True, **kw))
        generation_id = chunks[-1].id
    else:
        generation_id = client.chat.completions.create(**kw).id
    return generation(router, generation_id)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("fault", ["http_500", "http_429", "reset", "empty_200"])
def test_failover_matches_chat(make_router: Callable[..., Router], sim: Sim, fault: str,
                               stream: bool):
    records = []
    for ask in (_messages_generation, _chat_generation):
        sim.script("alpha", fault)
        records.append(ask(make_router(), stream))
    messages, chat = records
    assert _attempts(messages) == _attempts(chat)
    assert _attempts(messages)[-1] == ("Bravo", 200, True)
    assert messages["total_cost"] == chat["total_cost"] > 0
    assert (messages["native_tokens_prompt"], messages["native_tokens_completion"]) == (
        chat["native_tokens_prompt"], chat["native_tokens_completion"])
    assert [r["outcome"] for r in sim.requests("alpha")] == [fault, fault]


def test_when_every_provider_fails_the_status_is_chats(make_router: Callable[..., Router],
                                                      sim: Sim):
    def fail_all() -> None:
        for name in ("alpha", "bravo", "charlie"):
            sim.script(name, "http_503")

    fail_all()
    with pytest.raises(anthropic.APIStatusError) as info:
        sdk(make_router()).messages.create(
            model=FLOOR, max_tokens=16, messages=[{"role": "user", "content": QUESTION}])
    fail_all()
    with pytest.raises(openai.APIStatusError) as chat:
        chat_client = openai.OpenAI(base_url=make_router().api, api_key="k", max_retries=0)
        chat_client.chat.completions.create(model=FLOOR, max_tokens=16,
                                            messages=[{"role": "user", "content": QUESTION}])
    assert info.value.status_code == chat.value.status_code == 502
    body = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == "api_error"  # type: ignore[index]
    assert body["error"]["error_type"] == "provider_unavailable"  # type: ignore[index]
    assert body["error"]["message"] == chat.value.body["message"]  # type: ignore[index]


def _raw_events(router: Router) -> list[tuple[str, dict[str, Any]]]:
    host, port = router.root.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", "/v1/messages", json.dumps({
            "model": FLOOR, "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": QUESTION}]}),
            {"x-api-key": "k", "content-type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200
        raw = response.read().decode()
    finally:
        conn.close()
    events = []
    for block in raw.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines()
                     if not line.startswith(":"))
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.mark.parametrize("fault", ["stream_cut", "stream_stall", "malformed_sse"])
def test_mid_stream_fault_is_an_error_event_never_a_message_stop(router: Router, sim: Sim,
                                                                 fault: str):
    sim.script("alpha", fault)
    events = _raw_events(router)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and "content_block_delta" in names
    assert names[-1] == "error" and "message_stop" not in names and "message_delta" not in names
    error = events[-1][1]["error"]
    assert error["type"] == "api_error" and error["error_type"] == "provider_unavailable"
    assert "mid-stream" in error["message"]
    assert sim.hits("bravo") == 0  # committed to alpha at its first token
    record = generation(router, events[0][1]["message"]["id"].removeprefix("msg_"))
    assert record["finish_reason"] == "error" and record["total_cost"] == 0

    # The SDK raises on the error event instead of handing back a truncated message.
    sim.script("bravo", fault)  # alpha cools down now, so bravo serves the next one
    with pytest.raises(anthropic.APIStatusError) as info, sdk(router).messages.stream(
            model=FLOOR, max_tokens=64,
            messages=[{"role": "user", "content": QUESTION}]) as stream:
        for _ in stream.text_stream:
            pass
    assert info.value.body["error"]["type"] == "api_error"  # type: ignore[index]
