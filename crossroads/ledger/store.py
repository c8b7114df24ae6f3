"""The ledger's contract, and the rollup arithmetic every implementation shares.

A `Store` takes finished generations off the hot path (`submit` must cost microseconds and never
block on I/O), answers `get` for one generation — including one submitted but not yet written —
and serves rollups for charts. SQLite (`sqlite.py`) is the embedded default; a PostgreSQL store
for several replicas implements the same protocol with the same rollup rows.

Rollups are kept in the same transaction as the raw rows, by adding the deltas `RollupBatch`
computes, so they always agree with the raw rows and a 30-day chart reads at most
30 × 24 rows per (model, endpoint, app) instead of scanning generations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

import msgspec

from crossroads.ledger.records import GenerationRecord

if TYPE_CHECKING:
    from crossroads.ledger.endpoint_rollup import RollupReads

RollupKind = Literal["hourly", "daily"]
HOUR_S = 3600
DAY_S = 86400
BUCKET_S: dict[RollupKind, int] = {"hourly": HOUR_S, "daily": DAY_S}

COUNTERS = (
    "requests", "errors", "cancelled", "prompt_tokens", "completion_tokens", "cached_tokens",
    "cache_write_tokens", "reasoning_tokens", "cost_micro", "discount_micro", "latency_ms_sum",
    "generation_time_ms_sum", "timed_completion_tokens", "timed_count", "ttft_ms_sum",
    "ttft_count",
)
KEY = ("bucket_start", "model", "endpoint_tag", "app")


class Rollup(msgspec.Struct, frozen=True):
    """Sums over one bucket for one (model, endpoint, app). Buckets are UTC, start inclusive."""

    bucket_start: int
    model: str
    endpoint_tag: str
    app: str
    requests: int = 0
    errors: int = 0
    cancelled: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_micro: int = 0
    discount_micro: int = 0
    latency_ms_sum: int = 0
    generation_time_ms_sum: int = 0
    timed_completion_tokens: int = 0
    timed_count: int = 0
    ttft_ms_sum: int = 0
    ttft_count: int = 0


RollupKey = tuple[int, str, str, str]

KEY_COUNTERS = ("requests", "prompt_tokens", "completion_tokens", "reasoning_tokens",
                "cached_tokens", "cost_micro")
KEY_ROLLUP_KEY = ("key_id", "bucket_start", "model", "endpoint_tag")
KeyRollupKey = tuple[str, int, str, str]


class KeyRollup(msgspec.Struct, frozen=True):
    """One key's use of one (model, endpoint) on one UTC day."""

    key_id: str
    bucket_start: int
    model: str
    endpoint_tag: str
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cost_micro: int = 0


def key_counters_of(record: GenerationRecord) -> tuple[int, ...]:
    usage = record.usage
    return (1, usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens,
            usage.cached_tokens, record.cost_micro)


def counters_of(record: GenerationRecord) -> tuple[int, ...]:
    """One generation's contribution to its rollup row, in `COUNTERS` order."""
    usage = record.usage
    timed = record.generation_time_ms is not None and record.generation_time_ms > 0
    return (
        1,
        1 if record.is_error else 0,
        1 if record.cancelled else 0,
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
        record.cost_micro,
        record.discount_micro,
        record.latency_ms,
        (record.generation_time_ms or 0) if timed else 0,
        usage.completion_tokens if timed else 0,
        1 if timed else 0,
        record.ttft_ms or 0,
        0 if record.ttft_ms is None else 1,
    )


