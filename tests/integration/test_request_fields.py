"""Every request field of OpenRouter's chat schema (its OpenAPI `ChatRequest`), sent through the
router to a simulated provider: accepted, and with the effect OpenRouter documents — passed to
the provider untouched, or read by the router and never forwarded, or translated."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.integration.conftest import MODEL
from tests.support import Router, Sim, http_json

AUTH = {"authorization": "Bearer anything"}
HELLO = [{"role": "user", "content": "hello"}]
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}}}}}

# Fields a provider reads: they reach it exactly as sent.
FORWARDED: dict[str, Any] = {
    "frequency_penalty": 0.5,
    "presence_penalty": -0.5,
    "repetition_penalty": 1.1,
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "top_logprobs": 2,
    "min_p": 0.05,
    "top_a": 0.1,
    "top_k": 40,
    "top_p": 0.9,
    "temperature": 0.3,
    "seed": 7,
    "stop": ["\n\n"],
    "parallel_tool_calls": False,
    "prediction": {"type": "content", "content": "hello"},
    "response_format": {"type": "json_object"},
    "metadata": {"ticket": "42"},
    "modalities": ["text"],
    "service_tier": "auto",
    "cache_control": {"type": "ephemeral"},
    "prompt_cache_key": "conversation-9",
    "prompt_cache_options": {"retention": "24h"},
    "user": "user-7",
    "image_config": {"aspect_ratio": "1:1"},
    "stop_server_tools_when": {"max_tool_calls": 3},
}


def send(router: Router, body: dict[str, Any]) -> tuple[int, Any]:
    status, answer, _ = http_json("POST", f"{router.api}/chat/completions",
                                  {"model": MODEL, "messages": HELLO, "max_tokens": 4, **body},
                                  AUTH)
    return status, answer


def upstream(sim: Sim) -> dict[str, Any]:
    seen = [r for name in ("alpha", "bravo", "charlie") for r in sim.requests(name)]
    assert seen, "no request reached a provider"
    return max(seen, key=lambda r: r["t"])["body"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("field", "value"), FORWARDED.items(), ids=list(FORWARDED))
def test_provider_fields_reach_the_provider_as_sent(router: Router, fresh_sim: Sim, field: str,
                                                    value: Any):
    status, answer = send(router, {field: value})
    assert status == 200, answer
    assert upstream(fresh_sim)[field] == value


def _session(router: Router, sim: Sim, answer: Any) -> None:
    status, record, _ = http_json("GET", f"{router.api}/generation?id={answer['id']}",
                                  headers=AUTH)
    assert status == 200 and record["data"]["session_id"] == "s-1"


def _served_by_charlie(router: Router, sim: Sim, answer: Any) -> None:
    assert answer["provider"] == "Charlie"


def _fell_back(router: Router, sim: Sim, answer: Any) -> None:
    assert answer["model"] == MODEL


def _effort(router: Router, sim: Sim, answer: Any) -> None:
    assert upstream(sim)["reasoning_effort"] == "high"


def _tools_sent(router: Router, sim: Sim, answer: Any) -> None:
    body = upstream(sim)
    assert body["tools"] == [TOOL] and body["tool_choice"] == "auto"


def _max_completion(router: Router, sim: Sim, answer: Any) -> None:
    assert upstream(sim)["max_completion_tokens"] == 3 and answer["usage"]["completion_tokens"] == 3


def _streamed(router: Router, sim: Sim, answer: Any) -> None:
    assert upstream(sim)["stream_options"] == {"include_usage": True}


def _nothing_to_check(router: Router, sim: Sim, answer: Any) -> None:
    """Accepted; documented as having no effect (deprecated) or no destination here."""


# Fields the router reads (or translates): (value, what the provider must not see, effect).
ROUTED: dict[str, tuple[Any, frozenset[str], Callable[[Router, Sim, Any], None]]] = {
    "provider": ({"order": ["charlie"], "allow_fallbacks": False}, frozenset({"provider"}),
                 _served_by_charlie),
    "models": ([MODEL], frozenset({"models"}), _fell_back),
    "route": ("fallback", frozenset({"route"}), _nothing_to_check),
    "session_id": ("s-1", frozenset({"session_id"}), _session),
    "plugins": ([{"id": "response-healing"}], frozenset({"plugins"}), _nothing_to_check),
    "reasoning": ({"effort": "high"}, frozenset({"reasoning"}), _effort),
    "reasoning_effort": ("high", frozenset({"reasoning"}), _effort),
    "debug": ({"echo_upstream_body": True}, frozenset({"debug"}), _nothing_to_check),
    "trace": ({"trace_id": "t-1"}, frozenset({"trace"}), _nothing_to_check),
    "usage": ({"include": True}, frozenset({"usage"}), _nothing_to_check),
    "transforms": (["middle-out"], frozenset({"transforms"}), _nothing_to_check),
    "tools": ([TOOL], frozenset(), _tools_sent),
    "max_completion_tokens": (3, frozenset(), _max_completion),
    "stream_options": ({"include_usage": True}, frozenset(), _nothing_to_check),
}


@pytest.mark.parametrize(("field", "case"), ROUTED.items(), ids=list(ROUTED))
def test_router_fields_take_effect_and_stay_with_the_router(
        router: Router, fresh_sim: Sim, field: str,
        case: tuple[Any, frozenset[str], Callable[[Router, Sim, Any], None]]):
    value, hidden, effect = case
    extra: dict[str, Any] = {field: value}
    if field == "tools":
        extra["tool_choice"] = "auto"
    status, answer = send(router, extra)
    assert status == 200, answer
    assert not hidden & upstream(fresh_sim).keys()
    effect(router, fresh_sim, answer)


def test_stream_and_stream_options(router: Router, fresh_sim: Sim):
    sdk = openai.OpenAI(base_url=router.api, api_key="anything", max_retries=0)
    chunks = list(sdk.chat.completions.create(model=MODEL, messages=HELLO,  # type: ignore[arg-type]
                                              max_tokens=2, stream=True))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2
    _streamed(router, fresh_sim, None)


def test_debug_echo_upstream_body_opens_the_stream_with_what_the_provider_was_sent(
        router: Router, fresh_sim: Sim):
    body = {"model": MODEL, "messages": HELLO, "max_tokens": 3, "temperature": 0.2,
            "provider": {"order": ["bravo"]}, "debug": {"echo_upstream_body": True}}
    events = [json.loads(line[6:]) for line in router.raw_stream(body)
              if line.startswith(b"data: {")]
    echoed = events[0]["debug"]["echo_upstream_body"]
    assert echoed == upstream(fresh_sim)  # exactly the provider's body
    assert echoed["model"] == "echo-bravo" and echoed["temperature"] == 0.2
    assert not {"provider", "debug"} & echoed.keys()
    assert events[0]["choices"][0]["delta"] == {}
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events[1:])
    assert not any("debug" in e for e in events[1:])
    # Not streamed, there is nowhere to put it: nothing changes.
    status, answer = send(router, {"debug": {"echo_upstream_body": True}})
    assert status == 200 and "debug" not in answer
    status, answer = send(router, {"debug": {"echo_upstream_body": "yes"}})
    assert status == 400 and "debug" in answer["error"]["message"]


def test_unknown_fields_pass_through_but_unknown_provider_keys_are_refused(
        router: Router, fresh_sim: Sim):
    status, _ = send(router, {"vendor_knob": {"x": 1}})
    assert status == 200 and upstream(fresh_sim)["vendor_knob"] == {"x": 1}
    status, answer = send(router, {"provider": {"ordr": ["alpha"]}})
    assert status == 400 and "ordr" in answer["error"]["message"]


def test_every_field_of_openrouters_chat_schema_is_in_these_tables():
    """The field list of OpenRouter's published ChatRequest (openapi.yaml, read 2026-12-07)."""
    documented = {
        "cache_control", "debug", "frequency_penalty", "image_config", "logit_bias",
        "logprobs", "max_completion_tokens", "max_tokens", "messages", "metadata", "min_p",
        "modalities", "model", "models", "parallel_tool_calls", "plugins", "prediction",
        "presence_penalty", "prompt_cache_key", "prompt_cache_options", "provider",
        "reasoning", "reasoning_effort", "repetition_penalty", "response_format", "route",
        "seed", "service_tier", "session_id", "stop", "stop_server_tools_when", "stream",
        "stream_options", "temperature", "tool_choice", "tools", "top_a", "top_k",
        "top_logprobs", "top_p", "trace", "user",
    }
    covered = FORWARDED.keys() | ROUTED.keys() | {"messages", "model", "max_tokens", "stream",
                                                  "tool_choice"}
    assert documented <= covered, sorted(documented - covered)
