"""The model page's JSON twins after a scripted run, checked against values computed by hand:
uptime per attempt (a rescued failure still counts), rescued requests, effective price after
caching, latency/throughput percentiles, top apps and daily activity."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import openai
import pytest

from crossroads.windows import bin_of, bin_value
from tests.support import Router, Sim

from .conftest import MODEL
from .metering_support import METER, METER_PRICES, cost_micro, meter_model, sdk

MESSAGES = [{"role": "user", "content": "tell me something"}]
LONG = [{"role": "system", "content": "A long shared context for caching. " * 40},
        {"role": "user", "content": "And a question about it."}]
ONE = {"HTTP-Referer": "https://one.example", "X-Title": "App One"}
TWO = {"X-Title": "App Two"}


def _stats(router: Router, slug: str, section: str) -> dict[str, Any]:
    status, body, _ = router.get(f"/models/{slug}/stats/{section}")
    assert status == 200, body
    data: dict[str, Any] = body["data"]
    return data


def _by_tag(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["tag"]: row for row in rows}


def _ask(client: openai.OpenAI, model: str, headers: dict[str, str], order: list[str],
         messages: list[dict[str, str]] = MESSAGES, stream: bool = True) -> tuple[str, int]:
    """One answer; (generation id, prompt + completion tokens)."""
    body = {"provider": {"order": order, "allow_fallbacks": True}}
    if stream:
        chunks = list(client.chat.completions.create(
            model=model, messages=messages, stream=True,  # type: ignore[arg-type]
            extra_headers=headers, extra_body=body))
        usage = chunks[-1].usage
        assert usage is not None
        return chunks[0].id, usage.prompt_tokens + usage.completion_tokens
    answer = client.chat.completions.create(
        model=model, messages=messages,  # type: ignore[arg-type]
        extra_headers=headers, extra_body=body)
    assert answer.usage is not None
    return answer.id, answer.usage.prompt_tokens + answer.usage.completion_tokens


def _median_bin_ms(samples_ms: list[float]) -> float:
    """What a histogram p50 reads for these samples: the middle of the median sample's bin."""
    ordered = sorted(samples_ms)
    sample = ordered[max(1, math.ceil(0.5 * len(ordered))) - 1]
    return round(bin_value(bin_of(sample / 1000.0)) * 1000.0, 1)


@pytest.fixture
def scripted(make_router: Callable[..., Router], fresh_sim: Sim) -> tuple[Router, dict[str, Any]]:
    router = make_router(extra=meter_model(), cooldowns=(0.001, 0.002))
    client = sdk(router)
    facts: dict[str, Any] = {"ids": [], "tokens": {"https://one.example": 0, "App Two": 0}}
    # Ten requests prefer alpha; its first two attempts fail with 503 and bravo rescues them.
    fresh_sim.script("alpha", "http_503", "http_503")
    for i in range(10):
        headers = ONE if i % 2 == 0 else TWO
        gen_id, tokens = _ask(client, MODEL, headers, ["alpha", "bravo"])
        facts["ids"].append(gen_id)
        facts["tokens"]["https://one.example" if i % 2 == 0 else "App Two"] += tokens
    # A cached conversation on the priced model: the second and third turns hit the cache.
    fresh_sim.patch("alpha", cache=True, cache_min_tokens=32)
    facts["meter"] = []
    for _ in range(3):
        answer = client.chat.completions.create(
            model=METER, messages=LONG,  # type: ignore[arg-type]
            extra_body={"provider": {"order": ["alpha"], "allow_fallbacks": False}})
        assert answer.usage is not None
        details = answer.usage.prompt_tokens_details
        cached = details.cached_tokens if details is not None and details.cached_tokens else 0
        facts["meter"].append((answer.usage.prompt_tokens, answer.usage.completion_tokens,
                               cached))
    return router, facts


def test_uptime_counts_every_attempt_and_failover_rescues(
        scripted: tuple[Router, dict[str, Any]]) -> None:
    router, _ = scripted
    uptime = _stats(router, MODEL, "uptime")
    rows = _by_tag(uptime["endpoints"])
    alpha, bravo = rows["alpha"], rows["bravo"]
    assert (alpha["attempts"], alpha["successes"], alpha["failures"]) == (10, 8, 2)
    assert alpha["uptime"] == 80.0          # both failures were rescued, and still count
    assert alpha["rescued"] == 2
    assert (bravo["attempts"], bravo["successes"], bravo["uptime"]) == (2, 2, 100.0)
    assert uptime["rescued_requests"] == 2
    assert uptime["requests"] == 10
    assert len(alpha["hourly"]) == 72 and len(alpha["daily"]) == 30
    assert alpha["hourly"][-1]["attempts"] + alpha["hourly"][-2]["attempts"] >= 10
    assert rows["charlie"]["uptime"] is None  # never tried: no number, not 100 %


