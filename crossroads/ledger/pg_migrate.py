"""The shipped migrations on PostgreSQL: the same files, translated, in the same ledger.

The files in `migrations/` are written for SQLite and are never edited once shipped
(migrate.py), so PostgreSQL runs a mechanical translation of each (`translate`):
INTEGER → BIGINT (SQLite's integers are 64-bit; micro-dollars and unix ms exceed 2^31),
BLOB → BYTEA, and `WITHOUT ROWID` dropped (PostgreSQL tables are heaps; the primary key is an
index either way). Anything else SQLite-only makes `translate` refuse, so a new migration that
needs another rule fails loudly in the PostgreSQL tests rather than half-applying.

PostgreSQL-only additions to a migration live in `migrations/postgres/<same name>` and run in
the same transaction right after it (0005 adds `crossroads_merge_bins`, the histogram merge
that SQLite gets from a Python function on its writer's connection).

`schema_migrations` is the same ledger as on SQLite. Concurrent starts (several replicas) are
serialised by a transaction-scoped advisory lock, so each migration runs exactly once.
"""

from __future__ import annotations

import re
import time
from importlib.resources import files
from typing import Any

from crossroads.ledger.migrate import CREATE_TABLE, shipped

LOCK_ID = 0x63726F7373  # "cross": the advisory lock migrations hold while they run
_RULES = ((re.compile(r"\bINTEGER\b"), "BIGINT"), (re.compile(r"\bBLOB\b"), "BYTEA"),
          (re.compile(r"\)\s*WITHOUT ROWID"), ")"))
_SQLITE_ONLY = re.compile(r"\b(INSERT OR|AUTOINCREMENT|PRAGMA|BEGIN IMMEDIATE)\b")


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def translate(sql: str) -> str:
    """One shipped migration in PostgreSQL's dialect."""
    text = _strip_comments(sql)
    found = _SQLITE_ONLY.search(text)
    if found:
        raise ValueError(f"migration uses {found.group(0)!r}, which has no PostgreSQL "
                         "translation yet (crossroads/ledger/pg_migrate.py)")
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def extra(name: str) -> str:
    """The PostgreSQL-only part of migration `name`, or ''."""
    entry = files("crossroads.ledger").joinpath("migrations", "postgres", name)
    return entry.read_text(encoding="utf-8") if entry.is_file() else ""


def migrate(conn: Any) -> list[str]:
    """Apply every shipped migration not yet applied on this database; → the names applied.

    `conn` is a psycopg connection in autocommit mode.
    """
    ran = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
        conn.execute(translate(CREATE_TABLE))
        done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        for name, sql in shipped():
            if name in done:
                continue
            conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (%s, %s)",
                         (name, int(time.time())))
            conn.execute(translate(sql))
            if more := extra(name):
                conn.execute(more)
            ran.append(name)
    return ran
