"""The schema on PostgreSQL: the shipped migrations translated and recorded once, and the
histogram merge function agreeing byte for byte with the Python one SQLite uses."""

from __future__ import annotations

import random
from array import array

import psycopg
import pytest

from crossroads.errors import redact_url
from crossroads.ledger.bins import Bins, merge_blobs
from crossroads.ledger.migrate import shipped
from crossroads.ledger.pg_database import Database, DatabaseError
from crossroads.ledger.pg_migrate import migrate, translate
from tests.pg_server import PASSWORD, PostgresServer


def test_migrations_apply_once_and_a_second_open_applies_nothing(postgres_url: str) -> None:
    names = [name for name, _ in shipped()]
    Database(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        rows = conn.execute("SELECT name, applied_at FROM schema_migrations ORDER BY name")
        assert [r[0] for r in rows] == names
        assert migrate(conn) == []
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        kinds = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'rollup_histogram_daily'").fetchall())
    assert {"generations", "attempts", "api_keys", "presets", "rollup_key_daily"} <= tables
    assert kinds["bins"] == "bytea" and kinds["bucket_start"] == "bigint"


def test_translation_refuses_what_it_cannot_translate() -> None:
    assert translate("CREATE TABLE t (a INTEGER, b BLOB) WITHOUT ROWID;") == \
        "CREATE TABLE t (a BIGINT, b BYTEA);"
    with pytest.raises(ValueError, match="INSERT OR"):
        translate("INSERT OR REPLACE INTO t VALUES (1);")


def _random_bins(rng: random.Random) -> bytes:
    if rng.random() < 0.1:
        return Bins(0, array("I")).encode()
    first = rng.randrange(-300, 300)
    return Bins(first, array("I", [rng.choice((0, 1, 7, 65536, 4_000_000))
                                   for _ in range(rng.randrange(1, 60))])).encode()


def test_the_merge_function_is_bins_merge_blobs(postgres_url: str) -> None:
    Database(postgres_url).close()
    rng = random.Random(3)
    pairs: list[tuple[bytes | None, bytes | None]] = [(None, None), (None, b"\0" * 8)]
    pairs += [(_random_bins(rng), _random_bins(rng)) for _ in range(300)]
    with psycopg.connect(postgres_url) as conn:
        for stored, added in pairs:
            (merged,) = conn.execute("SELECT crossroads_merge_bins(%s, %s)",
                                     (stored, added)).fetchone() or (None,)
            expected = merge_blobs(stored, added)
            assert (bytes(merged) if merged is not None else None) == expected, (stored, added)


def test_an_unreachable_database_is_named_without_its_password(
        postgres_server: PostgresServer) -> None:
    url = postgres_server.url().replace(str(postgres_server.port), "1")
    assert PASSWORD not in redact_url(url) and "***" in redact_url(url)
    with pytest.raises(DatabaseError) as caught:
        Database(url)
    assert PASSWORD not in str(caught.value) and "127.0.0.1:1" in str(caught.value)
