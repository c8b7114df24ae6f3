"""The ledger on PostgreSQL, for several replicas sharing one database.

Everything but the SQL is `JournaledLedger` (batched.py), exactly as on SQLite: `submit` writes
the record to this process's journal (in `state_dir`, on local disk) and queues it; one writer
thread commits batches. So the crash-safety rules of sqlite.py's docstring hold here too, and a
database outage is one more transient write failure: the writer keeps retrying its batch,
later records queue behind it in memory and in the journal, `get` still finds them, and when
the database returns the backlog drains in order. A process stopped (or killed) during the
outage replays its journal into the database on the next start. Nothing is lost.

One batch is one transaction on one pooled connection: the generations go in as one pipelined
`executemany` with ON CONFLICT (id) DO NOTHING RETURNING id, which says which rows are new (a
generation replayed or submitted twice counts once), then attempts and every rollup's deltas —
`INSERT … ON CONFLICT … DO UPDATE SET n = n + excluded.n`, the same statements SQLite runs —
and the journal offsets. Rollup rows are upserted in key order, so two replicas' batches lock
shared rows in the same order and cannot deadlock. Histogram rows merge in the database
(`crossroads_merge_bins`, migrations/postgres/0005_endpoint_rollups.sql says why).

Unlike SQLite's, a PostgreSQL commit is durable when it returns (synchronous_commit), so
applied journal segments are deleted right after the commit that forgets their offsets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crossroads.ledger.batched import JournaledLedger
from crossroads.ledger.endpoint_rollup import EndpointBatch
from crossroads.ledger.journal import Segment
from crossroads.ledger.pg_database import Database, to_pg
from crossroads.ledger.records import GenerationRecord
from crossroads.ledger.rows import (
    INSERT_ATTEMPT,
    INSERT_GENERATION_ONCE,
    UPSERT_APP_ROLLUP,
    UPSERT_ENDPOINT_ROLLUP,
    UPSERT_HISTOGRAM,
    UPSERT_JOURNAL,
    UPSERT_KEY_ROLLUP,
    UPSERT_ROLLUP,
    attempt_rows,
    generation_row,
)
from crossroads.ledger.sqlite_analytics import SQLRollupReads
from crossroads.ledger.store import RollupBatch

JOURNAL_NAME = "postgres.db"
"""The journal's files are `postgres.journal.*` in the state directory."""

_INSERT = to_pg(INSERT_GENERATION_ONCE + " RETURNING id")
_ATTEMPTS = to_pg(INSERT_ATTEMPT)
_ROLLUPS = {kind: to_pg(sql) for kind, sql in UPSERT_ROLLUP.items()}
_ENDPOINTS = {kind: to_pg(sql) for kind, sql in UPSERT_ENDPOINT_ROLLUP.items()}
_HISTOGRAMS = {kind: to_pg(sql) for kind, sql in UPSERT_HISTOGRAM.items()}
_APPS = to_pg(UPSERT_APP_ROLLUP)
_KEYS = to_pg(UPSERT_KEY_ROLLUP)
_JOURNAL = to_pg(UPSERT_JOURNAL)


def _sorted(rows: list[tuple[Any, ...]], key_length: int) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda row: row[:key_length])


class PostgresLedger(JournaledLedger):
    """`Store` on a PostgreSQL database, journaled in `state_dir`."""

    __slots__ = ("analytics", "database")

    # Any database error in upkeep is retried after the next batch, as on SQLite.
    UPKEEP_ERRORS = (Exception,)

    def __init__(self, database: Database, state_dir: str | Path, *, batch_size: int = 2000,
                 max_wait_s: float = 0.02, journal: bool = True,
                 sync_interval_s: float = 0.005, segment_bytes: int = 8 << 20) -> None:
        self.database = database
        folder = Path(state_dir)
        folder.mkdir(parents=True, exist_ok=True)
        self.analytics = SQLRollupReads(self._all)
        """The model page's reads (`RollupReads`)."""
        self._start(folder / JOURNAL_NAME if journal else None, batch_size=batch_size,
                    max_wait_s=max_wait_s, sync_interval_s=sync_interval_s,
                    segment_bytes=segment_bytes)

    def _all(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
        return self.database.run(sql, args)

    def _write(self, batch: list[GenerationRecord], positions: dict[Segment, int]) -> int:
        with self.database.transaction() as cursor:
            cursor.executemany(_INSERT, [generation_row(r) for r in batch], returning=True)
            fresh = []
            index = 0
            while True:
                if cursor.fetchone() is not None:
                    fresh.append(batch[index])
                index += 1
                if not cursor.nextset():
                    break
            rollup = RollupBatch()
            endpoints = EndpointBatch()
            attempts: list[tuple[Any, ...]] = []
            for record in fresh:
                rollup.add(record)
                endpoints.add(record)
                attempts.extend(attempt_rows(record))
            if attempts:
                cursor.executemany(_ATTEMPTS, attempts)
            statements: list[tuple[str, list[tuple[Any, ...]], int]] = []
            for kind, rows in rollup.rows().items():
                statements.append((_ROLLUPS[kind], rows, 4))
            for kind, rows in endpoints.endpoint_rows().items():
                statements.append((_ENDPOINTS[kind], rows, 3))
            for kind, histograms in endpoints.histogram_rows().items():
                statements.append((_HISTOGRAMS[kind], histograms, 4))
            statements.append((_APPS, endpoints.app_rows(), 3))
            statements.append((_KEYS, rollup.key_rows(), 4))
            statements.append((_JOURNAL, [(s.name, end) for s, end in positions.items()], 1))
            for sql, rows, key_length in statements:
                if rows:
                    cursor.executemany(sql, _sorted(rows, key_length))
        return len(fresh)

    def _applied_offset(self, segment: str) -> int:
        rows = self.database.run("SELECT applied FROM journal_state WHERE segment = ?",
                                 (segment,))
        return int(rows[0][0]) if rows else 0

    def _drop_offsets(self, segments: list[Segment]) -> None:
        with self.database.transaction() as cursor:
            cursor.executemany("DELETE FROM journal_state WHERE segment = %s",
                               [(s.name,) for s in segments])

    def close(self) -> None:
        """Drain the writer; the database itself is closed by whoever opened it."""
        self._close_writer()
