"""GET /models and GET /models/{author}/{slug}/endpoints, shaped like OpenRouter's."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from crossroads.api.http import Receive, Scope, Send, send_error, send_json
from crossroads.api.state import AppState
from crossroads.catalog import Endpoint, Model, Pricing, endpoint_key
from crossroads.errors import NotFound
from crossroads.stats import Percentiles, Uptime

_PER_TOKEN = Decimal(10) ** 12  # micro-dollars per 1M tokens → USD per token


def _usd_per_token(micro_per_million: int | None) -> str:
    if micro_per_million is None:
        return "0"
    value = (Decimal(micro_per_million) / _PER_TOKEN).normalize()
    return format(value, "f")


def _usd(micro: int) -> str:
    return format((Decimal(micro) / Decimal(10**6)).normalize(), "f")


def _pricing(p: Pricing) -> dict[str, str]:
    out = {
        "prompt": _usd_per_token(p.prompt),
        "completion": _usd_per_token(p.completion),
        "image": _usd(p.image),
        "request": _usd(p.request),
    }
    if p.cache_read is not None:
        out["input_cache_read"] = _usd_per_token(p.cache_read)
    if p.cache_write is not None:
        out["input_cache_write"] = _usd_per_token(p.cache_write)
    return out


def _architecture(model: Model) -> dict[str, Any]:
    inputs = sorted(model.input_modalities, key=lambda m: (m != "text", m))
    outputs = sorted(model.output_modalities, key=lambda m: (m != "text", m))
    return {
        "modality": f"{'+'.join(inputs)}->{'+'.join(outputs)}",
        "input_modalities": inputs,
        "output_modalities": outputs,
    }


def _model_entry(state: AppState, model: Model) -> dict[str, Any]:
    endpoints = state.catalog.routable(model.slug)
    top = max(endpoints, key=lambda e: e.context_length, default=None)
    parameters = sorted({p for e in endpoints for p in e.supported_parameters})
    pricing = model.pricing or (min((e.pricing for e in endpoints),
                                    key=lambda p: p.prompt + p.completion, default=None))
    return {
        "id": model.slug,
        "canonical_slug": model.canonical_slug or model.slug,
        "hugging_face_id": model.hugging_face_id,
        "name": model.name,
        "created": model.created,
        "description": model.description,
        "context_length": model.context_length,
        "architecture": _architecture(model),
        "pricing": _pricing(pricing) if pricing else None,
        "top_provider": {
            "context_length": top.context_length if top else None,
            "max_completion_tokens": top.max_output if top else None,
            "is_moderated": False,
        },
        "supported_parameters": parameters,
        "knowledge_cutoff": model.knowledge_cutoff,
        "simulated": state.simulated,
    }


async def list_models(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    data = [_model_entry(state, m) for m in state.catalog.models()]
    await send_json(send, 200, orjson.dumps({"data": data}))


def _percentiles(p: Percentiles | None, scale: float = 1.0,
                 digits: int = 1) -> dict[str, float] | None:
    if p is None:
        return None
    return {name: round(p.at(name) * scale, digits) for name in ("p50", "p75", "p90", "p99")}


def _uptime(u: Uptime) -> float | None:
    return None if u.ratio is None else round(u.ratio * 100, 2)


def _endpoint_entry(state: AppState, endpoint: Endpoint, now: float) -> dict[str, Any]:
    health = state.stats.health(endpoint_key(endpoint), now)
    live = state.stats.endpoint_stats(endpoint_key(endpoint), now)
    last_outage = None
    if live.last_outage_at is not None:
        last_outage = datetime.fromtimestamp(live.last_outage_at + state.wall_offset,
                                             tz=UTC).isoformat(timespec="seconds")
    if not endpoint.available:
        status = "unavailable"
    elif health.cooling_until > now:
        status = "cooling_down"
    else:
        status = "available"
    return {
        "name": f"{endpoint.provider_name} | {endpoint.model}",
        "model_name": endpoint.model,
        "provider_name": endpoint.provider_name,
        "provider": endpoint.provider,
        "tag": endpoint.tag,
        "context_length": endpoint.context_length,
        "max_completion_tokens": endpoint.max_output,
        "max_prompt_tokens": endpoint.context_length,
        "quantization": endpoint.quantization,
        "pricing": _pricing(endpoint.pricing),
        "supported_parameters": sorted(endpoint.supported_parameters),
        "input_modalities": sorted(endpoint.input_modalities),
        "data_policy": {
            "training": endpoint.data_policy.training,
            "retains_prompts": endpoint.data_policy.retains_prompts,
            "zdr": endpoint.data_policy.zdr,
        },
        "status": status,
        "unavailable_reason": endpoint.unavailable_reason,
        "uptime_last_5m": _uptime(live.uptime_5m),
        "uptime_last_30m": _uptime(live.uptime_30m),
        "uptime_last_1d": _uptime(live.uptime_1d),
        "latency_last_30m": _percentiles(live.latency_s, 1000),
        "ttft_last_30m": _percentiles(live.ttft_s, 1000),
        "throughput_last_30m": _percentiles(live.throughput),
        "last_outage_at": last_outage,
        "supports_implicit_caching": endpoint.pricing.cache_read is not None,
        "simulated": endpoint.simulated,
    }


async def model_endpoints(state: AppState, scope: Scope, receive: Receive, send: Send,
                          slug: str) -> None:
    model = state.catalog.model(slug)
    if model is None:
        await send_error(send, NotFound(f"Model {slug} not found"))
        return
    now = state.clock()
    payload = {
        "data": {
            "id": model.slug,
            "name": model.name,
            "created": model.created,
            "description": model.description,
            "architecture": _architecture(model),
            "endpoints": [_endpoint_entry(state, e, now)
                          for e in state.catalog.endpoints(slug)],
        }
    }
    await send_json(send, 200, orjson.dumps(payload))
