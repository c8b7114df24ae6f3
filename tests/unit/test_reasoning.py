"""Every spelling of a reasoning request, folded into one ask and sent in the endpoint's terms."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from crossroads.errors import BadRequest
from crossroads.providers.openai import OpenAIProvider
from crossroads.reasoning import ReasoningAsk, parse_reasoning, shape_reasoning

from .factories import endpoint, request


@pytest.mark.parametrize(("body", "thinking", "expected"), [
    ({}, False, None),
    ({"reasoning": {"effort": "high"}}, False, ReasoningAsk(True, "high")),
    ({"reasoning_effort": "low"}, False, ReasoningAsk(True, "low")),
    ({"reasoning": {"effort": "low"}, "reasoning_effort": "low"}, False,
     ReasoningAsk(True, "low")),
    ({"reasoning": {"max_tokens": 2000}}, False, ReasoningAsk(True, None, 2000)),
    ({"reasoning": {"enabled": True}}, False, ReasoningAsk(True)),
    ({"reasoning": {"exclude": True}}, False, ReasoningAsk(True, exclude=True)),
    ({"reasoning": {"effort": "none"}}, False, ReasoningAsk(False)),
    ({"reasoning": {"max_tokens": 0}}, False, ReasoningAsk(False, max_tokens=0)),
    ({"include_reasoning": True}, False, ReasoningAsk(True)),
    ({"include_reasoning": False}, False, ReasoningAsk(False, exclude=True)),
    ({}, True, ReasoningAsk(True)),
    ({"reasoning": {"enabled": False}}, False, ReasoningAsk(False)),
])
def test_every_spelling_folds_into_one_ask(body: dict[str, Any], thinking: bool,
                                           expected: ReasoningAsk | None):
    assert parse_reasoning(body, thinking) == expected


@pytest.mark.parametrize(("body", "param"), [
    ({"reasoning": "high"}, "reasoning"),
    ({"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
    ({"reasoning_effort": "high", "reasoning": {"effort": "low"}}, "reasoning_effort"),
    ({"reasoning": {"max_tokens": -1}}, "reasoning.max_tokens"),
    ({"reasoning": {"effort": "low", "max_tokens": 10}}, "reasoning"),
    ({"reasoning": {"exclude": "yes"}}, "reasoning.exclude"),
    ({"include_reasoning": 1}, "include_reasoning"),
])
def test_contradictions_and_bad_values_are_400s_naming_the_field(body: dict[str, Any],
                                                                  param: str):
    with pytest.raises(BadRequest) as info:
        parse_reasoning(body, False)
    assert info.value.metadata["param"] == param


@pytest.mark.parametrize(("ask", "max_tokens", "effort"), [
    (ReasoningAsk(True, "high"), None, "high"),
    (ReasoningAsk(True), None, "medium"),
    (ReasoningAsk(False), 1000, None),
    # A budget becomes the effort whose share of max_tokens is nearest (80 % → high).
    (ReasoningAsk(True, None, 800), 1000, "high"),
    (ReasoningAsk(True, None, 100), 1000, "minimal"),
    (ReasoningAsk(True, None, 480), 1000, "medium"),
])
def test_the_upstream_effort(ask: ReasoningAsk, max_tokens: int | None, effort: str | None):
    assert ask.upstream_effort(max_tokens) == effort


def test_reasoning_content_becomes_reasoning_and_exclude_removes_every_kind():
    message = {"content": "4", "reasoning_content": "2+2"}
    shape_reasoning(message, exclude=False)
    assert message == {"content": "4", "reasoning": "2+2"}
    hidden = {"content": "4", "reasoning": "2+2", "reasoning_details": [{"type": "x"}]}
    shape_reasoning(hidden, exclude=True)
    assert hidden == {"content": "4"}


def test_the_openai_dialect_sends_reasoning_effort_only_to_endpoints_that_reason():
    provider = OpenAIProvider()
    asked = request(reasoning={"max_tokens": 400, "exclude": True}, max_tokens=500,
                    provider={"sort": "price"}, include_reasoning=True)
    thinker = endpoint("thinker", supported_parameters=frozenset({"reasoning"}))
    sent = orjson.loads(provider.build(thinker, None, asked).body)
    assert sent["reasoning_effort"] == "high"
    assert not {"reasoning", "include_reasoning", "provider"} & sent.keys()
    plain = orjson.loads(provider.build(endpoint("plain"), None, asked).body)
    assert not {"reasoning", "reasoning_effort", "include_reasoning"} & plain.keys()
