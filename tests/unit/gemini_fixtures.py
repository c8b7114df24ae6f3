"""Gemini API answers and errors, written from Google's public API reference.

Each fixture names the page it follows (as stored 2026-12-07); texts are the pages' examples or
shortened from them, field names and shapes exactly theirs.

  [generate]   https://ai.google.dev/api/generate-content (GenerateContentResponse, Candidate,
               FinishReason, PromptFeedback, UsageMetadata; streamGenerateContent with alt=sse)
  [functions]  https://ai.google.dev/gemini-api/docs/function-calling
  [signatures] https://ai.google.dev/gemini-api/docs/thought-signatures (a signature on the
               functionCall part; send it back as received)
  [thinking]   https://ai.google.dev/gemini-api/docs/thinking (thought parts with
               includeThoughts; thoughtsTokenCount)
  [caching]    https://ai.google.dev/gemini-api/docs/caching (cachedContentTokenCount is part of
               promptTokenCount: "the total effective prompt size … includes the number of
               tokens in the cached content")
  [errors]     https://ai.google.dev/gemini-api/docs/troubleshooting (status per HTTP code)
  [vertex]     https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/
               GenerateContentResponse (the same response on Vertex AI)
"""

from __future__ import annotations

from typing import Any

import orjson

# [generate] a plain text answer.
TEXT: dict[str, Any] = {
    "candidates": [{"content": {"parts": [{"text": "Hi! How can I help you today?"}],
                                "role": "model"},
                    "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 9, "totalTokenCount": 17},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mYxkaKzTKLvNvdIPp8WvqQs",
}

# [functions] + [signatures] + [thinking]: a thought, then a call carrying its signature.
TOOL: dict[str, Any] = {
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "The user wants the weather; I should call the tool.", "thought": True},
        {"functionCall": {"name": "get_current_temperature", "args": {"location": "London"}},
         "thoughtSignature": "CiQB0e2Kb1XN7cT3KcD0rJrIYEz0D5yV"},
    ]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 64, "candidatesTokenCount": 15,
                      "thoughtsTokenCount": 42, "totalTokenCount": 121},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "c2lnbmVkLWNhbGw",
}

# [functions] parallel calls, no ids (Gemini API), in one answer.
PARALLEL: dict[str, Any] = {
    "candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "power_disco_ball", "args": {"power": True}}},
        {"functionCall": {"name": "start_music", "args": {"energetic": True, "loud": True}}},
    ]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 20,
                      "totalTokenCount": 140},
}

# [caching] 2,000 of the 2,300 prompt tokens came from the cache.
CACHED: dict[str, Any] = {
    **TEXT,
    "usageMetadata": {"promptTokenCount": 2300, "cachedContentTokenCount": 2000,
                      "candidatesTokenCount": 50, "totalTokenCount": 2350},
}

# [generate] PromptFeedback: the prompt was blocked, so there are no candidates.
BLOCKED: dict[str, Any] = {
    "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},
    "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
}

# [generate] FinishReason values (FINISH_REASON_UNSPECIFIED and OTHER included) and ours.
FINISH_REASONS: list[tuple[str, str]] = [
    ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"),
    ("RECITATION", "content_filter"), ("LANGUAGE", "content_filter"),
    ("BLOCKLIST", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"),
    ("SPII", "content_filter"), ("IMAGE_SAFETY", "content_filter"), ("OTHER", "stop"),
    ("MALFORMED_FUNCTION_CALL", "stop"), ("FINISH_REASON_UNSPECIFIED", "stop"),
    ("SOMETHING_GOOGLE_ADDS_LATER", "stop"),
]

# [generate] streamGenerateContent?alt=sse: each event a whole response with the next text;
# usage in every event, complete in the last, which carries the finish reason.
TEXT_STREAM: list[dict[str, Any]] = [
    {"candidates": [{"content": {"parts": [{"text": "The"}], "role": "model"}, "index": 0}],
     "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10},
     "modelVersion": "gemini-2.5-flash", "responseId": "c3RyZWFt"},
    {"candidates": [{"content": {"parts": [{"text": " sky is"}], "role": "model"},
                     "index": 0}],
     "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10},
     "modelVersion": "gemini-2.5-flash", "responseId": "c3RyZWFt"},
    {"candidates": [{"content": {"parts": [{"text": " blue."}], "role": "model"},
                     "finishReason": "STOP", "index": 0}],
     "usageMetadata": {"promptTokenCount": 10, "cachedContentTokenCount": 4,
                       "candidatesTokenCount": 5, "thoughtsTokenCount": 7,
                       "totalTokenCount": 22},
     "modelVersion": "gemini-2.5-flash", "responseId": "c3RyZWFt"},
]

# [functions] streamed: a thought, then two calls in separate events, then the finish.
TOOL_STREAM: list[dict[str, Any]] = [
    {"candidates": [{"content": {"parts": [{"text": "Two tools are needed.", "thought": True}],
                                 "role": "model"}, "index": 0}]},
    {"candidates": [{"content": {"parts": [
        {"functionCall": {"name": "power_disco_ball", "args": {"power": True}},
         "thoughtSignature": "c2lnLW9uZQ"}], "role": "model"}, "index": 0}]},
    {"candidates": [{"content": {"parts": [
        {"functionCall": {"name": "start_music", "args": {"energetic": True}}}],
        "role": "model"}, "index": 0}]},
    {"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"},
                     "finishReason": "STOP", "index": 0}],
     "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 12,
                       "thoughtsTokenCount": 6, "totalTokenCount": 48}},
]

# [errors] (HTTP status, google.rpc status, message, details) as Google sends them.
ERRORS: list[tuple[int, str, str, list[dict[str, Any]] | None]] = [
    (400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"foo\": Cannot "
     "find field.", None),
    (400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
     [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
       "domain": "googleapis.com"}]),
    (400, "INVALID_ARGUMENT", "The input token count (1200000) exceeds the maximum number of "
     "tokens allowed (1048576).", None),
    (400, "FAILED_PRECONDITION", "Gemini API free tier is not available in your country. "
     "Please enable billing on your project in Google AI Studio.", None),
    (401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 "
     "access token, login cookie or other valid authentication credential.", None),
    (403, "PERMISSION_DENIED", "Your API key doesn't have the required permissions.", None),
    (404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta.", None),
    (429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and "
     "billing details.",
     [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "21s"}]),
    (500, "INTERNAL", "An internal error has occurred.", None),
    (503, "UNAVAILABLE", "The model is overloaded. Please try again later.", None),
    (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", None),
]


def error_body(status: int, name: str, message: str,
               details: list[dict[str, Any]] | None) -> bytes:
    error: dict[str, Any] = {"code": status, "message": message, "status": name}
    if details is not None:
        error["details"] = details
    return orjson.dumps({"error": error})


def sse(*events: dict[str, Any]) -> bytes:
    """Events framed as Google frames them (CRLF CRLF between events)."""
    return b"".join(b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in events)
