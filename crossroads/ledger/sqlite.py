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

import asyncio
import logging
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from crossroads.ledger.bins import merge_blobs
from crossroads.ledger.endpoint_rollup import EndpointBatch
from crossroads.ledger.journal import Journal, Recovery, Segment
from crossroads.ledger.migrate import migrate
from crossroads.ledger.records import GenerationRecord
from crossroads.ledger.rows import (
    ATTEMPT_COLUMNS,
    GENERATION_COLUMNS,
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
    record_from,
)
from crossroads.ledger.sqlite_analytics import SQLiteRollupReads
from crossroads.ledger.store import (
    BUCKET_S,
    COUNTERS,
    KEY,
    KEY_COUNTERS,
    KEY_ROLLUP_KEY,
    KeyRollup,
    LedgerHealth,
    Rollup,
    RollupBatch,
    RollupKind,
)

log = logging.getLogger("crossroads.ledger")

CLOSE_RETRIES = 5
# The writer connection's page cache. 16 MiB holds the id index of roughly 300k generations;
# beyond that inserts read index pages from the kernel's page cache, which is cheap. 64 MiB
# made a router's RSS pass 100 MiB after ~150k requests (bench/RESULTS.md, 2026-12-03).
CACHE_KIB = 16 * 1024

Queued = tuple[GenerationRecord, Segment | None, int]
"""A submitted record, the journal segment holding it, and the end offset of its frame there."""


def connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are opened explicitly, so a batch is exactly one of them.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class LedgerClosed(RuntimeError):
    """A record was submitted after `close()`: the shutdown order is wrong."""


