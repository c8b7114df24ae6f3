"""The overview: what the model is, from the catalog."""

from __future__ import annotations

from datetime import UTC, datetime

from crossroads.analytics.spans import list_price
from crossroads.catalog import Catalog, Model
from crossroads.schema.stats import Overview


def released(model: Model) -> str | None:
    """The release day: OpenRouter's `created` timestamp, as a UTC date."""
    if not model.created:
        return None
    return datetime.fromtimestamp(model.created, tz=UTC).date().isoformat()


def overview(catalog: Catalog, model: Model) -> Overview:
    return Overview(
        id=model.slug, name=model.name, description=model.description,
        input_modalities=sorted(model.input_modalities),
        output_modalities=sorted(model.output_modalities),
        pricing=None if model.pricing is None else list_price(model.pricing),
        context_length=model.context_length, released=released(model),
        knowledge_cutoff=model.knowledge_cutoff, license=None, architecture=None,
        hugging_face_id=model.hugging_face_id,
        providers=len(catalog.endpoints(model.slug)))
