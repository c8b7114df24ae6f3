"""What every client must have seen, asserted on normalised observations.

Each client's test turns what its client returned into plain dicts with the wire's snake_case
names (the scripts do it in their own language; the Python SDK test does it in `observe_*`), and
these helpers hold them to the truth: which endpoint the simulator says served the request, the
words it sent, the tokens it counted, and the prices in `fleet.py`.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from crossroads.sim.render import completion_text
from tests.clients.conftest import Attempt, Deployment
from tests.clients.fleet import (
    BY_SLUG,
    COMPLETION_TOKENS,
    ENDPOINTS,
    MAIN,
    MAIN_ENDPOINTS,
    MAX_OUTPUT_MAIN,
    SCENARIO_CONTEXT,
    Endpoint,
)

MICRO = 1_000_000
ALL_MAIN = frozenset(e.slug for e in MAIN_ENDPOINTS)


def no_error(observed: Any) -> None:
    assert isinstance(observed, dict) and "error" not in observed, observed


def usage(observed: dict[str, Any], served: Endpoint, attempt: Attempt,
          completion_tokens: int | None) -> None:
    """Token counts as the simulator counted them, and a cost that is exactly their price."""
    u = observed["usage"]
    assert u is not None, observed
    assert u["prompt_tokens"] == attempt.prompt_tokens
    if completion_tokens is not None:
        assert u["completion_tokens"] == completion_tokens
    assert u["completion_tokens"] > 0
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    expected = served.cost_micro_usd(u["prompt_tokens"], u["completion_tokens"])
    assert u["cost"] > 0
    assert round(u["cost"] * MICRO) == expected
    assert round(u["prompt_cost"] * MICRO) == u["prompt_tokens"] * served.prompt_price
    assert round(u["completion_cost"] * MICRO) == u["completion_tokens"] * served.completion_price
    assert math.isclose(u["prompt_cost"] + u["completion_cost"], u["cost"], rel_tol=1e-12)


def chat(observed: Any, deployment: Deployment, tag: str, *,
         endpoints: frozenset[str] | set[str] = ALL_MAIN, model: str = MAIN,
         max_tokens: int = 8, streamed: bool = False) -> Endpoint:
    """A text answer: served by one of `endpoints`, its words and bill exactly right.
    Returns the endpoint that served it."""
    no_error(observed)
    attempt = deployment.served(tag)
    served = BY_SLUG[attempt.endpoint]
    assert served.slug in endpoints, (served.slug, sorted(endpoints))
    assert served.model == model
    assert observed["id"].startswith("gen-")
    assert observed["model"] == model
    if observed.get("provider") is not None:  # only clients that expose it
        assert observed["provider"] == served.name
    words = min(max_tokens, COMPLETION_TOKENS)
    assert observed["content"] == completion_text(words)
    assert observed["finish_reason"] == ("length" if max_tokens < COMPLETION_TOKENS else "stop")
    assert not observed.get("tool_calls")
    usage(observed, served, attempt, words)
    if streamed:
        assert observed["ids"] == [observed["id"]]  # one id across every chunk
        assert observed["chunks"] >= words  # one event per token, usage in the finish chunk
        # Usage once, in the last chunk, which still has a choices[0] (OpenAI's docs loop).
        assert observed.get("last_chunk", {"usage": True, "choices": 1}) == \
            {"usage": True, "choices": 1}
        assert observed["finish_reasons"] == [observed["finish_reason"]]
    return served


def tool_call(observed: Any, deployment: Deployment, tag: str, *,
              streamed: bool = False) -> Endpoint:
    """A call of the offered function, with JSON arguments, from an endpoint that has tools."""
    no_error(observed)
    attempt = deployment.served(tag)
    served = BY_SLUG[attempt.endpoint]
    assert "tools" in served.parameters, served
    assert attempt.body["tools"][0]["function"]["name"] == SCENARIO_CONTEXT["tool_name"]
    assert observed["id"].startswith("gen-")
    assert observed["finish_reason"] == "tool_calls"
    [call] = observed["tool_calls"]
    assert call["name"] == SCENARIO_CONTEXT["tool_name"]
    # "Please call a tool for Paris.": the sim fills a string from the prompt's proper noun.
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    if call.get("id") is not None:
        assert call["id"].startswith("call_")
    usage(observed, served, attempt, None)
    if streamed:
        assert observed["ids"] == [observed["id"]]
    return served


def generation(found: Any, answer: dict[str, Any], served: Endpoint,
               statuses: list[int] | None = None) -> None:
    """`GET /generation` agrees with the chat answer it describes."""
    no_error(found)
    assert found["id"] == answer["id"]
    assert found["model"] == answer["model"]
    assert found["provider_name"] == served.name
    assert round(found["total_cost"] * MICRO) == round(answer["usage"]["cost"] * MICRO)
    assert found["tokens_prompt"] == answer["usage"]["prompt_tokens"]
    assert found["tokens_completion"] == answer["usage"]["completion_tokens"]
    assert found["finish_reason"] == answer["finish_reason"]
    responses = found["provider_responses"]
    assert [r["status"] for r in responses] == (statuses or [200])
    assert responses[-1]["provider_name"] == served.name


def error(observed: Any, cls: str, status: int) -> None:
    assert isinstance(observed, dict) and "error" in observed, observed
    assert observed["error"]["class"] == cls, observed
    assert observed["error"]["status"] == status, observed
    assert observed["error"]["message"], observed


def usd_per_token(per_million: int) -> str:
    return format((Decimal(per_million) / MICRO).normalize(), "f")


def model_entry(observed: dict[str, Any], slug: str) -> None:
    """A `/models` or `/model/{slug}` entry of the fleet's catalog."""
    endpoints = [e for e in ENDPOINTS if e.model == slug]
    cheapest = min(endpoints, key=lambda e: e.prompt_price + e.completion_price)
    widest = max(endpoints, key=lambda e: e.context_length)
    assert observed["id"] == slug
    assert observed["name"] == ("Acme: Main" if slug == MAIN else "Acme: Backup")
    assert observed["context_length"] == 32768
    assert observed["pricing"] == {"prompt": usd_per_token(cheapest.prompt_price),
                                   "completion": usd_per_token(cheapest.completion_price)}
    images = any(e.images for e in endpoints)
    assert observed["input_modalities"] == (["text", "image"] if images else ["text"])
    assert observed["tokenizer"] is None
    assert observed["max_completion_tokens"] == widest.max_output
    assert sorted(observed["supported_parameters"]) == sorted(
        {p for e in endpoints for p in e.parameters})


