from __future__ import annotations

import pytest

from crossroads.catalog import Pricing
from crossroads.errors import redact
from crossroads.failures import AttemptError, Failure
from crossroads.pricing import Usage, cache_discount_micro, cost_micro, usage_from_openai
from crossroads.providers.openai import OpenAIProvider, retry_after_seconds
from crossroads.sse import SSEDecoder, SSEOverflowError, encode


def test_sse_decoder_handles_split_lines_crlf_comments_and_multiline():
    d = SSEDecoder()
    assert d.feed(b": keep-alive\n\ndata: {\"a\"") == []
    assert d.feed(b": 1}\r\n\r\ndata: x\ndata: y\n\n") == [b'{"a": 1}', b"x\ny"]
    assert d.feed(b"data:[DONE]\n\n") == [b"[DONE]"]
    assert d.close() is False


def test_sse_decoder_reports_a_cut_event_and_bounds_memory():
    d = SSEDecoder()
    d.feed(b'data: {"choices": [')
    assert d.close() is True
    small = SSEDecoder(max_event_bytes=100)
    with pytest.raises(SSEOverflowError):
        small.feed(b"data: " + b"x" * 200)
    with pytest.raises(SSEOverflowError):
        SSEDecoder(max_event_bytes=100).feed(b"y" * 101)


def test_encode_round_trip():
    assert SSEDecoder().feed(encode(b'{"k":1}')) == [b'{"k":1}']


PRICE = Pricing(prompt=100_000, completion=300_000, cache_read=25_000, cache_write=125_000)


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        # 1M uncached prompt tokens at $0.10 = 100,000 micro-dollars
        (Usage(prompt_tokens=1_000_000), 100_000),
        (Usage(prompt_tokens=1000, completion_tokens=1000), 400),  # 100 + 300
        # 800 of 1000 cached: 200 * 0.1 + 800 * 0.025 = 20 + 20 = 40 µ$, + 300 output
        (Usage(prompt_tokens=1000, cached_tokens=800, completion_tokens=1000), 340),
        (Usage(prompt_tokens=1000, cache_write_tokens=1000), 125),
        (Usage(prompt_tokens=7, completion_tokens=3), 2),  # 0.7 + 0.9 = 1.6 → 2
        (Usage(prompt_tokens=4, completion_tokens=1), 1),  # 0.4 + 0.3 = 0.7 → 1
        (Usage(prompt_tokens=2, completion_tokens=1), 1),  # 0.5 rounds half up
    ],
)
def test_cost_in_micro_dollars(usage, expected):
    assert cost_micro(usage, PRICE) == expected


def test_cache_discount_and_images():
    usage = Usage(prompt_tokens=1000, cached_tokens=800, completion_tokens=0, images=2)
    priced = Pricing(prompt=100_000, completion=300_000, cache_read=25_000, image=500)
    assert cost_micro(usage, priced) == 40 + 1000
    assert cache_discount_micro(usage, priced) == 60


def test_usage_from_openai_tolerates_garbage():
    assert usage_from_openai(None) is None
    u = usage_from_openai({"prompt_tokens": 10, "completion_tokens": "x",
                           "prompt_tokens_details": {"cached_tokens": 4}})
    assert u == Usage(prompt_tokens=10, completion_tokens=0, cached_tokens=4)


P = OpenAIProvider()


@pytest.mark.parametrize(
    ("status", "body", "failure"),
    [
        (400, b'{"error":{"code":"context_length_exceeded","message":"too long"}}',
         Failure.CONTEXT_LENGTH),
        (400, b'{"error":{"message":"This model\'s maximum context length is 8192 tokens"}}',
         Failure.CONTEXT_LENGTH),
        (400, b'{"error":{"code":"content_filter","message":"blocked"}}', Failure.CONTENT_FILTER),
        (400, b'{"error":{"message":"bad temperature"}}', Failure.CALLER_ERROR),
        (422, b"nonsense", Failure.CALLER_ERROR),
        (401, b"", Failure.UPSTREAM_AUTH),
        (403, b'{"error":"forbidden"}', Failure.UPSTREAM_AUTH),
        (404, b"", Failure.UPSTREAM_NOT_FOUND),
        (408, b"", Failure.UPSTREAM_TIMEOUT),
        (429, b"", Failure.RATE_LIMITED),
        (500, b"<html>", Failure.SERVER_ERROR),
        (503, b"", Failure.SERVER_ERROR),
    ],
)
def test_error_classification(status, body, failure):
    assert P.classify(status, {}, body).failure is failure


def test_retry_after_forms():
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"},
                               now=1445412470.0) == 10.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_in_band_and_malformed_chunks():
    with pytest.raises(AttemptError) as info:
        P.parse_chunk(b'{"choices": [')
    assert info.value.failure is Failure.MALFORMED
    with pytest.raises(AttemptError) as info:
        P.parse_chunk(b'{"error": {"code": 503, "message": "overloaded"}}')
    assert info.value.failure is Failure.SERVER_ERROR
    with pytest.raises(AttemptError) as info:
        P.parse_completion(b'{"choices": []}')
    assert info.value.failure is Failure.EMPTY


def test_redact_removes_keys_from_provider_messages():
    text = "Incorrect API key provided: my-very-secret-key. Also sk-abcdefghijklmnop and " \
           "Authorization: Bearer xyz123"
    clean = redact(text, "my-very-secret-key")
    assert "my-very-secret-key" not in clean
    assert "sk-abcdefghijklmnop" not in clean and "xyz123" not in clean
    assert clean.startswith("Incorrect API key provided: [redacted]")


@pytest.mark.parametrize("includes", [True, False])
def test_both_usage_conventions_normalise_to_the_same_bill(includes):
    # 1000 prompt tokens of which 800 cached; a provider that excludes cached reports 200.
    raw = {"prompt_tokens": 1000 if includes else 200, "completion_tokens": 10,
           "prompt_tokens_details": {"cached_tokens": 800}}
    usage = usage_from_openai(raw, prompt_includes_cached=includes)
    assert usage == Usage(prompt_tokens=1000, completion_tokens=10, cached_tokens=800)
    assert cost_micro(usage, PRICE) == 20 + 20 + 3  # 200 uncached + 800 cached + 10 out


def test_misconfigured_convention_is_detected_when_cached_exceeds_prompt():
    raw = {"prompt_tokens": 8, "completion_tokens": 1,
           "prompt_tokens_details": {"cached_tokens": 85}}
    assert usage_from_openai(raw, prompt_includes_cached=True) == Usage(
        prompt_tokens=93, completion_tokens=1, cached_tokens=85)
