"""LangChain's OpenRouter chat model (langchain-openrouter, pinned with everything it resolves to
in tests/clients/langchain/requirements.txt), unchanged but for `base_url`, against crossroads.

It runs in `.venv-langchain`: it pins openrouter 0.11.46, older than the dev extra's, and parses
every answer with that SDK's models, so this module also holds crossroads to the older schema.
"""

from __future__ import annotations

import json

import pytest

from tests.clients import expect
from tests.clients.conftest import Deployment
from tests.clients.fleet import BACKUP, BY_SLUG, MAIN, SCENARIO_CONTEXT
from tests.clients.scripts import LANGCHAIN, Run
from tests.support import Keys

PLAIN = ("chat", "stream", "async", "batch", "only", "order", "ignore", "sort_price", "floor",
         "nitro", "fallback_models", "tools", "tools_stream", "structured", "structured_json",
         "response_format", "image", "generation", "models_list", "models_page", "model_get",
         "models_count", "endpoints_list", "providers_list", "err_unknown_model",
         "err_invalid_param", "err_no_endpoint", "err_endpoints_unknown",
         "err_generation_unknown", "err_no_auth")


@pytest.fixture(scope="module")
def run(deployment: Deployment) -> Run:
    return LANGCHAIN.run(deployment, *PLAIN)


def streamed(observed: dict[str, object], words: int = 8) -> None:
    """What LangChain shows of a stream: one chunk per token, one generation id."""
    assert observed["text_chunks"] == words
    assert observed["ids"] == [observed["id"]]


def test_invoke(run: Run, deployment: Deployment) -> None:
    expect.chat(run["chat"], deployment, run.tag("chat"))


def test_stream(run: Run, deployment: Deployment) -> None:
    expect.chat(run["stream"], deployment, run.tag("stream"))
    streamed(run["stream"])


def test_async_invoke_and_stream(run: Run, deployment: Deployment) -> None:
    observed = run["async"]
    expect.no_error(observed)
    expect.chat(observed["chat"], deployment, run.tag("async_chat"))
    expect.chat(observed["stream"], deployment, run.tag("async_stream"))
    streamed(observed["stream"])


def test_batch(run: Run, deployment: Deployment) -> None:
    answers = run["batch"]
    assert isinstance(answers, list) and len(answers) == 2
    for i, answer in enumerate(answers):
        expect.chat(answer, deployment, run.tag(f"batch_{i}"))
    assert answers[0]["id"] != answers[1]["id"]


@pytest.mark.parametrize(("scenario", "endpoint"), [
    ("only", "bravo"),
    ("order", "charlie"),
    ("ignore", "charlie"),
    ("sort_price", "alpha"),
    ("floor", "alpha"),
    ("nitro", "charlie"),
])
def test_routing_preferences(run: Run, deployment: Deployment, scenario: str,
                             endpoint: str) -> None:
    expect.chat(run[scenario], deployment, run.tag(scenario), endpoints={endpoint})
    if scenario == "nitro":
        streamed(run[scenario])


def test_models_fallback_list(run: Run, deployment: Deployment) -> None:
    observed = run["fallback_models"]
    expect.chat(observed, deployment, run.tag("fallback_models"), endpoints={"delta"},
                model=BACKUP, max_tokens=SCENARIO_CONTEXT["over_main_max_output"])


@pytest.mark.parametrize("scenario", ["tools", "tools_stream"])
def test_bind_tools(run: Run, deployment: Deployment, scenario: str) -> None:
    expect.tool_call(run[scenario], deployment, run.tag(scenario))


def test_structured_output_by_function_calling(run: Run, deployment: Deployment) -> None:
    assert run["structured"] == {"parsed": {"city": "Paris"}}
    attempt = deployment.served(run.tag("structured"))
    assert attempt.body["tools"][0]["function"]["name"] == "Weather"
    assert "tools" in BY_SLUG[attempt.endpoint].parameters


