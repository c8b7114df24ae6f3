"""What every ledger shares: the journal, the queue, the one writer thread, and the reads.

A database-specific ledger (`sqlite.py`, `postgres.py`) supplies four things: `_write` (one
transaction holding a batch, its rollups and its journal offsets), `_applied_offset` (a journal
segment's committed offset), `_drop_offsets` (forget segments' offsets durably) and `_all` (run
one read query, written with `?` placeholders). Everything else — the hot path, batching,
retrying a failed batch, replay on open, draining on close and every read the `Store` protocol
names — is here, once, so both databases keep exactly the same crash-safety rules (sqlite.py's
docstring states them).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from crossroads.ledger.journal import Journal, Recovery, Segment
from crossroads.ledger.records import GenerationRecord
from crossroads.ledger.rows import ATTEMPT_COLUMNS, GENERATION_COLUMNS, record_from
from crossroads.ledger.store import (
    BUCKET_S,
    COUNTERS,
    KEY,
    KEY_COUNTERS,
    KEY_ROLLUP_KEY,
    KeyRollup,
    LedgerHealth,
    Rollup,
    RollupKind,
)

log = logging.getLogger("crossroads.ledger")

CLOSE_RETRIES = 5

Queued = tuple[GenerationRecord, Segment | None, int]
"""A submitted record, the journal segment holding it, and the end offset of its frame there."""


class LedgerClosed(RuntimeError):
    """A record was submitted after `close()`: the shutdown order is wrong."""


class JournaledLedger:
    """The database-independent half of a `Store`; subclasses call `_start` last in __init__."""

    __slots__ = ("_batch_size", "_closing", "_failing_since", "_gave_up", "_journal",
                 "_max_wait_s", "_pending", "_queue", "_segment_bytes", "_thread", "_wake",
                 "recovery")

    UPKEEP_ERRORS: tuple[type[BaseException], ...] = (OSError,)
    """What a failed journal upkeep may raise besides OSError: the database's own errors."""

    def _start(self, journal_path: Path | None, *, batch_size: int, max_wait_s: float,
               sync_interval_s: float, segment_bytes: int) -> None:
        """Open the journal at `journal_path` (None: no journal), replay it, start the writer."""
        self._batch_size = batch_size
        self._max_wait_s = max_wait_s
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
        if journal_path is not None:
            self._journal = Journal(journal_path, sync_interval_s=sync_interval_s)
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

    # --- what a database supplies ---------------------------------------------------------------

    def _write(self, batch: list[GenerationRecord], positions: dict[Segment, int]) -> int:
        """One transaction: rows, rollups for the rows inserted, journal offsets; → inserted."""
        raise NotImplementedError

    def _applied_offset(self, segment: str) -> int:
        raise NotImplementedError

    def _drop_offsets(self, segments: list[Segment]) -> None:
        """Delete the segments' `journal_state` rows in a commit that is durable on return."""
        raise NotImplementedError

    def _all(self, sql: str, args: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
        """Run one read (placeholders `?`) and return its rows."""
        raise NotImplementedError

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

    def queue_depth(self) -> int:
        return len(self._queue)

    def journal_lag_bytes(self) -> int:
        journal = self._journal
        if journal is None:
            return 0
        # Read without the journal's locks: a scrape may be a frame behind, never wrong long.
        return sum(max(s.written - s.applied, 0) for s in journal.owned())

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
        database is too slow for `timeout_s`."""
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
                # Keep the batch and retry: a full disk or a database that went away is
                # usually transient. Meanwhile the records stay readable from `_pending`, and
                # later ones queue behind this batch (and in the journal): nothing is lost.
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        pending = self._pending
        for record in batch:
            if pending.get(record.id) is record:
                del pending[record.id]

    def _tend(self, journal: Journal) -> None:
        try:
            if journal.current.written >= self._segment_bytes or journal.current.torn:
                journal.rotate()
            finished = journal.finished()
            if finished:
                self._forget(finished)
        except self.UPKEEP_ERRORS:
            log.exception("journal upkeep failed; retrying after the next batch")

    def _forget(self, segments: list[Segment]) -> None:
        """Delete applied segments once the commits that applied them are durable."""
        self._drop_offsets(segments)
        assert self._journal is not None
        self._journal.discard(segments)

    # --- reads ------------------------------------------------------------------------------

    def get(self, generation_id: str) -> GenerationRecord | None:
        queued = self._pending.get(generation_id)
        if queued is not None:
            return queued
        rows = self._all(f"SELECT {', '.join(GENERATION_COLUMNS)} FROM generations "
                         "WHERE id = ?", (generation_id,))
        if not rows:
            return None
        attempts = self._all(f"SELECT {', '.join(ATTEMPT_COLUMNS[2:])} FROM attempts "
                             "WHERE generation_id = ? ORDER BY ordinal", (generation_id,))
        return record_from(rows[0], attempts)

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
        return self._all(f"SELECT {', '.join(key + counters)} FROM {table} "
                         f"WHERE {' AND '.join(where)} ORDER BY {', '.join(key)}", args)

    def key_rollups(self, since: int, key_id: str | None = None,
                    until: int | None = None) -> list[KeyRollup]:
        """Per-key daily rows with since <= bucket_start < until, by key then day."""
        rows = self._select("rollup_key_daily", KEY_ROLLUP_KEY, KEY_COUNTERS, since,
                            (("bucket_start <", until), ("key_id =", key_id)))
        return [KeyRollup(*row) for row in rows]

    def key_totals(self) -> dict[str, int]:
        """Every key's spend since it was created, micro-dollars."""
        rows = self._all("SELECT key_id, SUM(cost_micro) FROM rollup_key_daily GROUP BY key_id",
                         ())
        return {key: int(total) for key, total in rows}

    def count(self) -> int:
        (n,) = self._all("SELECT COUNT(*) FROM generations", ())[0]
        return int(n)

    # --- shutdown ---------------------------------------------------------------------------

    def _close_writer(self) -> bool:
        """Stop the writer, write what is queued, delete the applied journal; False if it was
        already closed (the caller then releases nothing)."""
        if self._closing:
            return False
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
            except self.UPKEEP_ERRORS:
                log.exception("could not delete the applied journal; the next start replays it")
            journal.close()
        return True
