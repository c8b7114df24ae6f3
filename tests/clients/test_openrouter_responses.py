"""The Responses API through OpenRouter's own Python SDK (`openrouter`, pinned in pyproject's dev
extra): its models are generated from OpenRouter's OpenAPI spec and validate every response and
stream event, so a call that returns proves crossroads kept OpenRouter's Responses shape —
`cost`, `cost_details` and `is_byok` in `usage` included.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from openrouter import OpenRouter, components
from openrouter.utils import BackoffStrategy, RetryConfig

from crossroads.sim.render import completion_text
from tests.clients import expect
from tests.clients.conftest import Deployment
from tests.clients.fleet import BY_SLUG, COMPLETION_TOKENS, MAIN
from tests.clients.scripts import tag as make_tag

NO_RETRIES = RetryConfig("none", BackoffStrategy(0, 0, 0, 0), False)


@pytest.fixture(scope="module")
def sdk(deployment: Deployment) -> Iterator[OpenRouter]:
    with OpenRouter(api_key="test-key", server_url=deployment.router.api,
                    retry_config=NO_RETRIES) as client:
        yield client


@pytest.fixture
def tag() -> str:
    return make_tag("r" + uuid.uuid4().hex[:9], "or-responses")


def check_usage(usage: Any, deployment: Deployment, tag: str, words: int) -> None:
    attempt = deployment.served(tag)
    served = BY_SLUG[attempt.endpoint]
    assert usage.input_tokens == attempt.prompt_tokens and usage.output_tokens == words
    assert usage.total_tokens == usage.input_tokens + words
    assert round(usage.cost * expect.MICRO) == served.cost_micro_usd(usage.input_tokens, words)
    details = usage.cost_details
    assert round(details.upstream_inference_input_cost * expect.MICRO) == (
        usage.input_tokens * served.prompt_price)
    assert round(details.upstream_inference_output_cost * expect.MICRO) == (
        words * served.completion_price)
    assert usage.is_byok is False


def test_send(sdk: OpenRouter, deployment: Deployment, tag: str) -> None:
    result = sdk.responses.send(model=MAIN, input=f"[{tag}] Say something.",
                                max_output_tokens=8, provider={"only": ["bravo"]})
    assert isinstance(result, components.OpenResponsesResult)
    assert result.status == "incomplete" and result.id.startswith("gen-")
    [message] = result.output
    assert message.type == "message"
    assert message.content[0].text == completion_text(8)
    assert deployment.served(tag).endpoint == "bravo"
    check_usage(result.usage, deployment, tag, 8)


def test_stream(sdk: OpenRouter, deployment: Deployment, tag: str) -> None:
    events = list(sdk.responses.send(model=MAIN, input=f"[{tag}] Say something.",
                                     stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    last = events[-1]
    assert isinstance(last, components.StreamEventsResponseCompleted)
    final = last.response
    assert final.status == "completed"
    assert final.output[0].content[0].text == completion_text(COMPLETION_TOKENS)
    check_usage(final.usage, deployment, tag, COMPLETION_TOKENS)
