"""Shared pieces of the metering tests: router configs with short breakers, a priced model, a
thread-pool driver, the endpoints API and the cost formula written out independently."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

import openai

from tests.support import Router, Sim

from .conftest import MODEL, router_config

T = TypeVar("T")

MESSAGES = [{"role": "user", "content": "tell me something"}]
CONFTEST_BREAKER = "[breaker]\nbase_cooldown_s = 60\nmax_cooldown_s = 120\n"

# A second model on the same simulated providers, priced so that costs are many micro-dollars
# and differ per endpoint (the conftest's 0.1-0.4 $/1M give 2-10 micro-dollars a request).
# USD per 1M tokens, as an operator writes them.
METER = "test/meter"
METER_PRICES: dict[str, dict[str, float]] = {
    "alpha": {"prompt": 1.25, "completion": 3.7, "cache_read": 0.31},
    "bravo": {"prompt": 2.5, "completion": 7.3, "cache_read": 0.62},
}


def meter_model(bravo_prompt_includes_cached: bool = True) -> str:
    """TOML for `test/meter`: alpha reports usage OpenAI's way; bravo as configured."""
    tables = [f"""
[[models]]
slug = "{METER}"
name = "Test Meter"
context_length = 8192
"""]
    for name, price in METER_PRICES.items():
        convention = ""
        if name == "bravo":
            convention = ("usage_prompt_includes_cached = "
                          f"{str(bravo_prompt_includes_cached).lower()}\n")
        prices = ", ".join(f"{k} = {v}" for k, v in price.items())
        tables.append(f"""
[[endpoints]]
model = "{METER}"
provider = "{name}"
upstream_model = "meter-{name}"
context_length = 8192
max_output = 4096
price = {{ {prices} }}
{convention}""")
    return "".join(tables)


def config(sim: Sim, *, base_cooldown_s: float = 60, max_cooldown_s: float = 120,
           routing: str = "", extra: str = "") -> str:
    """The conftest's router config with another breaker and extra [routing] keys."""
    text = router_config(sim, extra)
    assert CONFTEST_BREAKER in text, "conftest's [breaker] table changed; update this helper"
    text = text.replace(CONFTEST_BREAKER, f"[breaker]\nbase_cooldown_s = {base_cooldown_s}\n"
                                          f"max_cooldown_s = {max_cooldown_s}\n")
    return text.replace("[routing]\nseed = 1\n", f"[routing]\nseed = 1\n{routing}\n", 1)


def sdk(router: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.api, api_key="any-key", max_retries=0, timeout=30)


def pinned(name: str) -> dict[str, Any]:
    """OpenRouter's provider preferences for "only this endpoint, no fallback"."""
    return {"provider": {"order": [name], "allow_fallbacks": False}}


def stream_provider(client: openai.OpenAI, model: str = MODEL, **kw: Any) -> str:
    """Stream one answer to the end; the provider that served it."""
    chunks = list(client.chat.completions.create(model=model, messages=MESSAGES, stream=True,
                                                 **kw))
    assert chunks[-1].choices == [] or chunks[-1].choices[0].finish_reason is not None
    assert chunks[-1].usage is not None, "the stream carried no usage"
    providers = {getattr(c, "provider", None) for c in chunks}
    assert len(providers) == 1, providers
    return str(providers.pop())


def in_parallel(fn: Callable[[int], T], count: int, workers: int = 8) -> list[T]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, range(count)))


def endpoint_rows(router: Router, slug: str = MODEL) -> dict[str, dict[str, Any]]:
    """GET /models/{slug}/endpoints, by provider slug."""
    status, body, _ = router.get(f"/models/{slug}/endpoints")
    assert status == 200, body
    return {row["crossroads"]["provider"]: row for row in body["data"]["endpoints"]}


def cost_micro(prices: dict[str, float], prompt: int, completion: int, cached: int = 0) -> int:
    """The bill in micro-dollars from the operator's USD-per-1M prices, in decimal arithmetic,
    rounded half up once at the end: cached prompt tokens at the cache-read price."""
    per_token = {k: Decimal(str(v)) / Decimal(10**6) for k, v in prices.items()}
    usd = ((prompt - cached) * per_token["prompt"]
           + cached * per_token.get("cache_read", per_token["prompt"])
           + completion * per_token["completion"])
    return int((usd * Decimal(10**6)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def sim_prompt_tokens(messages: Iterable[dict[str, str]]) -> int:
    """The simulator's documented count: 4 + ceil(utf-8 bytes / 4) per text message."""
    return sum(4 + (len(m["content"].encode()) + 3) // 4 for m in messages)
