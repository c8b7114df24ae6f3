"""An endpoint's state in words and as OpenRouter's integer `status`, from live stats.

OpenRouter publishes only that 0 is normal, so the negative values are our reading (README):

    0    available   routed normally
    -1   degraded    30-minute uptime below 95 % (at least MIN_UPTIME_SAMPLES attempts)
    -3   down        30-minute uptime below 80 % (same)
    -5   cooling     its breaker is open after recent failures: skipped until it cools down
    -10  unavailable not configured (no API key) — never routed to
"""

from __future__ import annotations

from typing import Literal

from crossroads.catalog import Endpoint
from crossroads.schema.catalog import EndpointStatus
from crossroads.stats import Uptime

MIN_UPTIME_SAMPLES = 20
DEGRADED_BELOW = 0.95
DOWN_BELOW = 0.80

State = Literal["available", "degraded", "down", "cooling_down", "unavailable"]
STATUS: dict[State, EndpointStatus] = {
    "available": 0, "degraded": -1, "down": -3, "cooling_down": -5, "unavailable": -10,
}


def endpoint_state(endpoint: Endpoint, cooling: bool, uptime: Uptime) -> State:
    if not endpoint.available:
        return "unavailable"
    if cooling:
        return "cooling_down"
    if uptime.ratio is not None and uptime.samples >= MIN_UPTIME_SAMPLES:
        if uptime.ratio < DOWN_BELOW:
            return "down"
        if uptime.ratio < DEGRADED_BELOW:
            return "degraded"
    return "available"
