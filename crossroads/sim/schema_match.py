"""Just enough JSON Schema validation for the instance generator to choose among `oneOf` branches.

`conforms` checks the keywords the generator itself writes values for (types, const and enum,
required and properties, items, bounds, lengths, patterns and the combinators), so a value made
for one branch can be told apart from the others. It is not a general validator: the tests hold
the generator to the `jsonschema` library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, TypeGuard

__all__ = ["conforms", "resolve", "same"]

_MAX_REFS: Final = 32


def _number(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _integer(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, float) and v.is_integer()
    )


_TYPES: Final[dict[str, Callable[[Any], bool]]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "number": _number,
    "integer": _integer,
}


def _pointer(root: Any, ref: str) -> Any:
    node = root
    for raw in ref[1:].split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return {}
    return node if node is not None else {}


def resolve(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    """`schema` with its local `$ref` chain followed; sibling keywords win over the target's."""
    for _ in range(_MAX_REFS):
        ref = schema.get("$ref")
        if ref is None:
            return schema
        target = _pointer(root, ref) if isinstance(ref, str) and ref.startswith("#") else {}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if isinstance(target, dict) else rest
    return schema


def same(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _bounded(v: Any, schema: dict[str, Any]) -> bool:
    if _number(v):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        return not (
            (_number(lo) and v < lo)
            or (_number(hi) and v > hi)
            or (_number(xlo) and v <= xlo)
            or (_number(xhi) and v >= xhi)
        )
    if isinstance(v, str):
        lo, hi, pattern = schema.get("minLength"), schema.get("maxLength"), schema.get("pattern")
        if (isinstance(lo, int) and len(v) < lo) or (isinstance(hi, int) and len(v) > hi):
            return False
        try:
            return not isinstance(pattern, str) or re.search(pattern, v) is not None
        except re.error:
            return True
    return True


def _shaped(v: Any, schema: dict[str, Any], root: Any, depth: int) -> bool:
    if isinstance(v, dict):
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        required = schema.get("required")
        if isinstance(required, list) and any(k not in v for k in required if isinstance(k, str)):
            return False
        if schema.get("additionalProperties") is False and any(k not in props for k in v):
            return False
        return all(conforms(x, props[k], root, depth + 1) for k, x in v.items() if k in props)
    if isinstance(v, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return all(conforms(x, items, root, depth + 1) for x in v)
    return True


def conforms(v: Any, schema: Any, root: Any, depth: int = 0) -> bool:
    """Whether `v` is an instance of `schema` as far as this subset can tell."""
    if schema is False:
        return False
    if not isinstance(schema, dict) or depth > 64:
        return True
    schema = resolve(schema, root)
    if "const" in schema and not same(v, schema["const"]):
        return False
    enum = schema.get("enum")
    if isinstance(enum, list) and not any(same(v, e) for e in enum):
        return False
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
    if kinds and not any(_TYPES.get(k, lambda _: True)(v) for k in kinds if isinstance(k, str)):
        return False
    if not _bounded(v, schema) or not _shaped(v, schema, root, depth):
        return False
    branches = {k: b for k in ("anyOf", "oneOf", "allOf") if isinstance(b := schema.get(k), list)}
    hits = {k: sum(conforms(v, s, root, depth + 1) for s in b) for k, b in branches.items()}
    if "anyOf" in hits and hits["anyOf"] == 0:
        return False
    if "oneOf" in hits and hits["oneOf"] != 1:
        return False
    if "allOf" in hits and hits["allOf"] != len(branches["allOf"]):
        return False
    return not ("not" in schema and conforms(v, schema["not"], root, depth + 1))
