"""Our chat request as a Gemini `generateContent` body, for the Gemini API and Vertex AI alike.

Written from Google's references, as stored 2026-12-07:
  https://ai.google.dev/api/generate-content        GenerateContentRequest, GenerationConfig
  https://ai.google.dev/api/caching#Content         Content and Part
  https://ai.google.dev/gemini-api/docs/function-calling    functionDeclarations, toolConfig,
                                                    functionResponse, thought signatures
  https://ai.google.dev/gemini-api/docs/thinking    thinkingConfig (thinkingBudget,
                                                    includeThoughts)
  https://ai.google.dev/gemini-api/docs/structured-output   responseMimeType, responseSchema
  https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/projects.locations.publishers.models/generateContent

* `system` and `developer` messages become `systemInstruction`; the conversation becomes
  `contents` of `user` and `model` turns (consecutive turns of one role merged, so the answers
  to parallel calls travel in one turn, as Gemini wants them);
* text parts become `text`; an image's `data:` URI becomes `inlineData`, any other URL
  `fileData` (its MIME type guessed from the name);
* an assistant's `tool_calls` become `functionCall` parts (arguments parsed into `args`), with
  the `thoughtSignature` our answers carried in `reasoning_details` put back on its call; a
  `tool` message becomes a `functionResponse` named after the call it answers;
* tools become one `functionDeclarations` tool; `tool_choice` becomes
  `toolConfig.functionCallingConfig` (AUTO, NONE, ANY, ANY with `allowedFunctionNames`);
* `max_tokens` → `maxOutputTokens`, `stop` → `stopSequences`, `temperature`, `top_p` → `topP`,
  `top_k`, penalties and `seed` as Gemini names them; `response_format` → `responseMimeType`
  application/json with the schema as `responseSchema`;
* reasoning → `thinkingConfig`: a budget (the caller's, or the effort's share of the output
  limit), `includeThoughts` unless it is excluded; reasoning turned off is a budget of 0.

Gemini reads an OpenAPI subset of JSON Schema for `parameters` and `responseSchema`; keywords
outside it (`additionalProperties`, `$schema`, …) make it refuse the request, so they are left
out at every level.
"""

from __future__ import annotations

import mimetypes
from typing import Any

import orjson

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.errors import BadRequest
from crossroads.providers import chat_walk
from crossroads.reasoning import DEFAULT_EFFORT, EFFORT_SHARE

# The `format` of a Gemini thought signature in OpenRouter's `reasoning_details`.
REASONING_FORMAT = "google-gemini-v1"
MAX_THINKING_BUDGET = 24576  # Gemini 2.5 Flash's largest budget (thinking guide)
# JSON Schema keywords outside the OpenAPI subset Gemini reads.
_UNSUPPORTED_SCHEMA = frozenset({"$schema", "$id", "$comment", "additionalProperties",
                                 "strict", "$defs", "definitions", "patternProperties"})
_MODES: dict[str, str] = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_SAMPLING: tuple[tuple[str, str], ...] = (
    ("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"),
    ("presence_penalty", "presencePenalty"), ("frequency_penalty", "frequencyPenalty"),
    ("seed", "seed"),
)

Part = dict[str, Any]


def _unsupported(what: str) -> BadRequest:
    return BadRequest(f"{what} is not supported by the Gemini dialect")


def clean_schema(schema: Any) -> Any:
    """The schema without the keywords Gemini refuses, at every level."""
    if isinstance(schema, dict):
        return {k: clean_schema(v) for k, v in schema.items() if k not in _UNSUPPORTED_SCHEMA}
    if isinstance(schema, list):
        return [clean_schema(v) for v in schema]
    return schema


def _image(url: str) -> Part:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        mime = header[5:].split(";", 1)[0] or "image/png"
        return {"inlineData": {"mimeType": mime, "data": data}}
    mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _text(text: Any) -> Part | None:
    return {"text": text} if isinstance(text, str) and text else None


def _part(part: Any) -> Part | None:
    return chat_walk.content_part(part, _text, _image, _unsupported)


def content_parts(content: Any) -> list[Part]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if isinstance(content, list):
        return [p for part in content if (p := _part(part)) is not None]
    return []


def _signatures(message: dict[str, Any]) -> dict[str, str]:
    """Tool-call id → the thought signature Gemini gave with that call."""
    out: dict[str, str] = {}
    details = message.get("reasoning_details")
    for detail in details if isinstance(details, list) else ():
        if (isinstance(detail, dict) and detail.get("format") == REASONING_FORMAT
                and isinstance(detail.get("data"), str) and isinstance(detail.get("id"), str)):
            out[detail["id"]] = detail["data"]
    return out


