"""The Responses API (`POST /responses`) through OpenAI's own Python SDK (`openai`, pinned in
pyproject's dev extra), unchanged but for `base_url`, against crossroads over loopback.

A Responses request is a chat request in other words: these tests hold each translation to what
the simulated provider received (its request log), and each answer to the simulator's words,
its token counts and the fleet's prices, exactly as the chat tests do (`expect`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import openai
import pydantic
import pytest
from openai.types.responses import Response

from crossroads.sim.render import completion_text
from tests.clients import expect
from tests.clients.conftest import Deployment
from tests.clients.fleet import BY_NAME, BY_SLUG, COMPLETION_TOKENS, MAIN, SCENARIO_CONTEXT
from tests.clients.scripts import tag as make_tag
from tests.support import http_json

WEATHER_TOOL: dict[str, Any] = {
    "type": "function", "name": SCENARIO_CONTEXT["tool_name"],
    "description": "The weather in a city", "strict": True,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False}}
WEATHER_FORMAT: dict[str, Any] = {
    "type": "json_schema", "name": "weather", "strict": True,
    "schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                "celsius": {"type": "number"}},
               "required": ["city", "celsius"], "additionalProperties": False}}


class Weather(pydantic.BaseModel):
    city: str
    celsius: float


@pytest.fixture(scope="module")
def client(deployment: Deployment) -> openai.OpenAI:
    return openai.OpenAI(base_url=deployment.router.api, api_key="test-key", max_retries=0,
                         timeout=30)


@pytest.fixture
def tag() -> str:
    return make_tag("r" + uuid.uuid4().hex[:9], "responses")


def say(tag: str, text: str = "Say something.") -> str:
    return f"[{tag}] {text}"


def observe(response: Response) -> dict[str, Any]:
    """A response in the normalised shape `expect` holds chat answers to."""
    raw = response.model_dump()
    calls = [i for i in raw["output"] if i["type"] == "function_call"]
    incomplete = (raw["incomplete_details"] or {}).get("reason")
    finish = ("length" if incomplete == "max_output_tokens"
              else "tool_calls" if calls else "stop")
    usage = raw["usage"]
    return {
        "id": raw["id"], "model": raw["model"], "provider": raw.get("provider"),
        "content": response.output_text, "finish_reason": finish,
        "tool_calls": [{"id": c["call_id"], "name": c["name"], "arguments": c["arguments"]}
                       for c in calls],
        "usage": None if usage is None else {
            "prompt_tokens": usage["input_tokens"], "completion_tokens": usage["output_tokens"],
            "total_tokens": usage["total_tokens"], "cost": usage["cost"],
            "prompt_cost": usage["cost_details"]["upstream_inference_input_cost"],
            "completion_cost": usage["cost_details"]["upstream_inference_output_cost"]},
    }


def generation(deployment: Deployment, generation_id: str) -> dict[str, Any]:
    status, body, _ = deployment.router.get(f"/generation?id={generation_id}")
    assert status == 200, body
    return dict(body["data"])


def test_create_answers_as_chat_would(client: openai.OpenAI, deployment: Deployment,
                                      tag: str) -> None:
    response = client.responses.create(model=MAIN, input=say(tag))
    assert response.object == "response" and response.status == "completed"
    assert response.incomplete_details is None and response.error is None
    [item] = response.output
    assert item.type == "message" and item.role == "assistant" and item.status == "completed"
    assert [part.type for part in item.content] == ["output_text"]
    served = expect.chat(observe(response), deployment, tag, max_tokens=COMPLETION_TOKENS)
    # The record of the generation is the response's: same id, tokens and cost.
    found = generation(deployment, response.id)
    assert found["provider_name"] == served.name
    usage = response.model_dump()["usage"]
    assert (found["tokens_prompt"], found["tokens_completion"]) == (
        usage["input_tokens"], usage["output_tokens"])
    assert round(found["total_cost"] * expect.MICRO) == round(usage["cost"] * expect.MICRO)
    assert usage["input_tokens_details"]["cached_tokens"] == 0 and usage["is_byok"] is False
    assert usage["output_tokens_details"]["reasoning_tokens"] == 0


def test_request_fields_reach_the_provider_translated(client: openai.OpenAI,
                                                      deployment: Deployment, tag: str) -> None:
    raw = client.responses.with_raw_response.create(
        model=MAIN, instructions="Answer briefly.", input=say(tag), max_output_tokens=8,
        temperature=0.5, top_p=0.9, metadata={"ticket": "42"}, user="user-7", store=False,
        reasoning={"effort": "low", "summary": "auto"},
        extra_body={"provider": {"order": ["bravo"], "allow_fallbacks": False}})
    response = raw.parse()
    assert raw.headers["x-generation-id"] == response.id
    attempt = deployment.served(tag)
    assert attempt.endpoint == "bravo"  # OpenRouter's routing fields went to the router
    body = attempt.body
    assert body["messages"] == [{"role": "system", "content": "Answer briefly."},
                                {"role": "user", "content": say(tag)}]
    assert body["max_tokens"] == 8 and body["temperature"] == 0.5 and body["top_p"] == 0.9
    # Bravo does not reason: the reasoning request stops at the router (crossroads/reasoning.py
    # sends reasoning_effort only to endpoints that list "reasoning").
    assert not {"reasoning", "reasoning_effort"} & body.keys() and body["user"] == "user-7"
    assert not {"input", "instructions", "max_output_tokens", "metadata", "store",
                "provider"} & body.keys()
    # Cut short by max_output_tokens: incomplete, as OpenAI says it.
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    expect.chat(observe(response), deployment, tag, endpoints={"bravo"})
    # The request's settings are echoed back.
    assert response.metadata == {"ticket": "42"} and response.instructions == "Answer briefly."
    assert response.max_output_tokens == 8 and response.temperature == 0.5
    assert response.reasoning is not None and response.reasoning.effort == "low"
    assert response.store is False and response.previous_response_id is None


def test_async_create(deployment: Deployment, tag: str) -> None:
    async def ask() -> Response:
        async with openai.AsyncOpenAI(base_url=deployment.router.api, api_key="test-key",
                                      max_retries=0) as client:
            return await client.responses.create(model=MAIN, input=say(tag),
                                                 max_output_tokens=8)

    expect.chat(observe(asyncio.run(ask())), deployment, tag)


def test_async_stream(deployment: Deployment, tag: str) -> None:
    async def ask() -> tuple[list[str], Response]:
        client = openai.AsyncOpenAI(base_url=deployment.router.api, api_key="test-key",
                                    max_retries=0)
        async with client, client.responses.stream(model=MAIN, input=say(tag)) as stream:
            kinds = [event.type async for event in stream]
            return kinds, await stream.get_final_response()

    kinds, final = asyncio.run(ask())
    assert kinds[-1] == "response.completed"
    expect.chat(observe(final), deployment, tag, max_tokens=COMPLETION_TOKENS)


def test_stream_helper_accumulates_the_answer(client: openai.OpenAI, deployment: Deployment,
                                              tag: str) -> None:
    with client.responses.stream(model=MAIN, input=say(tag)) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    words = COMPLETION_TOKENS
    assert kinds == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", *["response.output_text.delta"] * words,
        "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert deltas[-1].snapshot == completion_text(words)
    assert final.output_text == completion_text(words)
    # Every lifecycle event speaks of one response, whose id is the generation's.
    ids = {e.response.id for e in events if e.type.count(".") == 1}
    assert ids == {final.id} and final.id.startswith("gen-")
    served = expect.chat(observe(final), deployment, tag, max_tokens=words)
    found = generation(deployment, final.id)
    assert found["streamed"] is True and found["provider_name"] == served.name
    assert found["tokens_completion"] == words


def test_raw_stream_events_are_named_and_numbered(client: openai.OpenAI,
                                                  deployment: Deployment, tag: str) -> None:
    events = list(client.responses.create(model=MAIN, input=say(tag), max_output_tokens=8,
                                          stream=True))
    assert events[-1].type == "response.incomplete"  # cut at max_output_tokens
    final = events[-1].response
    assert final.status == "incomplete" and final.output_text == completion_text(8)
    assert final.usage is not None and final.usage.output_tokens == 8
    expect.chat(observe(final), deployment, tag)
    # On the wire: each event's SSE name is its type, and the stream ends with [DONE].
    with client.responses.with_streaming_response.create(
            model=MAIN, input=say(tag + "-wire"), max_output_tokens=2, stream=True) as raw:
        lines = [line for line in raw.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    pairs = list(zip(lines[:-1:2], lines[1:-1:2], strict=True))
    for name, data in pairs:
        assert name.startswith("event: ") and data.startswith("data: ")
        assert json.loads(data[6:])["type"] == name[7:]


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
def test_function_tool_round_trip(client: openai.OpenAI, deployment: Deployment, tag: str,
                                  stream: bool) -> None:
    question = say(tag, "Please call a tool for Paris.")
    if stream:
        with client.responses.stream(model=MAIN, input=question, tools=[WEATHER_TOOL],
                                     tool_choice="auto") as events:
            kinds = [e.type for e in events]
            response = events.get_final_response()
        assert "response.function_call_arguments.delta" in kinds
        assert "response.function_call_arguments.done" in kinds
    else:
        response = client.responses.create(model=MAIN, input=question, tools=[WEATHER_TOOL],
                                           tool_choice="auto")
    attempt = deployment.served(tag)
    # Responses' flat function tool reached the provider in chat's nested shape.
    assert attempt.body["tools"] == [{"type": "function", "function": {
        key: WEATHER_TOOL[key] for key in ("name", "description", "parameters", "strict")}}]
    assert attempt.body["tool_choice"] == "auto"
    [call] = [item for item in response.output if item.type == "function_call"]
    assert call.name == SCENARIO_CONTEXT["tool_name"] and call.status == "completed"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id.startswith("call_")
    expect.tool_call(observe(response), deployment, tag)

    # The second turn hands the call and its result back; they arrive as chat's messages.
    follow_up = make_tag("r" + uuid.uuid4().hex[:9], "responses")
    answer = client.responses.create(model=MAIN, tools=[WEATHER_TOOL], input=[
        {"role": "user", "content": question}, *response.output,
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"celsius": 21}'},
        {"role": "user", "content": say(follow_up, "Thanks, and now?")}])
    messages = deployment.served(follow_up).body["messages"]
    assert messages[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": call.call_id, "type": "function",
         "function": {"name": call.name, "arguments": call.arguments}}]}
    assert messages[2] == {"role": "tool", "tool_call_id": call.call_id,
                           "content": '{"celsius": 21}'}
    assert answer.status == "completed" and answer.output_text


def test_tool_choice_by_name_and_unknown_tools(client: openai.OpenAI, deployment: Deployment,
                                               tag: str) -> None:
    client.responses.create(model=MAIN, input=say(tag), tools=[WEATHER_TOOL],
                            tool_choice={"type": "function", "name": "get_weather"},
                            parallel_tool_calls=False)
    body = deployment.served(tag).body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=MAIN, input=say(tag),
                                tools=[{"type": "web_search_preview"}])
    assert "web_search_preview" in refused.value.message
    assert refused.value.status_code == 400


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
def test_structured_output(client: openai.OpenAI, deployment: Deployment, tag: str,
                           stream: bool) -> None:
    if stream:
        with client.responses.stream(model=MAIN, input=say(tag),
                                     text_format=Weather) as events:
            parsed = events.get_final_response()
    else:
        parsed = client.responses.parse(model=MAIN, input=say(tag), text_format=Weather)
    # The SDK turned the model into text.format; the provider got it as response_format.
    attempt = deployment.served(tag)
    assert attempt.endpoint == "alpha"  # the one endpoint that lists response_format
    fmt = attempt.body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Weather"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["city", "celsius"]
    assert parsed.output_parsed == Weather(city="sim", celsius=1.5)


def test_json_schema_and_json_object_formats(client: openai.OpenAI, deployment: Deployment,
                                             tag: str) -> None:
    response = client.responses.create(model=MAIN, input=say(tag),
                                       text={"format": WEATHER_FORMAT})
    assert json.loads(response.output_text) == {"city": "sim", "celsius": 1.5}
    assert deployment.served(tag).body["response_format"] == {
        "type": "json_schema", "json_schema": {
            key: WEATHER_FORMAT[key] for key in ("name", "schema", "strict")}}
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"
    client.responses.create(model=MAIN, input=say(tag + "-object"),
                            text={"format": {"type": "json_object"}})
    assert deployment.served(tag + "-object").body["response_format"] == {"type": "json_object"}


def test_image_input(client: openai.OpenAI, deployment: Deployment, tag: str) -> None:
    response = client.responses.create(model=MAIN, max_output_tokens=8, input=[
        {"role": "user", "content": [
            {"type": "input_text", "text": say(tag, "What is in this picture?")},
            {"type": "input_image", "image_url": SCENARIO_CONTEXT["image_url"],
             "detail": "low"}]}],
        extra_body={"provider": {"order": ["charlie", "bravo"]}})
    [attempt] = deployment.attempts(tag)
    # Charlie reads no images, so the router never asked it: the image part went to Bravo.
    assert attempt.endpoint == "bravo"
    assert attempt.body["messages"][0]["content"][1] == {
        "type": "image_url", "image_url": {"url": SCENARIO_CONTEXT["image_url"],
                                           "detail": "low"}}
    expect.chat(observe(response), deployment, tag, endpoints={"bravo"})


def ask(client: openai.OpenAI, surface: str, stream: bool, prompt: str) -> str:
    """One request on either surface, streamed or not; the generation id of its answer."""
    model = f"{MAIN}:floor"
    if surface == "chat":
        messages: Any = [{"role": "user", "content": prompt}]
        if not stream:
            return client.chat.completions.create(model=model, messages=messages).id
        chunks = client.chat.completions.create(model=model, messages=messages, stream=True)
        return {chunk.id for chunk in chunks}.pop()
    if not stream:
        return client.responses.create(model=model, input=prompt).id
    with client.responses.stream(model=model, input=prompt) as events:
        return events.get_final_response().id


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
def test_failover_is_the_chat_paths(client: openai.OpenAI, deployment: Deployment,
                                    stream: bool) -> None:
    """One scripted fault, behind a Responses request and behind a chat request: the same
    attempts, the same provider, the same bill."""
    seen = []
    for surface in ("responses", "chat"):
        tag = make_tag("r" + uuid.uuid4().hex[:9], "failover")  # same length: same prompt tokens
        deployment.sim.script("alpha", "http_500")
        found = generation(deployment, ask(client, surface, stream, say(tag)))
        seen.append({
            "attempts": [(a.endpoint, a.outcome) for a in deployment.attempts(tag)],
            "statuses": [(r["provider_name"], r["status"]) for r in found["provider_responses"]],
            "provider": found["provider_name"], "cost": found["total_cost"],
            "tokens": (found["tokens_prompt"], found["tokens_completion"]),
            "streamed": found["streamed"]})
    assert seen[0] == seen[1]
    assert seen[0]["attempts"] == [("alpha", "http_500"), ("bravo", "ok")]
    assert seen[0]["statuses"] == [("Alpha", 500), ("Bravo", 200)]
    assert seen[0]["streamed"] is stream
    bravo = BY_NAME[seen[0]["provider"]]
    assert round(seen[0]["cost"] * expect.MICRO) == bravo.cost_micro_usd(*seen[0]["tokens"])


def test_mid_stream_cut_fails_the_response(client: openai.OpenAI, deployment: Deployment,
                                           tag: str) -> None:
    deployment.sim.script("alpha", "stream_cut")
    events = list(client.responses.create(model=f"{MAIN}:floor", input=say(tag), stream=True))
    [attempt] = deployment.attempts(tag)
    assert (attempt.endpoint, attempt.outcome) == ("alpha", "stream_cut")  # no failover
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "response.output_text.delta" in kinds
    assert kinds[-1] == "response.failed"
    assert "response.completed" not in kinds and "response.output_item.done" not in kinds
    failed = events[-1].response
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "server_error" and "mid-stream" in failed.error.message
    assert failed.model_dump()["error_type"] == "provider_unavailable"
    assert failed.output[0].status == "incomplete"
    sent = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert failed.output_text == sent and 0 < len(sent.split()) < COMPLETION_TOKENS
    # The stream helper has no final response to give.
    deployment.sim.script("alpha", "stream_cut")
    with client.responses.stream(model=f"{MAIN}:floor", input=say(tag + "-helper")) as stream:
        assert list(stream)[-1].type == "response.failed"
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()
    assert BY_SLUG["alpha"].name == generation(deployment, failed.id)["provider_name"]


@pytest.mark.parametrize(("fields", "named"), [
    ({"input": None}, "input"), ({"input": []}, "input"),
    ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "file_search"),
    ({"previous_response_id": "resp_123"}, "previous_response_id"), ({"store": True}, "store"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "item_reference"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
     "file_id"),
    ({"text": {"format": {"type": "xml"}}}, "text.format"),
], ids=["missing-input", "empty-input", "built-in-tool", "previous-response", "store",
        "item-reference", "file-id", "bad-format"])
def test_bad_input_is_a_clear_400(client: openai.OpenAI, deployment: Deployment,
                                  fields: dict[str, Any], named: str) -> None:
    body = {k: v for k, v in {"model": MAIN, "input": "hello", **fields}.items()
            if v is not None}
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(**body)
    assert named in refused.value.message
    assert refused.value.body["metadata"]["error_type"] == "invalid_request"  # type: ignore[index]
    status, raw, _ = http_json("POST", deployment.router.api + "/responses", body,
                               {"authorization": "Bearer test-key"})
    assert status == 400 and named in raw["error"]["message"]


def test_unknown_model_and_no_key_are_the_chat_paths_errors(deployment: Deployment) -> None:
    client = openai.OpenAI(base_url=deployment.router.api, api_key="test-key", max_retries=0)
    for stream in (False, True):  # refused before any byte of a stream: a typed error
        with pytest.raises(openai.BadRequestError):
            client.responses.create(model=SCENARIO_CONTEXT["unknown_model"], input="hello",
                                    stream=stream)
    status, body, _ = http_json("POST", deployment.router.api.replace("/api/v1", "/v1")
                                + "/responses", {"model": MAIN, "input": "hello"})
    assert status == 401 and body["error"]["code"] == 401
