"""Catalog values in OpenRouter's shapes, where its schema differs from route to route."""

from __future__ import annotations

import msgspec
import pytest

from crossroads.api.catalog_shapes import architecture, endpoints_architecture
from crossroads.catalog import Model
from crossroads.schema.catalog import EndpointsArchitecture, ModelArchitecture

UNKNOWN = Model(slug="acme/main", name="Acme", input_modalities=frozenset({"image", "text"}))
KNOWN = Model(slug="meta/x", name="X", tokenizer="Llama4", instruct_type="llama3")


def test_model_architecture_leaves_an_unknown_tokenizer_out() -> None:
    # /models and /model/{slug}: `tokenizer` is optional and never null in OpenRouter's schema
    # (@openrouter/sdk 1.3.19 rejects `"tokenizer": null` there).
    body = msgspec.json.decode(msgspec.json.encode(architecture(UNKNOWN)))
    assert body == {"modality": "text+image->text", "input_modalities": ["text", "image"],
                    "output_modalities": ["text"], "instruct_type": None}
    with pytest.raises(msgspec.ValidationError, match="tokenizer"):
        msgspec.json.decode(b'{"modality": null, "input_modalities": [], "output_modalities": [],'
                            b' "tokenizer": null}', type=ModelArchitecture)


def test_endpoints_architecture_has_a_null_tokenizer() -> None:
    # /models/{slug}/endpoints: both fields are required there, and nullable.
    body = msgspec.json.decode(msgspec.json.encode(endpoints_architecture(UNKNOWN)))
    assert body["tokenizer"] is None and body["instruct_type"] is None
    with pytest.raises(msgspec.ValidationError, match="tokenizer"):
        msgspec.json.decode(b'{"modality": null, "input_modalities": [], "output_modalities": [],'
                            b' "instruct_type": null}', type=EndpointsArchitecture)


@pytest.mark.parametrize("shape", [architecture, endpoints_architecture])
def test_a_known_tokenizer_is_sent_on_both_routes(shape: object) -> None:
    assert callable(shape)
    body = msgspec.json.decode(msgspec.json.encode(shape(KNOWN)))
    assert body["tokenizer"] == "Llama4" and body["instruct_type"] == "llama3"
