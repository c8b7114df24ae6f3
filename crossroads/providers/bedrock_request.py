"""Our chat request as a Bedrock Converse request body (POST /model/{modelId}/converse).

Written from AWS's Converse reference
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html) and its
types (Message, ContentBlock, ToolConfiguration, InferenceConfiguration):

* `system` and `developer` messages become the top-level `system` list of `{"text"}` blocks;
* user content parts become `{"text"}` and `{"image": {"format", "source": {"bytes"}}}` blocks
  (bytes are base64 in the JSON protocol). Converse takes image bytes or an S3 location, never an
  http(s) URL, and a provider never fetches: such an image is the caller's to inline;
* an assistant's `tool_calls` become `{"toolUse": {"toolUseId", "name", "input"}}` blocks, and
  `tool` messages `{"toolResult": {"toolUseId", "content": [{"text"}]}}` blocks of a user turn;
  consecutive turns of one role are merged (Converse wants them alternating). Signed reasoning
  sent back (`reasoning_details`) becomes `reasoningContent` blocks ahead of the rest;
* `tools` → `toolConfig.tools[].toolSpec` with `inputSchema.json`; `tool_choice` auto → `auto`,
  required → `any`, a named function → `tool` (AWS documents `any` and `tool` for some models
  only; Llama answers `auto`). `none` has no Converse form: the tools are left out, unless the
  conversation already holds tool blocks, which Converse refuses without a `toolConfig`;
* `max_tokens`, `temperature`, `top_p`, `stop` → `inferenceConfig` maxTokens, temperature,
  topP, stopSequences;
* `response_format`: Converse's structured output is not offered by every model, and Llama on
  Bedrock answers neither a forced tool nor a JSON mode, so a JSON schema (or a bare object) is
  asked for in a system instruction, which every model reads;
* reasoning, where the endpoint lists it (Claude on Bedrock), goes as
  `additionalModelRequestFields.thinking` with a token budget, as Anthropic's own API takes it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.errors import BadRequest
from crossroads.providers import chat_walk

REASONING_FORMAT = "bedrock-converse-v1"
# Converse's ImageBlock formats, by the media type of a data: URL.
IMAGE_FORMATS: dict[str, str] = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
                                 "image/gif": "gif", "image/webp": "webp"}

Block = dict[str, Any]


def _unsupported(what: str) -> BadRequest:
    return BadRequest(f"{what} is not supported by the Bedrock Converse dialect")


def _image(url: str) -> Block:
    if not url.startswith("data:"):
        raise _unsupported("An image by URL (send it inline as a data: URL)")
    header, _, data = url.partition(",")
    media_type = header[5:].split(";", 1)[0].lower()
    image_format = IMAGE_FORMATS.get(media_type)
    if image_format is None:
        raise _unsupported(f"An image of type {media_type!r}")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("An image data: URL is not valid base64") from None
    return {"image": {"format": image_format, "source": {"bytes": data}}}


def _text(text: Any) -> Block | None:
    return {"text": text} if isinstance(text, str) and text else None


CACHE_POINT: Block = {"cachePoint": {"type": "default"}}


def content_blocks(content: Any) -> list[Block]:
    """A chat message's content as Converse blocks (Converse refuses empty text blocks). A
    part's `cache_control` (OpenRouter's cache breakpoint) becomes a `cachePoint` block after
    it, Converse's way to mark where a cached prefix ends."""
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[Block] = []
    for part in content if isinstance(content, list) else ():
        block = chat_walk.content_part(part, _text, _image, _unsupported)
        if block is not None:
            blocks.append(block)
            if isinstance(part.get("cache_control"), dict):
                blocks.append(dict(CACHE_POINT))
    return blocks


def _reasoning_blocks(message: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    details = message.get("reasoning_details")
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict):
            continue
        if detail.get("type") == "reasoning.text" and detail.get("signature"):
            blocks.append({"reasoningContent": {"reasoningText": {
                "text": str(detail.get("text") or ""), "signature": str(detail["signature"])}}})
        elif detail.get("type") == "reasoning.encrypted" and isinstance(detail.get("data"), str):
            blocks.append({"reasoningContent": {"redactedContent": detail["data"]}})
    return blocks


