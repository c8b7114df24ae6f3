"""The Vercel AI SDK (`ai`) with OpenRouter's provider (@openrouter/ai-sdk-provider), both pinned
in tests/clients/node/package.json, unchanged but for the provider's `baseURL`.

The AI SDK reads answers leniently (it is not generated from OpenRouter's schema), so this module
checks what its users rely on: text, tool calls, `generateObject`, usage with cost, the provider
OpenRouter reports in `providerMetadata`, routing settings reaching the router, and errors as
`APICallError`.
"""

from __future__ import annotations

import pytest

from tests.clients import expect
from tests.clients.conftest import Deployment
from tests.clients.fleet import BACKUP, BY_SLUG, SCENARIO_CONTEXT
from tests.clients.scripts import AI_SDK, Run

PLAIN = ("chat", "stream", "only", "order", "ignore", "sort_price", "floor", "nitro",
         "fallback_models", "tools", "tools_stream", "structured", "image", "err_unknown_model",
         "err_invalid_param", "err_no_endpoint", "err_no_auth")


@pytest.fixture(scope="module")
def run(deployment: Deployment) -> Run:
    return AI_SDK.run(deployment, *PLAIN)


@pytest.mark.parametrize(("scenario", "endpoints"), [
    ("chat", expect.ALL_MAIN),
    ("stream", expect.ALL_MAIN),
    ("only", {"bravo"}),
    ("order", {"charlie"}),
    ("ignore", {"charlie"}),
    ("sort_price", {"alpha"}),
    ("floor", {"alpha"}),
    ("nitro", {"charlie"}),
])
def test_text_and_routing(run: Run, deployment: Deployment, scenario: str,
                          endpoints: set[str]) -> None:
    observed = run[scenario]
    served = expect.chat(observed, deployment, run.tag(scenario), endpoints=endpoints)
    assert observed["provider"] == served.name  # providerMetadata.openrouter.provider
    if scenario in ("stream", "nitro"):
        assert observed["text_deltas"] == 8


def test_models_fallback_list(run: Run, deployment: Deployment) -> None:
    observed = run["fallback_models"]
    expect.chat(observed, deployment, run.tag("fallback_models"), endpoints={"delta"},
                model=BACKUP, max_tokens=SCENARIO_CONTEXT["over_main_max_output"])
    assert observed["provider"] == "Delta"


@pytest.mark.parametrize("scenario", ["tools", "tools_stream"])
def test_tool_call(run: Run, deployment: Deployment, scenario: str) -> None:
    served = expect.tool_call(run[scenario], deployment, run.tag(scenario))
    assert run[scenario]["provider"] == served.name


def test_generate_object(run: Run, deployment: Deployment) -> None:
    # generateObject sends the zod schema as a json_schema response format and validates the
    # answer against it: the simulated endpoint answers with an instance of the schema.
    observed = run["structured"]
    expect.no_error(observed)
    assert observed["object"] == {"city": "Paris", "celsius": 1.5}  # Paris from the prompt
    assert observed["id"].startswith("gen-") and observed["finish_reason"] == "stop"
    attempt = deployment.served(run.tag("structured"))
    assert attempt.endpoint == "alpha"  # require_parameters: the one with response_format
    assert attempt.body["response_format"]["type"] == "json_schema"


def test_image_is_never_sent_to_the_text_only_endpoint(run: Run, deployment: Deployment) -> None:
    expect.chat(run["image"], deployment, run.tag("image"), endpoints={"bravo"})
    [attempt] = deployment.attempts(run.tag("image"))
    parts = attempt.body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_failover_is_invisible(deployment: Deployment) -> None:
    deployment.sim.script("alpha", "http_500")
    run = AI_SDK.run(deployment, "failover")
    tag = run.tag("failover")
    assert [(a.endpoint, a.outcome) for a in deployment.attempts(tag)] == [
        ("alpha", "http_500"), ("bravo", "ok")]
    served = expect.chat(run["failover"], deployment, tag, endpoints={"bravo"})
    assert run["failover"]["provider"] == served.name == BY_SLUG["bravo"].name


@pytest.mark.parametrize(("scenario", "status"), [
    ("err_unknown_model", 400),
    ("err_invalid_param", 400),
    ("err_no_endpoint", 404),
    ("err_no_auth", 401),
])
def test_errors_are_api_call_errors(run: Run, deployment: Deployment, scenario: str,
                                    status: int) -> None:
    expect.error(run[scenario], "APICallError", status)
    assert deployment.attempts(run.tag(scenario)) == []
