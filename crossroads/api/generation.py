"""GET /generation?id=: the stored record of one generation, OpenRouter-shaped.

Callers see their own generations only: another key's generation is a 404, exactly like one
that does not exist, so ids cannot be probed. A management key sees every generation; in open
mode, so does a caller without a key.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import msgspec

from crossroads.api.http import Receive, Scope, Send, header, send_error, send_json
from crossroads.api.state import AppState
from crossroads.errors import BadRequest, CrossroadsError, NotFound
from crossroads.ledger import generation_payload
from crossroads.operations import api_type
from crossroads.schema.generation import GenerationResponse

MAX_ID_LENGTH = 128


async def get_generation(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        caller = state.accounts.authenticate(header(scope, b"authorization"))
    except CrossroadsError as error:
        await send_error(send, error)
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    ids = query.get("id", [])
    if len(ids) != 1 or not ids[0] or len(ids[0]) > MAX_ID_LENGTH:
        await send_error(send, BadRequest("id: exactly one generation id is required",
                                          metadata={"param": "id"}))
        return
    # In a thread: with PostgreSQL this is a network round trip, never for the event loop.
    record = await asyncio.to_thread(state.ledger.get, ids[0])
    visible = record is not None and (caller.record is None or caller.management
                                      or record.key_id == caller.key_hash)
    if record is None or not visible:
        await send_error(send, NotFound(f"Generation {ids[0]} not found"))
        return
    model = state.catalog.model(record.model_requested)
    kind = api_type(model.output_modalities) if model is not None else "completions"
    body = GenerationResponse(data=generation_payload(record, kind))
    await send_json(send, 200, msgspec.json.encode(body))
