"""Fast fake upstream: uvloop + httptools, fixed ~300 B JSON response, keep-alive.

Usage: python upstream.py PORT
"""

import asyncio
import sys

import httptools
import uvloop
from payload import RESPONSE_BODY

RESP = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(RESPONSE_BODY)).encode()
    + b"\r\nconnection: keep-alive\r\n\r\n"
    + RESPONSE_BODY
)


class Upstream(asyncio.Protocol):
    __slots__ = ("parser", "transport")

    def connection_made(self, transport):
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self):
        self.transport.write(RESP)
        if not self.parser.should_keep_alive():
            self.transport.close()


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
