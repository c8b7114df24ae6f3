"""The words of a simulated answer, token by token: text, JSON, reasoning and log-probabilities.

A token is one word and a space for text and reasoning, four characters for JSON (the formula
tests predict usage with). Without a `seed` choice 0 is the fixed word cycle of render.py, so
any client can predict it, and choice i starts the cycle 7·i words later; with a `seed` the words
are drawn from a generator seeded by (seed, the request's model and messages, choice): the same
request with the same seed repeats exactly, another seed reads differently.
"""

from __future__ import annotations

import hashlib
import json
import random
import zlib
from typing import Any, Final

import orjson

from crossroads.sim.render import WORDS, completion_text
from crossroads.sim.schema_instance import instance

__all__ = [
    "json_object",
    "json_pieces",
    "logprob_entry",
    "reasoning_pieces",
    "request_digest",
    "text_pieces",
]

REASONING_WORDS: Final = (
    "Let", "me", "think", "this", "through", "step", "by", "step.", "First", "read", "what",
    "the", "question", "asks,", "then", "weigh", "each", "part", "of", "it,", "and", "check",
    "the", "answer", "before", "giving", "it.",
)  # fmt: skip
_CHOICE_SHIFT: Final = 7
_JSON_TOKEN: Final = 4
_MAX_SCAN: Final = 200  # `{`s tried when looking for a JSON object in a prompt
_MAX_SCANNED: Final = 256 * 1024  # characters of instructions searched, the first ones
_INSTRUCTION_ROLES: Final = frozenset({"system", "developer", "user"})


def request_digest(body: dict[str, Any]) -> str:
    """What identifies a request for `seed`: its model and messages."""
    raw = orjson.dumps([body.get("model"), body.get("messages")], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def text_pieces(n: int, choice: int, seed: int | None, digest: str) -> list[str]:
    if seed is None:
        shift = choice * _CHOICE_SHIFT
        return [WORDS[(shift + i) % len(WORDS)] + " " for i in range(n)]
    rng = random.Random(f"{seed}:{digest}:{choice}")
    return [rng.choice(WORDS) + " " for _ in range(n)]


def reasoning_pieces(n: int) -> list[str]:
    return [REASONING_WORDS[i % len(REASONING_WORDS)] + " " for i in range(n)]


def json_pieces(value: Any) -> list[str]:
    text = orjson.dumps(value).decode()
    return [text[i : i + _JSON_TOKEN] for i in range(0, len(text), _JSON_TOKEN)]


def _objects_in(text: str) -> list[dict[str, Any]]:
    """The JSON objects written out in `text`, in order (nested ones are part of theirs)."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    at = text.find("{")
    tries = 0
    while at >= 0 and tries < _MAX_SCAN:
        tries += 1
        try:
            value, end = decoder.raw_decode(text, at)
        except ValueError:
            at = text.find("{", at + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        at = text.find("{", end)
    return found


def _is_schema(value: dict[str, Any]) -> bool:
    return "properties" in value or "$defs" in value or value.get("type") == "object"


def json_object(messages: list[Any], user_text: str, words: int) -> Any:
    """The answer to `response_format: json_object`, which has no schema to follow: the prompt
    says what it wants. The last JSON Schema written in the instructions gets an instance; else
    the last JSON object written there is taken as the example to follow; else
    `{"answer": <text>}`."""
    texts = []
    for msg in messages:
        if not isinstance(msg, dict) or msg.get("role") not in _INSTRUCTION_ROLES:
            continue
        content = msg.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(p["text"] for p in content
                         if isinstance(p, dict) and isinstance(p.get("text"), str))  # fmt: skip
    objects = _objects_in("\n".join(texts)[:_MAX_SCANNED])
    schemas = [o for o in objects if _is_schema(o)]
    if schemas:
        return instance(schemas[-1], user_text)
    if objects:
        return objects[-1]
    return {"answer": completion_text(words).strip()}


def _logprob(token: str) -> float:
    # Plausible and repeatable: between -0.001 and -1.2, fixed per token.
    return -round(0.001 + (zlib.crc32(token.encode()) % 1000) / 1000 * 1.2, 4)


def logprob_entry(token: str, top: int) -> dict[str, Any]:
    """One `logprobs.content` entry: the token, its log-probability, and `top` alternatives,
    the token itself first as the most likely."""
    lp = _logprob(token)
    alternatives = [token]
    for word in WORDS:
        if len(alternatives) >= top:
            break
        if word + " " not in alternatives:
            alternatives.append(word + " ")
    return {
        "token": token,
        "logprob": lp,
        "bytes": list(token.encode()),
        "top_logprobs": [
            {"token": t, "logprob": round(lp - 1.3 * k, 4), "bytes": list(t.encode())}
            for k, t in enumerate(alternatives[:top])
        ],
    }
