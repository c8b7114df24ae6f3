"""An Anthropic Messages request (`messages_request`) rewritten as a chat body, block by block:

* `system` becomes the first message, a `system` one;
* `text` and `image` blocks become chat content parts (a base64 image becomes a data URL);
  a `document` block becomes a text part (plain-text source) or an OpenRouter `file` part;
* an assistant's `tool_use` blocks become its `tool_calls` (the input object as JSON text);
* a user's `tool_result` blocks become `tool` messages, placed before the rest of that user
  turn, as chat requires them right after the assistant's calls; images and documents inside a
  result travel in the user message that follows, since a chat tool message carries only text;
* `thinking` and `redacted_thinking` blocks in the history are dropped: the chat dialect has no
  place for their signatures, and no provider behind the router checks them.

OpenRouter's routing fields (`models`, `provider`, `session_id`, …) are copied as they are, so
a Messages request routes and fails over exactly like the chat request it becomes.
"""

from __future__ import annotations

from typing import Any

import orjson

from crossroads.errors import BadRequest
from crossroads.surfaces.messages_request import (
    Block,
    ChoiceAny,
    ChoiceAuto,
    ChoiceNone,
    ChoiceTool,
    ContentSource,
    DocumentBlock,
    FileSource,
    ImageBlock,
    MessagesRequest,
    PlainTextSource,
    TextBlock,
    ThinkingAdaptive,
    ThinkingEnabled,
    Tool,
    ToolChoiceBase,
    ToolResultBlock,
    ToolUseBlock,
    URLSource,
)

# OpenRouter's own request fields, copied to the chat body untouched.
ROUTER_FIELDS = ("models", "provider", "session_id", "plugins", "transforms", "route", "user")
MAX_FALLBACKS = 3

Part = dict[str, Any]
ChatMessage = dict[str, Any]



def _unsupported(what: str) -> BadRequest:
    return BadRequest(f"{what} is not supported by this router")


def _image_part(block: ImageBlock) -> Part:
    source = block.source
    if isinstance(source, FileSource):
        raise _unsupported("An image with a `file` source (the Files API)")
    url = (source.url if isinstance(source, URLSource)
           else f"data:{source.media_type};base64,{source.data}")
    return {"type": "image_url", "image_url": {"url": url}}


def _document_parts(block: DocumentBlock) -> list[Part]:
    source = block.source
    if isinstance(source, PlainTextSource):
        return [{"type": "text", "text": source.data}]
    if isinstance(source, ContentSource):
        inner = source.content
        if isinstance(inner, str):
            return [{"type": "text", "text": inner}]
        return [_part(b) for b in inner]
    if isinstance(source, FileSource):
        raise _unsupported("A document with a `file` source (the Files API)")
    data = (source.url if isinstance(source, URLSource)
            else f"data:{source.media_type};base64,{source.data}")
    return [{"type": "file", "file": {"filename": block.title or "document.pdf",
                                      "file_data": data}}]


def _part(block: TextBlock | ImageBlock) -> Part:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    return _image_part(block)


def _parts(block: Block) -> list[Part]:
    """A user block as chat content parts."""
    if isinstance(block, TextBlock | ImageBlock):
        return [_part(block)]
    if isinstance(block, DocumentBlock):
        return _document_parts(block)
    return []  # thinking in a user turn: nothing a model should read


def _tool_message(block: ToolResultBlock) -> tuple[ChatMessage, list[Part]]:
    """The tool message for a result, and the parts of it a tool message cannot carry."""
    texts: list[str] = []
    rest: list[Part] = []
    content = block.content
    if isinstance(content, str):
        texts.append(content)
    elif content is not None:
        for inner in content:
            for part in _parts(inner):
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    rest.append(part)
    text = "\n".join(texts)
    if block.is_error:
        # Chat has no error flag on a tool message: the model reads it in the text instead.
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": text}, rest


def _user(content: list[Block]) -> list[ChatMessage]:
    tools: list[ChatMessage] = []
    parts: list[Part] = []
    for block in content:
        if isinstance(block, ToolResultBlock):
            message, rest = _tool_message(block)
            tools.append(message)
            parts += rest
        elif isinstance(block, ToolUseBlock):
            raise BadRequest("Invalid request: a `tool_use` block must be in an assistant turn")
        else:
            parts += _parts(block)
    if not parts:
        return tools
    if len(parts) == 1 and parts[0]["type"] == "text":
        return [*tools, {"role": "user", "content": parts[0]["text"]}]
    return [*tools, {"role": "user", "content": parts}]


