"""An example string for a trivial regular expression, as JSON Schema's `pattern` gives one.

Only a small, common subset is understood: literals and escapes, `\\d \\w \\s .`, character
classes with ranges, groups with alternation (the first branch is taken), `^ $` anchors and the
quantifiers `? * + {n} {n,} {n,m}` (each repeated its minimum, at least once for `+`). Anything
else (lookarounds, back-references, negated classes) yields None, and the caller keeps its own
value: the sim promises schema-valid output only for patterns this simple.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["example"]

_ESCAPES: Final = {"d": "0", "w": "a", "s": " ", "D": "a", "W": "-", "S": "a"}
_QUANTIFIER: Final = re.compile(r"\{(\d+)(,(\d*))?\}")


class _Unsupported(Exception):
    pass


def _class_char(body: str) -> str:
    """A character of the class `[body]`: its first member."""
    if not body or body[0] == "^":
        raise _Unsupported
    if body[0] == "\\" and len(body) > 1:
        return _ESCAPES.get(body[1], body[1])
    return body[0]


def _atom(pattern: str, i: int) -> tuple[str, int]:
    """(example text of the atom at i, index after it)."""
    c = pattern[i]
    if c == "\\":
        if i + 1 >= len(pattern):
            raise _Unsupported
        nxt = pattern[i + 1]
        if nxt.isdigit() or nxt in "bBkpPux":
            raise _Unsupported
        return _ESCAPES.get(nxt, nxt), i + 2
    if c == "[":
        end = pattern.find("]", i + 2)
        if end < 0:
            raise _Unsupported
        return _class_char(pattern[i + 1 : end]), end + 1
    if c == "(":
        depth, j = 1, i + 1
        while j < len(pattern) and depth:
            if pattern[j] == "\\":
                j += 1
            elif pattern[j] == "(":
                depth += 1
            elif pattern[j] == ")":
                depth -= 1
            j += 1
        if depth:
            raise _Unsupported
        inner = pattern[i + 1 : j - 1]
        if inner.startswith("?:"):
            inner = inner[2:]
        elif inner.startswith("?"):
            raise _Unsupported
        return _sequence(inner), j
    if c == ".":
        return "a", i + 1
    if c in "*+?{}|)":
        raise _Unsupported
    return c, i + 1


def _repeat(pattern: str, i: int) -> tuple[int, int]:
    """(times to repeat the atom before i, index after its quantifier)."""
    if i >= len(pattern):
        return 1, i
    c = pattern[i]
    lazy = 1 if i + 1 < len(pattern) and pattern[i + 1] == "?" else 0
    if c in "?*":
        return 0, i + 1 + lazy
    if c == "+":
        return 1, i + 1 + lazy
    if c == "{":
        m = _QUANTIFIER.match(pattern, i)
        if m is None:
            raise _Unsupported
        return int(m.group(1)), m.end()
    return 1, i


def _first_branch(pattern: str) -> str:
    """The pattern up to its first top-level `|`."""
    depth, j = 0, 0
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j += 1
        elif c == "[":
            close = pattern.find("]", j + 2)
            j = close if close > 0 else len(pattern)
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return pattern[:j]
        j += 1
    return pattern


def _sequence(pattern: str) -> str:
    pattern = _first_branch(pattern)
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] in "^$":
            i += 1
            continue
        text, i = _atom(pattern, i)
        times, i = _repeat(pattern, i)
        out.append(text * times)
    return "".join(out)


def example(pattern: str) -> str | None:
    """A string `re.search(pattern, ...)` accepts, or None for a pattern beyond the subset."""
    try:
        text = _sequence(pattern)
        if re.search(pattern, text) is not None:
            return text
    except (_Unsupported, re.error, IndexError):
        pass
    return None
