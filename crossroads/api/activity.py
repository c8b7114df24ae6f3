"""GET /activity: usage per UTC day, model and endpoint over the last 30 days, from rollups.

An inference key sees its own traffic (the per-key daily rollup); a management key sees all of
it (the daily rollup), or one key's with `api_key_hash=`. OpenRouter lists the last 30
*completed* days; crossroads includes today as well, its rows still growing, because a
self-hosted router's operator wants to see today's traffic. `date=YYYY-MM-DD` picks one day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from urllib.parse import parse_qs

import msgspec

from crossroads.accounts.keys import HASH_SHAPE
from crossroads.accounts.periods import DAY_S, day_start
from crossroads.api.http import Receive, Scope, Send, header, send_error, send_json
from crossroads.api.state import AppState
from crossroads.catalog import MICRO
from crossroads.errors import BadRequest, CrossroadsError, Forbidden
from crossroads.schema.activity import ActivityItem, ActivityResponse

DAYS = 30
# (day, model, tag) → requests, prompt, completion, reasoning and cached tokens, cost
Totals = dict[tuple[int, str, str], list[int]]


def _day(text: str, first: int, last: int) -> int:
    try:
        chosen = date.fromisoformat(text)
    except ValueError:
        raise BadRequest("date: must be a UTC date, YYYY-MM-DD", metadata={"param": "date"}
                         ) from None
    start = int(datetime(chosen.year, chosen.month, chosen.day, tzinfo=UTC).timestamp())
    if not first <= start <= last:
        raise BadRequest("date: must be one of the last 30 UTC days", metadata={"param": "date"})
    return start


def _add(totals: Totals, key: tuple[int, str, str], values: Iterable[int]) -> None:
    row = totals.get(key)
    totals[key] = list(values) if row is None else [a + b for a, b in zip(row, values,
                                                                          strict=True)]


def _collect(state: AppState, since: int, until: int, key_hash: str | None) -> Totals:
    totals: Totals = {}
    if key_hash is not None:
        for k in state.ledger.key_rollups(since, key_hash, until):
            if k.endpoint_tag:
                _add(totals, (k.bucket_start, k.model, k.endpoint_tag),
                     (k.requests, k.prompt_tokens, k.completion_tokens, k.reasoning_tokens,
                      k.cached_tokens, k.cost_micro))
        return totals
    for r in state.ledger.rollups("daily", since, until=until):
        if r.endpoint_tag:
            _add(totals, (r.bucket_start, r.model, r.endpoint_tag),
                 (r.requests, r.prompt_tokens, r.completion_tokens, r.reasoning_tokens,
                  r.cached_tokens, r.cost_micro))
    return totals


async def get_activity(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        caller = state.accounts.authenticate(header(scope, b"authorization"))
        query = {k: v[-1] for k, v in
                 parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        today = day_start(state.accounts.clock())
        first = today - (DAYS - 1) * DAY_S
        since, until = first, today + DAY_S
        if "date" in query:
            since = _day(query["date"], first, today)
            until = since + DAY_S
        key_hash = caller.key_hash if caller.record is not None and not caller.management \
            else None
        wanted = query.get("api_key_hash")
        if wanted is not None:
            if not HASH_SHAPE.match(wanted):
                raise BadRequest("api_key_hash: must be a key hash (64 hex digits)",
                                 metadata={"param": "api_key_hash"})
            if key_hash is not None and wanted != key_hash:
                raise Forbidden("Only a management key can read another key's activity.")
            key_hash = wanted
    except CrossroadsError as error:
        await send_error(send, error)
        return
    # Read your writes: a generation that just ended is in the rollups before they are read.
    await state.ledger.caught_up()
    rows = []
    for (day, model, tag), (requests, prompt, completion, reasoning, cached, cost) in sorted(
            _collect(state, since, until, key_hash).items()):
        catalog_model = state.catalog.model(model)
        endpoint = next((e for e in state.catalog.endpoints(model) if e.tag == tag), None)
        rows.append(ActivityItem(
            date=datetime.fromtimestamp(day, UTC).date().isoformat(), model=model,
            model_permaslug=(catalog_model.canonical_slug or model) if catalog_model else model,
            endpoint_id=tag, provider_name=endpoint.provider_name if endpoint else tag,
            requests=requests, prompt_tokens=prompt, completion_tokens=completion,
            reasoning_tokens=reasoning, cached_tokens=cached, usage=cost / MICRO,
            byok_usage_inference=0.0))
    await send_json(send, 200, msgspec.json.encode(ActivityResponse(data=rows)))
