"""The embedded ledger: SQLite in WAL mode, written by one dedicated thread, in batches.

Theory of operation. `submit` runs on the event loop for every generation. It appends the record
to the journal (`journal.py`: one `write(2)`, no fsync), puts it in `_pending` (so `get` finds it
at once) and in a deque, and — only when the deque holds a full batch — wakes the writer. The
writer thread sleeps at most `max_wait_s` (20 ms), takes up to `batch_size` records, and writes
them in one transaction together with the rollup deltas they imply and the journal offset they
reach, then forgets them from `_pending`. One writer means no write contention inside the
process, and batching makes the cost per record a few B-tree inserts rather than a commit. Reads
use their own connection; in WAL mode they never wait for the writer. On open, the journal's
frames past the recorded offsets — records submitted but never committed — are inserted first.

What can be lost:
- A crash of the process (SIGKILL, OOM kill, segfault): nothing. Every record `submit` returned
  from is in the kernel's page cache (the journal) and is replayed on the next open; committed
  ones are also in the WAL file. Replay inserts each generation at most once, and rollups count
  only the rows it inserted. The relay submits before the caller gets the end of its answer, so
  every answer a caller received in full is billed exactly once.
- A power loss or OS crash: at most the records appended in the last `sync_interval_s` (5 ms)
  plus two `fdatasync` durations before the failure (one sync can have just begun without a
  record, the next one starts 5 ms after it ends). bench/ledger_bench.py measures the sync:
  0.8–2.8 ms at p50 and 5–9 ms at p99 on the shared development VM, so about 7–11 ms of traffic
  typically; a slower disk widens the window by its own sync time. Commits are not synced
  (synchronous=NORMAL), but a journal segment is deleted only after a synchronous=FULL commit
  covers all of its records, so an unsynced commit lost to power is replayed from the journal.
  The database stays consistent: raw rows, rollups and journal offsets commit together.
- `close()` writes everything queued before it returns, then deletes the journal: a gracefully
  stopped router loses nothing. If the disk keeps failing while closing, the batch is given up
  after a few retries and logged; its journal segment is kept, so the next open replays it.
- With `journal=False` (benchmarks), a process crash loses the uncommitted batch window instead.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from crossroads.ledger.batched import JournaledLedger, LedgerClosed
from crossroads.ledger.bins import merge_blobs
from crossroads.ledger.endpoint_rollup import EndpointBatch
from crossroads.ledger.journal import Segment
from crossroads.ledger.migrate import migrate
from crossroads.ledger.records import GenerationRecord
from crossroads.ledger.rows import (
    INSERT_ATTEMPT,
    INSERT_GENERATION,
    INSERT_GENERATION_ONCE,
    MERGE_BINS,
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

__all__ = ["LedgerClosed", "SQLiteLedger", "connect", "prepare"]

# The writer connection's page cache. 16 MiB holds the id index of roughly 300k generations;
# beyond that inserts read index pages from the kernel's page cache, which is cheap. 64 MiB
# made a router's RSS pass 100 MiB after ~150k requests (bench/RESULTS.md, 2026-12-03).
CACHE_KIB = 16 * 1024


BUSY_TIMEOUT_S = 5.0


def connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are opened explicitly, so a batch is exactly one of them.
    # The busy timeout from the very first statement (`timeout`).
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def prepare(path: Path) -> None:
    """Create and migrate the database before several processes open it (the supervisor of
    `serve --workers`), so none of them races another for its creation: workers opening a new
    database at once failed their start with "database is locked" now and then, busy timeout
    notwithstanding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        migrate(conn)
    finally:
        conn.close()


