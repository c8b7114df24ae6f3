"""SQLiteLedger against a real file: migrations and WAL (the rest of the contract, on both
databases, is test_store_contract.py)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from crossroads.ledger import SQLiteLedger
from crossroads.ledger.migrate import migrate, shipped
from crossroads.ledger.sqlite import connect

OFFSET = 1_000_000.0


def test_migrations_apply_once_and_are_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    names = [name for name, _ in shipped()]
    assert names and names[0] == "0001_initial.sql" and names == sorted(names)
    conn = sqlite3.connect(db, isolation_level=None)
    assert migrate(conn) == names
    assert migrate(conn) == []
    rows = conn.execute("SELECT name, applied_at FROM schema_migrations").fetchall()
    assert [r[0] for r in rows] == names and all(r[1] > 0 for r in rows)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"generations", "attempts", "rollup_hourly", "rollup_daily"} <= tables
    conn.close()
    SQLiteLedger(db).close()  # a store opening a migrated file applies nothing again
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(names)
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_new_database_opens_while_another_process_holds_it_briefly(tmp_path: Path) -> None:
    # `serve --workers`: several processes open a new database at once, and the switch to WAL
    # needs the lock another may be holding.
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE t (x)")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        conn = connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
    finally:
        release.join()
        holder.close()
