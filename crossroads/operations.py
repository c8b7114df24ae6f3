"""What an upstream call does: a chat completion or an embeddings request.

Routing, the relay's failover loop, metering, billing and the ledger are the same for every
operation; only the edges differ, and each is a table keyed by the operation: the upstream path
and body (`providers/openai.py`), how the answer is read and priced (`relay.py`), which models
may serve it (`routing/plan.py`: a model's output modalities must include the operation's).
"""

from __future__ import annotations

import enum


class Operation(enum.Enum):
    CHAT = "chat"
    EMBEDDINGS = "embeddings"

    @property
    def output_modality(self) -> str:
        """The output modality a model must list to serve this operation."""
        return _OUTPUT_MODALITY[self]

    @property
    def route(self) -> str:
        """The API route that serves it, for error messages that point the caller there."""
        return _ROUTE[self]


_OUTPUT_MODALITY = {Operation.CHAT: "text", Operation.EMBEDDINGS: "embeddings"}
_ROUTE = {Operation.CHAT: "POST /api/v1/chat/completions (or /completions)",
          Operation.EMBEDDINGS: "POST /api/v1/embeddings"}


def api_type(output_modalities: frozenset[str]) -> str:
    """OpenRouter's `api_type` of a generation record, from the modalities of its model."""
    return "embeddings" if "embeddings" in output_modalities else "completions"
