"""The ledger's journal: a record reaches the kernel before the caller gets its response's end.

Why. The SQLite writer commits in batches every ≤20 ms, so a process killed between a submit and
the next commit would lose records of generations the caller already holds in full — answers
nobody is billed for. The journal closes that gap without putting a disk wait on the request
path: `append` writes the record to an append-only file with ONE `write(2)` on an O_APPEND
descriptor (made without releasing the GIL: `gil_holding_write`). Once that returns, the
bytes are in the kernel's page cache, which outlives the process: SIGKILL, an OOM kill or a
segfault loses nothing. Only the machine going down (power loss, kernel panic) can lose
page-cache bytes, so a sync thread `fdatasync`s the journal every `sync_interval_s` (5 ms) when
something was written since the last sync.

Format. A segment file starts with `MAGIC`; then frames: payload length (4 bytes, little
endian), CRC-32 of the payload (4 bytes), payload = the record as msgpack (map form, so records
written by an older version still decode). A reader stops at the first frame that is cut short,
has a length of 0 or over `MAX_FRAME`, or fails its CRC: that is the torn tail of a write the
machine did not finish, and nothing after it is trusted.

Segments. Files are `<db stem>.journal.<ns>-<pid>`. A process appends only to its own current
segment and holds an flock on every segment it owns, which is how a second process on the same
state directory tells a live segment from an orphan. The ledger's writer records, in the same
transaction as each batch, the end offset of the batch's last frame (`journal_state`, one row per
segment): everything before it is in the database. At `segment_bytes` the writer starts a new
segment; a retired one is deleted once all its frames are committed and that commit is synced —
never earlier, since a commit that is not synced can be undone by power loss.

Recovery (`replay`). On open, every segment no live process holds is read from its recorded
offset and its records inserted the way the writer inserts them: ON CONFLICT (id) DO NOTHING,
rollups incremented only for rows actually inserted. Replaying twice (say, a crash during
recovery) therefore changes nothing. Then those segments are deleted, as above.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import msgspec

from crossroads.ledger.records import GenerationRecord

log = logging.getLogger("crossroads.ledger")

MAGIC = b"CRXJNL01"
FRAME_HEADER = struct.Struct("<II")
MAX_FRAME = 1 << 24
"""No record comes near 16 MiB; a larger length can only be a torn or corrupt header."""

CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC

RawWrite = Callable[[int, bytes], int]


def gil_holding_write() -> RawWrite:
    """`write(2)` called without releasing the GIL, or `os.write` where libc is not at hand.

    `os.write` releases the GIL around the system call. On the event loop that is a cost, not
    a gain: the ledger's writer thread takes the GIL and the loop waits to get it back — up to
    the 5 ms switch interval. In bench/ledger_bench.py's paced run (5,000 submits/s, the
    writer busy), three alternated runs each way: holding it cut submit's p99.9 from 0.3–1.5 ms
    to ~0.2 ms and its max from 4–17 ms to ~2 ms, for ~1.5 µs more at p50 (the ctypes call).
    The system call itself takes ~2 µs (page cache), so no other thread misses the GIL.
    """
    try:
        libc = ctypes.PyDLL(None, use_errno=True)  # PyDLL: the GIL stays held
        write = libc.write
    except (OSError, AttributeError):
        return os.write
    write.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)
    write.restype = ctypes.c_ssize_t

    def raw_write(fd: int, data: bytes) -> int:
        wrote = int(write(fd, data, len(data)))
        if wrote < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return wrote

    return raw_write


def frame(payload: bytes) -> bytes:
    return FRAME_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_frames(data: bytes, start: int) -> tuple[list[tuple[bytes, int]], int]:
    """Intact frames from offset `start` as (payload, end offset), and where reading stopped.

    A file without `MAGIC` (created, then cut off before its header reached the disk) holds no
    frames. `start` is always a frame boundary: the writer records only frame ends.
    """
    if data[: len(MAGIC)] != MAGIC:
        return [], 0
    at = max(start, len(MAGIC))
    frames = []
    size = FRAME_HEADER.size
    while at + size <= len(data):
        length, crc = FRAME_HEADER.unpack_from(data, at)
        end = at + size + length
        if length == 0 or length > MAX_FRAME or end > len(data):
            break
        payload = data[at + size:end]
        if zlib.crc32(payload) != crc:
            break
        frames.append((payload, end))
        at = end
    return frames, min(at, len(data))


class Segment:
    """One journal file and how far it is written, synced and applied to the database."""

    __slots__ = ("applied", "failures", "fd", "path", "synced", "torn", "written")

    def __init__(self, path: Path, fd: int, written: int) -> None:
        self.path = path
        self.fd = fd
        self.written = written  # end of the last complete frame; changed under Journal.lock
        self.synced = 0  # `written` as of the last fdatasync that finished
        self.applied = len(MAGIC)  # end of the last frame committed to the database
        self.failures = 0
        self.torn = False  # a failed write left bytes that could not be cut off: rotate

    @property
    def name(self) -> str:
        return self.path.name


class Recovery(msgspec.Struct, frozen=True):
    """What `replay` found: frames read past the recorded offsets, and rows they added."""

    segments: int = 0
    frames: int = 0
    inserted: int = 0
    undecodable: int = 0
    torn_bytes: int = 0


WriteBatch = Callable[[list[GenerationRecord], dict[Segment, int]], int]
"""Insert records and record each segment's applied offset, in one transaction; → rows added."""


