"""The embedded ledger: SQLite in WAL mode, written by one dedicated thread, in batches.

Theory of operation. `submit` runs on the event loop for every generation, so it does three
GIL-atomic things and returns: put the record in `_pending` (so `get` finds it at once), append
it to a deque, and — only when the deque reaches a full batch — wake the writer. The writer
thread sleeps at most `max_wait_s` (20 ms), takes up to `batch_size` records, and writes them in
one transaction together with the rollup deltas they imply, then forgets them from `_pending`.
One writer means no write contention inside the process, and batching makes the cost per record
the cost of a few B-tree inserts rather than a commit. Reads use their own connection; in WAL
mode they never wait for the writer.

What can be lost:
- A crash of the process (SIGKILL, OOM kill, segfault) loses what was submitted but not yet
  committed: the records in the deque plus the batch being written — normally at most one batch
  window (~20 ms of traffic, or `batch_size` records), more only if the writer had fallen behind
  (`backlog` says by how much). Committed transactions survive: they are in the WAL file.
- A power loss or OS crash can also lose committed transactions: with synchronous=NORMAL a commit
  is not fsynced; the WAL is synced only when it is checkpointed (every ~1000 pages, ~4 MB, by
  default). The database stays consistent — raw rows and rollups commit together, so they agree
  after any loss — but the last transactions since the previous sync may be gone.
- `close()` writes everything queued before it returns: a gracefully stopped router loses
  nothing. If the disk keeps failing while closing, the records are dropped after a few retries
  and the loss is logged with its count.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from crossroads.ledger.migrate import migrate
from crossroads.ledger.records import AttemptRecord, GenerationRecord
from crossroads.ledger.store import BUCKET_S, COUNTERS, KEY, Rollup, RollupBatch, RollupKind
from crossroads.pricing import Usage

log = logging.getLogger("crossroads.ledger")

GENERATION_COLUMNS = (
    "id", "created", "started_at_ms", "model_requested", "model", "provider_name",
    "endpoint_tag", "app_referer", "app_title", "key_id", "streamed", "cancelled",
    "finish_reason", "prompt_tokens", "completion_tokens", "cached_tokens",
    "cache_write_tokens", "reasoning_tokens", "images", "usage_estimated", "cost_micro",
    "discount_micro", "latency_ms", "generation_time_ms", "ttft_ms",
)
ATTEMPT_COLUMNS = (
    "generation_id", "ordinal", "endpoint_tag", "provider_name", "model", "status", "failure",
    "message", "started_ms", "ended_ms", "ttft_ms", "served",
)


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


INSERT_GENERATION = (
    f"INSERT INTO generations ({', '.join(GENERATION_COLUMNS)}) "
    f"VALUES ({_placeholders(len(GENERATION_COLUMNS))})"
)
INSERT_GENERATION_ONCE = INSERT_GENERATION + " ON CONFLICT (id) DO NOTHING"
INSERT_ATTEMPT = (
    f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) "
    f"VALUES ({_placeholders(len(ATTEMPT_COLUMNS))})"
)
UPSERT_ROLLUP = {
    kind: (
        f"INSERT INTO rollup_{kind} ({', '.join(KEY + COUNTERS)}) "
        f"VALUES ({_placeholders(len(KEY) + len(COUNTERS))}) "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
        + ", ".join(f"{c} = {c} + excluded.{c}" for c in COUNTERS)
    )
    for kind in BUCKET_S
}
CLOSE_RETRIES = 5


def _generation_row(r: GenerationRecord) -> tuple[Any, ...]:
    u = r.usage
    return (
        r.id, r.created, r.started_at_ms, r.model_requested, r.model, r.provider_name,
        r.endpoint_tag, r.app_referer, r.app_title, r.key_id, r.streamed, r.cancelled,
        r.finish_reason, u.prompt_tokens, u.completion_tokens, u.cached_tokens,
        u.cache_write_tokens, u.reasoning_tokens, u.images, u.estimated, r.cost_micro,
        r.discount_micro, r.latency_ms, r.generation_time_ms, r.ttft_ms,
    )


def _attempt_rows(r: GenerationRecord) -> list[tuple[Any, ...]]:
    return [
        (r.id, i, a.endpoint_tag, a.provider_name, a.model, a.status, a.failure, a.message,
         a.started_ms, a.ended_ms, a.ttft_ms, a.served)
        for i, a in enumerate(r.attempts)
    ]


def _record(row: tuple[Any, ...], attempts: list[tuple[Any, ...]]) -> GenerationRecord:
    (id_, created, started_at_ms, model_requested, model, provider_name, endpoint_tag,
     app_referer, app_title, key_id, streamed, cancelled, finish_reason, prompt, completion,
     cached, cache_write, reasoning, images, estimated, cost, discount, latency, gen_time,
     ttft) = row
    return GenerationRecord(
        id=id_, created=created, started_at_ms=started_at_ms, model_requested=model_requested,
        model=model, provider_name=provider_name, endpoint_tag=endpoint_tag,
        app_referer=app_referer, app_title=app_title, key_id=key_id, streamed=bool(streamed),
        cancelled=bool(cancelled), finish_reason=finish_reason,
        usage=Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached,
                    cache_write_tokens=cache_write, reasoning_tokens=reasoning, images=images,
                    estimated=bool(estimated)),
        cost_micro=cost, discount_micro=discount, latency_ms=latency,
        generation_time_ms=gen_time, ttft_ms=ttft,
        attempts=tuple(
            AttemptRecord(endpoint_tag=a[0], provider_name=a[1], model=a[2], status=a[3],
                          failure=a[4], message=a[5], started_ms=a[6], ended_ms=a[7],
                          ttft_ms=a[8], served=bool(a[9]))
            for a in attempts
        ),
    )


def _connect(path: Path) -> sqlite3.Connection:
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

    __slots__ = ("_batch_size", "_closing", "_conn", "_max_wait_s", "_pending", "_queue",
                 "_read_lock", "_reader", "_thread", "_wake", "path")

    def __init__(self, path: str | Path, *, batch_size: int = 2000,
                 max_wait_s: float = 0.02) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._batch_size = batch_size
        self._max_wait_s = max_wait_s
        self._conn = _connect(self.path)
        # 64 MiB of page cache (allocated as used) keeps the id and created indexes hot: it
        # raised the writer's rate by ~40 % in bench/ledger_bench.py over the 2 MiB default.
        self._conn.execute("PRAGMA cache_size=-65536")
        migrate(self._conn)
        self._reader = _connect(self.path)
        self._reader.execute("PRAGMA query_only=1")
        self._read_lock = threading.Lock()
        self._queue: deque[GenerationRecord] = deque()
        self._pending: dict[str, GenerationRecord] = {}
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="crossroads-ledger", daemon=True)
        self._thread.start()

    # --- the hot path -----------------------------------------------------------------------

    def submit(self, record: GenerationRecord) -> None:
        if self._closing:
            raise LedgerClosed(f"ledger closed; generation {record.id} not recorded")
        self._pending[record.id] = record
        self._queue.append(record)
        if len(self._queue) == self._batch_size:
            self._wake.set()

    @property
    def backlog(self) -> int:
        """Records submitted and not yet committed."""
        return len(self._pending)

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

    def _write_batch(self, batch: list[GenerationRecord]) -> None:
        delay = 0.05
        failures = 0
        while True:
            try:
                self._write(batch)
                break
            except Exception:
                failures += 1
                log.exception("ledger write of %d records failed (try %d)", len(batch), failures)
                if self._closing and failures >= CLOSE_RETRIES:
                    log.error("ledger gave up on %d records while closing", len(batch))
                    break
                # Keep the batch and retry: a full or locked disk is usually transient, and the
                # records stay readable from `_pending` meanwhile.
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        pending = self._pending
        for record in batch:
            if pending.get(record.id) is record:
                del pending[record.id]

    def _write(self, batch: list[GenerationRecord]) -> None:
        cursor = self._conn.cursor()
        cursor.execute("BEGIN")
        try:
            try:
                cursor.executemany(INSERT_GENERATION, [_generation_row(r) for r in batch])
                fresh = batch
            except sqlite3.IntegrityError:
                # A generation submitted twice (in this batch or an earlier one): a bug upstream,
                # but rollups must still count it once. Redo the batch row by row, keeping the
                # rows that were actually inserted.
                self._conn.rollback()
                cursor.execute("BEGIN")
                fresh = []
                for record in batch:
                    cursor.execute(INSERT_GENERATION_ONCE, _generation_row(record))
                    if cursor.rowcount == 1:
                        fresh.append(record)
            rollup = RollupBatch()
            attempts: list[tuple[Any, ...]] = []
            for record in fresh:
                rollup.add(record)
                attempts.extend(_attempt_rows(record))
            cursor.executemany(INSERT_ATTEMPT, attempts)
            for kind, rows in rollup.rows().items():
                cursor.executemany(UPSERT_ROLLUP[kind], rows)
            cursor.execute("COMMIT")
        except BaseException:
            self._conn.rollback()
            raise

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
        return _record(row, attempts)

    def rollups(self, kind: RollupKind, since: int, model: str | None = None,
                endpoint: str | None = None, app: str | None = None,
                until: int | None = None) -> list[Rollup]:
        if kind not in BUCKET_S:
            raise ValueError(f"rollup kind must be one of {sorted(BUCKET_S)}, not {kind!r}")
        where = ["bucket_start >= ?"]
        args: list[Any] = [since]
        for column, value in (("bucket_start <", until), ("model =", model),
                              ("endpoint_tag =", endpoint), ("app =", app)):
            if value is not None:
                where.append(f"{column} ?")
                args.append(value)
        sql = (
            f"SELECT {', '.join(KEY + COUNTERS)} FROM rollup_{kind} "
            f"WHERE {' AND '.join(where)} ORDER BY {', '.join(KEY)}"
        )
        with self._read_lock:
            rows = self._reader.execute(sql, args).fetchall()
        return [Rollup(*row) for row in rows]

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
        self._conn.close()
        with self._read_lock:
            self._reader.close()