def _tool_uses(message: dict[str, Any]) -> list[Block]:
    return [{"toolUse": {"toolUseId": call_id, "name": name, "input": args}}
            for call_id, name, args in chat_walk.tool_calls(message)]


def _tool_result(message: dict[str, Any]) -> Block:
    content = [b for b in content_blocks(message.get("content")) if "text" in b]
    call_id = message.get("tool_call_id") or message.get("name") or ""
    return {"toolResult": {"toolUseId": str(call_id), "content": content or [{"text": ""}]}}


def _system(message: dict[str, Any]) -> list[Block]:
    return [b for b in content_blocks(message.get("content")) if "text" in b or "cachePoint" in b]


def _content(message: dict[str, Any]) -> list[Block]:
    return content_blocks(message.get("content"))


def _assistant(message: dict[str, Any]) -> list[Block]:
    return _reasoning_blocks(message) + _content(message) + _tool_uses(message)


def conversation(messages: list[dict[str, Any]]) -> tuple[list[Block], list[dict[str, Any]]]:
    """(system blocks, turns): the chat messages as Converse wants them."""
    return chat_walk.conversation(messages, system=_system,
                                  tool_result=lambda m: [_tool_result(m)],
                                  assistant=_assistant, user=_content, user_role="user")


def _tool_spec(_tool: dict[str, Any], function: dict[str, Any]) -> Block:
    parameters = function.get("parameters")
    spec: Block = {"name": function["name"],
                   "inputSchema": {"json": parameters if isinstance(parameters, dict)
                                   else {"type": "object", "properties": {}}}}
    if isinstance(function.get("description"), str) and function["description"]:
        spec["description"] = function["description"]
    return {"toolSpec": spec}


_CHOICES: dict[str, Block] = {"auto": {"auto": {}}, "required": {"any": {}}}


def _has_tool_blocks(turns: list[dict[str, Any]]) -> bool:
    return any("toolUse" in b or "toolResult" in b for t in turns for b in t["content"])


def _tool_config(body: dict[str, Any], turns: list[dict[str, Any]]) -> Block | None:
    tools = body.get("tools")
    if not tools:
        return None
    choice = body.get("tool_choice")
    if choice == "none" and not _has_tool_blocks(turns):
        return None
    config: Block = {"tools": chat_walk.function_tools(tools, _tool_spec)}
    if isinstance(choice, str) and choice in _CHOICES:
        config["toolChoice"] = _CHOICES[choice]
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        config["toolChoice"] = {"tool": {"name": str(choice["function"].get("name") or "")}}
    return config


def _json_instruction(schema: dict[str, Any]) -> Block:
    return {"text": chat_walk.json_instruction(schema)}


def _inference_config(body: dict[str, Any], limit: int, thinking: bool) -> Block:
    config: Block = {"maxTokens": limit}
    temperature = body.get("temperature")
    top_p = body.get("top_p")
    # Claude on Bedrock takes no sampling changes with thinking on, as on Anthropic's API.
    if isinstance(temperature, int | float) and not isinstance(temperature, bool) \
            and not thinking:
        config["temperature"] = min(float(temperature), 1.0)
    if isinstance(top_p, int | float) and not isinstance(top_p, bool) and not thinking:
        config["topP"] = float(top_p)
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    return config


def build_body(endpoint: Endpoint, request: ChatRequest,
               max_tokens: int | None) -> dict[str, Any]:
    """The Converse body for one attempt at `endpoint` (the model is in the URL, not here)."""
    body = request.body
    limit = max_tokens or request.max_tokens or endpoint.max_output
    system, turns = conversation(body["messages"])
    wire: dict[str, Any] = {"messages": turns}
    schema = chat_walk.response_schema(body.get("response_format"))
    if schema is not None:
        system.append(_json_instruction(schema))
    if system:
        wire["system"] = system
    tool_config = _tool_config(body, turns)
    if tool_config is not None:
        wire["toolConfig"] = tool_config
    forced = tool_config is not None and "toolChoice" in tool_config \
        and "auto" not in tool_config["toolChoice"]
    budget = None if forced else chat_walk.thinking_budget(request, endpoint, limit)
    wire["inferenceConfig"] = _inference_config(body, limit, budget is not None)
    if budget is not None:
        wire["additionalModelRequestFields"] = {
            "thinking": {"type": "enabled", "budget_tokens": budget}}
    return wire
