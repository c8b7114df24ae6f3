"""Google's Gemini dialect (`dialect = "gemini"`): generateContent on the Gemini API and on
Vertex AI.

Both serve the same request and answer under different URLs, so an endpoint's `base_url` ends
where the two part ways and the model's path is added here:

    Gemini API  https://generativelanguage.googleapis.com/v1beta
    Vertex AI   https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/
                {region}/publishers/google
    + /models/{model}:generateContent, or :streamGenerateContent?alt=sse for a stream
      (https://ai.google.dev/api/generate-content,
      https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/projects.locations.publishers.models/streamGenerateContent)

Who may call is the credential's business (`crossroads.credentials`): an API key in
`x-goog-api-key` for the Gemini API, a Google OAuth bearer token for Vertex. The body is built
by `gemini_request`, answers and errors are read by `gemini_shapes`, streams by `gemini_stream`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.credentials.static import KEY_HEADERS
from crossroads.errors import BadRequest
from crossroads.failures import AttemptError, Failure
from crossroads.http_client import FrozenHeaders
from crossroads.operations import Operation
from crossroads.providers.base import UpstreamRequest, answer_object
from crossroads.providers.gemini_request import build_body
from crossroads.providers.gemini_shapes import classify, completion
from crossroads.providers.gemini_stream import GeminiStream

_KEY_HEADER = KEY_HEADERS["gemini"][0]
_HEADERS = {
    False: FrozenHeaders({"content-type": "application/json"}),
    True: FrozenHeaders({"content-type": "application/json", "accept": "text/event-stream"}),
}
_METHODS = {False: ":generateContent", True: ":streamGenerateContent?alt=sse"}


def model_url(endpoint: Endpoint, stream: bool) -> str:
    return f"{endpoint.base_url}/models/{quote(endpoint.upstream_model, safe='')}" \
        f"{_METHODS[stream]}"


class GeminiProvider:
    """Stateless: the URL and body are the request's, the headers one of two constant sets."""

    def build(self, endpoint: Endpoint, api_key: str | None, request: ChatRequest,
              max_tokens: int | None = None) -> UpstreamRequest:
        if request.operation is not Operation.CHAT:
            raise BadRequest("The Gemini dialect serves chat only")
        try:
            encoded = orjson.dumps(build_body(endpoint, request, max_tokens))
        except orjson.JSONEncodeError:
            raise BadRequest("Request body is nested too deeply") from None
        headers: Mapping[str, str] = _HEADERS[request.stream]
        if api_key:  # a direct caller's key; the relay authorises through the credential
            headers = FrozenHeaders({**headers, _KEY_HEADER: api_key})
        return UpstreamRequest(url=model_url(endpoint, request.stream), headers=headers,
                               body=encoded)

    def parse_completion(self, raw: bytes, request: ChatRequest | None = None
                         ) -> dict[str, Any]:
        return completion(answer_object(raw))

    def parse_embeddings(self, raw: bytes) -> dict[str, Any]:
        raise AttemptError(Failure.MALFORMED, "the Gemini dialect has no embeddings")

    def stream_translator(self, request: ChatRequest) -> GeminiStream:
        return GeminiStream()

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> AttemptError:
        return classify(status, headers, body)
