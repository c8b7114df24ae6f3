"""AWS Bedrock's Converse dialect (`dialect = "bedrock-converse"`).

    POST {base_url}/model/{modelId}/converse          a whole answer (JSON)
    POST {base_url}/model/{modelId}/converse-stream   a stream (application/vnd.amazon.eventstream)

(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html and
API_runtime_ConverseStream.html). The model id, or a cross-region inference profile such as
`us.meta.llama4-scout-17b-instruct-v1:0`, is a path segment, percent-encoded as the AWS SDKs send
it. The request is built by `bedrock_request`, whole answers and errors are read by
`bedrock_shapes`, streams by `bedrock_stream`. Nothing here signs: the request leaves unsigned
and the endpoint's AWS credential (`credentials/aws.py`) adds SigV4 over the final URL, headers
and body, so an expired or missing credential is a property of the endpoint, never of the
dialect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.errors import BadRequest
from crossroads.failures import AttemptError, Failure
from crossroads.http_client import FrozenHeaders
from crossroads.operations import Operation
from crossroads.providers.base import UpstreamRequest, answer_object
from crossroads.providers.bedrock_request import build_body
from crossroads.providers.bedrock_shapes import classify, completion
from crossroads.providers.bedrock_stream import BedrockStream

EVENT_STREAM = "application/vnd.amazon.eventstream"
_HEADERS = {
    False: FrozenHeaders({"content-type": "application/json", "accept": "application/json"}),
    True: FrozenHeaders({"content-type": "application/json", "accept": EVENT_STREAM}),
}


def model_path(model_id: str, stream: bool) -> str:
    return f"/model/{quote(model_id, safe='')}/" + ("converse-stream" if stream else "converse")


class BedrockProvider:
    """One instance serves every Bedrock endpoint; it keeps no state."""

    def build(self, endpoint: Endpoint, api_key: str | None, request: ChatRequest,
              max_tokens: int | None = None) -> UpstreamRequest:
        if request.operation is not Operation.CHAT:
            raise BadRequest("The Bedrock Converse dialect serves chat only")
        try:
            encoded = orjson.dumps(build_body(endpoint, request, max_tokens))
        except orjson.JSONEncodeError:
            raise BadRequest("Request body is nested too deeply") from None
        return UpstreamRequest(
            url=endpoint.base_url + model_path(endpoint.upstream_model, request.stream),
            headers=_HEADERS[request.stream], body=encoded)

    def parse_completion(self, raw: bytes, request: ChatRequest | None = None
                         ) -> dict[str, Any]:
        return completion(answer_object(raw))

    def parse_embeddings(self, raw: bytes) -> dict[str, Any]:
        raise AttemptError(Failure.MALFORMED, "the Bedrock Converse dialect has no embeddings")

    def stream_translator(self, request: ChatRequest) -> BedrockStream:
        return BedrockStream()

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> AttemptError:
        return classify(status, headers, body)