class RollupBatch:
    """Deltas for one write batch, summed per key so each key costs one UPSERT per batch.

    Records are grouped by hourly key first and each group's columns summed with `zip` (C
    speed); daily deltas are then sums of hourly ones, since an hour never straddles a UTC day.
    """

    __slots__ = ("_groups", "_keys")

    def __init__(self) -> None:
        self._groups: dict[RollupKey, list[tuple[int, ...]]] = {}
        self._keys: dict[KeyRollupKey, list[int]] = {}

    def add(self, record: GenerationRecord) -> None:
        created = record.created
        model = record.model or record.model_requested
        tag = record.endpoint_tag or ""
        key = (created - created % HOUR_S, model, tag, record.app)
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = [counters_of(record)]
        else:
            group.append(counters_of(record))
        if record.key_id is not None:
            key_row = (record.key_id, created - created % DAY_S, model, tag)
            counters = key_counters_of(record)
            sums = self._keys.get(key_row)
            if sums is None:
                self._keys[key_row] = list(counters)
            else:
                self._keys[key_row] = [a + b for a, b in zip(sums, counters, strict=True)]

    def key_rows(self) -> list[tuple[int | str, ...]]:
        """UPSERT parameters for `rollup_key_daily`: key columns, then `KEY_COUNTERS`."""
        return [(*key, *values) for key, values in self._keys.items()]

    def deltas(self) -> dict[RollupKind, dict[RollupKey, list[int]]]:
        hourly = {key: [sum(col) for col in zip(*rows, strict=True)]
                  for key, rows in self._groups.items()}
        daily: dict[RollupKey, list[int]] = {}
        for (bucket, model, tag, app), values in hourly.items():
            day_key = (bucket - bucket % DAY_S, model, tag, app)
            row = daily.get(day_key)
            if row is None:
                daily[day_key] = list(values)
            else:
                daily[day_key] = [a + b for a, b in zip(row, values, strict=True)]
        return {"hourly": hourly, "daily": daily}

    def rows(self) -> dict[RollupKind, list[tuple[int | str, ...]]]:
        """UPSERT parameters per rollup table: key columns, then `COUNTERS`."""
        return {kind: [(*key, *values) for key, values in table.items()]
                for kind, table in self.deltas().items()}


class LedgerHealth(NamedTuple):
    ok: bool
    backlog: int  # records submitted and not yet in the database
    detail: str | None


class Store(Protocol):
    """Where finished generations go. Implementations: `SQLiteLedger`; PostgreSQL later."""

    @property
    def analytics(self) -> RollupReads:
        """The model page's reads over the rollups."""
        ...

    def submit(self, record: GenerationRecord) -> None:
        """Make one record durable against a crash of the process and queue it for writing.

        Safe from any thread; about ten microseconds (one write(2) to the journal, no fsync),
        though a disk under pressure can stall that write for milliseconds.
        """
        ...

    def get(self, generation_id: str) -> GenerationRecord | None:
        """One generation by id, whether already written or still queued."""
        ...

    def health(self) -> LedgerHealth:
        """Whether records reach the database now, for readiness."""
        ...

    async def caught_up(self, timeout_s: float = 1.0) -> bool:
        """Wait until everything submitted so far is in the rollups; False on timeout."""
        ...

    def queue_depth(self) -> int:
        """Records waiting for the writer thread to take them (/metrics)."""
        ...

    def journal_lag_bytes(self) -> int:
        """Journal bytes written and not yet committed to the database (/metrics)."""
        ...

    def rollups(self, kind: RollupKind, since: int, model: str | None = None,
                endpoint: str | None = None, app: str | None = None,
                until: int | None = None) -> list[Rollup]:
        """Rollup rows with since <= bucket_start < until (unix s), oldest first."""
        ...

    def key_rollups(self, since: int, key_id: str | None = None,
                    until: int | None = None) -> list[KeyRollup]:
        """Per-key daily rows with since <= bucket_start < until (unix s)."""
        ...

    def key_totals(self) -> dict[str, int]:
        """Every key's spend since it was created, micro-dollars."""
        ...

    def count(self) -> int:
        """Generations written so far (queued ones excluded)."""
        ...

    def close(self) -> None:
        """Write everything queued, then release the store. Further submits are refused."""
        ...
