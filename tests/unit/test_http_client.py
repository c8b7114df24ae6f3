"""The HTTP client and Upstream's error mapping, against tiny raw servers on loopback."""

from __future__ import annotations

import asyncio
import gc
import gzip
import itertools
import shutil
import ssl
import subprocess
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from crossroads.failures import AttemptError, Failure
from crossroads.http_client import HIGH_WATER, DeadlinePassed, HttpClient, HttpResponse
from crossroads.providers.base import UpstreamRequest
from crossroads.settings import TimeoutConfig
from crossroads.upstream import Upstream, UpstreamResponse

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
BODY = b'{"model":"m","messages":[]}'
# The most one socket read may add on top of the high-water mark (asyncio's read size).
READ_SIZE = 256 * 1024


class Server:
    """Counts connections and keeps what each request looked like."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[tuple[bytes, dict[str, str], bytes]] = []
        self.closed = asyncio.Event()
        self.eofs = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1/chat/completions"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bool:
        """One request off the socket; False at EOF."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        line, *rest = head.decode("latin-1").split("\r\n")
        headers = {}
        for item in rest:
            if item:
                name, value = item.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((line.encode(), headers, body))
        return True

    async def saw_eof(self, reader: asyncio.StreamReader) -> bool:
        try:
            return await reader.read(65536) == b""
        except ConnectionError:
            return True


