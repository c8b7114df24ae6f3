"""Provider dialects, looked up by name."""

from crossroads.providers.base import Provider, UpstreamRequest
from crossroads.providers.openai import OpenAIProvider

PROVIDERS: dict[str, Provider] = {"openai": OpenAIProvider()}

__all__ = ["PROVIDERS", "Provider", "UpstreamRequest"]
