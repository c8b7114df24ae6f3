"""Middle-out: cut a conversation from the middle until it fits a context window.

The start of a conversation (its instructions, the task) and its end (the question being asked
now) matter most; the middle is what a long chat can best spare. So, as OpenRouter's
`middle-out` does, whole turns are removed from the middle outwards, and when only the first
and the last turn remain and the prompt still does not fit, the longest text is cut in its
middle. Leading system and developer messages are never removed, and an assistant message that
called tools goes together with the tool results that answer it, so no provider ever sees a
tool result without its call.

Sizes are the router's own estimate (`ChatRequest.prompt_token_estimate`): four characters a
token, four tokens a message, a fixed count per image.
"""

from __future__ import annotations

from typing import Any

import msgspec

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
MARKER = "\n[…]\n"
HEAD_ROLES = frozenset({"system", "developer"})


class Cut(msgspec.Struct, frozen=True):
    messages: list[dict[str, Any]]
    removed: int  # whole messages removed
    truncated_chars: int  # characters cut out of the middle of one message
    tokens_before: int
    tokens_after: int

    def describe(self, context_length: int) -> str:
        parts = []
        if self.removed:
            parts.append(f"removed {self.removed} messages")
        if self.truncated_chars:
            parts.append(f"cut {self.truncated_chars} characters from one message")
        return (f"middle-out {' and '.join(parts)} from the middle of the conversation "
                f"(~{self.tokens_before} → ~{self.tokens_after} prompt tokens) to fit a "
                f"{context_length}-token context")


def _size(message: dict[str, Any], tokens_per_image: int) -> tuple[int, int]:
    """(text characters, image tokens) of one message."""
    content = message.get("content")
    if isinstance(content, str):
        return len(content), 0
    chars = images = 0
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                chars += len(part["text"])
            elif part.get("type") == "image_url":
                images += 1
    return chars, images * tokens_per_image


def measure(messages: list[dict[str, Any]]) -> tuple[int, int]:
    """(text characters, images) of a conversation, as `ChatRequest` counts them."""
    sizes = [_size(m, 1) for m in messages]
    return sum(c for c, _ in sizes), sum(i for _, i in sizes)


def estimate(messages: list[dict[str, Any]], tokens_per_image: int) -> int:
    chars = image_tokens = 0
    for message in messages:
        c, i = _size(message, tokens_per_image)
        chars += c
        image_tokens += i
    return chars // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * len(messages) + image_tokens


def _turns(messages: list[dict[str, Any]]) -> tuple[int, list[list[int]]]:
    """(how many leading messages are instructions, the rest grouped into removable units)."""
    head = 0
    while head < len(messages) and messages[head].get("role") in HEAD_ROLES:
        head += 1
    units: list[list[int]] = []
    for i in range(head, len(messages)):
        if messages[i].get("role") == "tool" and units:
            units[-1].append(i)
        else:
            units.append([i])
    return head, units


def _truncate_longest(messages: list[dict[str, Any]], excess_chars: int) -> int:
    """Cut `excess_chars` (plus the marker) out of the middle of the longest text; → how many
    characters went."""
    best: tuple[int, dict[str, Any], str] | None = None
    for message in messages:
        content = message.get("content")
        if isinstance(content, str) and (best is None or len(content) > best[0]):
            best = (len(content), message, "content")
        elif isinstance(content, list):
            for part in content:
                if (isinstance(part, dict) and isinstance(part.get("text"), str)
                        and (best is None or len(part["text"]) > best[0])):
                    best = (len(part["text"]), part, "text")
    if best is None:
        return 0
    length, holder, key = best
    cut = min(length, excess_chars + len(MARKER))
    if cut <= len(MARKER):
        return 0
    keep = length - cut
    text: str = holder[key]
    holder[key] = text[: keep - keep // 2] + MARKER + text[length - keep // 2:]
    return cut


def middle_out(messages: list[dict[str, Any]], budget_tokens: int,
               tokens_per_image: int) -> Cut | None:
    """The conversation cut to fit `budget_tokens`, or None when it already fits. The result
    may still be over budget when even one message's images exceed it: routing refuses that
    as a context-length error."""
    before = estimate(messages, tokens_per_image)
    if before <= budget_tokens:
        return None
    head, units = _turns(messages)
    sizes = [_size(m, tokens_per_image) for m in messages]
    chars = sum(c for c, _ in sizes)
    image_tokens = sum(i for _, i in sizes)
    count = len(messages)
    gone: set[int] = set()
    total = before
    # Remove whole turns from the middle outwards, keeping the first turn and the last.
    middle = units[1:-1]
    while total > budget_tokens and middle:
        for i in middle.pop(len(middle) // 2):
            gone.add(i)
            chars -= sizes[i][0]
            image_tokens -= sizes[i][1]
            count -= 1
        total = chars // CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * count + image_tokens
    kept = [dict(m) if isinstance(m.get("content"), str) else _copy(m)
            for j, m in enumerate(messages) if j not in gone]
    truncated = 0
    if total > budget_tokens:
        truncated = _truncate_longest(kept[head:] or kept,
                                      (total - budget_tokens) * CHARS_PER_TOKEN)
        total = estimate(kept, tokens_per_image)
    return Cut(kept, len(gone), truncated, before, total)


def _copy(message: dict[str, Any]) -> dict[str, Any]:
    """A message whose text parts can be cut without touching the caller's."""
    content = message.get("content")
    if not isinstance(content, list):
        return dict(message)
    return {**message, "content": [dict(p) if isinstance(p, dict) else p for p in content]}
