"""Catalog values in OpenRouter's notation: prices as USD-per-token strings, architectures."""

from __future__ import annotations

from decimal import Decimal

from crossroads.catalog import Model, Pricing
from crossroads.schema.catalog import EndpointsArchitecture, ModelArchitecture, PublicPricing

_PER_TOKEN = Decimal(10) ** 12  # micro-dollars per 1M tokens → USD per token
_PER_UNIT = Decimal(10) ** 6  # micro-dollars → USD


def usd_per_token(micro_per_million: int) -> str:
    return format((Decimal(micro_per_million) / _PER_TOKEN).normalize(), "f")


def usd(micro: int) -> str:
    return format((Decimal(micro) / _PER_UNIT).normalize(), "f")


def public_pricing(p: Pricing) -> PublicPricing:
    pricing = PublicPricing(
        prompt=usd_per_token(p.prompt),
        completion=usd_per_token(p.completion),
        request=usd(p.request),
        image=usd(p.image),
    )
    if p.cache_read is not None:
        pricing.input_cache_read = usd_per_token(p.cache_read)
    if p.cache_write is not None:
        pricing.input_cache_write = usd_per_token(p.cache_write)
    return pricing


def _modalities(model: Model) -> tuple[str, list[str], list[str]]:
    inputs = sorted(model.input_modalities, key=lambda m: (m != "text", m))
    outputs = sorted(model.output_modalities, key=lambda m: (m != "text", m))
    return f"{'+'.join(inputs)}->{'+'.join(outputs)}", inputs, outputs


def architecture(model: Model) -> ModelArchitecture:
    """For `/models` and `/model/{slug}`: an unknown tokenizer is left out, not null."""
    modality, inputs, outputs = _modalities(model)
    shaped = ModelArchitecture(modality=modality, input_modalities=inputs,
                               output_modalities=outputs, instruct_type=model.instruct_type)
    if model.tokenizer is not None:
        shaped.tokenizer = model.tokenizer
    return shaped


def endpoints_architecture(model: Model) -> EndpointsArchitecture:
    """For `/models/{slug}/endpoints`, where an unknown tokenizer is null."""
    modality, inputs, outputs = _modalities(model)
    return EndpointsArchitecture(modality=modality, input_modalities=inputs,
                                 output_modalities=outputs, tokenizer=model.tokenizer,
                                 instruct_type=model.instruct_type)
