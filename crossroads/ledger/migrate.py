"""Schema migrations: named SQL files in `migrations/`, applied in name order, each exactly once.

The rule that makes this safe: migrations are append-only. A file that has shipped is never
edited, renamed or deleted — a database somewhere already ran it, and would never run the edit.
Change the schema by adding the next file (`0002_....sql`). Names are `NNNN_words.sql`.

Each migration runs in its own transaction together with its row in `schema_migrations`, and
that row is inserted first: when two processes start on one database, the second one's insert
hits the primary key, its transaction rolls back, and the migration is not run twice.
"""

from __future__ import annotations

import re
import sqlite3
import time
from importlib.resources import files

NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY NOT NULL,
    applied_at INTEGER NOT NULL
)
"""


def shipped() -> list[tuple[str, str]]:
    """Every migration shipped with this version, as (name, sql), in the order they apply."""
    folder = files("crossroads.ledger").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        if not NAME.match(entry.name):
            raise ValueError(f"migration {entry.name!r} is not named NNNN_words.sql")
        found.append((entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def applied(conn: sqlite3.Connection) -> list[str]:
    conn.execute(CREATE_TABLE)
    return [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every shipped migration not yet applied; return the names applied now.

    `conn` must be in autocommit mode (`isolation_level=None`): each migration manages its own
    transaction.
    """
    done = set(applied(conn))
    ran = []
    for name, sql in shipped():
        if name in done:
            continue
        # The name comes from our own file list (checked against NAME), so it is safe to inline.
        script = (
            "BEGIN IMMEDIATE;\n"
            "INSERT INTO schema_migrations (name, applied_at) "
            f"VALUES ('{name}', {int(time.time())});\n"
            f"{sql}\n"
            "COMMIT;\n"
        )
        try:
            conn.executescript(script)
        except sqlite3.IntegrityError:
            conn.rollback()
            continue  # another process applied it between our read and our write
        except BaseException:
            conn.rollback()
            raise
        ran.append(name)
    return ran
