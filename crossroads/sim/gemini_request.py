"""A Gemini `generateContent` body, checked as Google checks it and read as a chat request.

The sim answers chat requests; this is the door for Gemini's shape. Checked strictly, because a
router's Gemini translator is only proven by a server that refuses what Google refuses: an
unknown field anywhere is Google's 400 `Invalid JSON payload received. Unknown name "…"`, a
role other than `user` / `model` is refused, every part must hold exactly one kind of data,
and schemas (function `parameters`, `responseSchema`) may use only the OpenAPI subset Gemini
reads (https://ai.google.dev/api/caching#Schema). Reference:
https://ai.google.dev/api/generate-content#request-body.

The chat request it becomes: `systemInstruction` → a system message; `user` turns → user
messages (text, images as `image_url`), their `functionResponse` parts → `tool` messages
answering the call of that name; `model` turns → assistant messages with `tool_calls`;
tools and `toolConfig` → `tools` and `tool_choice`; `generationConfig` → max_tokens,
temperature, top_p, stop, seed, response_format and reasoning (a thinking budget of 0 is no
reasoning; thoughts are shown only with `includeThoughts`, as Gemini does).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from crossroads.sim.prompt import BadRequestError

__all__ = ["GeminiAsk", "chat_of"]

_TOP: Final = frozenset({"contents", "systemInstruction", "tools", "toolConfig",
                         "generationConfig", "safetySettings", "cachedContent", "labels"})
_CONTENT: Final = frozenset({"role", "parts"})
_DATA: Final = frozenset({"text", "inlineData", "fileData", "functionCall", "functionResponse",
                          "executableCode", "codeExecutionResult"})
_PART: Final = _DATA | {"thought", "thoughtSignature", "videoMetadata"}
_GENERATION: Final = frozenset({
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
    "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed",
    "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs", "thinkingConfig",
    "mediaResolution", "responseModalities"})
_THINKING: Final = frozenset({"thinkingBudget", "includeThoughts", "thinkingLevel"})
_DECLARATION: Final = frozenset({"name", "description", "parameters", "parametersJsonSchema",
                                 "response"})
# The OpenAPI subset of Schema that `parameters` and `responseSchema` accept.
_SCHEMA: Final = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum",
    "maximum"})
_MODES: Final = {"AUTO": "auto", "NONE": "none", "ANY": "required", "VALIDATED": "auto"}


class GeminiAsk:
    """What the URL and body asked: the chat body, and whether thoughts are to be shown."""

    __slots__ = ("chat", "include_thoughts")

    def __init__(self, chat: dict[str, Any], include_thoughts: bool) -> None:
        self.chat = chat
        self.include_thoughts = include_thoughts


def _unknown(name: str, where: str) -> BadRequestError:
    at = f" at '{where}'" if where else ""
    return BadRequestError(f'Invalid JSON payload received. Unknown name "{name}"{at}: '
                           "Cannot find field.")


def _fields(value: Any, allowed: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequestError(f"Invalid value at '{where}': expected an object")
    for name in value:
        if name not in allowed:
            raise _unknown(name, where)
    return value


def _schema(value: Any, where: str) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _schema(item, f"{where}[{i}]")
        return
    if not isinstance(value, dict):
        return
    for name, inner in value.items():
        if name not in _SCHEMA:
            raise _unknown(name, where)
        if name == "properties" and isinstance(inner, dict):
            for prop, schema in inner.items():
                _schema(schema, f"{where}.properties[{prop}]")
        elif name in ("items", "anyOf"):
            _schema(inner, f"{where}.{name}")


def _text_and_images(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if "text" in part and part.get("thought") is not True:
            out.append({"type": "text", "text": str(part["text"])})
        elif "inlineData" in part:
            data = part["inlineData"]
            out.append({"type": "image_url", "image_url": {
                "url": f"data:{data.get('mimeType')};base64,{data.get('data')}"}})
        elif "fileData" in part:
            out.append({"type": "image_url",
                        "image_url": {"url": str(part["fileData"].get("fileUri"))}})
    return out


def _parts(turn: dict[str, Any], where: str) -> list[dict[str, Any]]:
    parts = turn.get("parts")
    if not isinstance(parts, list) or not parts:
        raise BadRequestError(f"* GenerateContentRequest.{where}.parts: contents.parts must "
                              "not be empty.")
    for i, part in enumerate(parts):
        _fields(part, _PART, f"{where}.parts[{i}]")
        kinds = [k for k in part if k in _DATA]
        if len(kinds) != 1:
            raise BadRequestError(f"Invalid value at '{where}.parts[{i}]': a part holds "
                                  "exactly one of text, inlineData, fileData, functionCall, "
                                  "functionResponse")
        if "inlineData" in part:
            _fields(part["inlineData"], frozenset({"mimeType", "data"}),
                    f"{where}.parts[{i}].inline_data")
        if "fileData" in part:
            _fields(part["fileData"], frozenset({"mimeType", "fileUri"}),
                    f"{where}.parts[{i}].file_data")
        call = part.get("functionCall") or part.get("functionResponse")
        if call is not None:
            _fields(call, frozenset({"name", "args", "response", "id"}),
                    f"{where}.parts[{i}]")
            if not isinstance(call.get("name"), str) or not call["name"]:
                raise BadRequestError(f"* GenerateContentRequest.{where}.parts[{i}]: name "
                                      "must not be empty")
            if "functionResponse" in part and not isinstance(call.get("response"), dict):
                raise BadRequestError(f"Invalid value at '{where}.parts[{i}]."
                                      "function_response.response': must be an object")
    return parts


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = body.get("systemInstruction")
    if system is not None:
        _fields(system, _CONTENT, "system_instruction")
        texts = _text_and_images(_parts(system, "system_instruction"))
        messages.append({"role": "system",
                         "content": "".join(t.get("text", "") for t in texts)})
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequestError("* GenerateContentRequest.contents: contents is not specified")
    pending: dict[str, list[str]] = {}  # function name → ids of calls not yet answered
    for t, turn in enumerate(contents):
        where = f"contents[{t}]"
        _fields(turn, _CONTENT, where)
        role = turn.get("role", "user")
        if role not in ("user", "model"):
            raise BadRequestError("Please use a valid role: user, model.")
        parts = _parts(turn, where)
        if role == "model":
            calls = []
            for k, part in enumerate(p for p in parts if "functionCall" in p):
                call = part["functionCall"]
                call_id = f"call_{t}_{k}"
                pending.setdefault(call["name"], []).append(call_id)
                calls.append({"id": call_id, "type": "function",
                              "function": {"name": call["name"],
                                           "arguments": _json(call.get("args") or {})}})
            message: dict[str, Any] = {"role": "assistant", "content": "".join(
                str(p["text"]) for p in parts if "text" in p and p.get("thought") is not True)}
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
            continue
        for part in parts:
            response = part.get("functionResponse")
            if response is not None:
                waiting = pending.get(response["name"]) or [f"call_{t}_answer"]
                messages.append({"role": "tool", "tool_call_id": waiting.pop(0),
                                 "content": _json(response["response"])})
        content = _text_and_images(parts)
        if content:
            messages.append({"role": "user", "content": content})
    return messages


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _tools(body: dict[str, Any], chat: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise BadRequestError("Invalid value at 'tools': expected a list")
    out = []
    for i, tool in enumerate(tools):
        _fields(tool, frozenset({"functionDeclarations", "googleSearch", "codeExecution"}),
                f"tools[{i}]")
        for j, declaration in enumerate(tool.get("functionDeclarations") or ()):
            where = f"tools[{i}].function_declarations[{j}]"
            _fields(declaration, _DECLARATION, where)
            if "parameters" in declaration:
                _schema(declaration["parameters"], f"{where}.parameters")
            function = {"name": declaration.get("name"),
                        "parameters": declaration.get("parameters")
                        or {"type": "object", "properties": {}}}
            if "description" in declaration:
                function["description"] = declaration["description"]
            out.append({"type": "function", "function": function})
    if out:
        chat["tools"] = out
    config = body.get("toolConfig")
    if config is not None:
        _fields(config, frozenset({"functionCallingConfig"}), "tool_config")
        calling = _fields(config.get("functionCallingConfig") or {},
                          frozenset({"mode", "allowedFunctionNames"}),
                          "tool_config.function_calling_config")
        mode = calling.get("mode", "AUTO")
        if mode not in _MODES:
            raise BadRequestError(f"Invalid value at 'tool_config.function_calling_config.mode'"
                                  f" (type.googleapis.com/google.ai.generativelanguage.v1beta."
                                  f"FunctionCallingConfig.Mode), \"{mode}\"")
        names = calling.get("allowedFunctionNames")
        if mode == "ANY" and isinstance(names, list) and len(names) == 1:
            chat["tool_choice"] = {"type": "function", "function": {"name": names[0]}}
        elif out:
            chat["tool_choice"] = _MODES[mode]


def _generation(body: dict[str, Any], chat: dict[str, Any], reasons: bool) -> bool:
    """Fill the chat body from generationConfig; whether thoughts are shown."""
    config = _fields(body.get("generationConfig") or {}, _GENERATION, "generation_config")
    for theirs, ours in (("maxOutputTokens", "max_tokens"), ("temperature", "temperature"),
                         ("topP", "top_p"), ("seed", "seed"), ("stopSequences", "stop")):
        if theirs in config:
            chat[ours] = config[theirs]
    if config.get("candidateCount", 1) != 1:
        raise BadRequestError("Only one candidate can be specified in the current model")
    mime = config.get("responseMimeType")
    if mime == "application/json":
        schema = config.get("responseSchema")
        if schema is not None:
            _schema(schema, "generation_config.response_schema")
            chat["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "response", "schema": schema}}
        else:
            chat["response_format"] = {"type": "json_object"}
    elif "responseSchema" in config:
        raise BadRequestError("responseSchema needs responseMimeType application/json")
    thinking = _fields(config.get("thinkingConfig") or {}, _THINKING,
                       "generation_config.thinking_config")
    budget = thinking.get("thinkingBudget")
    shown = thinking.get("includeThoughts") is True
    if budget == 0 or not reasons:
        chat["reasoning"] = {"enabled": False}
        return False
    ask: dict[str, Any] = {"exclude": not shown}
    if isinstance(budget, int) and budget > 0:
        ask["max_tokens"] = budget
    chat["reasoning"] = ask
    return shown


def chat_of(body: Any, model: str, stream: bool, reasons: bool) -> GeminiAsk:
    """The chat request a Gemini body asks for; BadRequestError in Google's words."""
    if not isinstance(body, dict):
        raise BadRequestError("Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in _TOP:
            raise _unknown(name, "")
    chat: dict[str, Any] = {"model": model, "messages": _messages(body), "stream": stream}
    _tools(body, chat)
    shown = _generation(body, chat, reasons)
    return GeminiAsk(chat, shown)
