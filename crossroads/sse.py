"""Server-sent events, both directions, with no I/O.

Only what OpenAI-style streams use: `data:` fields (joined with newlines when an event has
several), comment lines (keep-alives, ignored on the way in) and blank-line dispatch. Both `\\n`
and `\\r\\n` line endings are accepted. The decoder refuses to buffer more than `max_event_bytes`
without a dispatch, so an endless or newline-free stream cannot exhaust memory.

Tolerant parsing, strict truth. Every chunk any dialect sends is a JSON object in a `data:` field,
so a line can be judged by whether it could have carried one:

* a comment (`:` first), or an `event:`, `id:` or `retry:` field: SSE itself; ignored, not counted;
* a `data:` event whose payload is empty or whitespace: it held nothing; skipped and counted;
* any other line (an unknown field, a line with no colon, bytes a proxy garbled) that has no
  `{` in it: it could not have held a chunk; skipped and counted (`skipped`);
* such a line *with* a `{`: it may have been a chunk whose `data:` got mangled, so content may
  be lost; it becomes the `GARBLED` payload, in order, which the stream treats as malformed;
* a `data:` payload that is not valid JSON is the dialect's to refuse (malformed), as before.

The count travels to the attempt's record (`skipped_events`), so a provider that sends junk is
visible without costing anyone their answer.
"""

from __future__ import annotations

DONE = b"[DONE]"
KEEPALIVE = b": CROSSROADS PROCESSING\n\n"
DONE_EVENT = b"data: [DONE]\n\n"
# The payload that stands for a garbled line that may have held content (module doc); compared
# by identity, so no provider's bytes can ever be mistaken for it.
GARBLED = b"\x00garbled"
_SSE_FIELDS = frozenset({b"event", b"id", b"retry"})


class SSEOverflowError(Exception):
    """An event grew past the decoder's limit."""


def encode(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


class SSEDecoder:
    __slots__ = ("_buf", "_data", "_max", "_size", "skipped")

    def __init__(self, max_event_bytes: int = 8 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self._data: list[bytes] = []
        self._size = 0
        self._max = max_event_bytes
        # Lines and events skipped as harmless junk (module doc).
        self.skipped = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add bytes; return the payloads of every event completed by them."""
        buf = self._buf
        buf += chunk
        events: list[bytes] = []
        start = 0
        while (nl := buf.find(b"\n", start)) >= 0:
            line = bytes(buf[start:nl])
            start = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    payload = b"\n".join(self._data)
                    if payload.strip():
                        events.append(payload)
                    else:
                        self.skipped += 1
                    self._data = []
                    self._size = 0
            elif line.startswith(b"data:"):
                value = line[6:] if line.startswith(b"data: ") else line[5:]
                self._data.append(value)
                self._size += len(value)
            elif not line.startswith(b":") and line.partition(b":")[0] not in _SSE_FIELDS:
                if b"{" in line:
                    events.append(GARBLED)
                else:
                    self.skipped += 1
        if start:
            del buf[:start]
        if len(buf) + self._size > self._max:
            raise SSEOverflowError(f"an event exceeded {self._max} bytes")
        return events

    def close(self) -> bool:
        """End of stream. An unfinished event is discarded (as the SSE spec says); returns
        whether there was one, which for a chat stream means it was cut mid-event."""
        pending = bool(self._data or self._buf.strip())
        self._buf.clear()
        self._data = []
        self._size = 0
        return pending
