"""The fuzz client and the one property every answer must have.

Requests go over a raw socket so a test can send what no well-behaved client library would
(a bad Content-Length, a 100 KB header, a broken chunked body), and are read back with
`http.client.HTTPResponse`, which understands chunked answers and SSE alike.

The property (`check`): an answer is either a 200 carrying a well-formed completion or stream,
or a 4xx with the OpenAI-style error body whose `code` is the HTTP status. Never a 5xx (the fleet
behind the fuzz router is healthy, so even 502/503/504 are bugs here), never a hang (every socket
operation and every whole exchange is bounded), never a Python traceback or exception name that
the request did not itself contain.
"""

from __future__ import annotations

import builtins
import http.client
import json
import os
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings

# --- run size -----------------------------------------------------------------------------------

# CI runs every fuzz test with its default example count, derandomized, in about a minute.
# FUZZ_EXAMPLES=N runs each property test with N examples and fresh random inputs instead.
_OVERRIDE = os.environ.get("FUZZ_EXAMPLES")


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=int(_OVERRIDE) if _OVERRIDE else examples,
        deadline=None,
        derandomize=_OVERRIDE is None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.large_base_example, HealthCheck.filter_too_much],
        print_blob=True,
    )


# --- the tally the summary line quotes ------------------------------------------------------------


@dataclass
class Tally:
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    known_bugs: Counter[str] = field(default_factory=Counter)
    rss_kb: list[int] = field(default_factory=list)

    def line(self) -> str:
        known = sum(self.known_bugs.values())
        text = (f"fuzz: {self.requests} requests fuzzed, "
                f"{self.server_errors - known or 'zero'} unexpected 5xx")
        if known:
            text += (f"; {known} 5xx from known bugs (xfail tests): "
                     + ", ".join(f"{k} x{v}" for k, v in sorted(self.known_bugs.items())))
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.by_status.items()))
        text += f"\nfuzz: statuses {{{statuses}}}"
        if self.rss_kb:
            first, peak = self.rss_kb[0] // 1024, max(self.rss_kb) // 1024
            text += f"\nfuzz: router RSS {first} MB at start, {peak} MB at peak"
        return text


TALLY = Tally()

# --- the client ---------------------------------------------------------------------------------

OP_TIMEOUT_S = 10.0  # any single socket operation
TOTAL_TIMEOUT_S = 30.0  # a whole exchange, stream included (the router's total_s is 20 s)


class Hang(AssertionError):
    pass


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def build_request(method: str, target: str, body: bytes | None = None,
                  headers: list[tuple[str, str]] | None = None,
                  content_length: bool = True) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    names = set()
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
        names.add(name.lower())
    if body is not None and content_length and not names & {"content-length",
                                                              "transfer-encoding"}:
        lines.append(f"Content-Length: {len(body)}")
    # Latin-1 as HTTP/1.1 means it; a value outside it goes out as UTF-8 bytes.
    head = b"".join(_encode(line) + b"\r\n" for line in lines) + b"\r\n"
    return head + (body or b"")


def _encode(line: str) -> bytes:
    try:
        return line.encode("latin-1")
    except UnicodeEncodeError:
        return line.encode("utf-8", "surrogatepass")


