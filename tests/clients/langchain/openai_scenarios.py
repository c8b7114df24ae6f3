"""Drives LangChain's OpenAI chat model (langchain-openai's `ChatOpenAI`) against a crossroads
router, as its users point it at any OpenAI-compatible gateway: `base_url` and a key.

    .venv-langchain/bin/python tests/clients/langchain/openai_scenarios.py SPEC_JSON

Same spec and output contract as scenarios.py (tests/clients/scripts.py). What it shows is the
part of LangChain that depends on what the model does, not on the gateway's schema: `bind_tools`
getting tool calls back (streamed or not, with `tool_choice`), the tool loop ending in text, and
`with_structured_output` returning the object by each of its three methods.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import reduce
from operator import add
from typing import Any, Literal

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

SPEC: dict[str, Any] = json.loads(sys.argv[1])
CTX: dict[str, Any] = SPEC["context"]
QUESTION = "What's the weather in the city of Paris?"


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"18C and sunny in {city}"


@tool
def get_time(city: str) -> str:
    """The local time in a city."""
    return f"noon in {city}"


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    celsius: float
    sky: Literal["sunny", "cloudy", "rainy"]


def say(scenario: str, text: str = QUESTION) -> str:
    return f"[{SPEC['run']}:{scenario}] {text}"


def llm(**fields: Any) -> ChatOpenAI:
    return ChatOpenAI(**{"model": CTX["main"], "api_key": SPEC["api_key"],
                         "base_url": SPEC["base_url"], "max_retries": 0, "timeout": 30, **fields})


def observe(message: BaseMessage) -> dict[str, Any]:
    assert isinstance(message, AIMessage), type(message)
    meta = message.response_metadata
    return {"id": meta.get("id"), "model": meta.get("model_name"),
            "content": message.content, "finish_reason": meta.get("finish_reason"),
            "tool_calls": [{"id": c["id"], "name": c["name"], "args": c["args"]}
                           for c in message.tool_calls],
            "invalid_tool_calls": len(message.invalid_tool_calls)}


def stream(model: Any, text: str) -> dict[str, Any]:
    chunks = list(model.stream(text))
    assert chunks and all(isinstance(c, AIMessageChunk) for c in chunks)
    return {**observe(reduce(add, chunks)), "chunks": len(chunks)}


def tool_loop() -> dict[str, Any]:
    """The agent loop: the model asks for a tool, gets its result, and answers in words."""
    model = llm().bind_tools([get_weather])
    history: list[BaseMessage] = [HumanMessage(say("tool_loop"))]
    asked = model.invoke(history)
    assert isinstance(asked, AIMessage)
    history.append(asked)
    for call in asked.tool_calls:
        history.append(ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"]))
    return {"asked": observe(asked), "answered": observe(model.invoke(history))}


def structured(method: str) -> dict[str, Any]:
    messages: list[BaseMessage] = [HumanMessage(say(f"structured_{method}"))]
    if method == "json_mode":  # JSON mode carries no schema: the prompt has to say it
        messages.insert(0, SystemMessage(
            f"Answer in JSON that follows this schema: {json.dumps(Weather.model_json_schema())}"))
    result = llm().with_structured_output(Weather, method=method).invoke(messages)
    assert isinstance(result, Weather), type(result)
    return {"parsed": result.model_dump()}


SCENARIOS: dict[str, Callable[[], Any]] = {
    "tools": lambda: observe(llm().bind_tools([get_time, get_weather]).invoke(say("tools"))),
    "tools_stream": lambda: stream(llm().bind_tools([get_weather]), say("tools_stream")),
    "tools_named": lambda: observe(llm().bind_tools([get_time, get_weather],
                                                    tool_choice="get_time")
                                   .invoke(say("tools_named"))),
    "tools_none": lambda: observe(llm(max_tokens=8).bind_tools([get_weather], tool_choice="none")
                                  .invoke(say("tools_none"))),
    "tool_loop": tool_loop,
    "structured_function_calling": lambda: structured("function_calling"),
    "structured_json_schema": lambda: structured("json_schema"),
    "structured_json_mode": lambda: structured("json_mode"),
}


def main() -> None:
    observations: dict[str, Any] = {}
    for name in SPEC["scenarios"]:
        try:
            observations[name] = SCENARIOS[name]()
        except Exception as error:  # any failure is observed, not hidden
            observations[name] = {"error": {"class": type(error).__name__,
                                            "status": getattr(error, "status_code", None),
                                            "message": str(error)}}
    sys.stdout.write(json.dumps(observations))


if __name__ == "__main__":
    main()
