"""The `response-healing` plugin: structured output that arrives as broken JSON, repaired.

Models asked for JSON still wrap it in a markdown fence, trail a comma or stop one brace short.
For a non-streamed answer to a `json_object` or `json_schema` request, such text is repaired
with `json-repair` when the result is valid JSON; text that holds no JSON at all is left as it
came, because inventing an object would be worse than the model's own answer. Streams are not
healed: their text has already reached the caller.
"""

from __future__ import annotations

from typing import Any

import orjson
from json_repair import repair_json

HEALED_FORMATS = frozenset({"json_object", "json_schema"})


def wants_healing(body: dict[str, Any]) -> bool:
    response_format = body.get("response_format")
    return (isinstance(response_format, dict)
            and response_format.get("type") in HEALED_FORMATS and not body.get("stream"))


def heal(text: str) -> str | None:
    """Valid JSON text for `text`, or None when it is already valid or cannot be repaired."""
    try:
        orjson.loads(text)
        return None
    except orjson.JSONDecodeError:
        pass
    repaired = repair_json(text, return_objects=False)
    if not isinstance(repaired, str) or not repaired.strip() or repaired.strip() == '""':
        return None
    try:
        orjson.loads(repaired)
    except orjson.JSONDecodeError:
        return None
    return repaired


def heal_choices(choices: list[dict[str, Any]]) -> list[int]:
    """Repair each choice's message text in place; → the indices that were repaired."""
    healed = []
    for index, choice in enumerate(choices):
        message = choice.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            continue
        repaired = heal(message["content"])
        if repaired is not None:
            message["content"] = repaired
            healed.append(index)
    return healed
