"""The transport under fuzz: body limits, strange headers, bad framing, chunked bodies."""

from __future__ import annotations

import json
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import MAX_BODY_BYTES, MAX_HEADER_BYTES, MODEL
from tests.fuzz.support import (
    OP_TIMEOUT_S,
    PROTOCOL_400,
    Client,
    build_request,
    check,
    check_chat,
    check_error,
    fuzz_settings,
)

CHAT = "/api/v1/chat/completions"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}
AUTH = [("Authorization", "Bearer fuzz"), ("Content-Type", "application/json")]


def padded(size: int) -> bytes:
    """A valid request body of exactly `size` bytes (JSON whitespace is padding)."""
    raw = json.dumps(BODY).encode()
    assert size >= len(raw) + 1
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def chunked(body: bytes, sizes: list[int], extension: str = "", upper: bool = False) -> bytes:
    out, at = [], 0
    for size in [*sizes, len(body)]:
        piece = body[at:at + size]
        if not piece:
            continue
        hex_size = f"{len(piece):X}" if upper else f"{len(piece):x}"
        out.append(f"{hex_size}{extension}\r\n".encode() + piece + b"\r\n")
        at += len(piece)
        if at >= len(body):
            break
    return b"".join(out) + b"0\r\n\r\n"


# --- the body limit ---------------------------------------------------------------------------


@fuzz_settings(25)
@given(size=st.integers(MAX_BODY_BYTES - 50, MAX_BODY_BYTES + 50) | st.integers(
    MAX_BODY_BYTES + 51, 4 * MAX_BODY_BYTES), framing=st.sampled_from(["length", "chunked"]),
    sizes=st.lists(st.integers(1, 200_000), max_size=6))
def test_a_body_over_max_body_bytes_is_a_413_and_one_at_the_limit_is_served(
        client: Client, size: int, framing: str, sizes: list[int]) -> None:
    body = padded(size)
    if framing == "length":
        reply = client.send("POST", CHAT, body, AUTH)
    else:
        reply = client.send("POST", CHAT, chunked(body, sizes),
                            [*AUTH, ("Transfer-Encoding", "chunked")])
    if size > MAX_BODY_BYTES:
        assert reply.status == 413, (size, reply.status, reply.body[:300])
        assert str(MAX_BODY_BYTES) in check_error(reply)["message"]
    else:
        assert reply.status == 200, (size, reply.status, reply.body[:300])
        check_chat(reply, BODY)


@pytest.mark.parametrize("declared", [MAX_BODY_BYTES + 1, 10**12, 2**64])
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
        client: Client, declared: int) -> None:
    # Only the headers and a few bytes are sent: the 413 cannot have waited for the rest.
    raw = build_request("POST", CHAT, b"{", [*AUTH, ("Content-Length", str(declared))])
    reply = client.raw(raw)
    assert reply is not None
    if reply.body == PROTOCOL_400:  # 2**64 does not fit llhttp's counter: refused as bad HTTP
        assert declared >= 2**64
        return
    assert reply.status == 413, reply.body[:300]
    check_error(reply)


# --- strange headers ----------------------------------------------------------------------------

TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                      exclude_characters="\x7f"), max_size=200).map(str.strip)
extra_headers = st.lists(st.tuples(st.text(TOKEN, min_size=1, max_size=30).map(
    lambda n: "X-Fuzz-" + n), header_values), max_size=40)


