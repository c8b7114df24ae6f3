"""Assistant prefill: the sim continues its own deterministic answer, or refuses when told to;
and the fault point and the harmless junk line of mid-stream faults."""

from __future__ import annotations

import json

import httpx
import pytest

from crossroads.sim.render import JUNK_LINE, completion_text

from .support import Sim, chat


def _prefilled(prefill: str, **extra: object) -> dict[str, object]:
    body = chat(**extra)
    body["messages"] = [*body["messages"], {"role": "assistant", "content": prefill}]  # type: ignore[list-item]
    return body


def _stream_text(text: str) -> str:
    events = [e for e in text.split("\n\n") if e.startswith("data: {")]
    chunks = [json.loads(e.removeprefix("data: ")) for e in events]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_continues_after_whole_words(sim: Sim) -> None:
    full = completion_text(16)
    head = completion_text(5)
    resp = sim.post("plain", _prefilled(head))
    body = resp.json()
    assert body["choices"][0]["message"]["content"] == full[len(head):]
    assert body["usage"]["completion_tokens"] == 11
    # The prefill is part of the prompt, as providers bill it.
    plain = sim.post("plain", chat()).json()["usage"]["prompt_tokens"]
    assert body["usage"]["prompt_tokens"] == plain + 4 + (len(head) + 3) // 4


def test_continues_mid_word_and_streams(sim: Sim) -> None:
    full = completion_text(16)
    head = completion_text(5).rstrip()  # trailing whitespace trimmed, as the router sends it
    resp = sim.post("plain", _prefilled(head, stream=True))
    assert head + _stream_text(resp.text) == full


def test_max_tokens_counts_from_the_prefill(sim: Sim) -> None:
    head = completion_text(5)
    body = sim.post("plain", _prefilled(head, max_tokens=3)).json()
    assert body["choices"][0]["message"]["content"] == completion_text(8)[len(head):]
    assert body["choices"][0]["finish_reason"] == "length"


def test_a_foreign_prefill_gets_the_whole_answer(sim: Sim) -> None:
    body = sim.post("plain", _prefilled("Something else entirely")).json()
    assert body["choices"][0]["message"]["content"] == completion_text(16)


def test_refuses_prefill_when_the_profile_says_so(sim: Sim) -> None:
    sim.patch("plain", supports_prefill=False)
    resp = sim.post("plain", _prefilled(completion_text(3)))
    assert resp.status_code == 400
    assert "prefill" in resp.json()["error"]["message"]
    # An ordinary conversation is still served.
    assert sim.post("plain", chat()).status_code == 200


def test_cut_strikes_after_the_configured_token(sim: Sim) -> None:
    sim.patch("plain", fault_after_tokens=5)
    sim.script("plain", "stream_cut")
    seen: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        sim.http.stream("POST", "/plain/v1/chat/completions", json=chat(stream=True),
                        headers={"Authorization": "Bearer k"}) as resp,
    ):
        seen.extend(line for line in resp.iter_lines() if line)
    assert _stream_text("\n\n".join(seen)) == completion_text(5)


def test_junk_line_mid_stream_then_continues(sim: Sim) -> None:
    sim.script("plain", "junk_line")
    resp = sim.post("plain", chat(stream=True))
    assert JUNK_LINE.decode().strip() in resp.text
    assert _stream_text(resp.text) == completion_text(16)
    assert resp.text.rstrip().endswith("data: [DONE]")


def test_an_assistant_message_alone_is_answered(sim: Sim) -> None:
    body = {"model": "test/model", "messages": [{"role": "assistant", "content": "the "}]}
    resp = sim.post("plain", body)
    assert resp.status_code == 200
    assert resp.json()["choices"][0]["message"]["content"] == completion_text(16)
