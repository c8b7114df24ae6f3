"""Anthropic's Messages dialect (`dialect = "anthropic"`): POST {base_url}/messages.

The request is built by `anthropic_request`, whole answers and errors are read by
`anthropic_shapes`, streams by `anthropic_stream`; this module is the `Provider` that ties them
to the relay, and the headers: the key as `x-api-key`, and the API version pinned to
`2023-06-01` (https://docs.anthropic.com/en/api/versioning), the one every current model
answers under.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.errors import BadRequest
from crossroads.failures import AttemptError, Failure
from crossroads.http_client import FrozenHeaders
from crossroads.operations import Operation
from crossroads.providers.anthropic_request import answers_through_json_tool, build_body
from crossroads.providers.anthropic_shapes import classify, completion
from crossroads.providers.anthropic_stream import AnthropicStream
from crossroads.providers.base import UpstreamRequest, answer_object
from crossroads.providers.openai import MAX_HEADER_SETS

API_VERSION = "2023-06-01"
PATH = "/messages"


class AnthropicProvider:
    """One instance serves every Anthropic-dialect endpoint; like the OpenAI one, its only
    state is a cache of header sets, which depend only on the key and on streaming."""

    def __init__(self) -> None:
        self._header_sets: dict[tuple[str | None, bool], FrozenHeaders] = {}

    def _headers(self, api_key: str | None, stream: bool) -> FrozenHeaders:
        cached = self._header_sets.get((api_key, stream))
        if cached is not None:
            return cached
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if stream:
            headers["accept"] = "text/event-stream"
        if api_key:
            headers["x-api-key"] = api_key
        if len(self._header_sets) >= MAX_HEADER_SETS:
            self._header_sets.clear()
        built = self._header_sets[(api_key, stream)] = FrozenHeaders(headers)
        return built

    def build(self, endpoint: Endpoint, api_key: str | None, request: ChatRequest,
              max_tokens: int | None = None) -> UpstreamRequest:
        if request.operation is not Operation.CHAT:
            raise BadRequest("The Anthropic dialect serves chat only")
        try:
            encoded = orjson.dumps(build_body(endpoint, request, max_tokens))
        except orjson.JSONEncodeError:
            raise BadRequest("Request body is nested too deeply") from None
        return UpstreamRequest(url=endpoint.base_url + PATH,
                               headers=self._headers(api_key, request.stream), body=encoded)

    def parse_completion(self, raw: bytes, request: ChatRequest | None = None
                         ) -> dict[str, Any]:
        parsed = answer_object(raw)
        json_answer = request is not None and answers_through_json_tool(request)
        return completion(parsed, json_answer)

    def parse_embeddings(self, raw: bytes) -> dict[str, Any]:
        raise AttemptError(Failure.MALFORMED, "the Anthropic dialect has no embeddings")

    def stream_translator(self, request: ChatRequest) -> AnthropicStream:
        return AnthropicStream(answers_through_json_tool(request))

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> AttemptError:
        return classify(status, headers, body)