@pytest.fixture(autouse=True, params=["asyncio", "uvloop"])
def event_loop_kind(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test on both loops: the router serves on uvloop, asyncio is the reference."""
    before = asyncio.get_event_loop_policy()
    if request.param == "uvloop":
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    yield
    asyncio.set_event_loop_policy(before)


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def run(coro: Awaitable[Any]) -> Any:
    """asyncio.run, failing the test on any error the loop would only have logged."""
    logged: list[dict[str, Any]] = []

    async def main() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: logged.append(ctx))
        result = await coro
        gc.collect()
        await asyncio.sleep(0.01)
        return result

    result = asyncio.run(main())
    gc.collect()
    assert not logged, logged
    return result


def request(url: str) -> UpstreamRequest:
    return UpstreamRequest(url=url, headers={"content-type": "application/json",
                                             "authorization": "Bearer k"}, body=BODY)


async def upstream() -> Upstream:
    up = Upstream(TimeoutConfig(connect_s=2.0))
    await up.start()
    return up


def test_content_length_body_and_request_shape() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(ok(b"hello", b"X-Thing: a\r\nRetry-After: 3\r\n"))

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            assert response.status == 200
            assert response.headers.get("retry-after") == "3"
            assert response.headers.get("X-THING") == "a"
            assert await response.read(1000) == b"hello"
            response.release()
            await up.close()
        line, headers, body = server.requests[0]
        assert line == b"POST /v1/chat/completions HTTP/1.1"
        assert headers["host"].startswith("127.0.0.1:")
        assert headers["content-length"] == str(len(BODY))
        assert headers["authorization"] == "Bearer k"
        assert headers["user-agent"].startswith("crossroads/")
        assert "accept-encoding" not in headers
        assert body == BODY

    server = Server(handler)
    run(main())


@pytest.mark.parametrize("wire", [
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nhello world",
    b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"hello world"),
], ids=["chunked", "until-close", "after-100-continue"])
def test_body_framings(wire: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        for i in range(0, len(wire), 7):  # split at awkward places
            writer.write(wire[i:i + 7])
            await writer.drain()
            await asyncio.sleep(0.001)

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            assert response.status == 200
            assert await response.read(1000) == b"hello world"
            response.release()
            await up.close()

    server = Server(handler)
    run(main())


def two_chunks_handler(server: Server, go_on: asyncio.Event) -> Handler:
    """A chunked answer: "first" at once, "second" and the end once `go_on` is set."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await go_on.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
    return handler


def test_streaming_chunks_arrive_as_sent() -> None:
    go_on = asyncio.Event()

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            assert await response.next_chunk() == b"first"
            go_on.set()
            assert await response.next_chunk() == b"second"
            assert await response.next_chunk() == b""
            response.release()
            await up.close()

    server = Server(silent)
    server.handler = two_chunks_handler(server, go_on)
    run(main())


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_response_is_inflated(encoding: str) -> None:
    plain = b"data: " + b"x" * 100_000 + b"\n\n"
    packed = gzip.compress(plain) if encoding == "gzip" else zlib.compress(plain)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: %s\r\ntransfer-encoding: chunked"
                     b"\r\n\r\n" % encoding.encode())
        for i in range(0, len(packed), 100):
            part = packed[i:i + 100]
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
        writer.write(b"0\r\n\r\n")

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            assert await response.read(10**6) == plain
            response.release()
            await up.close()

    server = Server(handler)
    run(main())


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts and says nothing."""


def keep_alive_handler(server: Server, reply: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader):
            writer.write(reply)
    return handler


def test_keep_alive_reuses_one_connection() -> None:
    async def main() -> None:
        async with server:
            up = await upstream()
            for _ in range(3):
                response = await up.send(request(server.url), 5)
                assert await response.read(100) == b"pong"
                response.release()
            await up.close()
        assert server.connections == 1
        assert len(server.requests) == 3

    server = Server(silent)
    server.handler = keep_alive_handler(server, ok(b"pong"))
    run(main())


def test_release_before_the_last_chunk_still_reuses_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader):
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                         b"e\r\ndata: [DONE]\n\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.02)
            writer.write(b"0\r\n\r\n")

    async def main() -> None:
        async with server:
            up = await upstream()
            for _ in range(2):
                response = await up.send(request(server.url), 5)
                assert await response.next_chunk() == b"data: [DONE]\n\n"
                response.release()  # the stream is over for the relay; the 0-chunk is not in
                await asyncio.sleep(0.05)
            await up.close()
        assert server.connections == 1

    server = Server(handler)
    run(main())


def test_a_request_that_reached_the_server_is_never_resent() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Answers once, then reads the next request and drops the connection unanswered: the
        # server may have started (and will charge for) that generation.
        await server.read_request(reader)
        writer.write(ok(b"pong"))
        await writer.drain()
        await server.read_request(reader)

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            assert await response.read(100) == b"pong"
            response.release()
            await expect_failure(up.send(request(server.url), 5), Failure.CONNECT)
            await up.close()
        assert server.connections == 1
        assert len(server.requests) == 2  # the second request went out once, not twice

    server = Server(handler)
    run(main())


def test_a_pooled_connection_closed_before_the_write_is_not_written_to() -> None:
    """The server closed the idle connection and the loop has not run since: its EOF waits
    unseen in the socket. The client must notice before writing, and use a fresh one."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(ok(b"pong"))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        closed.set()

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            assert await response.read(100) == b"pong"
            response.release()
            await closed.wait()
            time.sleep(0.1)  # noqa: ASYNC251 - blocks the loop on purpose: the FIN arrives unseen
            response = await up.send(request(server.url), 5)
            assert await response.read(100) == b"pong"
            response.release()
            await up.close()
        assert server.connections == 2
        assert len(server.requests) == 2  # nothing was written on the dead socket

    closed = asyncio.Event()
    server = Server(handler)
    run(main())


async def expect_failure(aw: Awaitable[Any], failure: Failure) -> AttemptError:
    with pytest.raises(AttemptError) as caught:
        await aw
    assert caught.value.failure is failure, caught.value
    return caught.value


def test_reset_before_headers_is_a_connect_error_without_retry() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.transport.abort()

    async def main() -> None:
        async with server:
            up = await upstream()
            await expect_failure(up.send(request(server.url), 5), Failure.CONNECT)
            await up.close()
        assert len(server.requests) == 1  # a fresh connection is never retried

    server = Server(handler)
    run(main())


def test_refused_connection_is_a_connect_error() -> None:
    async def main() -> None:
        async with Server(silent) as gone:
            url = gone.url
        up = await upstream()
        error = await expect_failure(up.send(request(url), 5), Failure.CONNECT)
        assert "could not connect" in error.message
        await up.close()

    run(main())


