"""The pure edges of the two non-chat surfaces: parsing an embeddings request, checking and
pricing an embeddings answer, and translating legacy completions to chat and back."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest

from crossroads.catalog import Catalog, Model
from crossroads.chat_request import ChatRequest
from crossroads.embeddings_request import parse_embeddings_request
from crossroads.embeddings_response import embeddings_body
from crossroads.errors import BadRequest
from crossroads.failures import AttemptError, Failure
from crossroads.generation import Attempt, Generation
from crossroads.operations import Operation
from crossroads.providers import PROVIDERS
from crossroads.surfaces.completions import COMPLETIONS, legacy_logprobs
from tests.unit.factories import endpoint

EMBED = "test/embed"
FIXED = "test/fixed"


def _catalog() -> Catalog:
    models = [
        Model(slug=EMBED, name="E", output_modalities=frozenset({"embeddings"}), dimensions=8),
        Model(slug=FIXED, name="F", output_modalities=frozenset({"embeddings"}), dimensions=4),
    ]
    endpoints = [
        endpoint("a", 100.0, 0.0, model=EMBED, supported_parameters=frozenset({"dimensions"})),
        endpoint("b", 200.0, 0.0, model=EMBED),
        endpoint("c", 10.0, 0.0, model=FIXED),
    ]
    return Catalog(models, endpoints, {})


def parse(**body: Any) -> ChatRequest:
    return parse_embeddings_request(orjson.dumps({"model": EMBED, **body}), None, _catalog())


def test_an_embeddings_request_travels_as_its_operation() -> None:
    request = parse(input=["short", "a much longer input"], user="u", input_type="query")
    assert request.operation is Operation.EMBEDDINGS and not request.stream
    # Routing checks each input against the context: the longest counts, once.
    assert request.prompt_chars == len("a much longer input") and request.message_count == 1
    assert request.parameters == frozenset() and not request.prefs.require_parameters
    built = PROVIDERS["openai"].build(endpoint("a"), "key", parse(
        input="x", encoding_format="base64", provider={"sort": "price"}))
    assert built.url.endswith("/v1/embeddings")
    assert orjson.loads(built.body) == {"model": "up", "input": "x", "encoding_format": "float"}


def test_dimensions_are_required_of_the_endpoints_unless_native() -> None:
    shortened = parse(input="x", dimensions=4)
    assert shortened.parameters == {"dimensions"} and shortened.prefs.require_parameters
    native = parse(input="x", dimensions=8)
    assert native.parameters == frozenset() and "dimensions" not in native.body
    with pytest.raises(BadRequest, match="8 or fewer"):
        parse(input="x", dimensions=9)
    with pytest.raises(BadRequest, match="cannot shorten"):
        parse_embeddings_request(orjson.dumps({"model": FIXED, "input": "x", "dimensions": 2}),
                                 None, _catalog())


@pytest.mark.parametrize(("body", "param"), [
    ({}, "input"), ({"input": None}, "input"), ({"input": [[1]]}, "input"),
    ({"input": ["a", 2]}, "input[1]"), ({"input": ["x"] * 2049}, "input"),
    ({"input": "x", "user": 5}, "user"), ({"input": "x", "dimensions": True}, "dimensions"),
])
def test_bad_embeddings_fields(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(**body)
    assert caught.value.metadata["param"] == param


def _answer(request: ChatRequest, upstream: dict[str, Any]) -> dict[str, Any]:
    generation = Generation(EMBED, False)
    attempt = Attempt(endpoint("a", 100.0, 0.0, model=EMBED), 0.0)
    parsed = PROVIDERS["openai"].parse_embeddings(orjson.dumps(upstream))
    answer: dict[str, Any] = orjson.loads(embeddings_body(generation, attempt, parsed, request))
    assert generation.served is attempt
    return answer


def _data(*vectors: Any) -> list[dict[str, Any]]:
    return [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]


def test_an_answer_is_priced_per_input_token_and_encoded_as_asked() -> None:
    vectors = [[0.5, -0.5, 0.5, -0.5], [1.0, 0.0, 0.0, 0.0]]
    upstream = {"id": "up-1", "data": list(reversed(_data(*vectors))),
                "usage": {"prompt_tokens": 7, "total_tokens": 7}}
    answer = _answer(parse(input=["a", "b"], encoding_format="base64"), upstream)
    decoded = [list(struct.unpack("<4f", base64.b64decode(d["embedding"])))
               for d in answer["data"]]
    assert decoded == vectors  # reordered by index, then packed
    usage = answer["usage"]
    assert usage["prompt_tokens"] == usage["total_tokens"] == 7
    assert usage["crossroads"]["cost_micro_usd"] == 700  # 7 tokens at $100 per 1M
    assert "completion_tokens" not in usage
    assert answer["model"] == EMBED and answer["id"].startswith("gen-")


def test_an_answer_without_usage_is_estimated_and_says_so() -> None:
    answer = _answer(parse(input="abcdefgh"), {"data": _data([1.0, 0.0])})
    assert answer["usage"]["prompt_tokens"] == 4 + 2
    assert answer["usage"]["crossroads"]["estimated"] is True


def test_a_base64_answer_from_upstream_is_read_too() -> None:
    packed = base64.b64encode(struct.pack("<2f", 0.25, -1.0)).decode()
    answer = _answer(parse(input="x", encoding_format="float"), {"data": _data(packed)})
    assert answer["data"][0]["embedding"] == [0.25, -1.0]


@pytest.mark.parametrize(("request_body", "data", "needle"), [
    ({"input": ["a", "b"]}, _data([1.0]), "1 embeddings for 2 inputs"),
    ({"input": ["a", "b"]}, _data([1.0], [1.0, 2.0]), "dimensions"),
    ({"input": "a", "dimensions": 4}, _data([1.0, 2.0]), "not 4"),
    ({"input": "a"}, _data("not base64!"), "not base64"),
    ({"input": "a"}, _data(["x"]), "array of numbers"),
    ({"input": ["a", "b"]}, [{"index": 0, "embedding": [1.0]}] * 2, "repeated"),
])
def test_a_broken_answer_fails_the_attempt(request_body: dict[str, Any],
                                           data: list[dict[str, Any]], needle: str) -> None:
    with pytest.raises(AttemptError, match=needle) as caught:
        _answer(parse(**request_body), {"data": data})
    assert caught.value.failure is Failure.MALFORMED


def test_no_embeddings_at_all_is_an_empty_answer() -> None:
    with pytest.raises(AttemptError) as caught:
        PROVIDERS["openai"].parse_embeddings(b'{"object": "list", "data": []}')
    assert caught.value.failure is Failure.EMPTY
    with pytest.raises(AttemptError) as caught:
        PROVIDERS["openai"].parse_embeddings(b'{"error": {"code": 429, "message": "slow"}}')
    assert caught.value.status == 429


def test_a_completion_becomes_one_user_message() -> None:
    translation = COMPLETIONS.translate(orjson.dumps({
        "model": "m/x", "prompt": "Hi", "logprobs": 3, "best_of": 1, "echo": False,
        "max_tokens": 5, "provider": {"sort": "price"}}))
    chat = orjson.loads(translation.chat_body)
    assert chat == {"model": "m/x", "messages": [{"role": "user", "content": "Hi"}],
                    "max_tokens": 5, "provider": {"sort": "price"}, "logprobs": True,
                    "top_logprobs": 3}


def test_chat_logprobs_read_as_legacy_ones() -> None:
    content = [{"token": "Hel", "logprob": -0.1, "top_logprobs": [{"token": "Hel",
                                                                   "logprob": -0.1}]},
               {"token": "lo", "logprob": -0.2, "top_logprobs": []}]
    assert legacy_logprobs({"content": content}) == {
        "tokens": ["Hel", "lo"], "token_logprobs": [-0.1, -0.2],
        "top_logprobs": [{"Hel": -0.1}, {}], "text_offset": [0, 3]}
    assert legacy_logprobs(None) is None


def test_stream_events_carry_text_and_drop_empty_deltas() -> None:
    translation = COMPLETIONS.translate(b'{"model": "m/x", "prompt": "Hi"}')
    head = {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "m/x"}
    assert translation.stream_event({**head, "choices": [
        {"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}) == []
    [event] = translation.stream_event({**head, "choices": [
        {"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]})
    payload = orjson.loads(event.removeprefix(b"data: "))
    assert payload["object"] == "text_completion" and payload["choices"][0]["text"] == "Hel"
    [error] = translation.stream_event({**head, "error": {"code": 502, "message": "cut"},
                                        "choices": [{"index": 0, "delta": {"content": ""},
                                                     "finish_reason": "error"}]})
    payload = orjson.loads(error.removeprefix(b"data: "))
    assert payload["error"]["code"] == 502
    assert payload["choices"] == [{"text": "", "index": 0, "logprobs": None,
                                   "finish_reason": "error"}]
    assert translation.stream_end() == [b"data: [DONE]\n\n"]
