"""Published benchmark scores of catalog models, and where each model ranks among the catalog's.

The scores come from `data/benchmarks.toml`: only numbers a model's maker published, each with its
source, the variant it was measured as, and the day it was checked. Loaded once at start against
the catalog, so a rank counts only models this router actually serves; a score for a model the
catalog lacks (an operator removed it) is kept out of every rank, not an error.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from importlib import resources

import msgspec

from crossroads.catalog import Catalog


class BenchmarkError(Exception):
    """The benchmark file is invalid; the message starts with what was wrong where."""


class Benchmark(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    name: str
    description: str
    unit: str  # "%", "% pass@1": how the page labels a value


class Score(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    model: str  # catalog slug
    benchmark: str  # Benchmark.id
    value: float  # higher is better on every benchmark listed
    source: str  # URL of the page the value was read on
    variant: str  # how it was measured, as the source words it ("0-shot, CoT")
    read_on: str  # YYYY-MM-DD
    note: str | None = None  # e.g. that the copy read was a reproduction of the source


class Rank(msgspec.Struct, frozen=True):
    rank: int  # 1 = best; tied models share the better rank
    of: int  # catalog models with a score on this benchmark
    percentile: int | None  # 100 = best, 0 = worst; None when the model is the only one


class _File(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    benchmarks: list[Benchmark] = []
    scores: list[Score] = []


class Benchmarks:
    """Scores by model and by benchmark, with ranks precomputed. Immutable once built."""

    __slots__ = ("_benchmarks", "_by_model", "_ranks")

    def __init__(self, benchmarks: Iterable[Benchmark], scores: Iterable[Score],
                 catalog_slugs: Iterable[str]) -> None:
        self._benchmarks = {b.id: b for b in benchmarks}
        served = set(catalog_slugs)
        self._by_model: dict[str, list[Score]] = {}
        values: dict[str, dict[str, float]] = {}
        for score in scores:
            if score.benchmark not in self._benchmarks:
                raise BenchmarkError(f"{score.model}: unknown benchmark {score.benchmark!r}")
            if score.model not in served:
                continue
            per_benchmark = values.setdefault(score.benchmark, {})
            if score.model in per_benchmark:
                raise BenchmarkError(f"{score.model}: two scores for {score.benchmark!r}")
            per_benchmark[score.model] = score.value
            self._by_model.setdefault(score.model, []).append(score)
        self._ranks = {bench: _ranks(by_model) for bench, by_model in values.items()}

    def benchmarks(self) -> list[Benchmark]:
        return list(self._benchmarks.values())

    def benchmark(self, benchmark_id: str) -> Benchmark | None:
        return self._benchmarks.get(benchmark_id)

    def for_model(self, slug: str) -> list[Score]:
        """The model's scores, in the order of `benchmarks()`."""
        order = {bench_id: i for i, bench_id in enumerate(self._benchmarks)}
        return sorted(self._by_model.get(slug, ()), key=lambda s: order[s.benchmark])

    def ranked(self, benchmark_id: str) -> int:
        """How many catalog models have a score on this benchmark."""
        return len(self._ranks.get(benchmark_id, {}))

    def rank(self, benchmark_id: str, slug: str) -> Rank | None:
        """Where the model stands among catalog models with this benchmark; None: no score."""
        return self._ranks.get(benchmark_id, {}).get(slug)


def _ranks(values: dict[str, float]) -> dict[str, Rank]:
    ordered = sorted(values.values(), reverse=True)
    of = len(ordered)
    ranks = {}
    for slug, value in values.items():
        # Competition ranking: the first position holding this value, so ties share it.
        rank = ordered.index(value) + 1
        percentile = round(100 * (of - rank) / (of - 1)) if of > 1 else None
        ranks[slug] = Rank(rank=rank, of=of, percentile=percentile)
    return ranks


def parse_benchmarks(text: str, catalog_slugs: Iterable[str],
                     origin: str = "benchmarks") -> Benchmarks:
    try:
        data = msgspec.convert(tomllib.loads(text), _File)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise BenchmarkError(f"{origin}: {exc}") from None
    return Benchmarks(data.benchmarks, data.scores, catalog_slugs)


def load_benchmarks(catalog: Catalog) -> Benchmarks:
    """The shipped scores, ranked among `catalog`'s models."""
    text = resources.files("crossroads").joinpath("data/benchmarks.toml").read_text("utf-8")
    return parse_benchmarks(text, (m.slug for m in catalog.models()), "shipped benchmarks")