def test_garbage_instead_of_headers_is_a_connect_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")

    async def main() -> None:
        async with server:
            up = await upstream()
            await expect_failure(up.send(request(server.url), 5), Failure.CONNECT)
            await up.close()

    server = Server(handler)
    run(main())


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_reset_mid_body_is_a_cut(framing: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        if framing == "chunked":
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello")
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.transport.abort()

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            await expect_failure(response.read(1000), Failure.CUT)
            response.close()
            streamed = await up.send(request(server.url), 5)
            assert await streamed.next_chunk() == b"hello"
            await expect_failure(streamed.next_chunk(), Failure.CUT)
            streamed.close()
            await up.close()

    server = Server(handler)
    run(main())


def test_too_large_body() -> None:
    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            await expect_failure(response.read(10), Failure.TOO_LARGE)
            response.close()
            await up.close()

    server = Server(silent)
    server.handler = keep_alive_handler(server, ok(b"x" * 100))
    run(main())


def test_headers_timeout_closes_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        if await server.saw_eof(reader):
            server.closed.set()

    async def main() -> None:
        async with server:
            up = await upstream()
            await expect_failure(up.send(request(server.url), 0.1), Failure.HEADERS_TIMEOUT)
            await asyncio.wait_for(server.closed.wait(), 2)
            await up.close()

    server = Server(handler)
    run(main())


def test_close_mid_stream_closes_the_server_side_socket() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        if await server.saw_eof(reader):
            server.closed.set()

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            assert await response.next_chunk() == b"first"
            response.close()
            await asyncio.wait_for(server.closed.wait(), 2)
            await up.close()

    server = Server(handler)
    run(main())


def test_flow_control_bounds_the_buffer() -> None:
    total = 50 * 1024 * 1024
    block = b"z" * 65536

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % total)
        for _ in range(total // len(block)):
            writer.write(block)
            await writer.drain()

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            inner: HttpResponse = response._response
            received = largest = 0
            while chunk := await response.next_chunk():
                received += len(chunk)
                largest = max(largest, len(chunk))
                await asyncio.sleep(0.002)  # a slow consumer
                assert inner.buffered <= HIGH_WATER + READ_SIZE
            assert received == total
            assert largest <= HIGH_WATER + READ_SIZE
            assert largest > HIGH_WATER // 2  # the slow consumer did let the buffer fill
            response.release()
            await up.close()

    server = Server(handler)
    run(main())


def test_cancellation_closes_the_connection_and_leaves_nothing_unretrieved() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        if server.connections == 2:
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await writer.drain()
        if await server.saw_eof(reader):
            server.eofs += 1

    async def main() -> None:
        async with server:
            up = await upstream()
            waiting = asyncio.ensure_future(up.send(request(server.url), 5))
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            response: UpstreamResponse = await up.send(request(server.url), 5)
            assert await response.next_chunk() == b"first"
            reading = asyncio.ensure_future(response.next_chunk())
            await asyncio.sleep(0.05)
            reading.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reading
            await asyncio.sleep(0.05)
            assert server.eofs == 2
            response.close()  # harmless after the cancellation already closed it
            await up.close()

    server = Server(handler)
    run(main())


def _certificate(tmp: Path) -> tuple[Path, Path]:
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return key, cert


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_https_with_keep_alive(tmp_path: Path) -> None:
    key, cert = _certificate(tmp_path)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    client_side = ssl.create_default_context(cafile=str(cert))

    async def main() -> None:
        server = Server(silent)
        server.handler = keep_alive_handler(server, ok(b"secret"))
        listener = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=server_side)
        port = listener.sockets[0].getsockname()[1]
        client = HttpClient(connect_timeout_s=2, ssl_context=client_side)
        for _ in range(2):
            response = await client.post(f"https://localhost:{port}/v1/x", {}, b"{}", 5)
            assert await response.read(100) == b"secret"
            response.release()
        await client.close()
        listener.close()
        assert server.connections == 1
        assert server.requests[0][1]["host"] == f"localhost:{port}"

    run(main())