class SQLiteLedger:
    """`Store` on one SQLite file (`<state_dir>/crossroads.db`)."""

    __slots__ = ("_batch_size", "_closing", "_conn", "_failing_since", "_gave_up", "_journal",
                 "_max_wait_s", "_pending", "_queue", "_read_lock", "_reader", "_segment_bytes",
                 "_thread", "_wake", "analytics", "path", "recovery")

    def __init__(self, path: str | Path, *, batch_size: int = 2000, max_wait_s: float = 0.02,
                 journal: bool = True, sync_interval_s: float = 0.005,
                 segment_bytes: int = 8 << 20, cache_kib: int = CACHE_KIB) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._batch_size = batch_size
        self._max_wait_s = max_wait_s
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
        self.analytics = SQLiteRollupReads(self._reader, self._read_lock)
        """The model page's reads (`RollupReads`)."""
        self._queue: deque[Queued] = deque()
        self._pending: dict[str, GenerationRecord] = {}
        self._wake = threading.Event()
        self._closing = False
        self._gave_up = False
        # Monotonic time of the first failed write in the current run of failures, if any.
        self._failing_since: float | None = None
        self._segment_bytes = segment_bytes
        self._journal: Journal | None = None
        self.recovery = Recovery()
        """What the journal replayed on open: generations a crashed process left uncommitted."""
        if journal:
            self._journal = Journal(self.path, sync_interval_s=sync_interval_s)
            self.recovery = self._journal.replay(self._applied_offset, self._write, batch_size)
            if self.recovery.segments:
                r = self.recovery
                log.info("ledger journal: recovered %d generations from %d segments (%d frames "
                         "past the committed offset, %d already recorded, %d torn bytes "
                         "ignored)", r.inserted, r.segments, r.frames, r.frames - r.inserted,
                         r.torn_bytes)
                self._forget(self._journal.finished())
        self._thread = threading.Thread(target=self._run, name="crossroads-ledger", daemon=True)
        self._thread.start()

    # --- the hot path -----------------------------------------------------------------------

    def submit(self, record: GenerationRecord) -> None:
        if self._closing:
            raise LedgerClosed(f"ledger closed; generation {record.id} not recorded")
        self._pending[record.id] = record
        journal = self._journal
        if journal is None:
            self._queue.append((record, None, 0))
        else:
            # Under the journal's lock, so the queue is in journal order: a committed batch
            # then means every frame before its last one is committed.
            with journal.lock:
                segment = journal.append(record)
                self._queue.append((record, segment, segment.written))
        if len(self._queue) == self._batch_size:
            self._wake.set()

    @property
    def backlog(self) -> int:
        """Records submitted and not yet committed."""
        return len(self._pending)

    def health(self) -> LedgerHealth:
        """Whether records reach the database now (readiness; nothing is lost either way:
        the journal holds what the database has not taken yet)."""
        if not self._thread.is_alive():
            return LedgerHealth(False, self.backlog, "the ledger writer has stopped")
        failing = self._failing_since
        if failing is not None:
            return LedgerHealth(False, self.backlog, f"database writes have failed for "
                                f"{time.monotonic() - failing:.0f} s; records wait in the journal")
        return LedgerHealth(True, self.backlog, None)

    async def caught_up(self, timeout_s: float = 1.0) -> bool:
        """Wait until every record submitted before this call is committed (the writer takes
        at most `max_wait_s` to start a batch), so a rollup read next sees them; False if the
        disk is too slow for `timeout_s`."""
        waiting = list(self._pending)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while waiting and loop.time() < deadline:
            await asyncio.sleep(0.005)
            waiting = [i for i in waiting if i in self._pending]
        return not waiting

    # --- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        queue = self._queue
        while True:
            closing = self._closing
            if len(queue) < self._batch_size and not closing:
                self._wake.wait(self._max_wait_s)
                self._wake.clear()
            batch = [queue.popleft() for _ in range(min(len(queue), self._batch_size))]
            if batch:
                self._write_batch(batch)
            elif closing:
                return
            if self._journal is not None:
                self._tend(self._journal)

    def _write_batch(self, queued: list[Queued]) -> None:
        batch = [item[0] for item in queued]
        positions: dict[Segment, int] = {}
        if not self._gave_up:
            # After a batch was given up, offsets stay where they are: advancing them past
            # its frames would tell the next start that they were committed.
            for _, segment, end in queued:
                if segment is not None:
                    positions[segment] = end
        delay = 0.05
        failures = 0
        while True:
            try:
                self._write(batch, positions)
                for segment, end in positions.items():
                    segment.applied = end
                self._failing_since = None
                break
            except Exception:
                failures += 1
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                log.exception("ledger write of %d records failed (try %d)", len(batch), failures)
                if self._closing and failures >= CLOSE_RETRIES:
                    self._gave_up = True
                    log.error("ledger gave up on %d records while closing; their journal is "
                              "kept for the next start to replay", len(batch))
                    break
                # Keep the batch and retry: a full or locked disk is usually transient, and the
                # records stay readable from `_pending` meanwhile.
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        pending = self._pending
        for record in batch:
            if pending.get(record.id) is record:
                del pending[record.id]

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

    # --- the journal's upkeep, on the writer thread -------------------------------------------

    def _tend(self, journal: Journal) -> None:
        try:
            if journal.current.written >= self._segment_bytes or journal.current.torn:
                journal.rotate()
            finished = journal.finished()
            if finished:
                self._forget(finished)
        except (OSError, sqlite3.Error):
            log.exception("journal upkeep failed; retrying after the next batch")

    def _forget(self, segments: list[Segment]) -> None:
        """Delete applied segments once the commits that applied them are durable.

        Their rows in `journal_state` are deleted in a synchronous=FULL commit, which syncs the
        WAL and with it every earlier commit; only then are the files removed.
        """
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
        assert self._journal is not None
        self._journal.discard(segments)

    def _applied_offset(self, segment: str) -> int:
        row = self._conn.execute("SELECT applied FROM journal_state WHERE segment = ?",
                                 (segment,)).fetchone()
        return 0 if row is None else int(row[0])

    # --- reads ------------------------------------------------------------------------------

    def get(self, generation_id: str) -> GenerationRecord | None:
        queued = self._pending.get(generation_id)
        if queued is not None:
            return queued
        with self._read_lock:
            row = self._reader.execute(
                f"SELECT {', '.join(GENERATION_COLUMNS)} FROM generations WHERE id = ?",
                (generation_id,),
            ).fetchone()
            if row is None:
                return None
            attempts = self._reader.execute(
                f"SELECT {', '.join(ATTEMPT_COLUMNS[2:])} FROM attempts "
                "WHERE generation_id = ? ORDER BY ordinal",
                (generation_id,),
            ).fetchall()
        return record_from(row, attempts)

    def rollups(self, kind: RollupKind, since: int, model: str | None = None,
                endpoint: str | None = None, app: str | None = None,
                until: int | None = None) -> list[Rollup]:
        if kind not in BUCKET_S:
            raise ValueError(f"rollup kind must be one of {sorted(BUCKET_S)}, not {kind!r}")
        rows = self._select(f"rollup_{kind}", KEY, COUNTERS, since, (
            ("bucket_start <", until), ("model =", model), ("endpoint_tag =", endpoint),
            ("app =", app)))
        return [Rollup(*row) for row in rows]

    def _select(self, table: str, key: tuple[str, ...], counters: tuple[str, ...],
                since: int, filters: tuple[tuple[str, Any], ...]) -> list[tuple[Any, ...]]:
        """A rollup table's rows from `since` on, filtered by every (condition, value) whose
        value is not None, ordered by its key."""
        where = ["bucket_start >= ?"]
        args: list[Any] = [since]
        for condition, value in filters:
            if value is not None:
                where.append(f"{condition} ?")
                args.append(value)
        sql = (f"SELECT {', '.join(key + counters)} FROM {table} "
               f"WHERE {' AND '.join(where)} ORDER BY {', '.join(key)}")
        with self._read_lock:
            return self._reader.execute(sql, args).fetchall()

    def key_rollups(self, since: int, key_id: str | None = None,
                    until: int | None = None) -> list[KeyRollup]:
        """Per-key daily rows with since <= bucket_start < until, by key then day."""
        rows = self._select("rollup_key_daily", KEY_ROLLUP_KEY, KEY_COUNTERS, since,
                            (("bucket_start <", until), ("key_id =", key_id)))
        return [KeyRollup(*row) for row in rows]

    def key_totals(self) -> dict[str, int]:
        """Every key's spend since it was created, micro-dollars."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT key_id, SUM(cost_micro) FROM rollup_key_daily GROUP BY key_id"
            ).fetchall()
        return {key: int(total) for key, total in rows}

    def count(self) -> int:
        with self._read_lock:
            (n,) = self._reader.execute("SELECT COUNT(*) FROM generations").fetchone()
        return int(n)

    # --- shutdown ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        self._thread.join()
        # A submit racing with close may have appended after the writer's last look.
        while self._queue:
            batch = [self._queue.popleft()
                     for _ in range(min(len(self._queue), self._batch_size))]
            self._write_batch(batch)
        journal = self._journal
        if journal is not None:
            done = [] if self._gave_up else [s for s in journal.owned() if s.applied >= s.written]
            try:
                if done:
                    self._forget(done)
            except (OSError, sqlite3.Error):
                log.exception("could not delete the applied journal; the next start replays it")
            journal.close()
        self._conn.close()
        with self._read_lock:
            self._reader.close()
