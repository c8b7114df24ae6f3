"""A provider that misbehaves in ways the simulator does not: huge and endless answers, and a
Bedrock event-stream message that never ends."""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from zlib import crc32

CHUNK = (b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
         b'"choices":[{"index":0,"delta":{"content":"la "},"finish_reason":null}]}\n\n')


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        path = head.split(b" ")[1]
        if path.startswith(b"/huge/"):
            # A 200 whose JSON body never ends: 1 MiB chunks until the client gives up.
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"transfer-encoding: chunked\r\n\r\n")
            writer.write(b"%x\r\n%s\r\n" % (len(b'{"choices": ['), b'{"choices": ['))
            block = b"[" * (1 << 20)
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(block), block))
                await writer.drain()
        elif path.startswith(b"/endless/"):
            # A well-formed stream that never finishes.
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                         b"transfer-encoding: chunked\r\n\r\n")
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(CHUNK) * 50, CHUNK * 50))
                await writer.drain()
                await asyncio.sleep(0.001)
        elif path.startswith(b"/bigframe/"):
            # AWS's event stream with one message whose prelude (CRC and all) promises 20 MiB,
            # then bytes forever: the binary twin of a newline-free SSE event.
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream"
                         b"\r\ntransfer-encoding: chunked\r\n\r\n")
            prelude = struct.pack(">II", 20 << 20, 0)
            block = prelude + struct.pack(">I", crc32(prelude)) + b"x" * (1 << 20)
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(block), block))
                await writer.drain()
                block = b"x" * (1 << 20)
        elif path.startswith(b"/oneline/"):
            # One SSE event that never ends: no newline, ever.
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                         b"transfer-encoding: chunked\r\n\r\n")
            block = b'data: {"choices": "' + b"x" * (1 << 20)
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(block), block))
                await writer.drain()
                block = b"x" * (1 << 20)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@contextmanager
def hostile_provider() -> Iterator[str]:
    """Serve on 127.0.0.1 in a background thread; yield the base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: list[asyncio.Server] = []

    async def start() -> None:
        box.append(await asyncio.start_server(_handle, "127.0.0.1", 0))
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()),
                                              loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(10)
    port = box[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
