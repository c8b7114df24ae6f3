"""The sim's Bedrock Converse surface, read by AWS's own client (botocore's bedrock-runtime,
which signs with SigV4 and parses the binary event stream against AWS's service model): the same
endpoints, faults and cache as the OpenAI surface, in Converse's shapes, with every signature
checked."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from crossroads.sim.sigv4 import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY

from .support import Sim, tokens_of

MODEL_ID = "us.meta.llama4-scout-17b-instruct-v1:0"


def aws(sim: Sim, prefix: str, key: str = SIM_ACCESS_KEY_ID,
        secret: str = SIM_SECRET_ACCESS_KEY) -> Any:
    return botocore.session.Session().create_client(
        "bedrock-runtime", region_name="us-east-1",
        endpoint_url=f"{sim.server.url}/{prefix}/bedrock",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=10))


def ask(content: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"modelId": MODEL_ID, "messages": [{"role": "user", "content": [{"text": content}]}],
            "inferenceConfig": {"maxTokens": 100}, **extra}


def test_converse_and_its_stream_say_the_same_in_converse_shapes(sim: Sim) -> None:
    client = aws(sim, "plain")
    answer = client.converse(**ask())
    assert answer["stopReason"] == "end_turn"
    assert answer["usage"]["inputTokens"] == tokens_of("Hello there")
    assert answer["usage"]["outputTokens"] == 16
    text = answer["output"]["message"]["content"][0]["text"]
    events = list(client.converse_stream(**ask())["stream"])
    names = [next(iter(e)) for e in events]
    assert names[0] == "messageStart" and names[-2:] == ["messageStop", "metadata"]
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events
                   if "contentBlockDelta" in e) == text
    assert events[-1]["metadata"]["usage"] == answer["usage"]
    assert sim.log("plain")[-1]["model"] == MODEL_ID


def test_a_wrong_secret_and_an_unknown_key_are_refused_as_aws_refuses_them(sim: Sim) -> None:
    with pytest.raises(ClientError) as wrong:
        aws(sim, "plain", secret="not-the-secret").converse(**ask())
    assert wrong.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert wrong.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as unknown:
        aws(sim, "plain", key="AKIAUNKNOWNKEY000000").converse(**ask())
    assert unknown.value.response["Error"]["Code"] == "UnrecognizedClientException"
    unsigned = sim.http.post(f"/plain/bedrock/model/{MODEL_ID}/converse", json=ask())
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-errortype"].startswith("MissingAuthenticationToken")
    assert sim.log("plain") == []  # refused before the endpoint saw a request


@pytest.mark.parametrize(("outcome", "status", "code"), [
    ("http_503", 503, "ServiceUnavailableException"), ("http_429", 429, "ThrottlingException"),
    ("http_408", 408, "ModelTimeoutException"), ("http_404", 404, "ResourceNotFoundException"),
    ("context_length", 400, "ValidationException")])
def test_scripted_errors_come_in_aws_shape(sim: Sim, outcome: str, status: int,
                                          code: str) -> None:
    sim.script("plain", outcome)
    with pytest.raises(ClientError) as caught:
        aws(sim, "plain").converse(**ask())
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_tool_use_whole_and_streamed(sim: Sim) -> None:
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}]}
    client = aws(sim, "plain")
    answer = client.converse(**ask("Weather in Paris?", toolConfig=tools))
    assert answer["stopReason"] == "tool_use"
    [use] = [b["toolUse"] for b in answer["output"]["message"]["content"] if "toolUse" in b]
    assert use["name"] == "get_weather" and use["input"] == {"city": "Paris"}
    events = list(client.converse_stream(**ask("Weather in Paris?", toolConfig=tools))["stream"])
    [start] = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert start["start"]["toolUse"]["name"] == "get_weather"
    pieces = [e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events
              if "contentBlockDelta" in e and "toolUse" in e["contentBlockDelta"]["delta"]]
    assert len(pieces) > 1 and "".join(pieces) == '{"city":"Paris"}'


def test_a_cache_point_reads_and_writes_the_cache_the_aws_way(sim: Sim) -> None:
    system = [{"text": "You are terse. " * 40}, {"cachePoint": {"type": "default"}}]
    client = aws(sim, "cached")
    first = client.converse(**ask("One", system=system))["usage"]
    second = client.converse(**ask("Two", system=system))["usage"]
    assert first.get("cacheReadInputTokens", 0) == 0 and first["cacheWriteInputTokens"] > 0
    assert second["cacheReadInputTokens"] == first["cacheWriteInputTokens"]
    assert second["totalTokens"] == (second["inputTokens"] + second["cacheReadInputTokens"]
                                     + second["cacheWriteInputTokens"] + second["outputTokens"])
    plain = client.converse(**ask("Three", system=system[:1]))["usage"]
    assert plain.get("cacheReadInputTokens", 0) == 0  # no cachePoint: no cache


def test_a_provider_prefix_picks_the_model_from_the_path(sim: Sim) -> None:
    client = aws(sim, "acme")
    assert client.converse(**dict(ask(), modelId="acme-big"))["usage"]["outputTokens"] == 8
    with pytest.raises(ClientError) as caught:
        client.converse(**dict(ask(), modelId="acme-huge"))
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
