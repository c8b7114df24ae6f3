"""Worst-case reservations: a bound at the dearest endpoint, held under the per-request cap."""

from __future__ import annotations

from crossroads.accounts.reservation import plan_reservation, prompt_bound
from crossroads.catalog import Endpoint, Pricing
from crossroads.pricing import Usage, cost_micro


def endpoint(tag: str, prompt: int, completion: int, max_output: int = 4096,
             cache_write: int | None = None) -> Endpoint:
    return Endpoint(model="m/x", provider=tag, provider_name=tag, tag=tag, upstream_model="x",
                    base_url="http://x", context_length=100_000, max_output=max_output,
                    pricing=Pricing(prompt=prompt, completion=completion,
                                    cache_write=cache_write))


def test_the_reservation_is_the_worst_case_over_the_plan() -> None:
    cheap, dear = endpoint("cheap", 100_000, 300_000), endpoint("dear", 650_000, 850_000)
    r = plan_reservation((cheap, dear), prompt_tokens=1000, max_tokens=500, images=0,
                         cap_micro=10**9)
    assert r.ceilings == {cheap.key: 100 + 150, dear.key: 650 + 425}
    assert r.amount == 1075 and r.max_tokens == {}
    # No real answer within those limits can cost more than its endpoint's ceiling.
    for e in (cheap, dear):
        real = cost_micro(Usage(prompt_tokens=1000, completion_tokens=500), e.pricing)
        assert real <= r.ceiling(e)


def test_without_max_tokens_the_endpoints_maximum_output_is_reserved() -> None:
    e = endpoint("a", 1_000_000, 2_000_000, max_output=8192)
    r = plan_reservation((e,), prompt_tokens=0, max_tokens=None, images=0, cap_micro=10**9)
    assert r.amount == 8192 * 2


def test_a_worst_case_above_the_cap_lowers_max_tokens_to_fit() -> None:
    dear = endpoint("dear", 1_000_000, 75_000_000, max_output=128_000)  # $75 per 1M out
    r = plan_reservation((dear,), prompt_tokens=2000, max_tokens=None, images=0,
                         cap_micro=1_000_000)
    lowered = r.max_tokens[dear.key]
    assert lowered == (1_000_000 - 2000) * 10**6 // 75_000_000
    assert r.amount <= 1_000_000
    assert cost_micro(Usage(prompt_tokens=2000, completion_tokens=lowered), dear.pricing) \
        <= r.amount


def test_cache_writes_dearer_than_input_are_in_the_bound() -> None:
    e = endpoint("a", 1_000_000, 0, cache_write=1_250_000)
    r = plan_reservation((e,), prompt_tokens=1000, max_tokens=1, images=0, cap_micro=10**9)
    real = cost_micro(Usage(prompt_tokens=1000, completion_tokens=1, cache_write_tokens=1000),
                      e.pricing)
    assert real <= r.amount == 1250


def test_the_prompt_bound_covers_every_byte_and_the_template() -> None:
    assert prompt_bound(body_bytes=1000, messages=3, images=2, image_tokens=500) == \
        1000 + 3 * 16 + 64 + 1000