class SQLiteLedger(JournaledLedger):
    """`Store` on one SQLite file (`<state_dir>/crossroads.db`)."""

    __slots__ = ("_conn", "_read_lock", "_reader", "analytics", "path")

    UPKEEP_ERRORS = (OSError, sqlite3.Error)

    def __init__(self, path: str | Path, *, batch_size: int = 2000, max_wait_s: float = 0.02,
                 journal: bool = True, sync_interval_s: float = 0.005,
                 segment_bytes: int = 8 << 20, cache_kib: int = CACHE_KIB) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path)
        # A page cache larger than SQLite's 2 MiB default keeps the random-order id index hot
        # (bench/ledger_bench.py: +40 % writer rate at 64 MiB). It is allocated as the
        # database grows and never given back, so it is what the router's RSS grows by over
        # a long run: CACHE_KIB bounds that (see its comment).
        self._conn.execute(f"PRAGMA cache_size=-{cache_kib}")
        self._conn.create_function(MERGE_BINS, 2, merge_blobs, deterministic=True)
        migrate(self._conn)
        self._reader = connect(self.path)
        self._reader.execute("PRAGMA query_only=1")
        self._read_lock = threading.Lock()
        self.analytics = SQLRollupReads(self._all)
        """The model page's reads (`RollupReads`)."""
        self._start(self.path if journal else None, batch_size=batch_size,
                    max_wait_s=max_wait_s, sync_interval_s=sync_interval_s,
                    segment_bytes=segment_bytes)

    def _all(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
        # Reads use their own connection: in WAL mode they never wait for the writer.
        with self._read_lock:
            return self._reader.execute(sql, args).fetchall()

    def _write(self, batch: list[GenerationRecord], positions: dict[Segment, int]) -> int:
        """One transaction: rows, rollups for the rows inserted, journal offsets; → inserted."""
        cursor = self._conn.cursor()
        cursor.execute("BEGIN")
        try:
            try:
                cursor.executemany(INSERT_GENERATION, [generation_row(r) for r in batch])
                fresh = batch
            except sqlite3.IntegrityError:
                # A generation submitted twice (in this batch or an earlier one): a bug upstream,
                # but rollups must still count it once. Redo the batch row by row, keeping the
                # rows that were actually inserted.
                self._conn.rollback()
                cursor.execute("BEGIN")
                fresh = []
                for record in batch:
                    cursor.execute(INSERT_GENERATION_ONCE, generation_row(record))
                    if cursor.rowcount == 1:
                        fresh.append(record)
            rollup = RollupBatch()
            endpoints = EndpointBatch()
            attempts: list[tuple[Any, ...]] = []
            for record in fresh:
                rollup.add(record)
                endpoints.add(record)
                attempts.extend(attempt_rows(record))
            cursor.executemany(INSERT_ATTEMPT, attempts)
            for kind, rows in rollup.rows().items():
                cursor.executemany(UPSERT_ROLLUP[kind], rows)
            for kind, rows in endpoints.endpoint_rows().items():
                cursor.executemany(UPSERT_ENDPOINT_ROLLUP[kind], rows)
            for kind, histograms in endpoints.histogram_rows().items():
                cursor.executemany(UPSERT_HISTOGRAM[kind], histograms)
            cursor.executemany(UPSERT_APP_ROLLUP, endpoints.app_rows())
            cursor.executemany(UPSERT_KEY_ROLLUP, rollup.key_rows())
            cursor.executemany(UPSERT_JOURNAL, [(s.name, end) for s, end in positions.items()])
            cursor.execute("COMMIT")
        except BaseException:
            self._conn.rollback()
            raise
        return len(fresh)

    def _drop_offsets(self, segments: list[Segment]) -> None:
        """In a synchronous=FULL commit, which syncs the WAL and with it every earlier commit:
        only then may the journal files go."""
        conn = self._conn
        conn.execute("PRAGMA synchronous=FULL")
        try:
            conn.execute("BEGIN")
            try:
                conn.executemany("DELETE FROM journal_state WHERE segment = ?",
                                 [(s.name,) for s in segments])
                conn.execute("COMMIT")
            except BaseException:
                conn.rollback()
                raise
        finally:
            conn.execute("PRAGMA synchronous=NORMAL")

    def _applied_offset(self, segment: str) -> int:
        row = self._conn.execute("SELECT applied FROM journal_state WHERE segment = ?",
                                 (segment,)).fetchone()
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        if not self._close_writer():
            return
        self._conn.close()
        with self._read_lock:
            self._reader.close()
