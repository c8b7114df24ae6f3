"""Request transforms the router applies before routing: context compression for now.

`fit_context` decides whether middle-out runs (asked for, or the default for small-context
models, see crossroads/plugins.py) and against which window: the largest context among the
primary model's endpoints, so that after the cut routing still chooses among every endpoint
that fits. The caller's body is never changed in place; a new request is returned with what was
removed described for the generation record.
"""

from __future__ import annotations

import msgspec

from crossroads.catalog import Catalog
from crossroads.chat_request import ChatRequest
from crossroads.middle_out import measure, middle_out

# OpenRouter compresses by default for endpoints with at most this much context.
DEFAULT_COMPRESSION_CONTEXT = 8192


def fit_context(request: ChatRequest, catalog: Catalog,
                tokens_per_image: int) -> tuple[ChatRequest, str | None]:
    """The request cut to fit its model (and a sentence saying what went), or itself."""
    asked = request.plugins.compression
    if asked is False:
        return request, None
    largest = catalog.table(request.models[0]).max_context
    if not largest:
        return request, None
    if asked is None and largest > DEFAULT_COMPRESSION_CONTEXT:
        return request, None
    reserved = request.max_tokens or 0
    budget = largest - reserved
    if budget <= 0 or request.prompt_token_estimate(tokens_per_image) <= budget:
        return request, None
    cut = middle_out(request.body["messages"], budget, tokens_per_image)
    if cut is None or (not cut.removed and not cut.truncated_chars):
        return request, None
    body = {**request.body, "messages": cut.messages}
    chars, images = measure(cut.messages)
    return msgspec.structs.replace(request, body=body, prompt_chars=chars, image_count=images,
                                   has_images=images > 0), cut.describe(largest)