def models(observed: Any) -> list[str]:
    """The full model list: both fleet models, described exactly; returns the ids in order."""
    no_error(observed)
    ids = [m["id"] for m in observed["models"]]
    assert len(set(ids)) == len(ids)
    for slug in (MAIN, "acme/backup"):
        model_entry(next(m for m in observed["models"] if m["id"] == slug), slug)
    if observed.get("total_count") is not None:
        assert observed["total_count"] == len(ids)
    return ids


def endpoints(observed: Any) -> None:
    """`/models/acme/main/endpoints`: one row per endpoint, in catalog order, as configured."""
    no_error(observed)
    assert observed["id"] == MAIN and observed["name"] == "Acme: Main"
    rows = observed["endpoints"]
    assert [r["tag"] for r in rows] == [e.slug for e in MAIN_ENDPOINTS]
    for row, e in zip(rows, MAIN_ENDPOINTS, strict=True):
        assert row["provider_name"] == e.name
        assert row["context_length"] == e.context_length
        assert row["max_completion_tokens"] == MAX_OUTPUT_MAIN
        assert row["pricing"] == {"prompt": usd_per_token(e.prompt_price),
                                  "completion": usd_per_token(e.completion_price)}
        assert sorted(row["supported_parameters"]) == sorted(e.parameters)
        assert row["quantization"] == "bf16"
        assert row["status"] == 0  # available


def providers(observed: Any) -> None:
    no_error(observed)
    by_slug = {p["slug"]: p for p in observed["providers"]}
    for e in ENDPOINTS:
        assert by_slug[e.slug]["name"] == e.name
        assert by_slug[e.slug]["privacy_policy_url"] == f"https://{e.slug}.example/privacy"
    slugs = [p["slug"] for p in observed["providers"]]
    assert slugs == sorted(slugs)
