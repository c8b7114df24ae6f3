"""From a validated request to a plan: the ordered attempts, or an error that says why not.

Pure: catalog, live health, the clock and a random source come in; a `Plan` comes out.
"""

from __future__ import annotations

import random

import msgspec

from crossroads.catalog import Catalog, Endpoint, EndpointTable, Model
from crossroads.chat_request import ChatRequest
from crossroads.errors import (
    BadRequest,
    ContextLengthExceeded,
    CrossroadsError,
    NoEndpoint,
    NoProviderAvailable,
)
from crossroads.operations import Operation
from crossroads.routing.filters import Funnel, Needs, apply_filters
from crossroads.routing.order import Context, order_candidates, sort_key_values
from crossroads.settings import RoutingConfig
from crossroads.stats import StatsView, read_health


class Plan(msgspec.Struct, frozen=True):
    attempts: tuple[Endpoint, ...]
    funnels: tuple[Funnel, ...]
    cooling: tuple[str, ...] = ()
    # What routing decided that the caller did not ask for, in sentences, for the ledger.
    notes: tuple[str, ...] = ()


def _unknown_model(slug: str) -> BadRequest:
    return BadRequest(f"{slug} is not a valid model ID", metadata={"param": "model"})


# The message for a funnel a filter emptied, by filter, where the generic one would not say
# enough (OpenRouter's own wording where it has one).
EMPTIED_BY: dict[str, str] = {
    "image_input": "No endpoints found that support image input for {model}.",
    "tools": "No endpoints found that support tool use for {model}.",
    "free": "No free endpoints found for {model} (the :free variant routes only to endpoints "
            "that charge nothing).",
    "reasoning": "No endpoints found that support reasoning for {model} (the :thinking "
                 "variant needs one).",
    "distillable": "{model}'s licence does not allow distilling its outputs "
                   "(provider.enforce_distillable_text).",
}


def _undistillable(slug: str, table: EndpointTable) -> Funnel:
    tags = tuple(e.tag for e in table.endpoints)
    return Funnel(slug, table.initial,
                  (("available", len(table.endpoints)), ("distillable", 0)),
                  (("distillable", tags),) if tags else ())


def _wrong_kind(slug: str, model: Model, operation: Operation, primary: bool) -> BadRequest:
    if model.embeds:
        what = f"{slug} is an embedding model: it answers {Operation.EMBEDDINGS.route} only"
    else:
        what = (f"{slug} does not return {operation.output_modality}; "
                f"it answers {Operation.CHAT.route}")
    return BadRequest(f"{what}.", metadata={"param": "model" if primary else "models"})


def _explain_empty(request: ChatRequest, needs: Needs, funnels: list[Funnel],
                   catalog: Catalog) -> CrossroadsError:
    """The primary model's funnel decides the status; the metadata shows every funnel."""
    funnel = funnels[0]
    culprit = funnel.emptied_by()
    metadata: dict[str, object] = {"funnels": [f.as_metadata() for f in funnels]}
    if culprit == "available":
        return NoProviderAvailable(
            f"No provider is configured for {funnel.model} (no endpoint has an API key).",
            metadata=metadata,
        )
    if culprit == "credentials":
        reasons = [f"{e.tag}: {needs.blocked[e.key]}" for e in catalog.endpoints(funnel.model)
                   if e.key in needs.blocked]
        return NoProviderAvailable(
            f"No endpoint of {funnel.model} can be used right now: {'; '.join(reasons)}.",
            metadata=metadata,
        )
    if culprit == "context":
        largest = max((e.context_length for e in catalog.routable(funnel.model)), default=0)
        if request.operation is Operation.EMBEDDINGS:
            return ContextLengthExceeded(
                f"The longest input needs about {needs.prompt_tokens} tokens, more than any "
                f"endpoint of {funnel.model} embeds at once (largest context: {largest} "
                "tokens). Shorten or split it.",
                metadata=metadata,
            )
        return ContextLengthExceeded(
            f"This request needs about {needs.prompt_tokens + (needs.max_tokens or 0)} tokens "
            f"(prompt + max_tokens), more than any endpoint of {funnel.model} serves "
            f"(largest context: {largest} tokens). Shorten the prompt or lower max_tokens.",
            metadata=metadata,
        )
    if culprit == "max_output":
        largest = max((e.max_output for e in catalog.routable(funnel.model)), default=0)
        return BadRequest(
            f"max_tokens {needs.max_tokens} exceeds every endpoint's maximum output for "
            f"{funnel.model} (largest: {largest}).",
            metadata=metadata,
        )
    if culprit in EMPTIED_BY:
        message = EMPTIED_BY[culprit].format(model=funnel.model)
        too_short = dict(funnel.removed).get("context", ())
        if too_short:
            # The capability may exist on an endpoint the context filter took first: say so,
            # or the caller looks for a capability problem when the prompt is the problem.
            message += (f" {len(too_short)} other endpoint(s) ({', '.join(too_short)}) were "
                        f"too short for this request's ~"
                        f"{needs.prompt_tokens + (needs.max_tokens or 0)} tokens.")
        return NoEndpoint(message, metadata=metadata)
    return NoEndpoint(
        f"No endpoints found for {funnel.model} that match your request and provider "
        f"preferences ({funnel.describe()}).",
        metadata=metadata,
    )


