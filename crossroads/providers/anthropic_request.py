"""Our chat request as an Anthropic Messages request body (POST /v1/messages).

Written from Anthropic's Messages reference (https://docs.anthropic.com/en/api/messages):

* `system` and `developer` messages become the top-level `system` blocks, wherever they stand:
  Messages has no system role inside the conversation;
* user content parts become `text` and `image` blocks: a `data:` URI becomes a `base64` source,
  an http(s) URL a `url` source; a part's `cache_control` (OpenRouter's way to place Anthropic
  cache breakpoints) is kept on the block;
* an assistant's `tool_calls` become `tool_use` blocks (the arguments parsed into `input`), and
  `tool` messages become `tool_result` blocks of a user turn; its signed `reasoning_details`
  (as our answers carry them) go back as the `thinking` / `redacted_thinking` blocks they
  were. Consecutive turns of one role are merged, so a run of tool results followed by the
  user's next words is one user turn with the results first, as Anthropic requires;
* `stop` → `stop_sequences`; `temperature` is capped at 1 (Anthropic's range is 0–1, OpenAI's
  0–2); `max_tokens` is required, so the endpoint's `max_output` is sent when the caller gave
  none (or the reservation's bound, when a key's limit lowered it);
* reasoning becomes `thinking` with a token budget (an effort is the share of `max_tokens`
  OpenRouter uses, at least Anthropic's minimum of 1024 and below `max_tokens`); with thinking
  on, `temperature` and `top_k` are left out and `top_p` only kept from 0.95 up, the values
  Anthropic accepts. A forced tool choice cannot be combined with thinking: the caller's tool
  choice wins and the request goes without thinking; so does a tool loop whose last assistant
  turn comes back without its signed thinking (Anthropic would refuse it);
* `response_format`: Messages has no JSON mode on every model, so a JSON schema (or a bare JSON
  object) is asked for as a forced call of one tool whose `input_schema` is the schema; the
  answer's tool input is returned as the message content, and its `tool_use` stop as `stop`.
  When the caller offers tools of its own, or thinking is on (no forced tool then), the schema
  is asked for in a system instruction instead.
"""

from __future__ import annotations

from typing import Any

from crossroads.catalog import Endpoint
from crossroads.chat_request import ChatRequest
from crossroads.errors import BadRequest
from crossroads.providers import chat_walk

# The tool a JSON answer is asked for with (never offered beside the caller's own tools).
JSON_TOOL = "json_answer"
THINKING_TOP_P = 0.95  # the lowest top_p Anthropic accepts with thinking on

Block = dict[str, Any]


def _unsupported(what: str) -> BadRequest:
    return BadRequest(f"{what} is not supported by the Anthropic dialect")


def _kept(part: dict[str, Any], block: Block) -> Block:
    control = part.get("cache_control")
    if isinstance(control, dict):
        block["cache_control"] = control
    return block


def _image(url: str) -> Block:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";", 1)[0]
        return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                            "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _text(text: Any) -> Block | None:
    return {"type": "text", "text": text} if text else None


def _part(part: Any) -> Block | None:
    block = chat_walk.content_part(part, _text, _image, _unsupported)
    return _kept(part, block) if block is not None else None


