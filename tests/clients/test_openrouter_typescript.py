"""OpenRouter's TypeScript SDK (@openrouter/sdk, pinned in tests/clients/node/package.json),
unchanged but for `serverURL`, against crossroads over loopback.

The SDK validates every response with zod schemas generated from OpenRouter's OpenAPI spec, so
each call that returns here also proves the body kept OpenRouter's shape. One run of
`node/openrouter_sdk.mjs` plays every scenario that needs no simulator script; the failover and
the mid-stream error get runs of their own, after scripting the simulator.
"""

from __future__ import annotations

import json

import pytest

from tests.clients import expect
from tests.clients.conftest import Deployment
from tests.clients.fleet import BACKUP, BY_SLUG, MAIN
from tests.clients.scripts import OPENROUTER_SDK, Run
from tests.support import Keys

PLAIN = ("chat", "stream", "only", "order", "ignore", "sort_price", "floor", "nitro",
         "fallback_models", "tools", "tools_stream", "response_format", "image", "generation",
         "models_list", "models_page", "model_get", "models_count", "endpoints_list",
         "providers_list", "err_unknown_model", "err_invalid_param", "err_no_endpoint",
         "err_endpoints_unknown", "err_generation_unknown", "err_no_auth")


@pytest.fixture(scope="module")
def run(deployment: Deployment) -> Run:
    return OPENROUTER_SDK.run(deployment, *PLAIN)


def test_chat(run: Run, deployment: Deployment) -> None:
    expect.chat(run["chat"], deployment, run.tag("chat"))


def test_stream(run: Run, deployment: Deployment) -> None:
    expect.chat(run["stream"], deployment, run.tag("stream"), streamed=True)


@pytest.mark.parametrize(("scenario", "endpoint"), [
    ("only", "bravo"),  # provider.only
    ("order", "charlie"),  # provider.order with allow_fallbacks: false
    ("ignore", "charlie"),  # provider.ignore of the other two
    ("sort_price", "alpha"),  # provider.sort = price: the cheapest
    ("floor", "alpha"),  # :floor, the same by variant
    ("nitro", "charlie"),  # :nitro: by far the fastest, streamed
])
def test_routing_preferences(run: Run, deployment: Deployment, scenario: str,
                             endpoint: str) -> None:
    served = expect.chat(run[scenario], deployment, run.tag(scenario), endpoints={endpoint},
                         streamed=scenario == "nitro")
    assert served is BY_SLUG[endpoint]


def test_models_fallback_list(run: Run, deployment: Deployment) -> None:
    # max_tokens above acme/main's max output: only acme/backup can take it.
    observed = run["fallback_models"]
    served = expect.chat(observed, deployment, run.tag("fallback_models"), endpoints={"delta"},
                         model=BACKUP, max_tokens=1524)
    assert served.model == BACKUP and observed["model"] == BACKUP


@pytest.mark.parametrize("scenario", ["tools", "tools_stream"])
def test_tool_call(run: Run, deployment: Deployment, scenario: str) -> None:
    expect.tool_call(run[scenario], deployment, run.tag(scenario),
                     streamed=scenario == "tools_stream")


def test_response_format_with_require_parameters(run: Run, deployment: Deployment) -> None:
    attempt = deployment.served(run.tag("response_format"))
    assert attempt.endpoint == "alpha"  # the only endpoint that lists response_format
    assert attempt.body["response_format"]["type"] == "json_schema"
    assert attempt.body["response_format"]["json_schema"]["name"] == "weather"
    assert "provider" not in attempt.body  # router-only fields never reach a provider
    observed = run["response_format"]
    expect.no_error(observed)
    assert json.loads(observed["content"]) == {"city": "sim", "celsius": 1.5}
    assert observed["finish_reason"] == "stop"
    expect.usage(observed, BY_SLUG["alpha"], attempt, None)


def test_image_is_never_sent_to_the_text_only_endpoint(run: Run, deployment: Deployment) -> None:
    # Charlie is asked for first, but cannot read images: Bravo, next in the order, serves.
    served = expect.chat(run["image"], deployment, run.tag("image"), endpoints={"bravo"})
    attempt = deployment.served(run.tag("image"))
    assert [a.endpoint for a in deployment.attempts(run.tag("image"))] == ["bravo"]
    assert attempt.body["messages"][0]["content"][1]["type"] == "image_url"
    assert served.images


def test_generation_lookup_agrees_with_the_answer(run: Run, deployment: Deployment) -> None:
    observed = run["generation"]
    expect.no_error(observed)
    served = expect.chat(observed["chat"], deployment, run.tag("generation"))
    expect.generation(observed["generation"], observed["chat"], served)
    assert observed["generation"]["streamed"] is False


