"""Generations built through the real relay classes, and the independent check on rollups."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crossroads.catalog import Endpoint, Pricing
from crossroads.failures import Failure
from crossroads.generation import Attempt, Generation, new_generation_id
from crossroads.ledger.store import BUCKET_S, COUNTERS, KEY, RollupKind
from crossroads.pricing import Usage

MODELS = ("acme/small", "acme/large", "other/chat")
TAGS = ("alpha", "beta/fp8", "gamma")
APPS = (("https://app.one", "One"), (None, "Titled only"), (None, None), ("https://two", None))
HOUR = 3600
T0 = 1_780_000_000 - 1_780_000_000 % 86400  # a UTC midnight, so hours and days both vary


def endpoint(model: str, tag: str, prompt: int = 1_000_000, completion: int = 2_000_000,
             cache_read: int | None = 100_000) -> Endpoint:
    provider = tag.partition("/")[0]
    return Endpoint(
        model=model, provider=provider, provider_name=provider.title(),
        tag=tag, upstream_model="up", base_url="http://127.0.0.1:1/v1",
        pricing=Pricing(prompt=prompt, completion=completion, cache_read=cache_read),
        context_length=100_000, max_output=10_000,
    )


def generation(model: str = MODELS[0], tag: str = TAGS[0], *, created: int = T0,
               referer: str | None = "https://app.one", title: str | None = "One",
               streamed: bool = True, prompt: int = 100, completion: int = 50,
               cached: int = 0, failed_first: bool = False, start: float = 500.0) -> Generation:
    """A served generation; `failed_first` adds a 503 on another endpoint before it."""
    g = Generation(model, streamed, app_referer=referer, app_title=title)
    g.created = created
    g.id = new_generation_id(created)
    t = start
    if failed_first:
        bad = Attempt(endpoint(model, "broken"), t)
        bad.status = 503
        bad.failure = Failure.SERVER_ERROR
        bad.message = "upstream said no"
        bad.ended = t + 0.25
        g.attempts.append(bad)
        t += 0.25
    good = Attempt(endpoint(model, tag), t)
    g.attempts.append(good)
    good.status = 200
    good.headers_at = t + 0.05
    if streamed:
        good.first_token_at = t + 0.1
    good.ended = t + 1.1
    g.finish_reason = "stop"
    g.price(good, Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached))
    return g


def unserved(model: str = MODELS[0], *, created: int = T0, attempts: int = 2) -> Generation:
    """Every attempt failed: no usage, no cost, nothing served."""
    g = Generation(model, True, app_referer="https://app.one")
    g.created = created
    g.id = new_generation_id(created)
    for i in range(attempts):
        a = Attempt(endpoint(model, TAGS[i % len(TAGS)]), 10.0 + i)
        a.status = 502
        a.failure = Failure.CONNECT
        a.message = "x" * 2000
        a.ended = 10.5 + i
        g.attempts.append(a)
    return g


def mixed(n: int, seed: int = 7) -> list[Generation]:
    """A mix of models, endpoints, apps, hours and days, failovers, unserved and cancelled."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        created = T0 + rng.randrange(0, 3 * 86400)
        roll = rng.random()
        if roll < 0.05:
            out.append(unserved(rng.choice(MODELS), created=created))
            continue
        referer, title = rng.choice(APPS)
        g = generation(rng.choice(MODELS), rng.choice(TAGS), created=created, referer=referer,
                       title=title, streamed=rng.random() < 0.7,
                       prompt=rng.randrange(1, 5000), completion=rng.randrange(0, 800),
                       cached=rng.randrange(0, 100), failed_first=rng.random() < 0.1,
                       start=rng.uniform(0, 1e5))
        if roll < 0.08:
            g.cancelled = True
        elif roll < 0.1:
            g.finish_reason = "error"
        out.append(g)
    return out


Raw = Callable[[str], list[tuple[Any, ...]]]
"""A read on a ledger's raw tables with the database's own client (backends.py)."""


def _reader(db: Path | Raw) -> Raw:
    if not isinstance(db, Path):
        return db

    def read(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(db) as conn:
            return [tuple(row) for row in conn.execute(sql)]

    return read


def rollups_from_raw(db: Path | Raw, kind: RollupKind) -> list[tuple[int | str, ...]]:
    """The rollup table recomputed from raw rows with SQL: an independent implementation."""
    size = BUCKET_S[kind]
    sql = f"""
        SELECT created - created % {size}, COALESCE(model, model_requested),
               COALESCE(endpoint_tag, ''),
               COALESCE(NULLIF(app_referer, ''), NULLIF(app_title, ''), ''),
               COUNT(*),
               SUM(CASE WHEN cancelled = 0 AND (endpoint_tag IS NULL OR finish_reason = 'error')
                        THEN 1 ELSE 0 END),
               SUM(cancelled), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens),
               SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(cost_micro),
               SUM(discount_micro), SUM(latency_ms),
               SUM(CASE WHEN generation_time_ms > 0 THEN generation_time_ms ELSE 0 END),
               SUM(CASE WHEN generation_time_ms > 0 THEN completion_tokens ELSE 0 END),
               SUM(CASE WHEN generation_time_ms > 0 THEN 1 ELSE 0 END),
               SUM(COALESCE(ttft_ms, 0)), COUNT(ttft_ms)
        FROM generations GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    """
    return _reader(db)(sql)


def rollup_table(db: Path | Raw, kind: RollupKind) -> list[tuple[int | str, ...]]:
    cols = ", ".join(KEY + COUNTERS)
    return _reader(db)(f"SELECT {cols} FROM rollup_{kind} ORDER BY 1, 2, 3, 4")


def assert_rollups_agree(db: Path | Raw) -> None:
    for kind in BUCKET_S:
        assert rollup_table(db, kind) == rollups_from_raw(db, kind), kind


def raw_count(db: Path | Raw) -> int:
    return int(_reader(db)("SELECT COUNT(*) FROM generations")[0][0])
