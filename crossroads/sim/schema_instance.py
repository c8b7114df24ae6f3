"""A deterministic instance of a JSON Schema: the arguments of a simulated tool call, and the
content of a `json_schema` answer.

The same schema and the same user text always give the same value. An object gets its required
properties (and optional ones only as far as `minProperties` needs); an array one item, or
`minItems`; a string "sim", or a `format`'s example, padded or cut to its length bounds, or an
example of a trivial `pattern` (pattern.py); an integer 1 and a number 1.5, moved into their
bounds and onto `multipleOf`; a boolean true. `const` and `enum` give their (first) value,
`allOf` is merged, `anyOf` takes its first branch that is not null, `oneOf` the first branch whose
value matches no other, and local `$ref`s (`#/$defs/...`, `#/definitions/...`, `#`) are followed,
so Pydantic's schemas work. Recursive schemas stop recursing by choosing null, empty arrays and
optional-only objects once deep. Values from the user's text are preferred where they fit
(hints.py). Malformed schemas get a best effort, never an exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Final, TypeGuard

from crossroads.sim.hints import Hints
from crossroads.sim.pattern import example
from crossroads.sim.schema_match import conforms, resolve

__all__ = ["instance"]

_DEEP: Final = 6  # past this nesting, prefer the smallest value (null, [], no optional keys)
_GIVE_UP: Final = 48  # a schema that recurses through required properties ends here, in null
_MAX_EXTRA_KEYS: Final = 64
# A schema asking for more than this (minItems: 10**9) gets this much: a demo server must not
# be made to build a gigabyte. Such an answer fails the schema, as an overwhelmed model's would.
_MAX_ITEMS: Final = 256
_MAX_LENGTH: Final = 4096
_FORMATS: Final = {
    "date": "2025-01-01",
    "date-time": "2025-01-01T12:00:00Z",
    "time": "12:00:00Z",
    "duration": "P1D",
    "email": "sim@example.com",
    "idn-email": "sim@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/sim",
    "uri-reference": "https://example.com/sim",
    "iri": "https://example.com/sim",
    "iri-reference": "https://example.com/sim",
    "url": "https://example.com/sim",
    "uri-template": "https://example.com/{sim}",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "json-pointer": "/sim",
    "relative-json-pointer": "0/sim",
    "regex": "sim",
}
_LOWER: Final = ("minimum", "minLength", "minItems", "minProperties")
_UPPER: Final = ("maximum", "maxLength", "maxItems", "maxProperties")


def instance(schema: Any, text: str = "") -> Any:
    """A value `schema` accepts, preferring what `text` (the user's words) offers."""
    return _Generator(schema, Hints(text)).value(schema, None, 0, 0)


def _is_number(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _kind(schema: dict[str, Any], deep: bool) -> str:
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    if isinstance(kind, list):
        kinds = [k for k in kind if isinstance(k, str)]
        if deep and "null" in kinds:
            return "null"
        return next((k for k in kinds if k != "null"), "null")
    keys = schema.keys()
    if keys & {"properties", "required", "additionalProperties", "minProperties"}:
        return "object"
    if keys & {"items", "prefixItems", "minItems", "maxItems"}:
        return "array"
    if keys & {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}:
        return "number"
    return "string"


def _with(rest: dict[str, Any], branch: Any) -> Any:
    """A branch of a combinator with its parent's other keywords."""
    return {**rest, **branch} if isinstance(branch, dict) and rest else branch


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


class _Generator:
    __slots__ = ("_active", "_hints", "_root")

    def __init__(self, root: Any, hints: Hints) -> None:
        self._root = root
        self._hints = hints
        self._active: list[str] = []  # the $refs being expanded, outermost first

    def value(self, schema: Any, name: str | None, depth: int, variant: int) -> Any:
        if schema is False or depth > _GIVE_UP:
            return None
        if not isinstance(schema, dict):
            return self._string({}, name, variant)
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if ref in self._active:  # a recursion: from here on, end it as soon as allowed
                depth = max(depth, _DEEP + 1)
            self._active.append(ref)
            try:
                return self._value(resolve(schema, self._root), name, depth, variant)
            finally:
                self._active.pop()
        return self._value(schema, name, depth, variant)

    def _value(self, schema: dict[str, Any], name: str | None, depth: int, variant: int) -> Any:
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return self._enum(enum, name, variant)
        if isinstance(schema.get("allOf"), list):
            return self.value(self._merge(schema), name, depth, variant)
        for key in ("oneOf", "anyOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self._choose(schema, key, branches, name, depth, variant)
        return _BUILDERS.get(_kind(schema, depth > _DEEP), _Generator._string_of)(
            self, schema, name, depth, variant
        )

    def _merge(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if not isinstance(part, dict):
                continue
            for key, v in resolve(part, self._root).items():
                old = merged.get(key)
                if key == "properties" and isinstance(v, dict):
                    merged[key] = {**(old if isinstance(old, dict) else {}), **v}
                elif key == "required" and isinstance(v, list):
                    merged[key] = list(dict.fromkeys([*(old if isinstance(old, list) else []), *v]))
                elif key in _LOWER and _is_number(v) and _is_number(old):
                    merged[key] = max(old, v)
                elif key in _UPPER and _is_number(v) and _is_number(old):
                    merged[key] = min(old, v)
                else:
                    merged.setdefault(key, v)
        return merged

    def _choose(
        self, schema: dict[str, Any], key: str, branches: list[Any], name: str | None,
        depth: int, variant: int,
    ) -> Any:  # fmt: skip
        rest = {k: v for k, v in schema.items() if k != key}
        deep = depth > _DEEP or any(
            isinstance(b, dict) and b.get("$ref") in self._active for b in branches
        )
        # Null last (a value says more), or first once deep (it ends a recursion).
        nulls = [_is_null(resolve(b, self._root)) if isinstance(b, dict) else False
                 for b in branches]  # fmt: skip
        order = sorted(range(len(branches)), key=lambda i: nulls[i] != deep)
        for i in order:
            v = self.value(_with(rest, branches[i]), name, depth, variant)
            others = (b for j, b in enumerate(branches) if j != i)
            if key == "anyOf" or not any(conforms(v, b, self._root) for b in others):
                return v
        return self.value(_with(rest, branches[order[0]]), name, depth, variant)

    def _enum(self, enum: list[Any], name: str | None, variant: int) -> Any:
        said = self._hints.named(name) if name and variant == 0 else None
        if said is not None:
            for member in enum:
                if isinstance(member, str) and member.lower() == said.lower():
                    return member
        return enum[variant % len(enum)]

    def _object(self, schema: dict[str, Any], name: str | None, depth: int, variant: int) -> Any:
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        required = schema.get("required")
        keys = [k for k in required if isinstance(k, str)] if isinstance(required, list) else []
        extra = schema.get("additionalProperties", True)
        out: dict[str, Any] = {}
        for key in dict.fromkeys(keys):
            sub = props.get(key, extra if isinstance(extra, dict) else {})
            out[key] = self.value(sub, key, depth + 1, variant)
        need = schema.get("minProperties")
        need = min(need, _MAX_EXTRA_KEYS) if isinstance(need, int) else 0
        for key, sub in props.items():
            if len(out) >= need:
                break
            out.setdefault(key, self.value(sub, key, depth + 1, variant))
        for i in range(_MAX_EXTRA_KEYS):
            if len(out) >= need or extra is False:
                break
            out.setdefault(f"sim{i}", self.value(extra if isinstance(extra, dict) else {}, None,
                                                 depth + 1, variant))  # fmt: skip
        return out

    def _array(self, schema: dict[str, Any], name: str | None, depth: int, variant: int) -> Any:
        items = schema.get("items")
        prefix = schema.get("prefixItems")
        if isinstance(items, list):  # draft 7's tuple form
            prefix, items = items, schema.get("additionalItems", True)
        prefix = prefix if isinstance(prefix, list) else []
        lo = schema.get("minItems")
        hi = schema.get("maxItems")
        count = max(lo if isinstance(lo, int) else 0, len(prefix) or (0 if depth > _DEEP else 1))
        if isinstance(hi, int):
            count = min(count, hi)
        count = min(count, _MAX_ITEMS)
        if items is False:
            count = min(count, len(prefix))
        return [
            self.value(prefix[i] if i < len(prefix) else items, name, depth + 1, variant + i)
            for i in range(count)
        ]

    def _string(self, schema: dict[str, Any], name: str | None, variant: int) -> str:
        fmt = schema.get("format")
        pattern = schema.get("pattern")
        said = None
        if variant == 0:
            said = self._hints.named(name) if name else None
            if said is None and fmt is None and pattern is None:
                said = self._hints.proper_noun()
        if said is not None and fmt is None and conforms(said, schema, self._root):
            return said
        text = _FORMATS.get(fmt, "sim") if isinstance(fmt, str) else "sim"
        if variant:
            text = f"{text}{variant + 1}" if fmt is None else text
        lo, hi = schema.get("minLength"), schema.get("maxLength")
        if isinstance(lo, int) and len(text) < lo:
            lo = min(lo, _MAX_LENGTH)
            text = (text + "-sim" * lo)[:lo]
        if isinstance(hi, int) and hi >= 0 and len(text) > hi:
            text = text[:hi]
        if isinstance(pattern, str) and not conforms(text, {"pattern": pattern}, None):
            text = example(pattern) or text
        return text

    def _string_of(self, schema: dict[str, Any], name: str | None, depth: int,
                   variant: int) -> Any:  # fmt: skip
        return self._string(schema, name, variant)

    def _number(self, schema: dict[str, Any], name: str | None, depth: int, variant: int) -> Any:
        return self._numeric(schema, name, variant, integer=False)

    def _integer(self, schema: dict[str, Any], name: str | None, depth: int, variant: int) -> Any:
        return self._numeric(schema, name, variant, integer=True)

    def _numeric(self, schema: dict[str, Any], name: str | None, variant: int,
                 *, integer: bool) -> int | float:  # fmt: skip
        if variant == 0:
            said = self._hints.named(name) if name else None
            taken = said if said is not None and _NUMBER.fullmatch(said) else None
            if taken is None:
                taken = self._hints.peek_number()
            v = _parse(taken, integer)
            if v is not None and conforms(v, schema, self._root):
                if taken == self._hints.peek_number():
                    self._hints.number()
                return v
        start: float = (1 if integer else 1.5) + variant
        return _within(start, schema, integer)

    def _boolean(self, schema: dict[str, Any], name: str | None, depth: int, variant: int) -> Any:
        return variant % 2 == 0

    def _null(self, schema: dict[str, Any], name: str | None, depth: int, variant: int) -> Any:
        return None


_NUMBER: Final = re.compile(r"-?\d+(?:\.\d+)?")


def _parse(text: str | None, integer: bool) -> int | float | None:
    if text is None:
        return None
    v = float(text)
    if v.is_integer():
        return int(v)
    return None if integer else v


def _bounds(schema: dict[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """(lower bound, exclusive?, upper bound, exclusive?), the tightest the schema states."""
    lo, hi = schema.get("minimum"), schema.get("maximum")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if xlo is True and _is_number(lo):  # draft 4: a flag on minimum
        lo, xlo = None, lo
    if xhi is True and _is_number(hi):
        hi, xhi = None, hi
    lows = [(b, b is xlo) for b in (lo, xlo) if _is_number(b)]
    highs = [(b, b is xhi) for b in (hi, xhi) if _is_number(b)]
    low = max(lows, key=lambda p: (p[0], p[1]), default=(None, False))
    high = min(highs, key=lambda p: (p[0], not p[1]), default=(None, False))
    return low[0], low[1], high[0], high[1]


def _within(v: float, schema: dict[str, Any], integer: bool) -> int | float:
    """`v` moved inside the schema's bounds and onto its `multipleOf`."""
    lo, xlo, hi, xhi = _bounds(schema)
    if integer:  # the same bounds, as inclusive integers
        if lo is not None:
            lo = math.floor(lo) + 1 if xlo and float(lo).is_integer() else math.ceil(lo)
        if hi is not None:
            hi = math.ceil(hi) - 1 if xhi and float(hi).is_integer() else math.floor(hi)
        xlo = xhi = False
    step = 1 if integer else 0.5
    if lo is not None and (v < lo or (xlo and v == lo)):
        v = lo + (step if xlo else 0)
    if hi is not None and (v > hi or (xhi and v == hi)):
        v = hi - (step if xhi else 0)
        if lo is not None and (v < lo or (xlo and v == lo)):
            v = (lo + hi) / 2
    m = schema.get("multipleOf")
    if _is_number(m) and m > 0:
        k = math.ceil(v / m - 1e-9)
        if hi is not None and k * m > hi:
            k = math.floor(hi / m + 1e-9)
        v = k * m if isinstance(m, int) else round(k * m, 12)
    if integer or (float(v).is_integer() and isinstance(m, int)):
        return int(v)
    return v


_BUILDERS: Final[dict[str, Callable[[_Generator, dict[str, Any], str | None, int, int], Any]]] = {
    "object": _Generator._object,
    "array": _Generator._array,
    "string": _Generator._string_of,
    "number": _Generator._number,
    "integer": _Generator._integer,
    "boolean": _Generator._boolean,
    "null": _Generator._null,
}
