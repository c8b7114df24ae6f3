"""The HTTP layer under rough clients: raw sockets, chunked bodies, keep-alive and garbage."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from crossroads.sim.server import SimServer

from .support import Sim

BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()


class Conn:
    """A raw client socket with a read buffer, so pipelined responses can be split."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self, n: int) -> bytes:
        if self.buf:
            out, self.buf = self.buf[:n], self.buf[n:]
            return out
        return self.sock.recv(n)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, f"connection closed early: {self.buf!r}"
        self.buf += chunk

    def response(self) -> tuple[bytes, dict[bytes, bytes], bytes]:
        """One Content-Length response: status line, headers, body."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, *lines = head.split(b"\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines)}
        length = int(headers[b"content-length"])
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body


@contextmanager
def connect(server: SimServer) -> Iterator[Conn]:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        yield Conn(sock)
    finally:
        sock.close()


def request(path: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Length: %d\r\n" % len(body) + extra + b"\r\n" + body
    )


def test_keep_alive_serves_many_requests_on_one_connection(sim: Sim) -> None:
    with connect(sim.server) as sock:
        for _ in range(3):
            sock.sendall(request(b"/plain/v1/chat/completions", BODY))
            status, headers, body = sock.response()
            assert status == b"HTTP/1.1 200 OK"
            assert b"connection" not in headers
            assert json.loads(body)["object"] == "chat.completion"


def test_pipelined_requests_answered_in_order(sim: Sim) -> None:
    sim.script("plain", "http_500", "ok")
    with connect(sim.server) as sock:
        sock.sendall(request(b"/plain/v1/chat/completions", BODY) * 2)
        assert sock.response()[0] == b"HTTP/1.1 500 Internal Server Error"
        assert sock.response()[0] == b"HTTP/1.1 200 OK"


def test_connection_close_is_honoured(sim: Sim) -> None:
    with connect(sim.server) as sock:
        sock.sendall(request(b"/plain/v1/chat/completions", BODY, b"Connection: close\r\n"))
        status, headers, _ = sock.response()
        assert status == b"HTTP/1.1 200 OK"
        assert headers[b"connection"] == b"close"
        assert sock.recv(1) == b"", "the server closed its side"


def test_http_10_closes_after_the_response(sim: Sim) -> None:
    with connect(sim.server) as sock:
        sock.sendall(request(b"/plain/v1/chat/completions", BODY).replace(b"HTTP/1.1", b"HTTP/1.0"))
        status, headers, _ = sock.response()
        assert status == b"HTTP/1.1 200 OK"
        assert headers[b"connection"] == b"close"
        assert sock.recv(1) == b""


def test_chunked_request_body(sim: Sim) -> None:
    half = len(BODY) // 2
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (
        half,
        BODY[:half],
        len(BODY) - half,
        BODY[half:],
    )
    head = b"POST /plain/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
    with connect(sim.server) as sock:
        sock.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
        status, _, body = sock.response()
    assert status == b"HTTP/1.1 200 OK"
    assert sim.log("plain")[-1]["body"] == json.loads(BODY)
    assert json.loads(body)["usage"]["prompt_tokens"] == 5


def test_expect_continue(sim: Sim) -> None:
    with connect(sim.server) as sock:
        head = request(b"/plain/v1/chat/completions", b"", b"Expect: 100-continue\r\n")
        sock.sendall(head.replace(b"Content-Length: 0", b"Content-Length: %d" % len(BODY)))
        # Nothing else can come before the body is sent.
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(BODY)
        assert sock.response()[0] == b"HTTP/1.1 200 OK"


def test_garbage_gets_400_and_the_server_lives_on(sim: Sim) -> None:
    with connect(sim.server) as sock:
        sock.sendall(b"\x16\x03\x01 this is not http\r\n\r\n")
        status, headers, body = sock.response()
        assert status == b"HTTP/1.1 400 Bad Request"
        assert headers[b"connection"] == b"close"
        assert json.loads(body)["error"]["type"] == "invalid_request_error"
    with connect(sim.server) as sock:
        sock.sendall(b"POST /plain/v1/chat/completions HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        assert sock.response()[0] == b"HTTP/1.1 400 Bad Request"
    assert sim.post(
        "plain", {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    ).is_success


def test_client_vanishing_before_the_answer(sim: Sim) -> None:
    sim.script("plain", "slow_first_token")
    sim.patch("plain", slow_first_token_s=5)
    with connect(sim.server) as sock:
        sock.sendall(request(b"/plain/v1/chat/completions", BODY))
    with connect(sim.server) as sock:
        sock.sendall(request(b"/plain/v1/chat/completions", BODY))
        assert sock.response()[0] == b"HTTP/1.1 200 OK"
    deadline = time.monotonic() + 5
    while sim.control("GET", "/endpoints/plain").json()["active"]:
        assert time.monotonic() < deadline, "the abandoned request is still in flight"
        time.sleep(0.01)