def test_structured_output_by_json_schema(run: Run, deployment: Deployment) -> None:
    assert run["structured_json"] == {"parsed": {"city": "Paris"}}
    attempt = deployment.served(run.tag("structured_json"))
    assert attempt.endpoint == "alpha"  # require_parameters: the one with response_format
    assert attempt.body["response_format"]["type"] == "json_schema"
    assert attempt.body["response_format"]["json_schema"]["schema"]["required"] == ["city"]


def test_response_format_with_require_parameters(run: Run, deployment: Deployment) -> None:
    attempt = deployment.served(run.tag("response_format"))
    assert attempt.endpoint == "alpha"
    assert attempt.body["response_format"]["json_schema"]["name"] == "weather"
    observed = run["response_format"]
    expect.no_error(observed)
    assert json.loads(observed["content"]) == {"city": "sim"}
    expect.usage(observed, BY_SLUG["alpha"], attempt, None)


def test_image_is_never_sent_to_the_text_only_endpoint(run: Run, deployment: Deployment) -> None:
    expect.chat(run["image"], deployment, run.tag("image"), endpoints={"bravo"})
    [attempt] = deployment.attempts(run.tag("image"))
    assert attempt.body["messages"][0]["content"][1]["type"] == "image_url"


def test_generation_lookup_agrees_with_the_answer(run: Run, deployment: Deployment) -> None:
    observed = run["generation"]
    expect.no_error(observed)
    served = expect.chat(observed["chat"], deployment, run.tag("generation"))
    expect.generation(observed["generation"], observed["chat"], served)


def test_failover_is_invisible(deployment: Deployment) -> None:
    deployment.sim.script("alpha", "http_500")
    run = LANGCHAIN.run(deployment, "failover")
    tag = run.tag("failover")
    assert [(a.endpoint, a.outcome) for a in deployment.attempts(tag)] == [
        ("alpha", "http_500"), ("bravo", "ok")]
    observed = run["failover"]
    expect.no_error(observed)
    served = expect.chat(observed["chat"], deployment, tag, endpoints={"bravo"})
    expect.generation(observed["generation"], observed["chat"], served, statuses=[500, 200])


def test_mid_stream_failure_ends_with_finish_reason_error(deployment: Deployment) -> None:
    deployment.sim.script("alpha", "stream_cut")
    run = LANGCHAIN.run(deployment, "midstream_error")
    observed = run["midstream_error"]
    expect.no_error(observed)
    [attempt] = deployment.attempts(run.tag("midstream_error"))
    assert (attempt.endpoint, attempt.outcome) == ("alpha", "stream_cut")
    assert observed["finish_reason"] == "error"
    assert 0 < len(observed["content"].split()) < 12


def test_catalog_through_the_sdk_langchain_carries(run: Run) -> None:
    ids = expect.models(run["models_list"])
    assert [p for p in run["models_page"]["pages"] if p] == [[i] for i in ids]
    expect.no_error(run["model_get"])
    expect.model_entry(run["model_get"], MAIN)
    assert run["models_count"] == {"count": len(ids)}
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
    assert deployment.attempts(run.tag(scenario)) == []


def test_account_calls_of_the_sdk_langchain_carries(deployment: Deployment) -> None:
    admin, _ = Keys(deployment.router).create("--management", "--name", "lc-admin")
    seen = LANGCHAIN.run(deployment, "keys_flow", context={"admin_key": admin})["keys_flow"]
    assert "error" not in seen, seen
    assert seen["key_prefix"] == "sk-cr-v1-" and seen["hash"] in seen["listed"]
    cost = seen["answer"]["usage"]["cost"]
    assert cost > 0
    assert seen["current"]["usage"] == cost and seen["current"]["limit"] == 1
    assert seen["current"]["is_management_key"] is False
    assert seen["credits"] == {"total_credits": 1.0, "total_usage": cost}
    assert seen["disabled"] is True and seen["refused"]["status"] == 401