@fuzz_settings(80)
@given(extra=extra_headers, big=st.integers(0, MAX_HEADER_BYTES // 2),
       title=header_values, referer=header_values, session=st.one_of(st.none(), header_values),
       stream=st.booleans())
def test_strange_but_legal_headers_do_not_change_the_answer(
        client: Client, extra: list[tuple[str, str]], big: int, title: str, referer: str,
        session: str | None, stream: bool) -> None:
    headers = [*AUTH, *extra, ("X-Big", "b" * big), ("X-Title", title), ("HTTP-Referer", referer)]
    if session is not None:
        headers.append(("X-Session-Id", session))
    body = {**BODY, "stream": stream}
    reply = client.send("POST", CHAT, json.dumps(body).encode(), headers)
    check_chat(reply, body)
    if session is not None and len(session) > 256:
        assert reply.status == 400 and check_error(reply)["metadata"]["param"] == "session_id"
    else:
        assert reply.status == 200, (reply.status, reply.body[:300])


@fuzz_settings(40)
@given(auth=st.one_of(
    st.none(), st.sampled_from(["", "Bearer", "Bearer ", "Bearer    ", "Basic Zm9vOmJhcg==",
                                "bearer", "Token abc", "Bearerabc"]),
    header_values.filter(lambda v: not v.lower().startswith("bearer "))))
def test_without_a_bearer_token_the_answer_is_a_401(client: Client, auth: str | None) -> None:
    headers = [("Content-Type", "application/json")]
    if auth is not None:
        headers.append(("Authorization", auth))
    reply = client.send("POST", CHAT, json.dumps(BODY).encode(), headers)
    assert reply.status == 401, (auth, reply.status)
    check_error(reply)


BAD_LENGTHS = ["abc", "-1", "+5", "1e3", "0x10", "99999999999999999999999", "", "5, 5", "5 5",
               "٣"]


@pytest.mark.parametrize("value", BAD_LENGTHS)
def test_a_malformed_content_length_is_a_400(client: Client, value: str) -> None:
    raw = build_request("POST", CHAT, json.dumps(BODY).encode(),
                        [*AUTH, ("Content-Length", value)])
    reply = client.raw(raw)
    assert reply is not None and reply.status == 400, reply
    if reply.body != PROTOCOL_400:
        check_error(reply)


@fuzz_settings(40)
@given(delta=st.integers(-40, -1) | st.integers(1, 1000), half_close=st.booleans())
def test_a_content_length_that_lies_is_a_4xx_or_a_close_never_a_hang(
        client: Client, delta: int, half_close: bool) -> None:
    body = json.dumps(BODY).encode()
    raw = build_request("POST", CHAT, body, [*AUTH, ("Content-Length", str(len(body) + delta))])
    # A client that promises more and never sends it: it leaves, or gets a 408 (see below).
    reply = client.raw(raw, half_close=half_close or delta > 0)
    if delta > 0:
        assert reply is None, reply  # the caller left before finishing its body
    else:
        assert reply is not None and reply.status == 400, reply
        check(reply)


@fuzz_settings(60)
@given(sizes=st.lists(st.integers(1, 40), max_size=12), extension=st.sampled_from(
    ["", ";a=b", ";x"]), upper=st.booleans(), stream=st.booleans())
def test_a_chunked_body_is_served_however_it_is_split(
        client: Client, sizes: list[int], extension: str, upper: bool, stream: bool) -> None:
    body = {**BODY, "stream": stream}
    raw = json.dumps(body).encode()
    reply = client.send("POST", CHAT, chunked(raw, sizes, extension, upper),
                        [*AUTH, ("Transfer-Encoding", "chunked")])
    assert reply.status == 200, reply.body[:300]
    check_chat(reply, body)


BROKEN_CHUNKS = [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n", b"-1\r\nx\r\n0\r\n\r\n",
                 b"ffffffffffffffffff\r\nx\r\n0\r\n\r\n", b"3\nabc\n0\n\n"]


@pytest.mark.parametrize("payload", BROKEN_CHUNKS)
def test_broken_chunking_is_a_400(client: Client, payload: bytes) -> None:
    raw = build_request("POST", CHAT, payload, [*AUTH, ("Transfer-Encoding", "chunked")])
    reply = client.raw(raw, half_close=True)
    assert reply is not None and reply.status == 400, reply
    if reply.body != PROTOCOL_400:
        check_error(reply)


def test_both_content_length_and_chunked_is_refused_or_served_never_a_5xx(
        client: Client) -> None:
    raw = json.dumps(BODY).encode()
    reply = client.raw(build_request("POST", CHAT, chunked(raw, [7]), [
        *AUTH, ("Transfer-Encoding", "chunked"), ("Content-Length", str(len(raw)))]),
        half_close=True)
    assert reply is not None and reply.status in (200, 400), reply
    if reply.status == 200:
        check_chat(reply, BODY)


# --- limits, enforced since the fuzzer found them missing --------------------------------------


@pytest.mark.parametrize("shape", ["one_100kb_header", "many_small_headers"])
def test_headers_over_max_header_bytes_are_refused(client: Client, shape: str) -> None:
    if shape == "one_100kb_header":
        headers = [("X-Title", "t" * 100_000)]
    else:
        headers = [(f"X-Fuzz-{i}", "v" * 10) for i in range(5000)]
    reply = client.send("POST", CHAT, json.dumps(BODY).encode(), [*AUTH, *headers])
    assert reply.status in (400, 413, 431), reply.status


def test_a_body_that_never_arrives_gets_an_answer(client: Client) -> None:
    raw = build_request("POST", CHAT, b'{"model"', [*AUTH, ("Content-Length", "500")])
    sock = socket.create_connection(client.address, timeout=2)
    try:
        sock.sendall(raw)
        try:
            answer = sock.recv(1024)
        except TimeoutError:
            answer = b""
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), f"no answer within 2 s (op limit {OP_TIMEOUT_S})"
