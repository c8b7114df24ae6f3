"""The pieces of a Responses `response` object, made from chat completion parts.

Shared by the whole answer (`response_object`) and the stream (`responses_stream.py`), so an
item, the usage and the closing status read the same whichever way the caller asked.

The response's id is the generation's id (`gen-…`): `GET /generation?id=<response.id>` finds its
record, as it does for a chat completion's id. Item ids are derived from it.
"""

from __future__ import annotations

from typing import Any, Final

from crossroads.pricing import usage_from_openai
from crossroads.surfaces.responses_request import Echo

# A chat finish reason that leaves the response incomplete, and the reason Responses gives.
INCOMPLETE: Final = {"length": "max_output_tokens", "content_filter": "content_filter"}
# The Responses API's error codes are few; a chat error's HTTP status picks one.
_ERROR_CODES: Final = {400: "invalid_prompt", 413: "invalid_prompt", 429: "rate_limit_exceeded"}


def item_id(prefix: str, response_id: str, index: int) -> str:
    return f"{prefix}_{response_id.removeprefix('gen-')}_{index}"


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal(text: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": text}


def reasoning_text(text: str) -> dict[str, Any]:
    return {"type": "reasoning_text", "text": text}


def message_item(item: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"type": "message", "id": item, "status": status, "role": "assistant",
            "content": parts}


def reasoning_item(item: str, text: str, status: str,
                   details: list[Any] | None = None) -> dict[str, Any]:
    """A reasoning item: the reasoning text as `content`, and from OpenRouter's
    `reasoning_details` any summaries and the encrypted blob a provider returned."""
    summary = [{"type": "summary_text", "text": d["summary"]} for d in details or ()
               if isinstance(d, dict) and d.get("type") == "reasoning.summary"
               and isinstance(d.get("summary"), str)]
    encrypted = next((d["data"] for d in details or () if isinstance(d, dict)
                      and d.get("type") == "reasoning.encrypted"
                      and isinstance(d.get("data"), str)), None)
    result: dict[str, Any] = {"type": "reasoning", "id": item, "status": status,
                              "summary": summary,
                              "content": [reasoning_text(text)] if text else []}
    if encrypted is not None:
        result["encrypted_content"] = encrypted
    return result


def function_call_item(item: str, call_id: str, name: str, arguments: str,
                       status: str) -> dict[str, Any]:
    return {"type": "function_call", "id": item, "call_id": call_id, "name": name,
            "arguments": arguments, "status": status}


def usage(chat_usage: Any) -> dict[str, Any] | None:
    """Chat usage (OpenRouter's, priced) as Responses usage, with OpenRouter's cost beside it."""
    counts = usage_from_openai(chat_usage)
    if counts is None:
        return None
    result: dict[str, Any] = {
        "input_tokens": counts.prompt_tokens,
        "input_tokens_details": {"cached_tokens": counts.cached_tokens,
                                 "cache_write_tokens": counts.cache_write_tokens},
        "output_tokens": counts.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": counts.reasoning_tokens},
        "total_tokens": counts.prompt_tokens + counts.completion_tokens,
    }
    if "cost" in chat_usage:
        result["cost"] = chat_usage["cost"]
    details = chat_usage.get("cost_details")
    if isinstance(details, dict):
        result["cost_details"] = {
            "upstream_inference_cost": details.get("upstream_inference_cost"),
            "upstream_inference_input_cost": details.get("upstream_inference_prompt_cost", 0),
            "upstream_inference_output_cost":
                details.get("upstream_inference_completions_cost", 0),
        }
    for key in ("is_byok", "crossroads"):
        if key in chat_usage:
            result[key] = chat_usage[key]
    return result


def response_error(error: Any) -> tuple[dict[str, str], str | None]:
    """A chat stream's in-band error as the response's `error` and OpenRouter's `error_type`."""
    if not isinstance(error, dict):
        return {"code": "server_error", "message": "the stream ended with an error"}, None
    status = error.get("code")
    message = error.get("message")
    metadata = error.get("metadata")
    error_type = metadata.get("error_type") if isinstance(metadata, dict) else None
    return ({"code": _ERROR_CODES.get(status, "server_error") if isinstance(status, int)
             else "server_error",
             "message": message if isinstance(message, str) else "the provider failed"},
            error_type if isinstance(error_type, str) else None)


def status_of(finish_reason: Any) -> tuple[str, dict[str, str] | None]:
    """The response status a chat finish reason leaves, and its `incomplete_details`."""
    reason = INCOMPLETE.get(finish_reason) if isinstance(finish_reason, str) else None
    if reason is None:
        return "completed", None
    return "incomplete", {"reason": reason}


def envelope(response_id: str, created: int, model: str, echo: Echo, *, status: str,
             output: list[dict[str, Any]], completed_at: int | None = None,
             response_usage: dict[str, Any] | None = None,
             incomplete: dict[str, str] | None = None, error: dict[str, str] | None = None,
             extras: dict[str, Any] | None = None) -> dict[str, Any]:
    """A whole response object, at any point of its life."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "completed_at": completed_at,
        "status": status,
        "model": model,
        "output": output,
        "error": error,
        "incomplete_details": incomplete,
        **echo.fields(),
        "store": False,
        "background": False,
        "previous_response_id": None,
        "usage": response_usage,
        **(extras or {}),
    }


def extras_of(chat: dict[str, Any]) -> dict[str, Any]:
    """What crossroads adds beside a chat answer, kept beside a response: the provider that
    served it and the simulated-fleet marker."""
    return {k: chat[k] for k in ("provider", "crossroads") if k in chat}


def response_object(chat: dict[str, Any], echo: Echo, now: int) -> dict[str, Any]:
    """A whole chat completion (as the relay settled it) as a Responses `response`."""
    response_id = str(chat["id"])
    choices = chat.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    output: list[dict[str, Any]] = []
    thought = message.get("reasoning")
    details = message.get("reasoning_details")
    if thought or details:
        output.append(reasoning_item(item_id("rs", response_id, len(output)),
                                     thought if isinstance(thought, str) else "", "completed",
                                     details if isinstance(details, list) else None))
    status, incomplete = status_of(choice.get("finish_reason"))
    # A truncated answer's items are cut short with it.
    state = "incomplete" if status == "incomplete" else "completed"
    calls = message.get("tool_calls") or []
    parts = []
    if isinstance(message.get("content"), str) and (message["content"] or not calls):
        parts.append(output_text(message["content"]))
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        parts.append(refusal(message["refusal"]))
    if parts or not calls:
        output.append(message_item(item_id("msg", response_id, len(output)),
                                   parts or [output_text("")], state))
    for call in calls:
        function = call.get("function") or {}
        output.append(function_call_item(
            item_id("fc", response_id, len(output)), str(call.get("id", "")),
            str(function.get("name", "")), str(function.get("arguments", "")), state))
    return envelope(response_id, int(chat.get("created", now)), str(chat.get("model", "")),
                    echo, status=status, output=output, completed_at=now,
                    response_usage=usage(chat.get("usage")), incomplete=incomplete,
                    extras=extras_of(chat))
