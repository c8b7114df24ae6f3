"""An upstream embeddings answer made ours: checked, priced, and encoded as the caller asked.

The provider was asked for floats (`providers/openai.py`); a vector that arrives as base64
anyway is decoded. Before anything is priced the answer must be whole: one vector per input,
all of one size, that size the `dimensions` asked for; anything else is a malformed answer,
and the relay moves on to the next endpoint as it would for a broken chat answer.

The usage is the provider's `prompt_tokens` (an estimate, marked as such, when it reports
none), billed at the endpoint's prompt price; an embeddings answer has no completion tokens.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

import orjson

from crossroads.chat_request import ChatRequest
from crossroads.embeddings_request import embedding_inputs
from crossroads.failures import AttemptError, Failure
from crossroads.generation import Attempt, Generation
from crossroads.pricing import Usage, usage_from_openai

# The usage members an embeddings answer carries (OpenRouter's embeddings usage object).
_USAGE_KEYS = ("prompt_tokens", "total_tokens", "cost", "cost_details", "is_byok", "crossroads")


def _malformed(message: str) -> AttemptError:
    return AttemptError(Failure.MALFORMED, f"the provider returned {message}")


def _vector(item: Any) -> list[float]:
    if not isinstance(item, dict):
        raise _malformed("an embedding that is not an object")
    raw = item.get("embedding")
    if isinstance(raw, str):
        try:
            packed = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise _malformed("an embedding that is not base64") from None
        if not packed or len(packed) % 4:
            raise _malformed("a base64 embedding that is not float32")
        return list(struct.unpack(f"<{len(packed) // 4}f", packed))
    if (not isinstance(raw, list) or not raw
            or not all(isinstance(x, float | int) and not isinstance(x, bool) for x in raw)):
        raise _malformed("an embedding that is not an array of numbers")
    return raw


def _vectors(parsed: dict[str, Any], inputs: int, dimensions: Any) -> list[list[float]]:
    data = parsed["data"]
    if len(data) != inputs:
        raise _malformed(f"{len(data)} embeddings for {inputs} inputs")
    by_index: dict[int, list[float]] = {}
    for position, item in enumerate(data):
        index = item.get("index", position) if isinstance(item, dict) else position
        if not isinstance(index, int) or not 0 <= index < inputs or index in by_index:
            raise _malformed("embeddings with missing or repeated indices")
        by_index[index] = _vector(item)
    vectors = [by_index[i] for i in range(inputs)]
    sizes = {len(v) for v in vectors}
    if len(sizes) != 1 or (isinstance(dimensions, int) and sizes != {dimensions}):
        raise _malformed(f"embeddings of {sorted(sizes)} dimensions"
                         + (f", not {dimensions}" if isinstance(dimensions, int) else ""))
    return vectors


def _base64(vector: list[float]) -> str:
    # OpenAI's encoding: little-endian float32, base64.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _estimate(texts: list[str]) -> Usage:
    """When a provider reports no usage: a marked estimate, like chat's, never silently zero."""
    return Usage(prompt_tokens=sum(4 + (len(t) + 3) // 4 for t in texts), estimated=True)


def embeddings_body(generation: Generation, attempt: Attempt, parsed: dict[str, Any],
                    request: ChatRequest) -> bytes:
    """The caller's answer for a parsed upstream embeddings answer (AttemptError if broken)."""
    texts = embedding_inputs(request.body["input"])
    vectors = _vectors(parsed, len(texts), request.body.get("dimensions"))
    reported = usage_from_openai(parsed.get("usage"))
    usage = (_estimate(texts) if reported is None or not reported.prompt_tokens
             else Usage(prompt_tokens=reported.prompt_tokens))
    encode = _base64 if request.body.get("encoding_format") == "base64" else None
    answer: dict[str, Any] = {
        "id": parsed.get("id"),
        "object": "list",
        "data": [{"object": "embedding", "index": i,
                  "embedding": vector if encode is None else encode(vector)}
                 for i, vector in enumerate(vectors)],
    }
    generation.stamp(answer, attempt.endpoint)
    priced = generation.price(attempt, usage, answered=True)
    answer["usage"] = {key: priced[key] for key in _USAGE_KEYS}
    return orjson.dumps(answer)
