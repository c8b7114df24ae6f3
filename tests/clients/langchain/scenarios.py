"""Drives LangChain's OpenRouter chat model (langchain-openrouter) against a crossroads router.

    .venv-langchain/bin/python tests/clients/langchain/scenarios.py SPEC_JSON

Runs in its own virtualenv (tests/clients/langchain/requirements.txt): langchain-openrouter pins
an older `openrouter` SDK than the one the test suite uses. Same spec and output contract as the
Node scripts (tests/clients/scripts.py). Chat goes through `ChatOpenRouter` as its users write
it; the catalog and generation calls go through the SDK client it carries (`llm.client`), the
version LangChain users actually have installed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from functools import reduce
from operator import add
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_openrouter import ChatOpenRouter
from openrouter import OpenRouter, errors
from pydantic import BaseModel

SPEC: dict[str, Any] = json.loads(sys.argv[1])
CTX: dict[str, Any] = SPEC["context"]

WEATHER_TOOL = {"type": "function", "function": {
    "name": CTX["tool_name"], "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
WEATHER_FORMAT = {"type": "json_schema", "json_schema": {
    "name": "weather", "strict": True, "schema": {
        "type": "object", "properties": {"city": {"type": "string"}},
        "required": ["city"], "additionalProperties": False}}}


class Weather(BaseModel):
    """The weather in a city."""

    city: str


def tag(scenario: str) -> str:
    return f"{SPEC['run']}:{scenario}"


def say(scenario: str, text: str = "Say something.") -> str:
    return f"[{tag(scenario)}] {text}"


def llm(**fields: Any) -> ChatOpenRouter:
    settings: dict[str, Any] = {"model": CTX["main"], "api_key": SPEC["api_key"],
                                "base_url": SPEC["base_url"], "max_tokens": 8}
    return ChatOpenRouter(**{**settings, **fields})


def usage_of(message: AIMessage) -> dict[str, Any] | None:
    usage = message.usage_metadata
    if usage is None:
        return None
    meta = message.response_metadata
    details = meta.get("cost_details") or {}
    return {"prompt_tokens": usage["input_tokens"], "completion_tokens": usage["output_tokens"],
            "total_tokens": usage["total_tokens"], "cost": meta.get("cost"),
            "prompt_cost": details.get("upstream_inference_prompt_cost"),
            "completion_cost": details.get("upstream_inference_completions_cost")}


def observe(message: BaseMessage, **extra: Any) -> dict[str, Any]:
    assert isinstance(message, AIMessage), type(message)
    meta = message.response_metadata
    return {"id": meta.get("id"), "model": meta.get("model_name"),
            "provider": meta.get("provider"),
            "content": message.content if isinstance(message.content, str) else None,
            "finish_reason": meta.get("finish_reason"),
            "tool_calls": [{"id": c["id"], "name": c["name"], "arguments": json.dumps(c["args"])}
                           for c in message.tool_calls],
            "usage": usage_of(message), **extra}


def observe_stream(chunks: list[BaseMessage]) -> dict[str, Any]:
    assert chunks and all(isinstance(c, AIMessageChunk) for c in chunks)
    merged = reduce(add, chunks)
    ids = list(dict.fromkeys(str(c.response_metadata["id"]) for c in chunks
                             if c.response_metadata.get("id")))
    texts = sum(1 for c in chunks if c.content)
    return observe(merged, ids=ids, text_chunks=texts)


def stream(model: ChatOpenRouter | Any, text: str) -> dict[str, Any]:
    return observe_stream(list(model.stream(text)))


def generation(answer: dict[str, Any]) -> dict[str, Any]:
    found = llm().client.generations.get_generation(id=answer["id"]).data
    return {"chat": answer, "generation": {
        "id": found.id, "model": found.model, "provider_name": found.provider_name,
        "total_cost": found.total_cost, "tokens_prompt": found.tokens_prompt,
        "tokens_completion": found.tokens_completion, "finish_reason": found.finish_reason,
        "streamed": found.streamed,
        "provider_responses": [{"status": r.status, "provider_name": r.provider_name}
                               for r in found.provider_responses or ()]}}


def model_of(m: Any) -> dict[str, Any]:
    return {"id": m.id, "name": m.name, "context_length": m.context_length,
            "pricing": {"prompt": m.pricing.prompt, "completion": m.pricing.completion},
            "input_modalities": [str(x) for x in m.architecture.input_modalities],
            "tokenizer": m.architecture.tokenizer,
            "max_completion_tokens": m.top_provider.max_completion_tokens,
            "supported_parameters": [str(p) for p in m.supported_parameters]}


def models_list() -> dict[str, Any]:
    listed = llm().client.models.list()
    return {"models": [model_of(m) for m in listed.result.data],
            "total_count": listed.result.total_count}


def models_page() -> dict[str, Any]:
    pages = []
    page = llm().client.models.list(offset=0, limit=1)
    while page is not None:
        pages.append([m.id for m in page.result.data])
        page = page.next()
    return {"pages": pages}


def endpoints_list() -> dict[str, Any]:
    author, slug = CTX["main"].split("/")
    data = llm().client.endpoints.list(author=author, slug=slug).data
    return {"id": data.id, "name": data.name, "endpoints": [
        {"tag": e.tag, "provider_name": str(e.provider_name), "context_length": e.context_length,
         "max_completion_tokens": e.max_completion_tokens,
         "pricing": {"prompt": e.pricing.prompt, "completion": e.pricing.completion},
         "supported_parameters": [str(p) for p in e.supported_parameters],
         "status": e.status, "quantization": e.quantization} for e in data.endpoints]}


def providers_list() -> dict[str, Any]:
    return {"providers": [{"slug": p.slug, "name": p.name,
                           "privacy_policy_url": p.privacy_policy_url}
                          for p in llm().client.providers.list().data]}


def keys_flow() -> dict[str, Any]:
    """The account calls of the SDK LangChain carries, with a management key from the CLI; the
    key it makes is then used by ChatOpenRouter itself."""
    admin = OpenRouter(api_key=CTX["admin_key"], server_url=SPEC["base_url"])
    created = admin.api_keys.create(name=tag("keys_flow"), limit=1, limit_reset="daily")
    chat = llm(api_key=created.key)
    answer = observe(chat.invoke(say("keys_flow")))
    current = chat.client.api_keys.get_current_key_metadata().data
    credits = chat.client.credits.get_credits().data
    listed = [k.hash for k in admin.api_keys.list().data]
    disabled = admin.api_keys.update(hash=created.data.hash, disabled=True).data
    try:
        chat.invoke(say("keys_flow_refused"))
        refused: dict[str, Any] | None = None
    except errors.OpenRouterError as error:
        refused = {"class": type(error).__name__, "status": error.status_code}
    return {"key_prefix": created.key[:9], "hash": created.data.hash, "answer": answer,
            "current": {"usage": current.usage, "limit": current.limit,
                        "limit_remaining": current.limit_remaining,
                        "is_management_key": current.is_management_key},
            "credits": {"total_credits": credits.total_credits,
                        "total_usage": credits.total_usage},
            "listed": listed, "disabled": disabled.disabled, "refused": refused}


async def async_calls() -> dict[str, Any]:
    answer = await llm().ainvoke(say("async_chat"))
    chunks = [chunk async for chunk in llm().astream(say("async_stream"))]
    return {"chat": observe(answer), "stream": observe_stream(chunks)}


def image() -> dict[str, Any]:
    message = HumanMessage(content=[
        {"type": "text", "text": say("image", "What is in this picture?")},
        {"type": "image_url", "image_url": {"url": CTX["image_url"]}}])
    return observe(llm(openrouter_provider={"order": ["charlie", "bravo"]}).invoke([message]))


def structured() -> dict[str, Any]:
    tool_llm = llm(max_tokens=40).with_structured_output(Weather, method="function_calling")
    result = tool_llm.invoke(say("structured", "Please call a tool for Paris."))
    assert isinstance(result, Weather)
    return {"parsed": result.model_dump()}


def structured_json() -> dict[str, Any]:
    schema_llm = llm(max_tokens=40, openrouter_provider={"require_parameters": True})
    result = schema_llm.with_structured_output(Weather, method="json_schema").invoke(
        say("structured_json", "The weather in Paris?"))
    assert isinstance(result, Weather)
    return {"parsed": result.model_dump()}


SCENARIOS: dict[str, Callable[[], Any]] = {
    "chat": lambda: observe(llm().invoke(say("chat"))),
    "stream": lambda: stream(llm(), say("stream")),
    "async": lambda: asyncio.run(async_calls()),
    "batch": lambda: [observe(m) for m in llm().batch([say("batch_0"), say("batch_1")])],
    "only": lambda: observe(llm(openrouter_provider={"only": ["bravo"]}).invoke(say("only"))),
    "order": lambda: observe(llm(openrouter_provider={
        "order": ["charlie"], "allow_fallbacks": False}).invoke(say("order"))),
    "ignore": lambda: observe(llm(openrouter_provider={
        "ignore": ["alpha", "bravo"]}).invoke(say("ignore"))),
    "sort_price": lambda: observe(llm(openrouter_provider={"sort": "price"})
                                  .invoke(say("sort_price"))),
    "floor": lambda: observe(llm(model=f"{CTX['main']}:floor").invoke(say("floor"))),
    "nitro": lambda: stream(llm(model=f"{CTX['main']}:nitro"), say("nitro")),
    "fallback_models": lambda: observe(llm(
        max_tokens=CTX["over_main_max_output"],
        model_kwargs={"models": [CTX["backup"]]}).invoke(say("fallback_models"))),
    "tools": lambda: observe(llm(max_tokens=40).bind_tools([WEATHER_TOOL]).invoke(
        say("tools", "Please call a tool for Paris."))),
    "tools_stream": lambda: stream(llm(max_tokens=40).bind_tools([WEATHER_TOOL]),
                                   say("tools_stream", "Please call a tool for Paris.")),
    "structured": structured,
    "structured_json": structured_json,
    "response_format": lambda: observe(
        llm(max_tokens=40, openrouter_provider={"require_parameters": True})
        .bind(response_format=WEATHER_FORMAT).invoke(say("response_format"))),
    "image": image,
    "generation": lambda: generation(observe(llm().invoke(say("generation")))),
    "failover": lambda: generation(observe(llm(
        openrouter_provider={"order": ["alpha", "bravo"]}).invoke(say("failover")))),
    "midstream_error": lambda: stream(
        llm(max_tokens=12, openrouter_provider={"order": ["alpha"], "allow_fallbacks": False}),
        say("midstream_error")),
    "models_list": models_list,
    "models_page": models_page,
    "model_get": lambda: model_of(llm().client.models.get(author="acme", slug="main").data),
    "models_count": lambda: {"count": llm().client.models.count().data.count},
    "endpoints_list": endpoints_list,
    "providers_list": providers_list,
    "keys_flow": keys_flow,
    "err_unknown_model": lambda: observe(llm(model=CTX["unknown_model"])
                                         .invoke(say("err_unknown_model"))),
    "err_invalid_param": lambda: observe(llm(temperature=7).invoke(say("err_invalid_param"))),
    "err_no_endpoint": lambda: observe(llm(openrouter_provider={"only": ["nobody"]})
                                       .invoke(say("err_no_endpoint"))),
    "err_endpoints_unknown": lambda: llm().client.endpoints.list(author="nobody",
                                                                 slug="nothing"),
    "err_generation_unknown": lambda: llm().client.generations.get_generation(
        id="gen-0-unknown"),
    # ChatOpenRouter refuses to start without a key (and httpx to send a blank one), so the
    # request goes through an SDK client of its own built without one: no Authorization header.
    "err_no_auth": lambda: observe(llm(client=OpenRouter(server_url=SPEC["base_url"]))
                                   .invoke(say("err_no_auth"))),
}


def main() -> None:
    observations: dict[str, Any] = {}
    for name in SPEC["scenarios"]:
        try:
            observations[name] = SCENARIOS[name]()
        except errors.OpenRouterError as error:
            observations[name] = {"error": {"class": type(error).__name__,
                                            "status": error.status_code,
                                            "message": error.message}}
        except Exception as error:  # any other failure is observed, not hidden
            observations[name] = {"error": {"class": type(error).__name__, "status": None,
                                            "message": str(error)}}
    sys.stdout.write(json.dumps(observations))


if __name__ == "__main__":
    main()