def _assistant(content: list[Block]) -> ChatMessage:
    text: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, TextBlock):
            text.append(block.text)
        elif isinstance(block, ToolUseBlock):
            calls.append({"id": block.id, "type": "function", "function": {
                "name": block.name, "arguments": orjson.dumps(block.input).decode()}})
        elif isinstance(block, ImageBlock | DocumentBlock | ToolResultBlock):
            raise BadRequest("Invalid request: an assistant turn holds only text, tool_use "
                             "and thinking blocks")
    message: ChatMessage = {"role": "assistant", "content": "".join(text) if text or not calls
                            else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _messages(request: MessagesRequest) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    system = request.system
    if isinstance(system, str):
        out.append({"role": "system", "content": system})
    elif system:
        out.append({"role": "system", "content": [{"type": "text", "text": b.text}
                                                  for b in system]})
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            out.append({"role": message.role, "content": content})
        elif message.role == "user":
            out += _user(content)
        else:
            out.append(_assistant(content))
    return out


def _tools(tools: list[Tool]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        if tool.type not in (None, "custom"):
            raise _unsupported(f"The server tool `{tool.type}`")
        if tool.input_schema is None:
            raise BadRequest(f"Invalid request: tool `{tool.name}` has no `input_schema`")
        function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
        if tool.description is not None:
            function["description"] = tool.description
        out.append({"type": "function", "function": function})
    return out


_CHOICES: dict[type[ToolChoiceBase], str] = {ChoiceAuto: "auto", ChoiceAny: "required",
                                      ChoiceNone: "none"}


def _tool_choice(choice: ToolChoiceBase, body: dict[str, Any]) -> None:
    if isinstance(choice, ChoiceTool):
        body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    else:
        body["tool_choice"] = _CHOICES[type(choice)]
    if choice.disable_parallel_tool_use:
        body["parallel_tool_calls"] = False


def _reasoning(request: MessagesRequest) -> dict[str, Any] | None:
    thinking = request.thinking
    effort = request.output_config.effort if request.output_config else None
    reasoning: dict[str, Any] = {}
    if isinstance(thinking, ThinkingEnabled):
        reasoning["max_tokens"] = thinking.budget_tokens
    elif isinstance(thinking, ThinkingAdaptive):
        reasoning["enabled"] = True
    if effort is not None and "max_tokens" not in reasoning:
        reasoning["effort"] = effort
    display = getattr(thinking, "display", None)
    if reasoning and display == "omitted":
        reasoning["exclude"] = True
    return reasoning or None


def _models(raw: dict[str, Any]) -> list[str] | None:
    """OpenRouter's Anthropic-style `fallbacks` (`[{"model": ...}]`) as a chat `models` list."""
    fallbacks = raw.get("fallbacks")
    if fallbacks is None:
        return None
    if "models" in raw:
        raise BadRequest("Invalid request: `fallbacks` and `models` cannot be combined")
    if (not isinstance(fallbacks, list) or len(fallbacks) > MAX_FALLBACKS
            or not all(isinstance(f, dict) and set(f) == {"model"}
                       and isinstance(f["model"], str) for f in fallbacks)):
        raise BadRequest(f"Invalid request: `fallbacks` must be at most {MAX_FALLBACKS} "
                         'objects of the form {"model": "<id>"}')
    return [f["model"] for f in fallbacks]


def chat_body(request: MessagesRequest, raw: dict[str, Any]) -> dict[str, Any]:
    """The chat completion body that asks for the same answer."""
    body: dict[str, Any] = {name: raw[name] for name in ROUTER_FIELDS if name in raw}
    if request.model is not None:
        body["model"] = request.model
    body["messages"] = _messages(request)
    body["max_tokens"] = request.max_tokens
    if request.stream:
        body["stream"] = True
    for name in ("temperature", "top_p", "top_k"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.stop_sequences:
        body["stop"] = request.stop_sequences
    if request.metadata is not None and request.metadata.user_id is not None:
        body["user"] = request.metadata.user_id
    if request.tools:
        body["tools"] = _tools(request.tools)
    if request.tool_choice is not None:
        _tool_choice(request.tool_choice, body)
    reasoning = _reasoning(request)
    if reasoning is not None:
        body["reasoning"] = reasoning
    output_format = request.output_config.format if request.output_config else None
    if output_format is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "output", "schema": output_format.schema, "strict": True}}
    models = _models(raw)
    if models is not None:
        body["models"] = models
    return body
