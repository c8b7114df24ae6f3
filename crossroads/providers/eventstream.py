"""AWS's binary event stream (`application/vnd.amazon.eventstream`) as a stream `Framing`.

Bedrock's ConverseStream answers in this framing, not SSE. Each message is
(https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream,
the format every AWS event stream shares)::

    total length | headers length | prelude CRC32 | headers | payload | message CRC32

(the lengths and CRCs are 4-byte big-endian integers)

Decoding is botocore's own `EventStreamBuffer`, which checks both CRCs and the length limits; this
module only splits the bytes into messages and turns them into the payloads a `StreamTranslator`
reads. The headers say what
a message is:

* `:message-type: event` with `:event-type` (messageStart, contentBlockDelta, …) and a JSON payload;
* `:message-type: exception` with `:exception-type` (throttlingException, …) and a JSON payload
  with its `message`;
* `:message-type: error` with `:error-code` and `:error-message` headers (a transport error).

Each becomes one JSON object keyed by its type, as the AWS SDKs surface the ConverseStreamOutput
union (`{"contentBlockDelta": {...}}`, `{"throttlingException": {"message": ...}}`, and
`{"error": {"code": ..., "message": ...}}` for the last kind), so the translator reads plain JSON.
A bad CRC, a bad prelude or an unknown message type is a MALFORMED attempt; a message larger than
the session's event limit is TOO_LARGE, checked before it is buffered whole.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError

from crossroads.failures import AttemptError, Failure

__all__ = ["EventStreamFraming"]

_PRELUDE = 12
_MIN_MESSAGE = 16  # a prelude and the message CRC, nothing else
# What a malformed message can make botocore's decoder raise besides its own ParserError: short
# buffers (struct), unknown header types (KeyError), bad UTF-8 in a header.
_DECODE_ERRORS = (ParserError, struct.error, KeyError, IndexError, ValueError)


def _malformed(what: str) -> AttemptError:
    return AttemptError(Failure.MALFORMED, f"the provider sent a malformed event stream: {what}")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _payload(headers: dict[str, Any], payload: bytes) -> bytes:
    kind = headers.get(":message-type")
    if kind == "event":
        name = _text(headers.get(":event-type"))
    elif kind == "exception":
        name = _text(headers.get(":exception-type"))
    elif kind == "error":
        return orjson.dumps({"error": {"code": _text(headers.get(":error-code")),
                                       "message": _text(headers.get(":error-message"))}})
    else:
        raise _malformed(f"unknown message type {kind!r}")
    if not name or not name.isidentifier():
        raise _malformed("a message without an event type")
    # The payload is passed through as it came; the translator rejects one that is not JSON.
    return b'{"%s":%s}' % (name.encode(), payload or b"{}")


def _decode(raw: bytes) -> EventStreamMessage | None:
    """botocore's decoding of one message (CRCs and limits checked), or None when `raw` holds
    only its valid start; MALFORMED when it is not a valid message."""
    decoder = EventStreamBuffer()
    decoder.add_data(raw)
    try:
        return next(decoder)
    except StopIteration:
        return None
    except _DECODE_ERRORS as exc:
        raise _malformed(type(exc).__name__) from None


class EventStreamFraming:
    """Splits the stream message by message and has botocore decode each one.

    The split is ours because botocore's own buffer copies everything it holds each time it takes
    a message off the front, which costs quadratic time on a large read of small events; here
    each message's bytes are handed over once, exactly, and botocore still checks the prelude
    of a message as soon as it arrives (a bad CRC, or a length past the limit, fails at once
    instead of after the bytes it promises)."""

    __slots__ = ("_buffer", "_checked", "_max")

    skipped = 0  # a CRC-checked framing has no harmless junk to skip: anything bad is MALFORMED

    def __init__(self, max_event_bytes: int) -> None:
        self._buffer = bytearray()
        self._checked = False  # the pending message's prelude has passed botocore's checks
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer
        buffer += chunk
        out: list[bytes] = []
        start = 0
        try:
            while len(buffer) - start >= _PRELUDE:
                total = int.from_bytes(buffer[start:start + 4], "big")
                if not self._checked:
                    # The prelude alone: botocore validates its CRC and limits, then waits.
                    if _decode(bytes(buffer[start:start + _PRELUDE])) is not None \
                            or total < _MIN_MESSAGE:
                        raise _malformed("a message shorter than its prelude")
                    if total > self._max:
                        raise AttemptError(Failure.TOO_LARGE,
                                           f"an event exceeded {self._max} bytes")
                    self._checked = True
                if len(buffer) - start < total:
                    break
                message = _decode(bytes(buffer[start:start + total]))
                if message is None:
                    raise _malformed("a message that does not end where its prelude says")
                out.append(_payload(message.headers, message.payload))
                start += total
                self._checked = False
        finally:
            del buffer[:start]
        return out

    def close(self) -> bool:
        pending = bool(self._buffer)
        self._buffer = bytearray()
        self._checked = False
        return pending
