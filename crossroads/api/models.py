"""The catalog routes, in OpenRouter's shapes (`crossroads/schema/catalog.py`):
`GET /models`, `GET /model(s)/{author}/{slug}`, `GET /models/count`,
`GET /models/{author}/{slug}/endpoints` and `GET /providers`."""

from __future__ import annotations

from urllib.parse import parse_qs

import msgspec

from crossroads.api.catalog_shapes import architecture, endpoints_architecture, public_pricing
from crossroads.api.endpoints_view import endpoint_entry
from crossroads.api.http import Receive, Scope, Send, send_error, send_json
from crossroads.api.state import AppState
from crossroads.catalog import Model, Pricing
from crossroads.errors import BadRequest, NotFound
from crossroads.schema.catalog import (
    ListEndpoints,
    ListEndpointsResponse,
    ListLinks,
    ListProvidersResponse,
    ModelExtras,
    ModelLinks,
    ModelResponse,
    ModelsCount,
    ModelsCountResponse,
    ModelsListResponse,
    ProviderInfo,
    TopProviderInfo,
)
from crossroads.schema.catalog import Model as ModelBody

MAX_PAGE = 1000


def _model_entry(state: AppState, model: Model) -> ModelBody:
    endpoints = state.catalog.routable(model.slug)
    blocked = state.catalog.credentials.blocked(state.clock())
    top = max(endpoints, key=lambda e: e.context_length, default=None)
    pricing = model.pricing or min((e.pricing for e in endpoints),
                                   key=lambda p: p.prompt + p.completion,
                                   default=Pricing(prompt=0, completion=0))
    return ModelBody(
        id=model.slug,
        canonical_slug=model.canonical_slug or model.slug,
        name=model.name,
        created=model.created,
        description=model.description,
        context_length=model.context_length or (top.context_length if top else None),
        architecture=architecture(model),
        pricing=public_pricing(pricing),
        top_provider=TopProviderInfo(
            context_length=top.context_length if top else None,
            # An embedding model completes nothing.
            max_completion_tokens=top.max_output if top and not model.embeds else None,
            is_moderated=False,
        ),
        per_request_limits=None,
        supported_parameters=sorted({p for e in endpoints for p in e.supported_parameters}),
        default_parameters=None,
        supported_voices=None,
        links=ModelLinks(details=f"/api/v1/models/{model.slug}/endpoints"),
        hugging_face_id=model.hugging_face_id,
        knowledge_cutoff=model.knowledge_cutoff,
        expiration_date=None,
        crossroads=ModelExtras(
            simulated=state.simulated,
            endpoints=len(state.catalog.endpoints(model.slug)),
            # Routable now: an endpoint whose credential cannot be had (AWS or Google without
            # credentials) would only answer 503, so clients picking a model skip it.
            endpoints_available=sum(1 for e in endpoints if e.key not in blocked),
        ),
    )


def _query(scope: Scope) -> dict[str, str]:
    raw = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {name: values[-1] for name, values in raw.items()}


def _csv(value: str | None) -> set[str]:
    return {v.strip().lower() for v in value.split(",") if v.strip()} if value else set()


def _int_param(query: dict[str, str], name: str, low: int, high: int) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(f"{name}: must be an integer between {low} and {high}",
                         metadata={"param": name})
    return int(value)


def _matches(entry: ModelBody, query: dict[str, str]) -> bool:
    wanted = _csv(query.get("supported_parameters"))
    if not wanted <= set(entry.supported_parameters):
        return False
    inputs = _csv(query.get("input_modalities"))
    if inputs and not inputs <= set(entry.architecture.input_modalities):
        return False
    outputs = _csv(query.get("output_modalities")) or {"text"}
    if "all" not in outputs and not outputs & set(entry.architecture.output_modalities):
        return False
    needle = query.get("q", "").strip().lower()
    return not needle or needle in entry.id.lower() or needle in entry.name.lower()


async def list_models(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    await _list(state, _query(scope), send, "/api/v1/models")


async def list_embedding_models(state: AppState, scope: Scope, receive: Receive,
                                send: Send) -> None:
    """`GET /embeddings/models`: the same listing, of the models `POST /embeddings` serves."""
    await _list(state, {**_query(scope), "output_modalities": "embeddings"}, send,
                "/api/v1/embeddings/models")


async def _list(state: AppState, query: dict[str, str], send: Send, path: str) -> None:
    try:
        offset = _int_param(query, "offset", 0, 10**9)
        limit = _int_param(query, "limit", 1, MAX_PAGE)
    except BadRequest as error:
        await send_error(send, error)
        return
    entries = [e for m in state.catalog.models()
               if _matches(e := _model_entry(state, m), query)]
    next_link = None
    if offset is not None or limit is not None:
        start, size = offset or 0, limit or 500
        page = entries[start:start + size]
        if start + size < len(entries):
            next_link = f"{path}?offset={start + size}&limit={size}"
    else:
        page = entries
    body = ModelsListResponse(data=page, links=ListLinks(next=next_link),
                              total_count=len(entries))
    await send_json(send, 200, msgspec.json.encode(body))


async def count_models(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    query = _query(scope)
    count = sum(1 for m in state.catalog.models() if _matches(_model_entry(state, m), query))
    body = ModelsCountResponse(data=ModelsCount(count=count))
    await send_json(send, 200, msgspec.json.encode(body))


async def get_model(state: AppState, scope: Scope, receive: Receive, send: Send,
                    slug: str) -> None:
    model = state.catalog.model(slug)
    if model is None:
        await send_error(send, NotFound(f"Model {slug} not found"))
        return
    body = ModelResponse(data=_model_entry(state, model))
    await send_json(send, 200, msgspec.json.encode(body))


async def model_endpoints(state: AppState, scope: Scope, receive: Receive, send: Send,
                          slug: str) -> None:
    model = state.catalog.model(slug)
    if model is None:
        await send_error(send, NotFound(f"Model {slug} not found"))
        return
    now = state.clock()
    body = ListEndpointsResponse(data=ListEndpoints(
        id=model.slug,
        name=model.name,
        created=model.created,
        description=model.description,
        architecture=endpoints_architecture(model),
        endpoints=[endpoint_entry(state, model, e, now)
                   for e in state.catalog.endpoints(slug)],
    ))
    await send_json(send, 200, msgspec.json.encode(body))


async def list_providers(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    body = ListProvidersResponse(data=[
        ProviderInfo(name=p.name, slug=p.slug, privacy_policy_url=p.privacy_policy_url,
                     terms_of_service_url=p.terms_of_service_url,
                     status_page_url=p.status_page_url)
        for p in sorted(state.catalog.providers(), key=lambda p: p.slug)
    ])
    await send_json(send, 200, msgspec.json.encode(body))
