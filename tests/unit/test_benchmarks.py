"""Benchmark scores: the shipped file's integrity, and ranks computed by hand."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from crossroads.benchmarks import (
    Benchmark,
    BenchmarkError,
    Benchmarks,
    Rank,
    Score,
    load_benchmarks,
)
from crossroads.settings import load_settings

BENCH = Benchmark(id="b", name="B", description="", unit="%")
OTHER = Benchmark(id="o", name="O", description="", unit="%")


def score(model: str, value: float, benchmark: str = "b") -> Score:
    return Score(model=model, benchmark=benchmark, value=value, source="https://x",
                 variant="0-shot", read_on="2026-12-03")


def test_ranks_by_hand() -> None:
    # 90 > 80 = 80 > 70 > 60: ranks 1, 2, 2, 4, 5 of 5; percentile = round(100 (5 - r) / 4).
    scores = [score("a", 80), score("b", 90), score("c", 70), score("d", 80), score("e", 60)]
    bench = Benchmarks([BENCH], scores, "abcde")
    assert bench.rank("b", "b") == Rank(rank=1, of=5, percentile=100)
    assert bench.rank("b", "a") == Rank(rank=2, of=5, percentile=75)
    assert bench.rank("b", "d") == Rank(rank=2, of=5, percentile=75)
    assert bench.rank("b", "c") == Rank(rank=4, of=5, percentile=25)
    assert bench.rank("b", "e") == Rank(rank=5, of=5, percentile=0)


def test_only_catalog_models_count() -> None:
    # "gone" is not in the catalog: three ranked models, 70 is second → round(100 * 1/2) = 50.
    scores = [score("a", 90), score("gone", 95), score("b", 70), score("c", 50)]
    bench = Benchmarks([BENCH], scores, ["a", "b", "c"])
    assert bench.rank("b", "a") == Rank(rank=1, of=3, percentile=100)
    assert bench.rank("b", "b") == Rank(rank=2, of=3, percentile=50)
    assert bench.rank("b", "gone") is None and bench.for_model("gone") == []


def test_a_lone_model_has_no_percentile_and_a_missing_score_no_rank() -> None:
    bench = Benchmarks([BENCH, OTHER], [score("a", 50), score("b", 1, "o")], ["a", "b"])
    assert bench.rank("b", "a") == Rank(rank=1, of=1, percentile=None)
    assert bench.rank("o", "a") is None and bench.rank("nope", "a") is None
    assert [s.benchmark for s in bench.for_model("b")] == ["o"]


def test_percentile_rounds_to_the_nearest_integer() -> None:
    # Four models: ranks 1..4 → 100, round(66.67) = 67, round(33.33) = 33, 0.
    scores = [score(m, v) for m, v in zip("abcd", (4, 3, 2, 1), strict=True)]
    bench = Benchmarks([BENCH], scores, "abcd")
    assert [bench.rank("b", m).percentile for m in "abcd"] == [100, 67, 33, 0]  # type: ignore[union-attr]


def test_bad_files_fail_loudly() -> None:
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        Benchmarks([BENCH], [score("a", 1, "zzz")], "a")
    with pytest.raises(BenchmarkError, match="two scores"):
        Benchmarks([BENCH], [score("a", 1), score("a", 2)], "a")


def test_every_shipped_score_is_sourced_and_belongs() -> None:
    catalog = load_settings(env={}).catalog
    bench = load_benchmarks(catalog)
    ids = {b.id for b in bench.benchmarks()}
    slugs = {m.slug for m in catalog.models()}
    scores = [s for slug in slugs for s in bench.for_model(slug)]
    assert len(scores) >= 20
    for s in scores:
        assert s.model in slugs and s.benchmark in ids
        assert s.source.startswith("https://") and s.variant
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", s.read_on)
        assert 0 <= s.value <= 100
    # Every score in the file names a catalog model (none silently dropped).
    text = resources.files("crossroads").joinpath("data/benchmarks.toml").read_text("utf-8")
    assert text.count("[[scores]]") == len(scores)
    # MMLU-Pro as shipped: DeepSeek V3 0324 81.2, Maverick 80.5, Scout 74.3, Llama 3.3 70B 68.9,
    # Llama 3.1 8B 48.3: Maverick is 2nd of 5, round(100 * 3 / 4) = 75.
    assert bench.rank("mmlu-pro", "meta-llama/llama-4-maverick") == Rank(rank=2, of=5,
                                                                          percentile=75)
    assert bench.rank("mmlu-pro", "meta-llama/llama-3.1-8b-instruct") == Rank(rank=5, of=5,
                                                                               percentile=0)
    assert bench.rank("mmlu-pro", "google/gemma-3-27b-it") is None