def test_failover_is_invisible(deployment: Deployment) -> None:
    deployment.sim.script("alpha", "http_500")
    run = OPENROUTER_SDK.run(deployment, "failover")
    tag = run.tag("failover")
    assert [(a.endpoint, a.outcome) for a in deployment.attempts(tag)] == [
        ("alpha", "http_500"), ("bravo", "ok")]
    observed = run["failover"]
    expect.no_error(observed)
    served = expect.chat(observed["chat"], deployment, tag, endpoints={"bravo"})
    # The SDK's own look-up shows both attempts; only the one that answered is billed.
    expect.generation(observed["generation"], observed["chat"], served, statuses=[500, 200])


def test_mid_stream_failure_ends_with_an_error_chunk(deployment: Deployment) -> None:
    deployment.sim.script("alpha", "stream_cut")
    run = OPENROUTER_SDK.run(deployment, "midstream_error")
    observed = run["midstream_error"]
    expect.no_error(observed)
    [attempt] = deployment.attempts(run.tag("midstream_error"))
    assert (attempt.endpoint, attempt.outcome) == ("alpha", "stream_cut")
    assert observed["finish_reason"] == "error"
    assert observed["stream_error"]["code"] == 502
    assert "mid-stream" in observed["stream_error"]["message"]
    assert observed["content"] and len(observed["content"].split()) < 12


def test_models_list_and_pages(run: Run) -> None:
    ids = expect.models(run["models_list"])
    assert {MAIN, BACKUP} <= set(ids)
    pages = run["models_page"]["pages"]
    # limit=1: one model per page, the SDK's iterator walks them all in order, then stops.
    assert [p for p in pages if p] == [[model_id] for model_id in ids]
    assert run["models_count"] == {"count": len(ids)}


def test_model_get(run: Run) -> None:
    expect.no_error(run["model_get"])
    expect.model_entry(run["model_get"], MAIN)


def test_endpoints_and_providers(run: Run) -> None:
    expect.endpoints(run["endpoints_list"])
    expect.providers(run["providers_list"])


@pytest.mark.parametrize(("scenario", "cls", "status"), [
    ("err_unknown_model", "BadRequestResponseError", 400),
    ("err_invalid_param", "BadRequestResponseError", 400),
    ("err_no_endpoint", "NotFoundResponseError", 404),
    ("err_endpoints_unknown", "NotFoundResponseError", 404),
    ("err_generation_unknown", "NotFoundResponseError", 404),
    ("err_no_auth", "UnauthorizedResponseError", 401),
])
def test_errors_are_typed(run: Run, deployment: Deployment, scenario: str, cls: str,
                          status: int) -> None:
    expect.error(run[scenario], cls, status)
    assert deployment.attempts(run.tag(scenario)) == []  # refused before any provider saw it


def test_account_routes(deployment: Deployment) -> None:
    """Keys made, used, read, listed, disabled and deleted through the SDK's own calls."""
    admin, _ = Keys(deployment.router).create("--management", "--name", "ts-admin")
    run = OPENROUTER_SDK.run(deployment, "keys_flow", context={"admin_key": admin})
    seen = run["keys_flow"]
    assert "error" not in seen, seen
    created = seen["created"]
    assert seen["key_prefix"] == "sk-cr-v1-" and created["limit"] == 1
    assert created["limit_reset"] == "daily" and created["label"].startswith("sk-cr-v1-")
    cost = seen["answer_cost"]
    assert cost > 0
    current = seen["current"]
    assert current["usage"] == current["usage_daily"] == cost
    assert current["limit"] == 1 and abs(current["limit_remaining"] - (1 - cost)) < 1e-9
    assert current["is_management_key"] is False
    assert seen["credits"] == {"total_credits": 1.0, "total_usage": cost}
    assert created["hash"] in seen["listed"] and seen["got"]["usage"] == cost
    [row] = seen["activity"]  # the one answer, still in today's row
    assert (row["model"], row["requests"], row["usage"]) == (MAIN, 1, cost)
    assert seen["user_list"]["status"] == 403
    assert seen["disabled"] is True
    assert seen["refused"]["status"] == 401
    assert seen["refused"]["class"] == "UnauthorizedResponseError"
    assert seen["deleted"] is True
    # The generation is the new key's.
    status, record, _ = deployment.router.get(f"/generation?id={seen['answer_id']}", admin)
    assert status == 200 and record["data"]["crossroads"]["key_hash"] == created["hash"]
