"""Where keys live: the `KeyStore` protocol and its SQLite implementation.

The SQLite store shares the ledger's database file, so `crossroads keys ...` run beside a live
`crossroads serve` works on the same state: SQLite in WAL mode lets both write, and the router
notices changes through `changed_since(revision)`. Every change takes the next revision inside
one `BEGIN IMMEDIATE` transaction, so revisions are unique and increasing across processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import msgspec

from crossroads.accounts.keys import KeyRecord, RateLimit
from crossroads.ledger.migrate import migrate
from crossroads.ledger.sqlite import connect

COLUMNS = ("hash", "name", "label", "management", "limit_micro", "limit_reset", "expires_at",
           "rate_limit_requests", "rate_limit_interval", "disabled", "deleted", "created_at",
           "updated_at", "revision")
# What PATCH and the CLI may change; `hash`, `label` and `created_at` never change.
MUTABLE = frozenset({"name", "management", "limit_micro", "limit_reset", "expires_at",
                     "rate_limit", "disabled", "deleted"})


class KeyStore(Protocol):
    def create(self, record: KeyRecord) -> KeyRecord:
        """Insert a new key; returns it with its revision."""
        ...

    def update(self, key_hash: str, changes: dict[str, Any]) -> KeyRecord | None:
        """Apply `changes` (names from MUTABLE) to a live key; None if there is none."""
        ...

    def get(self, key_hash: str) -> KeyRecord | None: ...

    def all(self) -> list[KeyRecord]:
        """Every key, deleted ones included, oldest first."""
        ...

    def changed_since(self, revision: int) -> list[KeyRecord]: ...

    def touch(self, last_used: dict[str, int]) -> None:
        """Record when keys were last used (no revision: nothing a router must reload)."""
        ...

    def last_used(self) -> dict[str, int]:
        """When each key that was ever used was last used (unix seconds)."""
        ...

    def close(self) -> None: ...


def _row(record: KeyRecord) -> tuple[Any, ...]:
    rate = record.rate_limit
    return (record.hash, record.name, record.label, record.management, record.limit_micro,
            record.limit_reset, record.expires_at, rate.requests if rate else None,
            rate.interval if rate else None, record.disabled, record.deleted, record.created_at,
            record.updated_at, record.revision)


def _record(row: tuple[Any, ...]) -> KeyRecord:
    (hash_, name, label, management, limit_micro, limit_reset, expires_at, rl_requests,
     rl_interval, disabled, deleted, created_at, updated_at, revision) = row
    return KeyRecord(
        hash=hash_, name=name, label=label, management=bool(management),
        limit_micro=limit_micro, limit_reset=limit_reset, expires_at=expires_at,
        rate_limit=RateLimit(rl_requests, rl_interval) if rl_requests else None,
        disabled=bool(disabled), deleted=bool(deleted), created_at=created_at,
        updated_at=updated_at, revision=revision)


class KeyReads:
    """The reads every key store shares, over each database's `_select` (a WHERE / ORDER BY
    clause written with `?` placeholders)."""

    __slots__ = ()

    def _select(self, where: str, args: tuple[Any, ...]) -> list[KeyRecord]:
        raise NotImplementedError

    def get(self, key_hash: str) -> KeyRecord | None:
        found = self._select("WHERE hash = ?", (key_hash,))
        return found[0] if found else None

    def all(self) -> list[KeyRecord]:
        return self._select("ORDER BY created_at, hash", ())

    def changed_since(self, revision: int) -> list[KeyRecord]:
        return self._select("WHERE revision > ? ORDER BY revision", (revision,))


class SQLiteKeyStore(KeyReads):
    """`KeyStore` on the ledger's SQLite file. Thread-safe: one connection behind a lock."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # The ledger's connection settings: one database file, the same WAL and timeouts.
        self._conn = connect(Path(path))
        migrate(self._conn)
        self._lock = threading.Lock()

    def _select(self, where: str, args: Iterable[Any]) -> list[KeyRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM api_keys {where}", tuple(args)).fetchall()
        return [_record(r) for r in rows]

    def _write(self, record_for: Any) -> KeyRecord | None:
        """Run `record_for(next_revision)` → record (or None) and store it, in one transaction."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                (top,) = conn.execute("SELECT COALESCE(MAX(revision), 0) FROM api_keys"
                                      ).fetchone()
                record = record_for(int(top) + 1)
                if record is not None:
                    conn.execute(
                        f"INSERT OR REPLACE INTO api_keys ({', '.join(COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(COLUMNS))})", _row(record))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        result: KeyRecord | None = record
        return result

    def create(self, record: KeyRecord) -> KeyRecord:
        stored = self._write(lambda revision: msgspec.structs.replace(record, revision=revision))
        assert stored is not None
        return stored

    def update(self, key_hash: str, changes: dict[str, Any]) -> KeyRecord | None:
        unknown = set(changes) - MUTABLE
        if unknown:
            raise ValueError(f"not changeable: {', '.join(sorted(unknown))}")

        def change(revision: int) -> KeyRecord | None:
            row = self._conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM api_keys WHERE hash = ?",
                (key_hash,)).fetchone()
            if row is None or _record(row).deleted:
                return None
            return msgspec.structs.replace(_record(row), **changes, revision=revision,
                                           updated_at=int(time.time()))

        return self._write(change)

    def touch(self, last_used: dict[str, int]) -> None:
        if not last_used:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) "
                    "WHERE hash = ?", [(at, h) for h, at in last_used.items()])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def last_used(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT hash, last_used_at FROM api_keys WHERE last_used_at IS NOT NULL"
            ).fetchall()
        return {h: int(at) for h, at in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
