"""The ledger contract's two databases, behind one fixture: the same tests run on both.

`backend.open(**options)` opens a ledger (closing and reopening it reopens the same data);
`backend.raw(sql)` runs a read on the raw tables with that database's own client, for checks
that must not trust the ledger's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from crossroads.ledger.pg_database import Database
from crossroads.ledger.postgres import PostgresLedger
from crossroads.ledger.sqlite import SQLiteLedger

Ledger = SQLiteLedger | PostgresLedger


class SQLiteBackend:
    name = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "crossroads.db"

    def open(self, **options: Any) -> Ledger:
        return SQLiteLedger(self.path, **options)

    def raw(self, sql: str) -> list[tuple[Any, ...]]:
        import sqlite3  # noqa: PLC0415

        with sqlite3.connect(self.path) as conn:
            return [tuple(row) for row in conn.execute(sql)]

    def close(self) -> None:
        return None


class PostgresBackend:
    name = "postgres"

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url = url
        self.state = tmp_path / "state"
        self.database = Database(url, pool_size=4)

    def open(self, **options: Any) -> Ledger:
        return PostgresLedger(self.database, self.state, **options)

    def raw(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return [tuple(int(v) if type(v).__name__ == "Decimal" else v for v in row)
                    for row in conn.execute(sql).fetchall()]

    def close(self) -> None:
        self.database.close()


Backend = SQLiteBackend | PostgresBackend


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made: Backend
    if request.param == "sqlite":
        made = SQLiteBackend(tmp_path)
    else:
        made = PostgresBackend(request.getfixturevalue("postgres_url"), tmp_path)
    try:
        yield made
    finally:
        made.close()