@pytest.mark.parametrize("how", ["server-closed-while-idle", "expired"])
def test_dead_or_expired_idle_connections_are_not_reused(how: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(ok(b"pong"))
        if how == "expired":
            await server.read_request(reader)  # keeps the socket open until the client leaves

    async def main() -> None:
        async with server:
            client = HttpClient(connect_timeout_s=2, keepalive_s=0.05)
            for _ in range(2):
                response = await client.post(server.url, {}, b"{}", 5)
                assert await response.read(100) == b"pong"
                response.release()
                await asyncio.sleep(0.1)
            await client.close()
        assert server.connections == 2
        assert len(server.requests) == 2  # nothing was sent on a dead socket

    server = Server(handler)
    run(main())


def test_a_chunk_deadline_passes_without_breaking_the_exchange() -> None:
    """`DeadlinePassed` is the caller's to judge: the exchange stays usable after it, and a
    chunk already buffered is returned whatever the deadline."""
    go_on = asyncio.Event()

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            loop = asyncio.get_running_loop()
            assert await response.next_chunk(loop.time() - 1) == b"first"  # buffered
            with pytest.raises(DeadlinePassed):
                await response.next_chunk(loop.time() + 0.05)
            go_on.set()
            assert await response.next_chunk(loop.time() + 5) == b"second"
            assert await response.read(100, loop.time() + 5) == b""
            response.release()
            await up.close()
        assert server.connections == 1

    server = Server(silent)
    server.handler = two_chunks_handler(server, go_on)
    run(main())


def test_body_deadline_on_read() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
        await server.saw_eof(reader)

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            with pytest.raises(DeadlinePassed):
                await response.read(100, asyncio.get_running_loop().time() + 0.05)
            response.close()
            await up.close()

    server = Server(handler)
    run(main())


class Ticker:
    """`WhileWaiting` that records when it fired."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.fired: list[float] = []
        self.last = asyncio.get_running_loop().time()

    def due(self) -> float:
        return self.last + self.every_s

    async def fire(self) -> None:
        self.last = asyncio.get_running_loop().time()
        self.fired.append(self.last)


def test_while_waiting_fires_until_the_headers_arrive_then_stops() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        await asyncio.sleep(0.35)
        writer.write(ok(b"late"))

    async def main() -> None:
        async with server:
            up = await upstream()
            ticker = Ticker(0.1)
            response = await up.send(request(server.url), 5, None, ticker)
            count = len(ticker.fired)
            assert await response.read(100) == b"late"
            response.release()
            await up.close()
        # Fired while waiting (the server waits 0.35 s), never before it was due (uvloop's
        # timers round to the millisecond), never once the headers were in.
        assert count >= 1
        assert all(b - a >= 0.1 - 0.002 for a, b in itertools.pairwise(ticker.fired))
        assert len(ticker.fired) == count

    server = Server(handler)
    run(main())


def test_while_waiting_does_not_stretch_the_headers_deadline() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        await server.saw_eof(reader)

    async def main() -> None:
        async with server:
            up = await upstream()
            ticker = Ticker(0.05)
            await expect_failure(up.send(request(server.url), 0.3, None, ticker),
                                 Failure.HEADERS_TIMEOUT)
            await up.close()
        assert len(ticker.fired) >= 2

    server = Server(handler)
    run(main())


def test_while_waiting_fires_during_a_chunk_wait_and_news_is_not_lost() -> None:
    go_on = asyncio.Event()

    async def main() -> None:
        async with server:
            up = await upstream()
            response = await up.send(request(server.url), 5)
            assert await response.next_chunk() == b"first"
            loop = asyncio.get_running_loop()
            ticker = Ticker(0.05)
            loop.call_later(0.3, go_on.set)
            assert await response.next_chunk(loop.time() + 5, ticker) == b"second"
            fired = len(ticker.fired)
            assert await response.next_chunk(loop.time() + 5, ticker) == b""
            response.release()
            await up.close()
        assert fired >= 2
        assert all(b - a >= 0.05 - 0.002 for a, b in itertools.pairwise(ticker.fired))

    server = Server(silent)
    server.handler = two_chunks_handler(server, go_on)
    run(main())