def exchange(address: tuple[str, int], raw: bytes, half_close: bool = False) -> Reply | None:
    """Send raw bytes, read one answer. None when the server closed without answering."""
    started = time.monotonic()
    sock = socket.create_connection(address, timeout=OP_TIMEOUT_S)
    TALLY.requests += 1
    try:
        try:
            sock.sendall(raw)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (413) and closed; the answer is still readable
        response = http.client.HTTPResponse(sock, method=raw.split(b" ", 1)[0].decode())
        try:
            response.begin()
        except http.client.RemoteDisconnected:
            return None
        except ConnectionResetError:
            return None
        except TimeoutError:
            raise Hang(f"no answer within {OP_TIMEOUT_S} s to {raw[:200]!r}") from None
        chunks = []
        try:
            while not response.isclosed():
                chunk = response.read1(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if time.monotonic() - started > TOTAL_TIMEOUT_S:
                    raise Hang(f"answer still streaming after {TOTAL_TIMEOUT_S} s")
        except TimeoutError:
            raise Hang(f"answer stalled for {OP_TIMEOUT_S} s: {b''.join(chunks)[:300]!r}"
                       ) from None
        except (ConnectionResetError, http.client.IncompleteRead) as exc:
            # Reset after the full answer of an early 413: the answer is what we have.
            if isinstance(exc, http.client.IncompleteRead):
                chunks.append(exc.partial)
        status = response.status
        headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        sock.close()
    TALLY.by_status[status] += 1
    if status >= 500:
        TALLY.server_errors += 1
    return Reply(status, headers, b"".join(chunks), raw)


class Client:
    def __init__(self, root: str) -> None:
        host, port = root.removeprefix("http://").split(":")
        self.address = (host, int(port))

    def send(self, method: str, target: str, body: bytes | None = None,
             headers: list[tuple[str, str]] | None = None, *,
             content_length: bool = True) -> Reply:
        reply = exchange(self.address, build_request(method, target, body, headers,
                                                     content_length))
        assert reply is not None, f"the router closed without answering {method} {target}"
        return reply

    def raw(self, data: bytes, half_close: bool = False) -> Reply | None:
        return exchange(self.address, data, half_close)

    def chat(self, body: Any, headers: list[tuple[str, str]] | None = None,
             path: str = "/api/v1/chat/completions", ensure_ascii: bool = True) -> Reply:
        data = body if isinstance(body, bytes) else json.dumps(
            body, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")
        return self.send("POST", path, data, [
            ("Authorization", "Bearer fuzz"), ("Content-Type", "application/json"),
            *(headers or [])])


# --- the property -------------------------------------------------------------------------------

_EXCEPTION_NAMES = sorted(
    {name for name, value in vars(builtins).items()
     if isinstance(value, type) and issubclass(value, BaseException)}
    | {"JSONDecodeError", "JSONEncodeError", "ValidationError", "CancelledError", "DecodeError"},
    key=len, reverse=True)
_LEAK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+|\b(?:"
                   + "|".join(_EXCEPTION_NAMES) + r")\b")
_ERROR_KEYS = {"message", "type", "code", "metadata"}

# What uvicorn itself answers to a request it cannot parse as HTTP (bad Content-Length, broken
# chunking, a method httptools does not know): before the app, so not the OpenAI shape.
PROTOCOL_400 = b"Invalid HTTP request received."

# Known bugs, each pinned by a strict-xfail test. A request matching one may get the generic
# 500 below without failing the fuzz; the summary line counts them. Delete an entry when its bug
# is fixed (its xfail test then XPASSes and fails, which is the reminder).
INTERNAL_500 = {"error": {"message": "Internal error", "type": "api_error", "code": 500,
                          "metadata": {}}}


def raw_depth(data: bytes) -> int:
    """Deepest bracket nesting of JSON text, strings skipped (no parse: 10,000 deep is fine)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def sent_body(sent: bytes) -> bytes:
    return sent.split(b"\r\n\r\n", 1)[-1]


def _parsed(sent: bytes) -> Any:
    try:
        return json.loads(sent_body(sent))
    except (ValueError, RecursionError):
        return None


def known_bug(reply: Reply) -> str | None:
    """The 5xx a known, unfixed bug may cause. None today: every bug found so far is fixed and
    pinned by a regression test in test_chat.py / test_http.py."""
    return None


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def check_no_leak(reply: Reply) -> None:
    for match in _LEAK.finditer(reply.body.decode("utf-8", "replace")):
        # An exception name the caller sent (say, as a model id) may be echoed back.
        assert match.group(0).encode() in reply.sent, (
            f"internal detail {match.group(0)!r} in answer: {reply.body[:500]!r}")


def check_error(reply: Reply) -> dict[str, Any]:
    assert 400 <= reply.status < 500, (reply.status, reply.body[:1000], reply.sent[:300])
    if reply.body == PROTOCOL_400:
        assert reply.status == 400
        return {}
    assert reply.headers.get("content-type") == "application/json", reply.headers
    body = json.loads(reply.body)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) >= _ERROR_KEYS, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    assert type(error["code"]) is int and error["code"] == reply.status, error
    assert isinstance(error["metadata"], dict), error
    return error


def check_completion(reply: Reply) -> dict[str, Any]:
    assert reply.headers.get("content-type") == "application/json", reply.headers
    body = json.loads(reply.body)
    assert isinstance(body, dict), body
    assert isinstance(body.get("id"), str) and body["id"].startswith("gen-"), body
    assert reply.headers.get("x-generation-id") == body["id"]
    assert body.get("object") == "chat.completion", body
    choices = body.get("choices")
    assert isinstance(choices, list) and choices, body
    for choice in choices:
        message = choice["message"]
        assert message["role"] == "assistant", choice
        assert isinstance(message.get("content"), str) or message.get("tool_calls"), choice
        assert isinstance(choice["finish_reason"], str), choice
    usage = body.get("usage")
    assert isinstance(usage, dict), body
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert type(usage[key]) is int and usage[key] >= 0, usage
    return body


def check_stream(reply: Reply) -> list[dict[str, Any]]:
    assert reply.headers.get("content-type") == "text/event-stream", reply.headers
    data = []
    for line in reply.body.split(b"\n"):
        if line.startswith(b"data: "):
            data.append(line[6:])
        else:
            assert line == b"" or line.startswith(b":"), f"not SSE: {line[:200]!r}"
    assert data and data[-1] == b"[DONE]", f"stream did not end with [DONE]: {reply.body[-500:]!r}"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks, reply.body
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and reply.headers.get("x-generation-id") in ids, ids
    for chunk in chunks:
        assert "error" not in chunk, f"in-band error from a healthy fleet: {chunk}"
        assert chunk.get("object") == "chat.completion.chunk", chunk
    assert any(c["choices"] and c["choices"][0].get("finish_reason") for c in chunks), chunks
    return chunks


def check(reply: Reply, *, chat: bool = False, stream: bool = False) -> Reply:
    """The property. For a chat request, a 200 must be a completion (or a stream if `stream`)."""
    check_no_leak(reply)
    if reply.status == 200:
        if chat and stream:
            check_stream(reply)
        elif chat:
            check_completion(reply)
        else:
            assert reply.headers.get("content-type") == "application/json", reply.headers
            json.loads(reply.body)
        return reply
    if reply.status == 204:
        # A CORS preflight's answer: no body, and the methods in Allow.
        assert reply.body == b"" and "OPTIONS" in reply.headers.get("allow", ""), reply
        return reply
    bug = known_bug(reply)
    if bug is not None:
        TALLY.known_bugs[bug] += 1
        return reply
    check_error(reply)
    return reply


def check_chat(reply: Reply, body: Any) -> Reply:
    """`check` for a chat request whose decoded body (if any) says whether it streams."""
    return check(reply, chat=True, stream=isinstance(body, dict) and body.get("stream") is True)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")
