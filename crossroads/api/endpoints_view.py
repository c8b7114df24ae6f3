"""One endpoint as `GET /models/{author}/{slug}/endpoints` shows it, live stats included.

OpenRouter's meanings are kept: `latency_last_30m` is time to first token in ms, throughput is
tokens/s, uptime a percentage. `status` is OpenRouter's integer enum, read as
`analytics/status.py` documents.
"""

from __future__ import annotations

from datetime import UTC, datetime

from crossroads.analytics.status import STATUS, State, endpoint_state
from crossroads.api.catalog_shapes import public_pricing
from crossroads.api.state import AppState
from crossroads.catalog import Endpoint, Model, endpoint_key
from crossroads.schema.catalog import (
    DataPolicy,
    EndpointExtras,
    PercentileStats,
    PublicEndpoint,
    ToolChoiceSupport,
)
from crossroads.stats import Percentiles, Uptime


def _percentiles(p: Percentiles | None, scale: float = 1.0,
                 digits: int = 1) -> PercentileStats | None:
    if p is None:
        return None
    return PercentileStats(p50=round(p.p50 * scale, digits), p75=round(p.p75 * scale, digits),
                           p90=round(p.p90 * scale, digits), p99=round(p.p99 * scale, digits))


def _uptime(u: Uptime) -> float | None:
    return None if u.ratio is None else round(u.ratio * 100, 2)


def endpoint_entry(state: AppState, model: Model, endpoint: Endpoint,
                   now: float) -> PublicEndpoint:
    key = endpoint_key(endpoint)
    health = state.stats.health(key, now)
    live = state.stats.endpoint_stats(key, now)
    last_outage = None
    if live.last_outage_at is not None:
        last_outage = datetime.fromtimestamp(live.last_outage_at + state.wall_offset,
                                             tz=UTC).isoformat(timespec="seconds")
    reason = endpoint.unavailable_reason or state.catalog.credentials.reason(endpoint, now)
    words: State = "unavailable" if reason is not None else \
        endpoint_state(endpoint, health.cooling_until > now, live.uptime_30m)
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
            unavailable_reason=reason,
            input_modalities=sorted(endpoint.input_modalities),
            data_policy=DataPolicy(training=endpoint.data_policy.training,
                                   retains_prompts=endpoint.data_policy.retains_prompts,
                                   zdr=endpoint.data_policy.zdr),
            latency_last_30m=_percentiles(live.latency_s, 1000),
            last_outage_at=last_outage,
            simulated=endpoint.simulated,
        ),
    )