class Journal:
    """The segments of one ledger and the thread that syncs them.

    `lock` orders appends: the ledger holds it across `append` and its queue append, so the
    queue is in journal order and "applied up to offset N" means every frame before N.
    """

    __slots__ = ("_decoder", "_encoder", "_fd_lock", "_retired", "_stem", "_stop",
                 "_sync_interval_s", "_thread", "_write", "current", "folder", "lock")

    def __init__(self, db_path: Path, *, sync_interval_s: float = 0.005) -> None:
        self.folder = db_path.parent
        self._stem = db_path.stem
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(GenerationRecord)
        self._write = gil_holding_write()
        self.lock = threading.Lock()
        # Guards file descriptors' lifetime against the sync thread, and `_retired`.
        # Order: `_fd_lock` before `lock`; the sync thread never takes `lock`.
        self._fd_lock = threading.Lock()
        self._retired: list[Segment] = []
        self.current = self._create()
        self._sync_interval_s = sync_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sync_loop, name="crossroads-journal",
                                        daemon=True)
        self._thread.start()

    # --- the hot path: the caller holds `lock` --------------------------------------------

    def append(self, record: GenerationRecord) -> Segment:
        """Write one frame; the record is journaled up to `current.written` on return."""
        segment = self.current
        data = frame(self._encoder.encode(record))
        try:
            wrote = self._write(segment.fd, data)
        except OSError as error:
            self._failed(segment, error)
            return segment
        if wrote == len(data):
            segment.written += wrote
        else:
            self._failed(segment, OSError(f"short write: {wrote} of {len(data)} bytes"))
        return segment

    def _failed(self, segment: Segment, error: OSError) -> None:
        # The record stays queued in memory, so only a crash before its commit can lose it.
        # Cut any partial frame off, so later frames are still readable after it.
        segment.failures += 1
        if segment.failures & (segment.failures - 1) == 0:  # 1, 2, 4, 8, …: no log flood
            log.error("journal write to %s failed (%d so far): %s", segment.name,
                      segment.failures, error)
        try:
            os.ftruncate(segment.fd, segment.written)
        except OSError:
            segment.torn = True  # frames after the garbage would be unreadable

    # --- the writer thread ----------------------------------------------------------------

    def rotate(self) -> None:
        """Continue in a fresh segment; the old one waits in `_retired` until it is applied."""
        fresh = self._create()
        with self._fd_lock:
            with self.lock:
                old, self.current = self.current, fresh
            self._retired.append(old)

    def finished(self) -> list[Segment]:
        """Retired segments whose every frame is committed (retired ones no longer grow)."""
        return [s for s in self._retired if s.applied >= s.written]

    def owned(self) -> list[Segment]:
        return [*self._retired, self.current]

    def discard(self, segments: list[Segment]) -> None:
        """Delete segments whose records are durably in the database; unlock them last."""
        with self._fd_lock:
            for segment in segments:
                with contextlib.suppress(FileNotFoundError):
                    segment.path.unlink()
                with contextlib.suppress(ValueError):
                    self._retired.remove(segment)
                self._release(segment)

    def close(self) -> None:
        """Stop the sync thread after a last sync; release the segments still on disk.

        Unlocked, they are orphans to the next ledger opened on this database, which replays
        whatever they hold past the recorded offsets.
        """
        self._stop.set()
        self._thread.join()
        with self._fd_lock:
            for segment in self.owned():
                self._release(segment)

    def _release(self, segment: Segment) -> None:
        # Under `lock` as well, so an append racing a close (a shutdown-order bug) writes to
        # fd -1 and fails, never to a number the process has reused for another file.
        with self.lock:
            if segment.fd >= 0:
                os.close(segment.fd)
                segment.fd = -1

    # --- files ----------------------------------------------------------------------------

    def _create(self) -> Segment:
        # Built under a name the orphan scan ignores, locked, then renamed into place: no other
        # process can ever see it unlocked and take it for an orphan.
        tag = f"{time.time_ns():016x}-{os.getpid()}"
        temporary = self.folder / f"{self._stem}.journal-new.{tag}"
        path = self.folder / f"{self._stem}.journal.{tag}"
        fd = os.open(temporary, CREATE_FLAGS, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.write(fd, MAGIC) != len(MAGIC):
                raise OSError(f"short write of the header of {path}")
            os.rename(temporary, path)
            self._sync_folder()  # the new name must survive power loss as well as its frames
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        return Segment(path, fd, len(MAGIC))

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def orphans(self) -> list[Segment]:
        """Segments no live process holds (its owner crashed or stopped), now locked by us."""
        found = []
        for path in sorted(self.folder.glob(f"{self._stem}.journal.*")):
            if path == self.current.path:
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)  # a live ledger's segment
                continue
            if os.fstat(fd).st_nlink == 0:  # replayed and deleted by another process meanwhile
                os.close(fd)
                continue
            found.append(Segment(path, fd, os.fstat(fd).st_size))
        # Leftovers of a `_create` cut off before its rename hold no frames. Only those of a
        # process that is gone: a live one may be between its open and its flock this instant.
        for path in self.folder.glob(f"{self._stem}.journal-new.*"):
            if _creator_alive(path.name):
                continue
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    path.unlink()
                finally:
                    os.close(fd)
        return found

    def replay(self, applied: Callable[[str], int], write: WriteBatch,
               batch_size: int) -> Recovery:
        """Insert every orphan's records after its applied offset; return what was found.

        The orphans join `_retired`, fully applied, for the caller to delete once the inserts
        are durable. A segment with undecodable frames (written by an incompatible version) is
        renamed out of the journal's way and left for an operator instead of being deleted.
        """
        orphans = self.orphans()
        frames_read = inserted = undecodable = torn = 0
        for segment in orphans:
            data = segment.path.read_bytes()
            frames, stop = read_frames(data, applied(segment.name))
            frames_read += len(frames)
            torn += len(data) - stop
            bad = 0
            batch: list[GenerationRecord] = []
            for i, (payload, end) in enumerate(frames):
                try:
                    batch.append(self._decoder.decode(payload))
                except (msgspec.DecodeError, msgspec.ValidationError):
                    bad += 1
                if batch and (len(batch) == batch_size or i == len(frames) - 1):
                    inserted += write(batch, {segment: end})
                    batch = []
            segment.written = segment.synced = segment.applied = len(data)
            if bad:
                undecodable += bad
                kept = segment.path.with_name(
                    segment.name.replace(".journal.", ".undecodable-journal.", 1))
                log.error("journal %s: %d frames could not be decoded; kept as %s",
                          segment.name, bad, kept.name)
                os.rename(segment.path, kept)
            with self._fd_lock:
                self._retired.append(segment)
        return Recovery(segments=len(orphans), frames=frames_read, inserted=inserted,
                        undecodable=undecodable, torn_bytes=torn)

    # --- the sync thread ------------------------------------------------------------------

    def _sync_loop(self) -> None:
        while not self._stop.wait(self._sync_interval_s):
            self.sync()
        self.sync()

    def sync(self) -> None:
        """fdatasync every owned segment written past its last sync."""
        with self._fd_lock:
            for segment in (*self._retired, self.current):
                target = segment.written
                if target == segment.synced or segment.fd < 0:
                    continue
                try:
                    os.fdatasync(segment.fd)
                except OSError as error:
                    log.error("journal fdatasync of %s failed: %s", segment.name, error)
                    continue
                segment.synced = target


def _creator_alive(name: str) -> bool:
    """Whether the process whose pid ends a segment's name (`…-<pid>`) still runs; a reused
    pid only keeps an empty leftover a while longer."""
    try:
        pid = int(name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
