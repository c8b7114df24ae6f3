"""Provider dialects, looked up by an endpoint's `dialect`."""

from crossroads.providers.anthropic import AnthropicProvider
from crossroads.providers.base import Provider, StreamTranslator, UpstreamRequest
from crossroads.providers.bedrock import BedrockProvider
from crossroads.providers.gemini import GeminiProvider
from crossroads.providers.openai import OpenAIProvider

PROVIDERS: dict[str, Provider] = {"openai": OpenAIProvider(), "anthropic": AnthropicProvider(),
                                  "gemini": GeminiProvider(),
                                  "bedrock-converse": BedrockProvider()}

__all__ = ["PROVIDERS", "Provider", "StreamTranslator", "UpstreamRequest"]
