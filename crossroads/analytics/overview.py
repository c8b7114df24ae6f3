"""The overview (what the model is, from the catalog) and its published benchmark scores."""

from __future__ import annotations

from datetime import UTC, datetime

from crossroads.analytics.spans import model_price
from crossroads.benchmarks import Benchmarks
from crossroads.catalog import Catalog, Model
from crossroads.schema.stats import ArchitectureFacts, BenchmarkEntry, BenchmarksSection, Overview


def released(model: Model) -> str | None:
    """The maker's release day; else the day OpenRouter listed it (`created`)."""
    if model.released:
        return model.released
    if not model.created:
        return None
    return datetime.fromtimestamp(model.created, tz=UTC).date().isoformat()


def overview(catalog: Catalog, model: Model) -> Overview:
    return Overview(
        id=model.slug, name=model.name, description=model.description,
        input_modalities=sorted(model.input_modalities),
        output_modalities=sorted(model.output_modalities),
        pricing=model_price(catalog, model),
        context_length=model.context_length, released=released(model),
        knowledge_cutoff=model.knowledge_cutoff, license=model.license,
        architecture=None if model.architecture is None else ArchitectureFacts(
            kind=model.architecture.kind, parameters_b=model.architecture.parameters_b,
            active_parameters_b=model.architecture.active_parameters_b,
            experts=model.architecture.experts,
            active_experts=model.architecture.active_experts),
        hugging_face_id=model.hugging_face_id,
        providers=len(catalog.endpoints(model.slug)))


def benchmarks_section(benchmarks: Benchmarks, slug: str) -> BenchmarksSection:
    """Every benchmark some catalog model has a score on: this model's score (or null: not
    published) and its rank percentile among the catalog models that have one."""
    scores = {s.benchmark: s for s in benchmarks.for_model(slug)}
    entries = []
    for bench in benchmarks.benchmarks():
        ranked = benchmarks.ranked(bench.id)
        if not ranked:
            continue
        score = scores.get(bench.id)
        rank = benchmarks.rank(bench.id, slug)
        entries.append(BenchmarkEntry(
            benchmark=bench.id, name=bench.name, unit=bench.unit,
            score=None if score is None else score.value,
            variant=None if score is None else score.variant,
            source=None if score is None else score.source,
            read_on=None if score is None else score.read_on,
            rank=None if rank is None else rank.rank, ranked_models=ranked,
            rank_percentile=None if rank is None else rank.percentile))
    return BenchmarksSection(scores=entries)
