"""Fixed payloads shared by every part of the stack benchmark."""

import orjson

# ~400-byte OpenAI-style chat request.
REQUEST = {
    "model": "openai/gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant. Answer briefly and precisely."},
        {
            "role": "user",
            "content": "Explain in two sentences why per-request overhead matters for an LLM router "
            "sitting in front of many upstream providers, and how to keep it low.",
        },
    ],
    "temperature": 0.2,
    "max_tokens": 128,
    "stream": False,
    "user": "bench-user-0001",
}
REQUEST_BODY = orjson.dumps(REQUEST)

# ~300-byte OpenAI-style chat response (what the fake upstream returns).
RESPONSE = {
    "id": "chatcmpl-bench0000000000000000000001",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Overhead adds to every call; keep the hot path lean.",
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 52, "completion_tokens": 12, "total_tokens": 64},
}
RESPONSE_BODY = orjson.dumps(RESPONSE)

PATH = "/v1/chat/completions"

if __name__ == "__main__":
    print(len(REQUEST_BODY), len(RESPONSE_BODY))
