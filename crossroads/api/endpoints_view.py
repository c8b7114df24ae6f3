"""One endpoint as `GET /models/{author}/{slug}/endpoints` shows it, live stats included.

OpenRouter's meanings are kept: `latency_last_30m` is time to first token in ms, throughput is
tokens/s, uptime a percentage. `status` is OpenRouter's integer enum; OpenRouter publishes only
that 0 is normal, so the negative values are our reading, documented in the README:

    0    available   routed normally
    -1   degraded    30-minute uptime below 95 % (at least MIN_UPTIME_SAMPLES attempts)
    -3   down        30-minute uptime below 80 % (same)
    -5   cooling     its breaker is open after recent failures: skipped until it cools down
    -10  unavailable not configured (no API key) — never routed to
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from crossroads.api.catalog_shapes import public_pricing
from crossroads.api.state import AppState
from crossroads.catalog import Endpoint, Model, endpoint_key
from crossroads.schema.catalog import (
    DataPolicy,
    EndpointExtras,
    EndpointStatus,
    PercentileStats,
    PublicEndpoint,
    ToolChoiceSupport,
)
from crossroads.stats import Percentiles, Uptime

MIN_UPTIME_SAMPLES = 20
DEGRADED_BELOW = 0.95
DOWN_BELOW = 0.80

State = Literal["available", "degraded", "down", "cooling_down", "unavailable"]
STATUS: dict[State, EndpointStatus] = {
    "available": 0, "degraded": -1, "down": -3, "cooling_down": -5, "unavailable": -10,
}


def _percentiles(p: Percentiles | None, scale: float = 1.0,
                 digits: int = 1) -> PercentileStats | None:
    if p is None:
        return None
    return PercentileStats(p50=round(p.p50 * scale, digits), p75=round(p.p75 * scale, digits),
                           p90=round(p.p90 * scale, digits), p99=round(p.p99 * scale, digits))


def _uptime(u: Uptime) -> float | None:
    return None if u.ratio is None else round(u.ratio * 100, 2)


def _state(endpoint: Endpoint, cooling: bool, uptime: Uptime) -> State:
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


def endpoint_entry(state: AppState, model: Model, endpoint: Endpoint,
                   now: float) -> PublicEndpoint:
    key = endpoint_key(endpoint)
    health = state.stats.health(key, now)
    live = state.stats.endpoint_stats(key, now)
    last_outage = None
    if live.last_outage_at is not None:
        last_outage = datetime.fromtimestamp(live.last_outage_at + state.wall_offset,
                                             tz=UTC).isoformat(timespec="seconds")
    words = _state(endpoint, health.cooling_until > now, live.uptime_30m)
    tool_choice = "tool_choice" in endpoint.supported_parameters
    return PublicEndpoint(
        name=f"{endpoint.provider_name} | {model.canonical_slug or model.slug}",
        model_id=model.canonical_slug or model.slug,
        model_name=model.name,
        provider_name=endpoint.provider_name,
        tag=endpoint.tag,
        context_length=endpoint.context_length,
        max_completion_tokens=endpoint.max_output,
        max_prompt_tokens=endpoint.context_length,
        quantization=endpoint.quantization,
        pricing=public_pricing(endpoint.pricing),
        supported_parameters=sorted(endpoint.supported_parameters),
        supports_implicit_caching=endpoint.pricing.cache_read is not None,
        supports_tool_choice=ToolChoiceSupport(auto=tool_choice, none=tool_choice,
                                               required=tool_choice, function=tool_choice),
        supports_diarization=False,
        native_tools={},
        service_tier=None,
        uptime_last_5m=_uptime(live.uptime_5m),
        uptime_last_30m=_uptime(live.uptime_30m),
        uptime_last_1d=_uptime(live.uptime_1d),
        latency_last_30m=_percentiles(live.ttft_s, 1000),
        throughput_last_30m=_percentiles(live.throughput),
        status=STATUS[words],
        crossroads=EndpointExtras(
            provider=endpoint.provider,
            state=words,
            unavailable_reason=endpoint.unavailable_reason,
            input_modalities=sorted(endpoint.input_modalities),
            data_policy=DataPolicy(training=endpoint.data_policy.training,
                                   retains_prompts=endpoint.data_policy.retains_prompts,
                                   zdr=endpoint.data_policy.zdr),
            latency_last_30m=_percentiles(live.latency_s, 1000),
            last_outage_at=last_outage,
            simulated=endpoint.simulated,
        ),
    )
