"""Bedrock Converse answers, written from AWS's public API reference.

Each fixture names the page it follows (as stored 2026-12-07); texts are the pages' examples or
shortened from them, field names and event order are exactly theirs.

  [converse]  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
  [stream]    https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
              (and ContentBlockDeltaEvent, ContentBlockStartEvent, MessageStopEvent,
              ConverseStreamMetadataEvent, TokenUsage in the same reference)
  [tools]     https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html
  [caching]   https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html
  [reasoning] https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningContentBlockDelta.html
  [errors]    https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html and the
              Errors section of [converse]
  [framing]   https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html (the event stream
              every AWS streaming API shares: prelude, headers, payload, CRC32s)
"""

from __future__ import annotations

from typing import Any

from crossroads.sim.eventstream import event_message, exception_message

# [converse] a plain text answer.
TEXT_RESPONSE: dict[str, Any] = {
    "output": {"message": {"role": "assistant", "content": [
        {"text": "Hello! How can I help you today?"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 12, "outputTokens": 9, "totalTokens": 21},
    "metrics": {"latencyMs": 412},
}

# [tools] the model asks for a tool: text, then a toolUse block; stopReason tool_use.
TOOL_RESPONSE: dict[str, Any] = {
    "output": {"message": {"role": "assistant", "content": [
        {"text": "I'll look up the most popular song."},
        {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "top_song",
                     "input": {"sign": "WZPZ"}}}]}},
    "stopReason": "tool_use",
    "usage": {"inputTokens": 375, "outputTokens": 60, "totalTokens": 435},
    "metrics": {"latencyMs": 1410},
}

# [caching] a cache hit and a cache write: inputTokens is only the rest of the prompt.
CACHED_RESPONSE: dict[str, Any] = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Summarised."}]}},
    "stopReason": "max_tokens",
    "usage": {"inputTokens": 20, "outputTokens": 393, "totalTokens": 3213,
              "cacheReadInputTokens": 1800, "cacheWriteInputTokens": 1000},
}

# [reasoning] Claude on Bedrock with thinking: a reasoningContent block first.
REASONING_RESPONSE: dict[str, Any] = {
    "output": {"message": {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": "The user greets me.",
                                                "signature": "EqoBCkgIARABGAIiQL"}}},
        {"reasoningContent": {"redactedContent": "c2VjcmV0IHRob3VnaHQ="}},
        {"text": "Hi there."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 40, "outputTokens": 120, "totalTokens": 160},
}


def framed(*events: tuple[str, dict[str, Any]]) -> bytes:
    """[framing] events as ConverseStream sends them."""
    return b"".join(event_message(name, payload) for name, payload in events)


# [stream] text, in deltas of a block that has no start event, then the stop and the usage.
TEXT_STREAM: list[tuple[str, dict[str, Any]]] = [
    ("messageStart", {"role": "assistant"}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hello"}}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": " there."}}),
    ("contentBlockStop", {"contentBlockIndex": 0}),
    ("messageStop", {"stopReason": "end_turn"}),
    ("metadata", {"usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
                  "metrics": {"latencyMs": 300}}),
]

# [stream] + [tools] a tool call whose input arrives as JSON pieces across three deltas.
TOOL_STREAM: list[tuple[str, dict[str, Any]]] = [
    ("messageStart", {"role": "assistant"}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Let me check."}}),
    ("contentBlockStop", {"contentBlockIndex": 0}),
    ("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {
        "toolUseId": "tooluse_2SZvIIQGQmuMyCeXK2oX6A", "name": "top_song"}}}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"si'}}}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": 'gn": "W'}}}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": 'ZPZ"}'}}}),
    ("contentBlockStop", {"contentBlockIndex": 1}),
    ("messageStop", {"stopReason": "tool_use"}),
    ("metadata", {"usage": {"inputTokens": 375, "outputTokens": 60, "totalTokens": 435},
                  "metrics": {"latencyMs": 1200}}),
]

# [stream] + [caching] usage with cache reads and writes in the closing metadata.
CACHED_STREAM: list[tuple[str, dict[str, Any]]] = [
    ("messageStart", {"role": "assistant"}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Summarised."}}),
    ("contentBlockStop", {"contentBlockIndex": 0}),
    ("messageStop", {"stopReason": "max_tokens"}),
    ("metadata", {"usage": {"inputTokens": 20, "outputTokens": 393, "totalTokens": 3213,
                            "cacheReadInputTokens": 1800, "cacheWriteInputTokens": 1000},
                  "metrics": {"latencyMs": 900}}),
]

# [stream] + [reasoning] reasoning text, then its signature, then the answer.
REASONING_STREAM: list[tuple[str, dict[str, Any]]] = [
    ("messageStart", {"role": "assistant"}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {
        "text": "The user greets me."}}}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {
        "signature": "EqoBCkgIARABGAIiQL"}}}),
    ("contentBlockStop", {"contentBlockIndex": 0}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Hi there."}}),
    ("contentBlockStop", {"contentBlockIndex": 1}),
    ("messageStop", {"stopReason": "end_turn"}),
]

# [stream] every exception the stream can carry, with the status [stream] gives it.
STREAM_EXCEPTIONS: list[tuple[str, str, int]] = [
    ("internalServerException", "An internal server error occurred. Retry your request.", 500),
    ("modelStreamErrorException", "A streaming error occurred. Retry your request.", 424),
    ("validationException", "Input validation failed.", 400),
    ("throttlingException", "Too many tokens, please wait before trying again.", 429),
    ("serviceUnavailableException", "The service isn't currently available.", 503),
]


def exception(name: str, message: str) -> bytes:
    return exception_message(name, message)


# [errors] non-2xx answers: (status, x-amzn-errortype, message).
ERRORS: list[tuple[int, str, str]] = [
    (429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
     "Too many requests, please wait before trying again."),
    (503, "ServiceUnavailableException", "Bedrock is unable to process your request."),
    (429, "ModelNotReadyException", "Model is not ready to serve inference requests."),
    (408, "ModelTimeoutException", "Model has timed out in processing the request."),
    (424, "ModelErrorException", "The model returned an error."),
    (500, "InternalServerException", "The server encountered an internal error."),
    (403, "AccessDeniedException", "You don't have access to the model with the specified "
                                   "model ID."),
    (404, "ResourceNotFoundException", "The provided model identifier is invalid."),
    (400, "ValidationException", "Input is too long for requested model."),
    (400, "ValidationException", "The model returned the following errors: prompt is too long: "
                                 "210000 tokens > 200000 maximum"),
    (400, "ValidationException", "The request was blocked by the guardrail."),
    (400, "ValidationException", "Malformed input request: extraneous key [foo] is not "
                                 "permitted"),
    (403, "InvalidSignatureException", "The request signature we calculated does not match "
                                       "the signature you provided."),
    (403, "UnrecognizedClientException", "The security token included in the request is "
                                         "invalid."),
    (403, "ExpiredTokenException", "The security token included in the request is expired"),
]
