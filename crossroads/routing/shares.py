"""Balanced's newer draw (`routing.balanced = "price_speed"`): a traffic share per endpoint from
its price and its speed, after OpenRouter's current description (see the routing section of the
reference): an adjusted price, throughput, TTFT and reliability make a score; endpoints inside a
competitive edge of the best share most traffic in proportion to it; the rest keep an exploration
share that shrinks quickly with their distance from the edge, never zero.

OpenRouter does not publish the formula; this is ours, kept simple and monotone:

* adjusted price = blended price ÷ recent success ratio (a failed attempt is paid again
  elsewhere; the ratio is floored at 0.5 so one bad second cannot make an endpoint look free or
  infinitely dear — outages and uptime tiers deal with the rest);
* expected time = TTFT + expected output tokens ÷ throughput (the recent estimates);
* score = (cheapest adjusted price ÷ adjusted price)² × (quickest time ÷ time): price keeps the
  older method's inverse square, speed weighs linearly, so a 2× faster endpoint is worth what a
  √2× cheaper one is;
* inside the edge (score ≥ EDGE × best) the weight is the score; outside it the weight is the
  score × (score ÷ edge score)^SHRINK.
"""

from __future__ import annotations

from collections.abc import Sequence

EDGE = 0.5
SHRINK = 2.0
MIN_RELIABILITY = 0.5
MIN_THROUGHPUT = 1e-3  # tokens/s; keeps a zero estimate finite
MIN_WEIGHT = 1e-12  # never zero: the draw divides by the weight


def traffic_weights(prices: Sequence[float], throughputs: Sequence[float],
                    ttfts_s: Sequence[float], success_ratios: Sequence[float | None],
                    output_tokens: int) -> list[float]:
    """Each endpoint's relative share of the traffic (not normalised)."""
    if not prices:
        return []
    adjusted = [p / max(1.0 if r is None else r, MIN_RELIABILITY)
                for p, r in zip(prices, success_ratios, strict=True)]
    times = [max(t, 0.0) + max(output_tokens, 1) / max(v, MIN_THROUGHPUT)
             for t, v in zip(ttfts_s, throughputs, strict=True)]
    cheapest, quickest = min(adjusted), min(times)
    scores = [(cheapest / a) ** 2 * (quickest / t) for a, t in zip(adjusted, times, strict=True)]
    edge = EDGE * max(scores)
    return [max(s if s >= edge else s * (s / edge) ** SHRINK, MIN_WEIGHT) for s in scores]
