"""OpenAI's TypeScript SDK (`openai`, pinned in tests/clients/node/package.json), unchanged but
for `baseURL`, against crossroads' Responses API over loopback.

One run of `node/openai_sdk.mjs` plays the scenarios that need no simulator script; the
mid-stream failure gets a run of its own after scripting the simulator.
"""

from __future__ import annotations

import json

import pytest

from tests.clients import expect
from tests.clients.conftest import Deployment
from tests.clients.fleet import COMPLETION_TOKENS, SCENARIO_CONTEXT
from tests.clients.scripts import NODE_DIR, ClientScript, Run

OPENAI_SDK = ClientScript(("node", "openai_sdk.mjs"), NODE_DIR,
                          NODE_DIR / "node_modules" / "openai")
PLAIN = ("create", "stream", "tools", "tools_stream", "err_previous_response",
         "err_builtin_tool")


@pytest.fixture(scope="module")
def run(deployment: Deployment) -> Run:
    return OPENAI_SDK.run(deployment, *PLAIN)


def test_create(run: Run, deployment: Deployment) -> None:
    observed = run["create"]
    expect.chat(observed, deployment, run.tag("create"))
    assert observed["status"] == "incomplete"  # cut at max_output_tokens=8
    assert observed["output_types"] == ["message"]


def test_stream_helper(run: Run, deployment: Deployment) -> None:
    observed = run["stream"]
    expect.chat(observed, deployment, run.tag("stream"), max_tokens=COMPLETION_TOKENS)
    assert observed["status"] == "completed"
    assert observed["kinds"] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", *["response.output_text.delta"] * COMPLETION_TOKENS,
        "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    assert observed["sequence"] == list(range(len(observed["kinds"])))
    assert observed["text"] == observed["content"]


@pytest.mark.parametrize("scenario", ["tools", "tools_stream"])
def test_function_tool(run: Run, deployment: Deployment, scenario: str) -> None:
    observed = run[scenario]
    expect.tool_call(observed, deployment, run.tag(scenario))
    assert observed["output_types"] == ["function_call"]
    body = deployment.served(run.tag(scenario)).body
    assert body["tools"][0]["function"]["name"] == SCENARIO_CONTEXT["tool_name"]
    assert body["tools"][0]["function"]["strict"] is True
    if scenario == "tools_stream":
        assert "response.function_call_arguments.delta" in observed["kinds"]
        assert observed["kinds"][-1] == "response.completed"
        assert json.loads(observed["tool_calls"][0]["arguments"]) == {"city": "Paris"}


@pytest.mark.parametrize(("scenario", "named"), [
    ("err_previous_response", "previous_response_id"),
    ("err_builtin_tool", "web_search_preview"),
])
def test_unsupported_features_are_bad_requests(run: Run, deployment: Deployment,
                                               scenario: str, named: str) -> None:
    expect.error(run[scenario], "BadRequestError", 400)
    assert named in run[scenario]["error"]["message"]
    assert deployment.attempts(run.tag(scenario)) == []  # refused before any provider


def test_mid_stream_failure_is_response_failed(deployment: Deployment) -> None:
    deployment.sim.script("alpha", "stream_cut")
    run = OPENAI_SDK.run(deployment, "midstream_error")
    observed = run["midstream_error"]
    expect.no_error(observed)
    [attempt] = deployment.attempts(run.tag("midstream_error"))
    assert (attempt.endpoint, attempt.outcome) == ("alpha", "stream_cut")
    assert observed["kinds"][-1] == "response.failed"
    assert "response.completed" not in observed["kinds"]
    assert observed["failed"]["status"] == "failed"
    assert observed["failed"]["error"]["code"] == "server_error"
    assert "mid-stream" in observed["failed"]["error"]["message"]
    assert 0 < len(observed["text"].split()) < COMPLETION_TOKENS