def build_plan(
    request: ChatRequest,
    catalog: Catalog,
    stats: StatsView,
    routing: RoutingConfig,
    rng: random.Random,
    now: float,
    sticky: str | None = None,
) -> Plan:
    needs = Needs.of(request, routing.image_token_estimate)
    blocked = catalog.credentials.blocked(now)
    if blocked:
        needs = msgspec.structs.replace(needs, blocked=blocked)
    attempts: list[Endpoint] = []
    funnels: list[Funnel] = []
    cooling: list[str] = []
    notes: list[str] = []
    sort_keys: dict[str, float] = {}
    soonest_retry: float | None = None
    known = [slug for slug in request.models
             if catalog.model(slug) is not None or catalog.table(slug).initial]
    if not known:
        raise _unknown_model(request.models[0])
    if known[0] != request.models[0]:
        # As OpenRouter: an unknown primary model is one more failure `models` can rescue.
        notes.append(f"{request.models[0]} is not a valid model ID; fell back to the "
                     f"`models` list: {', '.join(known)}")
    for slug in known:
        model = catalog.model(slug)
        table = catalog.table(slug)
        if (model is not None
                and request.operation.output_modality not in model.output_modalities):
            raise _wrong_kind(slug, model, request.operation, slug == request.models[0])
        if needs.prefs.distillable_only and not (model is not None and model.distillable):
            funnels.append(_undistillable(slug, table))
            continue
        candidates, funnel = apply_filters(slug, table, needs, catalog.subsets(slug))
        funnels.append(funnel)
        # The model's routable set, or a memoised subset of it, recurs from request to request:
        # live stats keep its health set current.
        health = read_health(stats, candidates.keys, now, stable=True)
        ctx = Context(
            needs, candidates, health, rng, routing.expected_output_tokens,
            routing.outage_min_failures, routing.outage_failure_ratio, sticky,
        )
        ordered = order_candidates(model, ctx)
        if needs.prefs.partition_none:
            sort_keys.update(sort_key_values(ctx))
        if health.latest_cooling <= now:
            attempts.extend(ordered)  # the usual case: nothing is cooling down
            continue
        until_by_key = {
            key: h.cooling_until for key, h in zip(candidates.keys, health.healths, strict=True)
        }
        for endpoint in ordered:
            until = until_by_key[endpoint.key]
            if until > now:
                cooling.append(endpoint.tag)
                soonest_retry = until if soonest_retry is None else min(soonest_retry, until)
            else:
                attempts.append(endpoint)
    if attempts:
        if sort_keys:
            # partition "none": one ordering across every model's endpoints (stable, so
            # ties keep each model's own order).
            attempts.sort(key=lambda e: sort_keys.get(e.key, float("inf")))
        return Plan(tuple(attempts), tuple(funnels), tuple(cooling), tuple(notes))
    if cooling and soonest_retry is not None:
        wait = max(1, round(soonest_retry - now + 0.5))
        raise NoProviderAvailable(
            "Every provider that can serve this request failed recently and is cooling down; "
            f"retry in {wait} s.",
            metadata={"cooling": cooling},
            headers={"retry-after": str(wait)},
        )
    raise _explain_empty(request, needs, funnels, catalog)