def content_blocks(content: Any) -> list[Block]:
    """A chat message's content as Anthropic blocks (empty text is left out: Anthropic refuses
    empty text blocks)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [block for part in content if (block := _part(part)) is not None]
    return []


# OpenRouter's `reasoning_details` entries, as Anthropic's thinking blocks. Only signed ones can
# go back: Anthropic refuses a thinking block whose signature is missing or altered.
REASONING_FORMAT = "anthropic-claude-v1"


def _thinking_blocks(message: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    details = message.get("reasoning_details")
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict):
            continue
        kind = detail.get("type")
        if kind == "reasoning.text" and isinstance(detail.get("signature"), str) \
                and detail["signature"]:
            blocks.append({"type": "thinking", "thinking": str(detail.get("text") or ""),
                           "signature": detail["signature"]})
        elif kind == "reasoning.encrypted" and isinstance(detail.get("data"), str):
            blocks.append({"type": "redacted_thinking", "data": detail["data"]})
    return blocks


def _thinking_breaks_the_turn(turns: list[dict[str, Any]]) -> bool:
    """Anthropic requires, with thinking on, that an assistant turn which called tools start
    with its (signed) thinking; when the caller did not send it back, thinking must stay off
    for this request rather than fail it."""
    for turn in reversed(turns):
        if turn["role"] != "assistant":
            continue
        blocks = turn["content"]
        calls = any(b.get("type") == "tool_use" for b in blocks)
        return calls and blocks[0].get("type") not in ("thinking", "redacted_thinking")
    return False


def _tool_uses(message: dict[str, Any]) -> list[Block]:
    return [{"type": "tool_use", "id": call_id, "name": name, "input": args}
            for call_id, name, args in chat_walk.tool_calls(message)]


def _tool_result(message: dict[str, Any]) -> Block:
    blocks = content_blocks(message.get("content"))
    call_id = message.get("tool_call_id") or message.get("name") or ""
    return {"type": "tool_result", "tool_use_id": str(call_id), "content": blocks}


def _content(message: dict[str, Any]) -> list[Block]:
    return content_blocks(message.get("content"))


def _assistant(message: dict[str, Any]) -> list[Block]:
    return _thinking_blocks(message) + _content(message) + _tool_uses(message)


def conversation(messages: list[dict[str, Any]]) -> tuple[list[Block], list[dict[str, Any]]]:
    """(system blocks, turns): the chat messages as Messages wants them."""
    return chat_walk.conversation(messages, system=_content,
                                  tool_result=lambda m: [_tool_result(m)],
                                  assistant=_assistant, user=_content)


def _tool(tool: dict[str, Any], function: dict[str, Any]) -> Block:
    parameters = function.get("parameters")
    block: Block = {"name": function["name"],
                    "input_schema": parameters if isinstance(parameters, dict)
                    else {"type": "object", "properties": {}}}
    if isinstance(function.get("description"), str):
        block["description"] = function["description"]
    return _kept(tool, block)


_CHOICES: dict[str, Block] = {"auto": {"type": "auto"}, "required": {"type": "any"},
                              "none": {"type": "none"}}


def _tool_choice(choice: Any, parallel: Any) -> Block | None:
    if isinstance(choice, str):
        picked = dict(_CHOICES.get(choice, _CHOICES["auto"]))
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        picked = {"type": "tool", "name": str(choice["function"].get("name") or "")}
    elif parallel is False:
        picked = {"type": "auto"}
    else:
        return None
    if parallel is False and picked["type"] != "none":
        picked["disable_parallel_tool_use"] = True
    return picked


def _json_instruction(schema: dict[str, Any]) -> Block:
    return {"type": "text", "text": chat_walk.json_instruction(schema)}


def _sampling(body: dict[str, Any], wire: dict[str, Any], thinking: bool) -> None:
    temperature = body.get("temperature")
    top_p = body.get("top_p")
    top_k = body.get("top_k")
    if not thinking:
        if isinstance(temperature, int | float):
            wire["temperature"] = min(float(temperature), 1.0)
        if isinstance(top_k, int) and not isinstance(top_k, bool):
            wire["top_k"] = top_k
    if isinstance(top_p, int | float) and (not thinking or top_p >= THINKING_TOP_P):
        wire["top_p"] = top_p


def answers_through_json_tool(request: ChatRequest) -> bool:
    """Whether a `JSON_TOOL` call in the answer is the JSON answer itself: only a request with
    no tools of its own can have been offered that tool."""
    return not request.body.get("tools")


def build_body(endpoint: Endpoint, request: ChatRequest,
               max_tokens: int | None) -> dict[str, Any]:
    """The Messages body for one attempt at `endpoint`."""
    body = request.body
    limit = max_tokens or request.max_tokens or endpoint.max_output
    system, turns = conversation(body["messages"])
    wire: dict[str, Any] = {"model": endpoint.upstream_model, "max_tokens": limit,
                            "messages": turns}
    tools = body.get("tools")
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    forced = choice is not None and choice["type"] in ("any", "tool")
    budget = None if forced or _thinking_breaks_the_turn(turns) \
        else chat_walk.thinking_budget(request, endpoint, limit)
    if tools:
        wire["tools"] = chat_walk.function_tools(tools, _tool)
    if choice is not None and tools:
        wire["tool_choice"] = choice
    response_format = body.get("response_format")
    schema = chat_walk.response_schema(response_format)
    if schema is not None:
        if not tools and budget is None and schema.get("type") == "object":
            wire["tools"] = [{"name": JSON_TOOL, "description": "Give the answer as this "
                              "tool's input.", "input_schema": schema}]
            wire["tool_choice"] = {"type": "tool", "name": JSON_TOOL}
        else:
            system.append(_json_instruction(schema))
    if system:
        wire["system"] = system
    stop = body.get("stop")
    if stop:
        wire["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    _sampling(body, wire, budget is not None)
    if budget is not None:
        wire["thinking"] = {"type": "enabled", "budget_tokens": budget}
    user = body.get("user")
    if isinstance(user, str) and user:
        wire["metadata"] = {"user_id": user}
    if request.stream:
        wire["stream"] = True
    return wire