def test_effective_price_after_caching_is_what_was_paid(
        scripted: tuple[Router, dict[str, Any]]) -> None:
    router, facts = scripted
    prices = METER_PRICES["alpha"]
    paid_prompt = 0
    paid_completion = 0
    prompt_tokens = completion_tokens = 0
    for prompt, completion, cached in facts["meter"]:
        total = cost_micro(prices, prompt, completion, cached)
        completion_part = int((Decimal(completion) * Decimal(str(prices["completion"])))
                              .quantize(Decimal(1), rounding=ROUND_HALF_UP))
        paid_prompt += total - completion_part
        paid_completion += completion_part
        prompt_tokens += prompt
        completion_tokens += completion
    assert sum(c for _, _, c in facts["meter"]) > 0, "the simulated cache never hit"
    pricing = _by_tag(_stats(router, METER, "pricing")["endpoints"])["alpha"]
    assert pricing["effective_prompt"] == round(paid_prompt / prompt_tokens, 6)
    assert pricing["effective_completion"] == round(paid_completion / completion_tokens, 6)
    assert pricing["effective_prompt"] < pricing["list"]["prompt"] == prices["prompt"]
    assert pricing["list"]["cache_read"] == prices["cache_read"]
    assert pricing["requests"] == 3


def test_percentiles_are_the_histogram_reading_of_the_attempts(
        scripted: tuple[Router, dict[str, Any]]) -> None:
    router, facts = scripted
    latencies: list[float] = []
    throughputs: list[float] = []
    for gen_id in facts["ids"]:
        status, body, _ = router.get(f"/generation?id={gen_id}")
        assert status == 200, body
        data = body["data"]
        for attempt in data["provider_responses"]:
            if attempt["crossroads"]["endpoint"] == "alpha" and attempt["crossroads"]["served"]:
                latencies.append(attempt["latency"])
                if data["generation_time"]:
                    throughputs.append(data["tokens_completion"] / data["generation_time"])
    alpha = _by_tag(_stats(router, MODEL, "performance")["endpoints"])["alpha"]
    assert alpha["latency_ms"]["samples"] == len(latencies) == 8
    assert alpha["latency_ms"]["p50"] == _median_bin_ms(latencies)
    assert len(throughputs) == 8, "every answer was streamed, so each has a generation time"
    # tokens per ms × 1000 = tokens/s; the bins are over tokens/s
    median = sorted(t * 1000 for t in throughputs)[math.ceil(0.5 * len(throughputs)) - 1]
    assert alpha["throughput"]["p50"] == round(bin_value(bin_of(median)), 1)
    assert alpha["points"], "no hourly point for the hour that had traffic"


def test_apps_and_activity_sum_the_traffic(scripted: tuple[Router, dict[str, Any]]) -> None:
    router, facts = scripted
    apps = _stats(router, MODEL, "apps")
    by_app = {row["app"]: row for row in apps["apps"]}
    assert set(by_app) == {"https://one.example", "App Two"}
    assert by_app["https://one.example"]["title"] == "App One"
    for app, tokens in facts["tokens"].items():
        assert by_app[app]["tokens"] == tokens
        assert by_app[app]["requests"] == 5
    activity = _stats(router, MODEL, "activity")
    assert len(activity["days"]) == 30
    today = activity["days"][-1]
    assert today["requests"] == 10
    assert today["tokens"] == sum(facts["tokens"].values())
    directory = {m["id"]: m for m in router.get("/models/stats")[1]["data"]}
    assert directory[MODEL]["requests_7d"] == 10
    assert directory[MODEL]["tokens_7d"] == today["tokens"]
    assert directory[MODEL]["uptime_1d"] == round(100 * 10 / 12, 2)
    # test/echo lists no price of its own: its cheapest endpoint's (alpha, $0.1/M) is shown
    assert directory[MODEL]["pricing"]["prompt"] == 0.1


def test_providers_show_live_rows_and_each_modes_pick(
        scripted: tuple[Router, dict[str, Any]]) -> None:
    router, _ = scripted
    providers = _stats(router, MODEL, "providers")
    rows = _by_tag(providers["endpoints"])
    assert set(rows) == {"alpha", "bravo", "charlie"}
    assert rows["alpha"]["pricing"]["prompt"] == 0.1
    assert rows["alpha"]["latency_p50_ms"] is not None
    picks = {p["mode"]: p for p in providers["routing"]}
    assert set(picks) == {"balanced", "nitro", "floor", "exacto"}
    assert picks["floor"]["tag"] == "alpha"   # the cheapest
    assert picks["nitro"]["model_suffix"] == ":nitro"


def test_unknown_model_and_bad_range_get_clear_errors(router: Router) -> None:
    status, body, _ = router.get("/models/nobody/nothing/stats/uptime")
    assert status == 404 and body["error"]["code"] == 404
    status, body, _ = router.get(f"/models/{MODEL}/stats/performance?range=1y")
    assert status == 400 and body["error"]["metadata"]["param"] == "range"
    status, body, _ = router.get(f"/models/{MODEL}/stats/nothing")
    assert status == 404


def test_live_stats_survive_a_restart(scripted: tuple[Router, dict[str, Any]],
                                      make_router: Callable[..., Router]) -> None:
    router, _ = scripted
    router.stop()
    again = make_router(extra=meter_model())  # same state directory, fresh process
    status, body, _ = again.get(f"/models/{MODEL}/endpoints")
    assert status == 200, body
    rows = {row["tag"]: row for row in body["data"]["endpoints"]}
    assert rows["alpha"]["uptime_last_30m"] == 80.0
    assert rows["alpha"]["latency_last_30m"] is not None   # TTFT percentiles, reloaded
    assert rows["charlie"]["uptime_last_30m"] is None
    providers = _by_tag(_stats(again, MODEL, "providers")["endpoints"])
    assert providers["alpha"]["uptime_30m"] == 80.0
