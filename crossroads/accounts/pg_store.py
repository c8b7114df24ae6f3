"""`KeyStore` on PostgreSQL: the same table and rows as `SQLiteKeyStore`, shared by replicas.

Revisions must stay unique and increasing across every process writing keys, as on SQLite: a
change takes a transaction-scoped advisory lock, reads the highest revision and writes the next
one before committing, so writers queue on the lock and commit in revision order — a router
polling `changed_since(r)` never sees revision r+2 before r+1 is visible.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec

from crossroads.accounts.keys import KeyRecord
from crossroads.accounts.store import COLUMNS, MUTABLE, KeyReads, _record, _row
from crossroads.ledger.pg_database import Database

REVISION_LOCK = 0x6B657973  # "keys"
_UPSERT = (f"INSERT INTO api_keys ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) ON CONFLICT (hash) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:]))


class PostgresKeyStore(KeyReads):
    """`KeyStore` on the shared database's pool; thread-safe (each call takes a connection)."""

    __slots__ = ("_database",)

    def __init__(self, database: Database) -> None:
        self._database = database

    def _select(self, where: str, args: tuple[Any, ...]) -> list[KeyRecord]:
        rows = self._database.run(f"SELECT {', '.join(COLUMNS)} FROM api_keys {where}", args)
        return [_record(r) for r in rows]

    def _write(self, record_for: Callable[[Any, int], KeyRecord | None]) -> KeyRecord | None:
        """Run `record_for(cursor, next_revision)` → record (or None) and store it, in one
        transaction under the revision lock."""
        with self._database.transaction() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (REVISION_LOCK,))
            row = cursor.execute("SELECT COALESCE(MAX(revision), 0) FROM api_keys").fetchone()
            record = record_for(cursor, int(row[0]) + 1 if row else 1)
            if record is not None:
                cursor.execute(_UPSERT, _row(record))
        return record

    def create(self, record: KeyRecord) -> KeyRecord:
        stored = self._write(lambda _, revision: msgspec.structs.replace(record,
                                                                         revision=revision))
        assert stored is not None
        return stored

    def update(self, key_hash: str, changes: dict[str, Any]) -> KeyRecord | None:
        unknown = set(changes) - MUTABLE
        if unknown:
            raise ValueError(f"not changeable: {', '.join(sorted(unknown))}")

        def change(cursor: Any, revision: int) -> KeyRecord | None:
            row = cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM api_keys WHERE hash = %s",
                                 (key_hash,)).fetchone()
            if row is None or _record(row).deleted:
                return None
            return msgspec.structs.replace(_record(row), **changes, revision=revision,
                                           updated_at=int(time.time()))

        return self._write(change)

    def touch(self, last_used: dict[str, int]) -> None:
        if not last_used:
            return
        with self._database.transaction() as cursor:
            # In hash order, so two replicas touching the same keys lock them in one order.
            cursor.executemany(
                "UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, 0), %s) "
                "WHERE hash = %s", [(last_used[h], h) for h in sorted(last_used)])

    def last_used(self) -> dict[str, int]:
        rows = self._database.run(
            "SELECT hash, last_used_at FROM api_keys WHERE last_used_at IS NOT NULL", ())
        return {h: int(at) for h, at in rows}

    def close(self) -> None:
        """The pool belongs to whoever opened the database."""
