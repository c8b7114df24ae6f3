"""Writing AWS's binary event stream, as Bedrock's ConverseStream sends it.

botocore decodes this framing but has no encoder, so the sim writes it itself: a message is

    total length | headers length | prelude CRC32 | headers | payload | message CRC32

with the lengths and CRCs as 4-byte big-endian integers, the prelude CRC over the first 8 bytes
and the message CRC over everything before it; a header is a 1-byte name length, the name, a
type byte (7: string) and a 2-byte length before the UTF-8 value
(https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html, the format every AWS event
stream shares). CRC32 is a checksum, not cryptography: `zlib.crc32` is the one the format uses.
The router reads these bytes with botocore's decoder, so a mistake here fails loudly there.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any, Final

import orjson

__all__ = ["event_message", "exception_message"]

_STRING: Final = 7


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", _STRING,
                                                                      len(raw_value))
            + raw_value)


def message(headers: dict[str, str], payload: bytes) -> bytes:
    head = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def event_message(event_type: str, payload: dict[str, Any]) -> bytes:
    """One event of the ConverseStreamOutput union (messageStart, contentBlockDelta, …)."""
    return message({":event-type": event_type, ":content-type": "application/json",
                    ":message-type": "event"}, orjson.dumps(payload))


def exception_message(exception_type: str, text: str) -> bytes:
    """An exception inside the stream (throttlingException, modelStreamErrorException, …)."""
    return message({":exception-type": exception_type, ":content-type": "application/json",
                    ":message-type": "exception"}, orjson.dumps({"message": text}))