def _calls(message: dict[str, Any], names: dict[str, str]) -> list[Part]:
    signatures = _signatures(message)
    parts: list[Part] = []
    for call_id, name, args in chat_walk.tool_calls(message):
        names[call_id] = name
        part: Part = {"functionCall": {"name": name, "args": args}}
        if call_id in signatures:
            part["thoughtSignature"] = signatures[call_id]
        parts.append(part)
    return parts


def _response(message: dict[str, Any], names: dict[str, str]) -> Part:
    call_id = str(message.get("tool_call_id") or "")
    name = names.get(call_id) or str(message.get("name") or call_id)
    content = message.get("content")
    text = content if isinstance(content, str) else "".join(
        p.get("text", "") for p in content if isinstance(p, dict)) \
        if isinstance(content, list) else ""
    try:
        parsed = orjson.loads(text) if text.strip() else None
    except orjson.JSONDecodeError:
        parsed = None
    # `response` must be an object: a JSON object answer goes as it is, anything else wrapped.
    response = parsed if isinstance(parsed, dict) else {"content": text}
    return {"functionResponse": {"name": name, "response": response}}


def _content(message: dict[str, Any]) -> list[Part]:
    return content_parts(message.get("content"))


def conversation(messages: list[dict[str, Any]]) -> tuple[list[Part], list[dict[str, Any]]]:
    """(system instruction parts, contents)."""
    names: dict[str, str] = {}  # tool-call id → function name, for the answers
    return chat_walk.conversation(
        messages, system=_content, tool_result=lambda m: [_response(m, names)],
        assistant=lambda m: _content(m) + _calls(m, names), user=_content,
        assistant_role="model", key="parts")


def _declaration(_tool: dict[str, Any], function: dict[str, Any]) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": function["name"]}
    if isinstance(function.get("description"), str):
        declaration["description"] = function["description"]
    parameters = function.get("parameters")
    if isinstance(parameters, dict) and parameters.get("properties"):
        declaration["parameters"] = clean_schema(parameters)
    return declaration


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, str) and choice in _MODES:
        return {"functionCallingConfig": {"mode": _MODES[choice]}}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = str(choice["function"].get("name") or "")
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None


def _thinking(request: ChatRequest, endpoint: Endpoint, limit: int) -> dict[str, Any] | None:
    ask = request.reasoning
    if ask is None or "reasoning" not in endpoint.supported_parameters:
        return None
    if not ask.enabled:
        return {"thinkingBudget": 0}
    budget = ask.max_tokens
    if budget is None:
        budget = int(EFFORT_SHARE.get(ask.effort or DEFAULT_EFFORT, 0.5) * limit)
    budget = max(1, min(budget, MAX_THINKING_BUDGET, max(limit - 1, 1)))
    return {"thinkingBudget": budget, "includeThoughts": not ask.exclude}


def _response_format(response_format: Any, config: dict[str, Any]) -> None:
    if not isinstance(response_format, dict):
        return
    kind = response_format.get("type")
    if kind == "json_schema":
        config["responseMimeType"] = "application/json"
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if isinstance(schema, dict):
            config["responseSchema"] = clean_schema(schema)
    elif kind == "json_object":
        config["responseMimeType"] = "application/json"


def build_body(endpoint: Endpoint, request: ChatRequest,
               max_tokens: int | None) -> dict[str, Any]:
    """The generateContent body for one attempt at `endpoint` (the model is in the URL)."""
    body = request.body
    system, contents = conversation(body["messages"])
    if not contents:
        raise BadRequest("The Gemini dialect needs at least one user or assistant message")
    wire: dict[str, Any] = {"contents": contents}
    if system:
        wire["systemInstruction"] = {"parts": system}
    tools = body.get("tools")
    if tools:
        wire["tools"] = [{"functionDeclarations": chat_walk.function_tools(tools, _declaration)}]
        config = _tool_config(body.get("tool_choice"))
        if config is not None:
            wire["toolConfig"] = config
    generation: dict[str, Any] = {}
    limit = max_tokens or request.max_tokens
    if limit is not None:
        generation["maxOutputTokens"] = limit
    for ours, theirs in _SAMPLING:
        value = body.get(ours)
        if isinstance(value, int | float) and not isinstance(value, bool):
            generation[theirs] = value
    stop = body.get("stop")
    if stop:
        generation["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    _response_format(body.get("response_format"), generation)
    thinking = _thinking(request, endpoint, limit or endpoint.max_output)
    if thinking is not None:
        generation["thinkingConfig"] = thinking
    if generation:
        wire["generationConfig"] = generation
    return wire
