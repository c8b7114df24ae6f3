"""The ledger's journal: framing, torn tails, offsets, idempotent replay, and real SIGKILLs.

A crash is a real one: a child process submits records and kills itself with SIGKILL, so no
`close`, no flush and no Python-level cleanup runs — exactly what an OOM kill does to a router.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from crossroads.ledger import GenerationRecord, SQLiteLedger, record_of
from crossroads.ledger import journal as journal_module
from crossroads.ledger.journal import MAGIC, frame, read_frames

from .builders import assert_rollups_agree, mixed, raw_count, rollup_table

OFFSET = 1_000_000.0
ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import json, os, signal, sys, time
    from pathlib import Path
    import msgspec
    from crossroads.ledger import SQLiteLedger, record_of
    from tests.ledger.builders import mixed

    db, options = sys.argv[1], json.loads(sys.argv[2])
    chunks = options["chunks"]
    records = [record_of(g, 1_000_000.0) for g in mixed(sum(chunks), seed=options["seed"])]
    Path(db + ".records").write_bytes(msgspec.msgpack.encode(records))
    ledger = SQLiteLedger(db, batch_size=options["batch_size"],
                          max_wait_s=options["max_wait_s"],
                          segment_bytes=options["segment_bytes"])
    done = 0
    for i, size in enumerate(chunks):
        for record in records[done:done + size]:
            ledger.submit(record)
        done += size
        if i < len(chunks) - 1:
            while ledger.backlog:  # let the writer commit this chunk before the next
                time.sleep(0.001)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def crash(db: Path, *chunks: int, batch_size: int = 100_000, max_wait_s: float = 60.0,
          segment_bytes: int = 8 << 20, seed: int = 5) -> list[GenerationRecord]:
    """Submit `chunks` in a child (each but the last committed first), then SIGKILL it."""
    options = {"chunks": list(chunks), "batch_size": batch_size, "max_wait_s": max_wait_s,
               "segment_bytes": segment_bytes, "seed": seed}
    result = subprocess.run([sys.executable, "-c", CHILD, str(db), json.dumps(options)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == -signal.SIGKILL, result.stderr
    raw = Path(f"{db}.records").read_bytes()
    return msgspec.msgpack.decode(raw, type=list[GenerationRecord])


def segments(folder: Path) -> list[Path]:
    return sorted(folder.glob("crossroads.journal.*"))


def journal_state(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT segment, applied FROM journal_state").fetchall())


def framed(records: list[GenerationRecord]) -> bytes:
    return MAGIC + b"".join(frame(msgspec.msgpack.encode(r)) for r in records)


# --- framing --------------------------------------------------------------------------------

def test_frames_round_trip() -> None:
    records = [record_of(g, OFFSET) for g in mixed(50)]
    data = framed(records)
    frames, stop = read_frames(data, 0)
    assert stop == len(data)
    decoded = [msgspec.msgpack.decode(p, type=GenerationRecord) for p, _ in frames]
    assert decoded == records
    ends = [end for _, end in frames]
    assert ends == sorted(ends) and ends[-1] == len(data)
    # Reading from a recorded end offset yields exactly the frames after it.
    later, _ = read_frames(data, ends[19])
    assert [p for p, _ in later] == [p for p, _ in frames[20:]]


def test_torn_tail_and_corruption_stop_the_reader() -> None:
    records = [record_of(g, OFFSET) for g in mixed(5)]
    data = framed(records)
    whole, _ = read_frames(data, 0)
    last_start = whole[3][1]
    for cut in range(last_start + 1, len(data)):  # every way the last write can be torn
        frames, stop = read_frames(data[:cut], 0)
        assert len(frames) == 4 and stop == last_start
    flipped = bytearray(data)
    flipped[whole[1][1] + 20] ^= 0xFF  # a bit flip inside frame 3's payload
    frames, stop = read_frames(bytes(flipped), 0)
    assert len(frames) == 2 and stop == whole[1][1]
    zeros = data[:last_start] + bytes(64)  # a power loss can leave zeroed blocks at the end
    assert len(read_frames(zeros, 0)[0]) == 4
    assert read_frames(data[:5], 0) == ([], 0)  # cut inside the header
    assert read_frames(b"", 0) == ([], 0)


# --- offsets, rotation and the live journal -------------------------------------------------

def test_offsets_follow_commits_and_close_removes_the_journal(tmp_path: Path) -> None:
    db = tmp_path / "crossroads.db"
    ledger = SQLiteLedger(db, batch_size=50, max_wait_s=60.0)
    records = [record_of(g, OFFSET) for g in mixed(120)]
    for record in records[:50]:  # a full batch wakes the writer
        ledger.submit(record)
    assert_settles(lambda: ledger.backlog == 0)
    [segment] = segments(tmp_path)
    size_after_50 = segment.stat().st_size
    assert journal_state(db) == {segment.name: size_after_50}
    for record in records[50:]:
        ledger.submit(record)
    assert segment.stat().st_size > size_after_50
    ledger.close()
    assert segments(tmp_path) == [] and journal_state(db) == {}
    assert raw_count(db) == 120


def test_rotation_deletes_applied_segments(tmp_path: Path) -> None:
    db = tmp_path / "crossroads.db"
    ledger = SQLiteLedger(db, batch_size=20, max_wait_s=0.002, segment_bytes=4096)
    [first] = segments(tmp_path)
    seen = set()
    for g in mixed(400):
        ledger.submit(record_of(g, OFFSET))
        seen.update(p.name for p in segments(tmp_path))
        time.sleep(0.0002)
    assert len(seen) > 10  # ~240 KB of records in 4 KB segments
    assert_settles(lambda: ledger.backlog == 0 and len(segments(tmp_path)) == 1)
    assert segments(tmp_path) != [first]
    assert set(journal_state(db)) <= {p.name for p in segments(tmp_path)}
    ledger.close()
    assert raw_count(db) == 400 and segments(tmp_path) == []
    assert_rollups_agree(db)


def test_without_journal_no_files(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "crossroads.db", journal=False)
    ledger.submit(record_of(mixed(1)[0], OFFSET))
    assert segments(tmp_path) == []
    ledger.close()
    assert raw_count(tmp_path / "crossroads.db") == 1


def test_failed_journal_write_keeps_the_record_and_the_file_readable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = journal_module.gil_holding_write()
    short = [False]

    def flaky_write(fd: int, data: bytes) -> int:
        return real_write(fd, data[: len(data) // 2] if short[0] else data)

    monkeypatch.setattr(journal_module, "gil_holding_write", lambda: flaky_write)
    db = tmp_path / "crossroads.db"
    ledger = SQLiteLedger(db, max_wait_s=60.0)
    records = [record_of(g, OFFSET) for g in mixed(3)]
    ledger.submit(records[0])
    short[0] = True
    ledger.submit(records[1])  # a short write: cut off again, the record kept in memory
    short[0] = False
    ledger.submit(records[2])
    [segment] = segments(tmp_path)
    frames, stop = read_frames(segment.read_bytes(), 0)
    assert len(frames) == 2 and stop == segment.stat().st_size
    assert ledger.get(records[1].id) is records[1]
    ledger.close()
    assert raw_count(db) == 3


def test_gil_holding_write_writes_and_raises_like_os_write(tmp_path: Path) -> None:
    write = journal_module.gil_holding_write()
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    assert write(fd, b"hello") == 5 and write(fd, b" world") == 6
    os.close(fd)
    assert (tmp_path / "f").read_bytes() == b"hello world"
    with pytest.raises(OSError) as failure:
        write(fd, b"closed")
    assert failure.value.errno == 9  # EBADF


# --- crashes and replay ---------------------------------------------------------------------

def test_sigkill_before_any_commit_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "crossroads.db"
    records = crash(db, 300)
    assert raw_count(db) == 0 and len(segments(tmp_path)) == 1
    ledger = SQLiteLedger(db)
    assert ledger.recovery.segments == 1
    assert ledger.recovery.frames == ledger.recovery.inserted == 300
    assert all(ledger.get(r.id) == r for r in records)
    ledger.close()
    assert raw_count(db) == 300 and segments(tmp_path) == []
    assert_rollups_agree(db)


def test_replay_starts_after_the_committed_offset(tmp_path: Path) -> None:
    db = tmp_path / "crossroads.db"
    records = crash(db, 400, 150, batch_size=400)
    assert raw_count(db) == 400  # the first chunk was committed, the second only journaled
    [segment] = segments(tmp_path)
    assert journal_state(db)[segment.name] < segment.stat().st_size
    ledger = SQLiteLedger(db)
    # Only the 150 frames past the offset were read: nothing committed is read again.
    assert (ledger.recovery.frames, ledger.recovery.inserted) == (150, 150)
    assert ledger.count() == 550 and all(ledger.get(r.id) == r for r in records)
    ledger.close()
    assert_rollups_agree(db)


def test_replaying_twice_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "crossroads.db"
    crash(db, 500)
    [segment] = segments(tmp_path)
    copy = tmp_path / "saved"
    shutil.copy(segment, copy)
    SQLiteLedger(db).close()
    rollups = {kind: rollup_table(db, kind) for kind in ("hourly", "daily")}
    # As if the process had died after committing the replay but before deleting the file
    # (its offset row is gone too): every frame is read and inserted again — and ignored.
    shutil.copy(copy, segment)
    ledger = SQLiteLedger(db)
    assert (ledger.recovery.frames, ledger.recovery.inserted) == (500, 0)
    ledger.close()
    assert raw_count(db) == 500
    assert {kind: rollup_table(db, kind) for kind in ("hourly", "daily")} == rollups
    assert_rollups_agree(db)


def test_torn_final_frame_is_ignored(tmp_path: Path) -> None:
    db = tmp_path / "crossroads.db"
    records = crash(db, 200)
    [segment] = segments(tmp_path)
    extra = frame(msgspec.msgpack.encode(records[0]))[:-7]  # a write cut short by power loss
    with segment.open("ab") as f:
        f.write(extra)
    ledger = SQLiteLedger(db)
    assert ledger.recovery.inserted == 200 and ledger.recovery.torn_bytes == len(extra)
    ledger.close()
    assert raw_count(db) == 200


def test_sigkill_under_load_with_rotation_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "crossroads.db"
    records = crash(db, 1000, 3000, batch_size=64, max_wait_s=0.001, segment_bytes=16384)
    before = raw_count(db)
    ledger = SQLiteLedger(db)
    assert ledger.recovery.inserted == len(records) - before
    assert ledger.count() == len(records) and all(ledger.get(r.id) == r for r in records)
    ledger.close()
    assert segments(tmp_path) == []
    assert_rollups_agree(db)


def test_records_given_up_at_close_are_replayed_by_the_next_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "crossroads.db"
    ledger = SQLiteLedger(db, batch_size=2, max_wait_s=60.0)
    records = [record_of(g, OFFSET) for g in mixed(4)]
    for record in records[:2]:
        ledger.submit(record)
    assert_settles(lambda: ledger.backlog == 0)

    def broken_disk(*args: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(SQLiteLedger, "_write", broken_disk)
    for record in records[2:]:
        ledger.submit(record)
    ledger.close()  # gives up after a few retries, and keeps the journal
    monkeypatch.undo()
    assert raw_count(db) == 2 and len(segments(tmp_path)) == 1
    reopened = SQLiteLedger(db)
    assert reopened.recovery.inserted == 2
    assert all(reopened.get(r.id) == r for r in records)
    reopened.close()
    assert segments(tmp_path) == []


def test_a_live_ledgers_journal_is_not_replayed_by_another(tmp_path: Path) -> None:
    db = tmp_path / "crossroads.db"
    first = SQLiteLedger(db, max_wait_s=60.0)
    records = [record_of(g, OFFSET) for g in mixed(10)]
    for record in records:
        first.submit(record)
    second = SQLiteLedger(db)
    assert second.recovery.segments == 0 and second.count() == 0
    second.close()
    assert len(segments(tmp_path)) == 1  # the first ledger's, untouched
    first.close()
    assert raw_count(db) == 10 and segments(tmp_path) == []


def assert_settles(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition did not settle"
        time.sleep(0.005)


def test_only_a_dead_creators_half_made_segment_is_swept(tmp_path: Path) -> None:
    # A segment is created under a temporary name, then locked: a process opening the ledger
    # in between (another worker starting) must leave a live creator's file alone.
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f"crossroads.journal-new.{time.time_ns():016x}-{alive.pid}"
        dead = tmp_path / f"crossroads.journal-new.{time.time_ns():016x}-{2**22 + 1}"
        live.write_bytes(MAGIC)
        dead.write_bytes(MAGIC)
        ledger = SQLiteLedger(tmp_path / "crossroads.db")
        ledger.close()
        assert live.exists() and not dead.exists()
    finally:
        alive.kill()
        alive.wait()
