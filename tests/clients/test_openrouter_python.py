"""OpenRouter's Python SDK (`openrouter`, pinned in pyproject's dev extra), unchanged but for
`server_url`, against crossroads over loopback.

The SDK parses every response into pydantic models generated from OpenRouter's OpenAPI spec and
raises a typed error per status; each test normalises what it returned (`observe_*`) and holds it
to the simulator's record with `expect`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import openrouter
import pytest
from openrouter import OpenRouter, components, errors
from openrouter.utils import BackoffStrategy, RetryConfig

from tests.clients import expect
from tests.clients.conftest import Deployment
from tests.clients.fleet import BACKUP, BY_SLUG, MAIN, SCENARIO_CONTEXT
from tests.clients.scripts import tag as make_tag
from tests.support import Keys

WEATHER_TOOL: dict[str, Any] = {"type": "function", "function": {
    "name": SCENARIO_CONTEXT["tool_name"], "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
WEATHER_FORMAT: dict[str, Any] = {"type": "json_schema", "json_schema": {
    "name": "weather", "strict": True, "schema": {
        "type": "object", "properties": {"city": {"type": "string"}},
        "required": ["city"], "additionalProperties": False}}}


# No retries: a 5xx the test did not plan fails it at once instead of after a long backoff.
NO_RETRIES = RetryConfig("none", BackoffStrategy(0, 0, 0, 0), False)


@pytest.fixture(scope="module")
def sdk(deployment: Deployment) -> Iterator[OpenRouter]:
    with OpenRouter(api_key="test-key", server_url=deployment.router.api,
                    retry_config=NO_RETRIES) as client:
        yield client


@pytest.fixture
def tag() -> str:
    return make_tag("r" + uuid.uuid4().hex[:9], "python")


def say(tag: str, text: str = "Say something.") -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"[{tag}] {text}"}]


def observe_usage(usage: components.ChatUsage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    details = usage.cost_details
    assert details is not None
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens, "cost": usage.cost,
            "prompt_cost": details.upstream_inference_prompt_cost,
            "completion_cost": details.upstream_inference_completions_cost}


def observe_chat(result: components.ChatResult) -> dict[str, Any]:
    choice = result.choices[0]
    content = choice.message.content
    return {"id": result.id, "model": result.model,
            "content": content if isinstance(content, str) else None,
            "finish_reason": choice.finish_reason,
            "tool_calls": [{"id": c.id, "name": c.function.name,
                            "arguments": c.function.arguments}
                           for c in choice.message.tool_calls or ()],
            "usage": observe_usage(result.usage)}


def observe_stream(chunks: Iterable[components.ChatStreamChunk]) -> dict[str, Any]:
    ids: list[str] = []
    finishes: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    content = ""
    usage = None
    model = None
    error = None
    count = 0
    last: dict[str, Any] = {}
    for chunk in chunks:
        count += 1
        last = {"usage": chunk.usage is not None, "choices": len(chunk.choices)}
        if chunk.id not in ids:
            ids.append(chunk.id)
        model = chunk.model
        if chunk.usage is not None:
            usage = observe_usage(chunk.usage)
        if chunk.error is not None:
            error = {"code": chunk.error.code, "message": chunk.error.message}
        for choice in chunk.choices:
            content += choice.delta.content or ""
            if choice.finish_reason:
                finishes.append(str(choice.finish_reason))
            for part in choice.delta.tool_calls or ():
                call = calls.setdefault(part.index, {"id": None, "name": "", "arguments": ""})
                call["id"] = part.id or call["id"]
                if part.function is not None:
                    call["name"] += part.function.name or ""
                    call["arguments"] += part.function.arguments or ""
    return {"id": ids[0], "ids": ids, "model": model, "chunks": count, "last_chunk": last,
            "content": content,
            "finish_reasons": finishes, "finish_reason": finishes[-1] if finishes else None,
            "tool_calls": list(calls.values()), "usage": usage, "stream_error": error}


def test_chat(sdk: OpenRouter, deployment: Deployment, tag: str) -> None:
    result = sdk.chat.send(model=MAIN, messages=say(tag), max_tokens=8)
    assert isinstance(result, components.ChatResult)
    expect.chat(observe_chat(result), deployment, tag)


def test_stream(sdk: OpenRouter, deployment: Deployment, tag: str) -> None:
    events = sdk.chat.send(model=MAIN, messages=say(tag), max_tokens=8, stream=True)
    expect.chat(observe_stream(events), deployment, tag, streamed=True)


def test_async_chat_and_stream(deployment: Deployment, tag: str) -> None:
    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        async with OpenRouter(api_key="test-key", server_url=deployment.router.api,
                              retry_config=NO_RETRIES) as client:
            result = await client.chat.send_async(model=MAIN, messages=say(tag + "a"),
                                                  max_tokens=8)
            events = await client.chat.send_async(model=MAIN, messages=say(tag + "b"),
                                                  max_tokens=8, stream=True)
            return observe_chat(result), observe_stream([chunk async for chunk in events])

    answer, streamed = asyncio.run(both())
    expect.chat(answer, deployment, tag + "a")
    expect.chat(streamed, deployment, tag + "b", streamed=True)


@pytest.mark.parametrize(("model", "provider", "endpoint"), [
    (MAIN, {"only": ["bravo"]}, "bravo"),
    (MAIN, {"order": ["charlie"], "allow_fallbacks": False}, "charlie"),
    (MAIN, {"ignore": ["alpha", "bravo"]}, "charlie"),
    (MAIN, {"sort": "price"}, "alpha"),
    (f"{MAIN}:floor", None, "alpha"),
    (f"{MAIN}:nitro", None, "charlie"),
], ids=["only", "order", "ignore", "sort-price", "floor", "nitro"])
def test_routing_preferences(sdk: OpenRouter, deployment: Deployment, tag: str, model: str,
                             provider: dict[str, Any] | None, endpoint: str) -> None:
    result = sdk.chat.send(model=model, messages=say(tag), max_tokens=8, provider=provider)
    assert isinstance(result, components.ChatResult)
    served = expect.chat(observe_chat(result), deployment, tag, endpoints={endpoint})
    assert served is BY_SLUG[endpoint]


def test_models_fallback_list(sdk: OpenRouter, deployment: Deployment, tag: str) -> None:
    result = sdk.chat.send(model=MAIN, models=[BACKUP], messages=say(tag),
                           max_tokens=SCENARIO_CONTEXT["over_main_max_output"])
    assert isinstance(result, components.ChatResult)
    expect.chat(observe_chat(result), deployment, tag, endpoints={"delta"}, model=BACKUP,
                max_tokens=SCENARIO_CONTEXT["over_main_max_output"])


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
def test_tool_call(sdk: OpenRouter, deployment: Deployment, tag: str, stream: bool) -> None:
    messages = say(tag, "Please call a tool for Paris.")
    if stream:
        events = sdk.chat.send(model=MAIN, messages=messages, tools=[WEATHER_TOOL],
                               max_tokens=40, stream=True)
        observed = observe_stream(events)
    else:
        result = sdk.chat.send(model=MAIN, messages=messages, tools=[WEATHER_TOOL],
                               max_tokens=40)
        assert isinstance(result, components.ChatResult)
        observed = observe_chat(result)
    expect.tool_call(observed, deployment, tag, streamed=stream)


def test_response_format_with_require_parameters(sdk: OpenRouter, deployment: Deployment,
                                                 tag: str) -> None:
    result = sdk.chat.send(model=MAIN, messages=say(tag), max_tokens=40,
                           response_format=WEATHER_FORMAT, provider={"require_parameters": True})
    attempt = deployment.served(tag)
    assert attempt.endpoint == "alpha"  # the only endpoint that lists response_format
    assert attempt.body["response_format"] == WEATHER_FORMAT
    assert isinstance(result, components.ChatResult)
    observed = observe_chat(result)
    assert json.loads(observed["content"]) == {"city": "sim"}  # an instance of the schema
    assert observed["finish_reason"] == "stop"
    expect.usage(observed, BY_SLUG["alpha"], attempt, None)


def test_image_is_never_sent_to_the_text_only_endpoint(sdk: OpenRouter, deployment: Deployment,
                                                       tag: str) -> None:
    messages = [{"role": "user", "content": [
        {"type": "text", "text": f"[{tag}] What is in this picture?"},
        {"type": "image_url", "image_url": {"url": SCENARIO_CONTEXT["image_url"]}}]}]
    result = sdk.chat.send(model=MAIN, messages=messages, max_tokens=8,
                           provider={"order": ["charlie", "bravo"]})
    assert isinstance(result, components.ChatResult)
    expect.chat(observe_chat(result), deployment, tag, endpoints={"bravo"})
    assert [a.endpoint for a in deployment.attempts(tag)] == ["bravo"]


def test_generation_lookup_agrees_with_the_answer(sdk: OpenRouter, deployment: Deployment,
                                                  tag: str) -> None:
    events = sdk.chat.send(model=MAIN, messages=say(tag), max_tokens=8, stream=True)
    answer = observe_stream(events)
    served = expect.chat(answer, deployment, tag, streamed=True)
    found = sdk.generations.get_generation(id=answer["id"]).data
    expect.generation(observe_generation(found), answer, served)
    assert found.streamed is True


def observe_generation(found: Any) -> dict[str, Any]:
    return {"id": found.id, "model": found.model, "provider_name": found.provider_name,
            "total_cost": found.total_cost, "tokens_prompt": found.tokens_prompt,
            "tokens_completion": found.tokens_completion, "finish_reason": found.finish_reason,
            "provider_responses": [{"status": r.status, "provider_name": r.provider_name}
                                   for r in found.provider_responses or ()]}


def test_failover_is_invisible(sdk: OpenRouter, deployment: Deployment, tag: str) -> None:
    deployment.sim.script("alpha", "http_500")
    result = sdk.chat.send(model=MAIN, messages=say(tag), max_tokens=8,
                           provider={"order": ["alpha", "bravo"]})
    assert [(a.endpoint, a.outcome) for a in deployment.attempts(tag)] == [
        ("alpha", "http_500"), ("bravo", "ok")]
    assert isinstance(result, components.ChatResult)
    answer = observe_chat(result)
    served = expect.chat(answer, deployment, tag, endpoints={"bravo"})
    found = sdk.generations.get_generation(id=answer["id"]).data
    expect.generation(observe_generation(found), answer, served, statuses=[500, 200])


def test_mid_stream_failure_ends_with_an_error_chunk(sdk: OpenRouter, deployment: Deployment,
                                                     tag: str) -> None:
    deployment.sim.script("alpha", "stream_cut")
    events = sdk.chat.send(model=MAIN, messages=say(tag), max_tokens=12, stream=True,
                           provider={"order": ["alpha"], "allow_fallbacks": False})
    observed = observe_stream(events)
    assert [(a.endpoint, a.outcome) for a in deployment.attempts(tag)] == [
        ("alpha", "stream_cut")]
    assert observed["finish_reason"] == "error"
    assert observed["stream_error"]["code"] == 502
    assert 0 < len(observed["content"].split()) < 12


def observe_model(model: components.Model) -> dict[str, Any]:
    return {"id": model.id, "name": model.name, "context_length": model.context_length,
            "pricing": {"prompt": model.pricing.prompt, "completion": model.pricing.completion},
            "input_modalities": [str(m) for m in model.architecture.input_modalities],
            "tokenizer": model.architecture.tokenizer,
            "max_completion_tokens": model.top_provider.max_completion_tokens,
            "supported_parameters": [str(p) for p in model.supported_parameters]}


def test_models_list_pages_get_and_count(sdk: OpenRouter, deployment: Deployment) -> None:
    listed = sdk.models.list()
    assert listed is not None
    ids = expect.models({"models": [observe_model(m) for m in listed.result.data],
                         "total_count": listed.result.total_count})
    pages: list[list[str]] = []
    page = sdk.models.list(offset=0, limit=1)
    while page is not None and page.result.data:
        pages.append([m.id for m in page.result.data])
        page = page.next()
    assert pages == [[model_id] for model_id in ids]
    expect.model_entry(observe_model(sdk.models.get(author="acme", slug="main").data), MAIN)
    assert sdk.models.count().data.count == len(ids)
    # The unknown tokenizer is left out, never null: OpenRouter's TypeScript SDK rejects null.
    _, body, _ = deployment.router.get("/model/acme/main")
    assert "tokenizer" not in body["data"]["architecture"]
    _, body, _ = deployment.router.get("/models/acme/main/endpoints")
    assert body["data"]["architecture"]["tokenizer"] is None


def test_endpoints_and_providers(sdk: OpenRouter) -> None:
    data = sdk.endpoints.list(author="acme", slug="main").data
    expect.endpoints({"id": data.id, "name": data.name, "endpoints": [
        {"tag": e.tag, "provider_name": str(e.provider_name), "context_length": e.context_length,
         "max_completion_tokens": e.max_completion_tokens,
         "pricing": {"prompt": e.pricing.prompt, "completion": e.pricing.completion},
         "supported_parameters": [str(p) for p in e.supported_parameters],
         "status": e.status, "quantization": e.quantization}
        for e in data.endpoints]})
    expect.providers({"providers": [
        {"slug": p.slug, "name": p.name, "privacy_policy_url": p.privacy_policy_url}
        for p in sdk.providers.list().data]})


def raised(call: Any) -> dict[str, Any]:
    try:
        call()
    except errors.OpenRouterError as error:
        return {"error": {"class": type(error).__name__, "status": error.status_code,
                          "message": error.message, "body": json.loads(error.body)}}
    raise AssertionError("no error raised")


@pytest.mark.parametrize(("request_fields", "cls", "status"), [
    ({"model": "nobody/nothing"}, "BadRequestResponseError", 400),
    ({"temperature": 7}, "BadRequestResponseError", 400),
    ({"provider": {"only": ["nobody"]}}, "NotFoundResponseError", 404),
], ids=["unknown-model", "invalid-parameter", "no-endpoint"])
def test_chat_errors_are_typed(sdk: OpenRouter, deployment: Deployment, tag: str,
                               request_fields: dict[str, Any], cls: str, status: int) -> None:
    observed = raised(lambda: sdk.chat.send(**{"model": MAIN, "messages": say(tag),
                                               **request_fields}))
    expect.error(observed, cls, status)
    assert observed["error"]["body"]["error"]["code"] == status
    assert deployment.attempts(tag) == []


def test_lookup_errors_are_typed(sdk: OpenRouter) -> None:
    expect.error(raised(lambda: sdk.endpoints.list(author="nobody", slug="nothing")),
                 "NotFoundResponseError", 404)
    expect.error(raised(lambda: sdk.models.get(author="nobody", slug="nothing")),
                 "NotFoundResponseError", 404)
    expect.error(raised(lambda: sdk.generations.get_generation(id="gen-0-unknown")),
                 "NotFoundResponseError", 404)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "streamed"])
def test_missing_key_is_401(deployment: Deployment, monkeypatch: pytest.MonkeyPatch, tag: str,
                            stream: bool) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    anonymous = OpenRouter(server_url=deployment.router.api, retry_config=NO_RETRIES)
    observed = raised(lambda: anonymous.chat.send(model=MAIN, messages=say(tag), stream=stream))
    expect.error(observed, "UnauthorizedResponseError", 401)
    assert observed["error"]["body"]["error"]["metadata"]["error_type"] == "authentication"
    assert deployment.attempts(tag) == []


def test_account_routes(deployment: Deployment, tag: str) -> None:
    """Keys made, used, read, listed, disabled and deleted through the SDK's own calls."""
    admin_key, _ = Keys(deployment.router).create("--management", "--name", "py-admin")
    base = deployment.router.api
    with OpenRouter(api_key=admin_key, server_url=base, retry_config=NO_RETRIES) as admin:
        expires = datetime.now(UTC) + timedelta(days=30)
        created = admin.api_keys.create(name=tag, limit=2.5, limit_reset="weekly",
                                        expires_at=expires)
        assert created.key.startswith("sk-cr-v1-") and created.data.name == tag
        assert created.data.limit == 2.5 and created.data.limit_reset == "weekly"
        assert created.data.expires_at is not None and created.key not in created.data.label
        key_hash = created.data.hash
        with OpenRouter(api_key=created.key, server_url=base,
                        retry_config=NO_RETRIES) as user:
            answer = user.chat.send(model=MAIN, messages=say(tag), max_tokens=8)
            assert answer.usage is not None and answer.usage.cost
            cost = answer.usage.cost
            current = user.api_keys.get_current_key_metadata().data
            assert (current.usage, current.usage_weekly, current.limit) == (cost, cost, 2.5)
            assert current.limit_remaining == pytest.approx(2.5 - cost, abs=1e-9)
            assert current.is_management_key is False and current.label == created.data.label
            credits = user.credits.get_credits().data
            assert (credits.total_credits, credits.total_usage) == (2.5, cost)
            [row] = user.analytics.get_user_activity().data
            assert (row.model, row.requests, row.usage) == (MAIN, 1, cost)
            # 403, as the accounts issue asks; OpenRouter's schema declares no 403 on GET /keys,
            # so the SDK raises its catch-all error class, with the status.
            expect.error(raised(user.api_keys.list), "OpenRouterDefaultError", 403)
            expect.error(raised(lambda: user.api_keys.create(name="nope")),
                         "ForbiddenResponseError", 403)
            record = user.generations.get_generation(id=answer.id).data
            assert record.total_cost == cost

            assert key_hash in [k.hash for k in admin.api_keys.list().data]
            assert admin.api_keys.get(hash=key_hash).data.usage == cost
            changed = admin.api_keys.update(hash=key_hash, disabled=True, name=f"{tag}-off")
            assert changed.data.disabled is True and changed.data.name == f"{tag}-off"
            expect.error(raised(lambda: user.chat.send(model=MAIN, messages=say(tag))),
                         "UnauthorizedResponseError", 401)
            assert admin.api_keys.delete(hash=key_hash).DELETED is True
            expect.error(raised(lambda: admin.api_keys.get(hash=key_hash)),
                         "NotFoundResponseError", 404)


def test_sdk_version_is_the_pinned_one() -> None:
    assert openrouter.VERSION == "1.3.84"
