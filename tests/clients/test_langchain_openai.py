"""LangChain's OpenAI chat model (langchain-openai's `ChatOpenAI`, pinned in
tests/clients/langchain/requirements.txt) pointed at crossroads by `base_url`, against the
simulated fleet: what LangChain's own tool and structured-output demos need from a model.

It runs in `.venv-langchain` with the LangChain OpenRouter integration (tests/clients/scripts.py).
"""

from __future__ import annotations

import pytest

from tests.clients import expect
from tests.clients.conftest import Deployment
from tests.clients.fleet import BY_SLUG, MAIN
from tests.clients.scripts import LANGCHAIN_OPENAI, Run

SCENARIOS = ("tools", "tools_stream", "tools_named", "tools_none", "tool_loop",
             "structured_function_calling", "structured_json_schema", "structured_json_mode")
PARIS = {"city": "Paris"}
WEATHER = {"city": "Paris", "celsius": 1.5, "sky": "sunny"}


@pytest.fixture(scope="module")
def run(deployment: Deployment) -> Run:
    return LANGCHAIN_OPENAI.run(deployment, *SCENARIOS)


def called(observed: object, name: str, *, streamed: bool = False) -> None:
    expect.no_error(observed)
    assert isinstance(observed, dict)
    assert observed["finish_reason"] == "tool_calls"
    assert [(c["name"], c["args"]) for c in observed["tool_calls"]] == [(name, PARIS)]
    assert observed["tool_calls"][0]["id"].startswith("call_")
    assert observed["invalid_tool_calls"] == 0
    assert observed["model"] == MAIN
    if not streamed:  # a merged stream carries LangChain's run id, not the answer's
        assert observed["id"].startswith("gen-")


@pytest.mark.parametrize(("scenario", "name"), [
    ("tools", "get_weather"),  # "weather" in the question picks it over get_time
    ("tools_stream", "get_weather"),
    ("tools_named", "get_time"),  # tool_choice names it
])
def test_bind_tools_returns_tool_calls(run: Run, deployment: Deployment, scenario: str,
                                       name: str) -> None:
    called(run[scenario], name, streamed=scenario == "tools_stream")
    attempt = deployment.served(run.tag(scenario))
    assert "tools" in BY_SLUG[attempt.endpoint].parameters
    offered = [t["function"]["name"] for t in attempt.body["tools"]]
    assert name in offered
    if scenario == "tools_stream":
        assert attempt.body["stream"] is True and run[scenario]["chunks"] > 3


def test_tool_choice_none_answers_in_text(run: Run, deployment: Deployment) -> None:
    observed = run["tools_none"]
    expect.no_error(observed)
    assert observed["tool_calls"] == [] and observed["finish_reason"] == "length"
    assert observed["content"] == "the quick brown fox jumps over a lazy "
    assert deployment.served(run.tag("tools_none")).body["tool_choice"] == "none"


def test_the_tool_loop_ends_in_text(run: Run, deployment: Deployment) -> None:
    observed = run["tool_loop"]
    expect.no_error(observed)
    called(observed["asked"], "get_weather")
    answered = observed["answered"]
    assert answered["tool_calls"] == [] and answered["finish_reason"] == "stop"
    assert answered["content"]
    last = deployment.attempts(run.tag("tool_loop"))[-1].body["messages"][-1]
    assert last["role"] == "tool" and last["content"] == "18C and sunny in Paris"


@pytest.mark.parametrize(("method", "sent"), [
    ("function_calling", "tools"),
    ("json_schema", "response_format"),
    ("json_mode", "response_format"),
])
def test_with_structured_output_returns_the_object(run: Run, deployment: Deployment,
                                                   method: str, sent: str) -> None:
    observed = run[f"structured_{method}"]
    expect.no_error(observed)
    assert observed["parsed"] == WEATHER
    body = deployment.served(run.tag(f"structured_{method}")).body
    assert sent in body
    if method == "function_calling":
        assert body["tool_choice"]["function"]["name"] == "Weather"
    else:
        expected = "json_schema" if method == "json_schema" else "json_object"
        assert body["response_format"]["type"] == expected
