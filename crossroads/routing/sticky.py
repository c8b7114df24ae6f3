"""Sticky routing for prompt caches: a conversation keeps going to the endpoint that cached it.

A conversation is named by the caller's `session_id`, or else by a hash of its first system and
first user message (they stay the same as the conversation grows). After a generation served by
an endpoint whose cache reads are cheaper than its prompt price, the conversation is pinned to
that endpoint; the pin expires after `idle_s` without use and is never refreshed by an error.
Routing moves the pinned endpoint to the front only while it can serve and is healthy, and never
when the caller set `provider.order`. Memory is bounded: the least recently used pins go first.
With several replicas, each pin is also handed to a listener (shared_state/ publishes it) and the
other replicas' pins arrive through `adopt`, so a conversation stays put whichever replica the
load balancer sends its next turn to.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Protocol

import orjson

from crossroads.catalog import Catalog, Endpoint
from crossroads.chat_request import ChatRequest


def conversation_key(request: ChatRequest) -> str | None:
    if request.prefs.session_id:
        return "s:" + request.prefs.session_id
    first: dict[str, Any] = {}
    for message in request.body["messages"]:
        role = message.get("role")
        if role in ("system", "developer", "user") and role not in first:
            first[role] = message.get("content")
        if "user" in first:
            break
    if "user" not in first:
        return None
    try:
        encoded = orjson.dumps(first, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return None  # too deeply nested to name; the provider build refuses it with a 400
    digest = hashlib.blake2b(encoded, digest_size=16)
    return "h:" + digest.hexdigest()


def worth_sticking(request: ChatRequest, catalog: Catalog) -> bool:
    """Could any model this request may use pin a conversation? Only endpoints whose cache
    reads are cheaper are ever pinned, so without one there is nothing to name or look up."""
    return any(catalog.table(slug).any_caches_cheaper for slug in request.models)


class PinListener(Protocol):
    def pinned(self, conversation: str, key: str, at: float) -> None: ...


class StickyTable:
    """conversation → (endpoint key, last used); LRU-bounded, idle entries expire."""

    __slots__ = ("_entries", "_idle_s", "_listener", "_max")

    def __init__(self, idle_s: float = 600.0, max_entries: int = 100_000) -> None:
        self._idle_s = idle_s
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._listener: PinListener | None = None

    def listen(self, listener: PinListener | None) -> None:
        self._listener = listener

    def lookup(self, conversation: str | None, now: float) -> str | None:
        if conversation is None:
            return None
        entry = self._entries.get(conversation)
        if entry is None:
            return None
        if now - entry[1] > self._idle_s:
            del self._entries[conversation]
            return None
        return entry[0]

    def remember(self, conversation: str, endpoint: Endpoint, now: float) -> None:
        if not endpoint.pricing.caches_cheaper:
            return
        self.adopt(conversation, endpoint.key, now)
        if self._listener is not None:
            self._listener.pinned(conversation, endpoint.key, now)

    def adopt(self, conversation: str, key: str, at: float) -> None:
        """Pin as another replica did at `at` (this process's clock); a newer pin here wins."""
        entry = self._entries.get(conversation)
        if entry is not None and entry[1] > at:
            return
        self._entries[conversation] = (key, at)
        self._entries.move_to_end(conversation)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
