"""Values a simulated model takes from the user's words when it fills in arguments or a schema.

Three rules, in order, so a demo reads naturally ("What's the weather in the city of Paris?" calls
`get_weather(city="Paris")`, "multiply 3 by 12" calls `multiply(a=3, b=12)`):

1. a property named in the text takes what follows its name: `city Paris`, `city: "Paris"`,
   `city is Paris`, `the city of Paris`, `user_name = ada` (underscores read as spaces);
2. other string properties take the text's proper nouns in turn: capitalised words that do not
   start a sentence ("New York" is one), never "I";
3. integer and number properties take the text's numbers in turn.

A hint is only used where it satisfies the schema; otherwise the generator's own value stands.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["Hints"]

_NUMBER: Final = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_CAPITALISED: Final = re.compile(r"\b[A-Z][\w'-]*(?:[ ][A-Z][\w'-]*)*")
# What may come before the first word of a sentence (only spaces in between).
_SENTENCE_START: Final = frozenset(".!?\n])}")
_LINKS: Final = r"(?:\s*(?::|=|\bis\b|\bof\b|\bnamed\b|\bcalled\b|\bas\b|\bto\b))?"
_VALUE: Final = r"""\s*(?:the\s+|an?\s+)?(?:"([^"]+)"|'([^']+)'|`([^`]+)`|([\w][\w.@/+-]*))"""
_ARTICLES: Final = frozenset({"the", "a", "an", "is", "of", "to", "and", "or", "in", "for"})


class Hints:
    """What one user turn offers; consumed in order by one generated value."""

    __slots__ = ("_names", "_numbers", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._numbers = [m.group() for m in _NUMBER.finditer(text)]
        self._names = [
            m.group()
            for m in _CAPITALISED.finditer(text)
            if m.group() != "I" and not _starts_sentence(text, m.start())
        ]

    def named(self, name: str) -> str | None:
        """The value the text gives next to a property's name, if it names it."""
        words = [w for w in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", name) if w]
        # A one-letter name ("a", "x") would match every article and pronoun.
        if len(name) < 2 or not words or not self._text:
            return None
        spelled = r"[\s_-]*".join(re.escape(w) for w in words)
        m = re.search(r"\b" + spelled + r"\b" + _LINKS + _VALUE, self._text, re.IGNORECASE)
        if m is None:
            return None
        value = next(g for g in m.groups() if g is not None).rstrip(".")
        return None if value.lower() in _ARTICLES else value

    def proper_noun(self) -> str | None:
        return self._names.pop(0) if self._names else None

    def number(self) -> str | None:
        return self._numbers.pop(0) if self._numbers else None

    def peek_number(self) -> str | None:
        return self._numbers[0] if self._numbers else None


def _starts_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip(" \t")
    return not before or before[-1] in _SENTENCE_START

