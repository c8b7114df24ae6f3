"""The Anthropic SDK pointed at a loopback router, and what the simulated provider saw."""

from __future__ import annotations

import base64
from typing import Any

import anthropic

from crossroads.sim.render import completion_text
from tests.support import Router, Sim

ANSWER_TOKENS = 16  # the conftest fleet's completion_tokens
ANSWER = completion_text(ANSWER_TOKENS)
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()
WEATHER = {"name": "get_weather", "description": "The weather in a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                             "days": {"type": "integer"}},
                            "required": ["city", "days"]}}
# The simulated providers call the first tool when the last user turn says this.
CALL_A_TOOL = "please call a tool"


def base_url(router: Router) -> str:
    """The base URL README gives Anthropic SDK users: the SDK appends /v1/messages."""
    return router.root + "/api"


def sdk(router: Router, *, api_key: str | None = "any-key", auth_token: str | None = None,
        url: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url or base_url(router), api_key=api_key,
                               auth_token=auth_token, max_retries=0, timeout=30)


def async_sdk(router: Router) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=base_url(router), api_key="any-key",
                                    max_retries=0, timeout=30)


def upstream_bodies(sim: Sim, *names: str) -> list[dict[str, Any]]:
    """The chat bodies the simulated providers received, in order per endpoint."""
    return [r["body"] for name in names for r in sim.requests(name)]


def sim_tokens(*texts: str) -> int:
    """The simulator's documented prompt count: 4 + ceil(utf-8 bytes / 4) per message."""
    return sum(4 + (len(t.encode()) + 3) // 4 for t in texts)


def generation(router: Router, generation_id: str) -> dict[str, Any]:
    status, body, _ = router.get(f"/generation?id={generation_id}")
    assert status == 200, body
    return dict(body["data"])
