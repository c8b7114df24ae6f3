"""crossroads: a self-hosted, OpenAI-compatible LLM router."""

__version__ = "0.1.0"

__all__ = ["__version__"]
