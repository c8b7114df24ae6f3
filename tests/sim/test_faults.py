"""Every outcome, scripted and natural, seen on the wire."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from crossroads.sim.render import completion_text

from .support import Sim, chat

ERROR_OUTCOMES = [
    ("http_400", 400, None),
    ("context_length", 400, "context_length_exceeded"),
    ("content_filter", 400, "content_filter"),
    ("http_401", 401, "invalid_api_key"),
    ("http_402", 402, "insufficient_quota"),
    ("http_404", 404, "model_not_found"),
    ("http_408", 408, "timeout"),
    ("http_413", 413, "request_too_large"),
    ("http_429", 429, "rate_limit_exceeded"),
    ("http_429_retry_after", 429, "rate_limit_exceeded"),
    ("http_500", 500, None),
    ("http_502", 502, "bad_gateway"),
    ("http_503", 503, "service_unavailable"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("outcome", "status", "code"), ERROR_OUTCOMES)
def test_error_outcomes(
    sim: Sim, outcome: str, status: int, code: str | None, stream: bool
) -> None:
    sim.script("plain", outcome)
    resp = sim.post("plain", chat(stream=stream))
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/json"
    error = resp.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if outcome == "http_429_retry_after":
        assert resp.headers["retry-after"] == "1"
        assert resp.headers["retry-after-ms"] == "1000"
    else:
        assert "retry-after" not in resp.headers
    if outcome == "content_filter":
        assert error["message"] == "Output blocked by content filtering policy"
    if outcome == "context_length":
        assert "maximum context length is 4096 tokens" in error["message"]
    # The next request is back to normal: the script held one outcome.
    assert sim.post("plain", chat(stream=stream)).status_code == 200


def test_retry_after_follows_profile(sim: Sim) -> None:
    sim.patch("plain", retry_after_s=2.5)
    sim.script("plain", "http_429_retry_after")
    resp = sim.post("plain", chat())
    assert resp.headers["retry-after"] == "3"
    assert resp.headers["retry-after-ms"] == "2500"


@pytest.mark.parametrize("stream", [False, True])
def test_reset_closes_without_a_response(sim: Sim, stream: bool) -> None:
    sim.script("plain", "reset")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        sim.post("plain", chat(stream=stream))
    assert sim.log("plain")[-1]["outcome"] == "reset"


@pytest.mark.parametrize("stream", [False, True])
def test_no_answer_holds_the_connection(sim: Sim, stream: bool) -> None:
    sim.script("plain", "no_answer")
    with pytest.raises(httpx.ReadTimeout):
        sim.post("plain", chat(stream=stream), timeout=httpx.Timeout(5, read=0.3))
    assert sim.control("GET", "/endpoints/plain").json()["outcomes"] == {"no_answer": 1}


def stream_events(resp: httpx.Response) -> list[str]:
    return [line for line in resp.iter_lines() if line]


def content_events(events: list[str]) -> list[dict[str, Any]]:
    out = []
    for e in events:
        body = e.removeprefix("data: ")
        if body != "[DONE]":
            out.append(json.loads(body))
    return out


def test_stream_cut_ends_without_terminator(sim: Sim) -> None:
    sim.script("plain", "stream_cut")
    seen: list[str] = []
    body = chat(stream=True)
    with (
        pytest.raises(httpx.RemoteProtocolError),
        sim.http.stream(
            "POST", "/plain/v1/chat/completions", json=body, headers={"Authorization": "Bearer k"}
        ) as resp,
    ):
        assert resp.status_code == 200
        seen.extend(line for line in resp.iter_lines() if line)
    chunks = content_events(seen)
    assert len(chunks) == 8, "about half of the 16 tokens"
    assert "data: [DONE]" not in seen


def test_stream_cut_non_streaming_sends_half_a_body(sim: Sim) -> None:
    sim.script("plain", "stream_cut")
    with pytest.raises(httpx.RemoteProtocolError):
        sim.post("plain", chat())


def test_stream_stall_goes_silent_mid_stream(sim: Sim) -> None:
    sim.script("plain", "stream_stall")
    seen: list[str] = []
    timeout = httpx.Timeout(5, read=0.3)
    with (
        pytest.raises(httpx.ReadTimeout),
        sim.http.stream(
            "POST",
            "/plain/v1/chat/completions",
            json=chat(stream=True),
            headers={"Authorization": "Bearer k"},
            timeout=timeout,
        ) as resp,
    ):
        seen.extend(line for line in resp.iter_lines() if line)
    assert len(content_events(seen)) == 8


def test_stream_stall_non_streaming_sends_headers_only(sim: Sim) -> None:
    sim.script("plain", "stream_stall")
    timeout = httpx.Timeout(5, read=0.3)
    with (
        pytest.raises(httpx.ReadTimeout),
        sim.http.stream(
            "POST",
            "/plain/v1/chat/completions",
            json=chat(),
            headers={"Authorization": "Bearer k"},
            timeout=timeout,
        ) as resp,
    ):
        assert resp.status_code == 200
        assert int(resp.headers["content-length"]) > 0
        resp.read()


def test_malformed_sse_then_continues(sim: Sim) -> None:
    sim.script("plain", "malformed_sse")
    resp = sim.post("plain", chat(stream=True))
    events = [e for e in resp.text.split("\n\n") if e]
    assert events[3] == 'data: {"choices": ['
    assert events[-1] == "data: [DONE]"
    good = [json.loads(e.removeprefix("data: ")) for e in events[:3] + events[4:-1]]
    assert "".join(c["choices"][0]["delta"]["content"] for c in good) == completion_text(16)


def test_malformed_non_streaming_is_invalid_json(sim: Sim) -> None:
    sim.script("plain", "malformed_sse")
    resp = sim.post("plain", chat())
    assert resp.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.text)


def test_no_done_ends_cleanly_without_done(sim: Sim) -> None:
    sim.script("plain", "no_done", "no_done")
    resp = sim.post("plain", chat(stream=True, stream_options={"include_usage": True}))
    events = [e for e in resp.text.split("\n\n") if e]
    assert "data: [DONE]" not in events
    chunks = content_events(events)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == 16
    plain = sim.post("plain", chat())
    assert plain.json()["choices"][0]["message"]["content"] == completion_text(16)


def test_empty_200(sim: Sim) -> None:
    sim.script("plain", "empty_200", "empty_200")
    resp = sim.post("plain", chat(stream=True))
    assert resp.status_code == 200
    assert resp.text == "data: [DONE]\n\n"
    resp = sim.post("plain", chat())
    assert resp.status_code == 200
    assert resp.content == b""


def test_slow_first_token_streaming(sim: Sim) -> None:
    sim.patch("plain", slow_first_token_s=0.3)
    sim.script("plain", "slow_first_token")
    started = time.monotonic()
    with sim.http.stream(
        "POST",
        "/plain/v1/chat/completions",
        json=chat(stream=True),
        headers={"Authorization": "Bearer k"},
    ) as resp:
        assert resp.status_code == 200
        lines = resp.iter_lines()
        first = next(line for line in lines if line)
        waited = time.monotonic() - started
        rest = [line for line in lines if line]
    assert waited >= 0.29
    assert json.loads(first.removeprefix("data: "))["choices"][0]["delta"]["content"]
    assert rest[-1] == "data: [DONE]"


def test_slow_first_token_non_streaming(sim: Sim) -> None:
    sim.patch("plain", slow_first_token_s=0.3)
    sim.script("plain", "slow_first_token")
    started = time.monotonic()
    resp = sim.post("plain", chat())
    assert time.monotonic() - started >= 0.29
    assert resp.json()["choices"][0]["message"]["content"] == completion_text(16)


def test_disconnect_mid_stream_stops_the_stream(sim: Sim) -> None:
    assert sim.control("PATCH", "/fleet", {"time_scale": 1.0}).status_code == 200
    sim.patch("plain", ttft_ms=0, ttft_sigma=0, tokens_per_s=20, tps_sigma=0, completion_tokens=200)
    with (
        httpx.Client(base_url=sim.server.url) as other,
        other.stream(
            "POST",
            "/plain/v1/chat/completions",
            json=chat(stream=True),
            headers={"Authorization": "Bearer k"},
        ) as resp,
    ):
        lines = resp.iter_lines()  # held: dropping the iterator would close the connection
        assert next(line for line in lines if line).startswith("data: ")
        assert sim.control("GET", "/endpoints/plain").json()["active"] == 1
    # Leaving the block closed the connection; the sim must notice and drop the stream task.
    deadline = time.monotonic() + 5
    while sim.control("GET", "/endpoints/plain").json()["active"] != 0:
        assert time.monotonic() < deadline, "stream task still running after the client left"
        time.sleep(0.01)


def test_paced_stream_arrives_in_several_writes(sim: Sim) -> None:
    assert sim.control("PATCH", "/fleet", {"time_scale": 1.0}).status_code == 200
    sim.patch(
        "plain", ttft_ms=50, ttft_sigma=0, tokens_per_s=1000, tps_sigma=0, completion_tokens=100
    )
    started = time.monotonic()
    reads = 0
    text = b""
    with sim.http.stream(
        "POST",
        "/plain/v1/chat/completions",
        json=chat(stream=True),
        headers={"Authorization": "Bearer k"},
    ) as resp:
        first_at = 0.0
        for piece in resp.iter_raw():
            if not first_at:
                first_at = time.monotonic() - started
            reads += 1
            text += piece
    elapsed = time.monotonic() - started
    assert first_at >= 0.049, "first token only after the TTFT"
    assert elapsed >= 0.049 + 0.099, "100 tokens at 1000 tok/s take 0.1 s more"
    assert reads >= 5, "tokens are paced, not sent in one burst"
    assert text.endswith(b"data: [DONE]\n\n")
