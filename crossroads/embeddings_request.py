"""An embeddings request (`POST /embeddings`), validated once at the door.

It travels as a `ChatRequest` with `operation=EMBEDDINGS`, so routing, admission, the relay's
failover and the ledger treat it like any other request. What the caller may send follows
OpenRouter's schema: `input` (a string or a list of strings), `model` (and `models` fallbacks),
`dimensions`, `encoding_format` (`float` or `base64`), `input_type`, `user` and `provider`.
Token arrays and multimodal inputs are refused with a 400 naming them; unknown fields go to the
provider untouched, as on chat.

`dimensions` is a promise about the size of every vector, so it is never dropped silently: a
model that cannot shorten its vectors refuses anything but its own size, and only endpoints
that list `dimensions` among their parameters are routed to when it is set.
"""

from __future__ import annotations

from typing import Any

import msgspec

from crossroads.catalog import Catalog
from crossroads.chat_request import ChatRequest, decode_body, requested_models
from crossroads.errors import invalid_param, is_int
from crossroads.operations import Operation
from crossroads.routing.prefs import parse_prefs, split_variant

MAX_INPUTS = 2048  # OpenAI's limit on inputs per request
ENCODINGS = ("float", "base64")


def embedding_inputs(value: Any) -> list[str]:
    """The texts to embed, in order; BadRequest for anything but text."""
    if isinstance(value, str):
        if not value:
            raise invalid_param("input", "must not be empty")
        return [value]
    if not isinstance(value, list) or not value:
        raise invalid_param("input", "must be a non-empty string or a non-empty array of strings")
    if len(value) > MAX_INPUTS:
        raise invalid_param("input", f"at most {MAX_INPUTS} inputs per request")
    first = value[0]
    if is_int(first) or isinstance(first, list):
        raise invalid_param("input", "token arrays are not supported; send the text to embed")
    if isinstance(first, dict):
        raise invalid_param("input", "multimodal inputs are not supported; send strings")
    for i, text in enumerate(value):
        if not isinstance(text, str) or not text:
            raise invalid_param(f"input[{i}]", "must be a non-empty string")
    return value


def _check_fields(body: dict[str, Any]) -> None:
    encoding = body.get("encoding_format")
    if encoding is not None and encoding not in ENCODINGS:
        raise invalid_param("encoding_format", 'must be "float" or "base64"')
    for name in ("user", "input_type"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise invalid_param(name, "must be a string")
    if body.get("stream"):
        raise invalid_param("stream", "embeddings are never streamed")
    dimensions = body.get("dimensions")
    if dimensions is not None and not (is_int(dimensions) and dimensions >= 1):
        raise invalid_param("dimensions", "must be a positive integer")


def _dimensions(body: dict[str, Any], slug: str, catalog: Catalog) -> frozenset[str]:
    """The routing parameters `dimensions` adds: none when it is absent or the model's own
    size (then it is dropped, every endpoint serves that), else `dimensions` itself."""
    wanted = body.get("dimensions")
    if wanted is None:
        return frozenset()
    model = catalog.model(slug)
    native = model.dimensions if model is not None else None
    if native is None:
        return frozenset({"dimensions"})
    if wanted > native:
        raise invalid_param("dimensions", f"{slug} returns {native}-dimensional vectors; "
                            f"ask for {native} or fewer")
    if wanted == native:
        del body["dimensions"]
        return frozenset()
    if not any("dimensions" in e.supported_parameters for e in catalog.endpoints(slug)):
        raise invalid_param("dimensions", f"{slug} returns {native}-dimensional vectors and cannot "
                            f"shorten them; leave dimensions out or set it to {native}")
    return frozenset({"dimensions"})


def parse_embeddings_request(raw: bytes, session_header: str | None,
                             catalog: Catalog) -> ChatRequest:
    """Validate a raw body; raise BadRequest naming the first bad field."""
    body = decode_body(raw)
    models = requested_models(body)
    if "input" not in body:
        raise invalid_param("input", "is required")
    inputs = embedding_inputs(body["input"])
    _check_fields(body)
    slug, variant = split_variant(models[0])
    models = (slug, *(split_variant(m)[0] for m in models[1:]))
    parameters = _dimensions(body, slug, catalog)
    prefs = parse_prefs(body.get("provider"), variant, None)
    if parameters:
        # An endpoint that ignored `dimensions` would answer with vectors of the wrong size.
        prefs = msgspec.structs.replace(prefs, require_parameters=True)
    return ChatRequest(
        body=body,
        models=tuple(dict.fromkeys(models)),
        prefs=prefs,
        stream=False,
        max_tokens=None,
        has_images=False,
        prompt_chars=max(len(text) for text in inputs),
        image_count=0,
        parameters=parameters,
        message_count=1,
        operation=Operation.EMBEDDINGS,
    )
