"""One PostgreSQL database shared by the ledger, the key store and the presets of a process.

One bounded pool (`psycopg_pool.ConnectionPool`, `[server] database_pool_size` connections at
most) serves all three: the ledger's writer takes one connection per batch, reads take one per
query and give it back. Connections run in autocommit mode, so a read is one implicit
transaction and a write opens an explicit one (`transaction()`).

Outages. The ledger's writer keeps retrying its batch while the database is away (batched.py);
everything else reads. A read that cannot reach the database raises `DatabaseUnavailable` (a
503 for the caller, never a 500), and for `DOWN_S` after that reads fail at once rather than
each waiting for a connection: `get` runs on the event loop, which must not stall while the
database is down. A connection the server dropped (it restarted) is retried once, on a fresh
connection, before anything is reported.

Secrets. The URL's password is never shown: `redact_url` masks it for the banner and every
error message, and psycopg's own messages name the host and port only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crossroads.errors import CrossroadsError, redact_url

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

log = logging.getLogger("crossroads.database")

DEFAULT_POOL_SIZE = 4
READ_WAIT_S = 1.0  # how long a read waits for a free connection
WRITE_WAIT_S = 10.0
OPEN_WAIT_S = 5.0
DOWN_S = 1.0
SCHEMES = ("postgresql", "postgres")


class DatabaseUnavailable(CrossroadsError):
    """The database cannot be reached right now; the caller may retry shortly."""

    status = 503


class DatabaseError(RuntimeError):
    """The database could not be opened (unreachable, refused, misconfigured)."""


def is_postgres_url(url: str | None) -> bool:
    return url is not None and urlsplit(url).scheme in SCHEMES


def _scrub(text: str, url: str) -> str:
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


def _import_psycopg() -> Any:
    try:
        import psycopg  # noqa: PLC0415 (an optional extra: imported only when configured)
        import psycopg_pool  # noqa: PLC0415
    except ImportError:
        raise DatabaseError("PostgreSQL support is not installed: "
                            "pip install 'crossroads[postgres]'") from None
    return psycopg, psycopg_pool


def _bool_as_int(psycopg: Any) -> type:
    """A dumper that sends Python bools as 0/1: the shared schema stores flags as integers
    (SQLite has no boolean type), and PostgreSQL will not cast boolean to bigint implicitly."""
    from psycopg.adapt import Dumper  # noqa: PLC0415

    class BoolAsInt(Dumper):
        oid = psycopg.postgres.types["int8"].oid

        def dump(self, obj: Any) -> bytes:
            return b"1" if obj else b"0"

    return BoolAsInt


class Database:
    """A pool on one PostgreSQL database, migrated on open."""

    __slots__ = ("_down_until", "_lock", "_psycopg", "pool", "url")

    def __init__(self, url: str, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        if pool_size < 1:
            raise DatabaseError("database_pool_size must be at least 1")
        self.url = url
        psycopg, psycopg_pool = _import_psycopg()
        self._psycopg = psycopg
        self._lock = threading.Lock()
        self._down_until = 0.0
        dumper = _bool_as_int(psycopg)

        def configure(conn: Any) -> None:
            conn.adapters.register_dumper(bool, dumper)

        self.pool: ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=pool_size, open=False, configure=configure,
            kwargs={"autocommit": True, "connect_timeout": 5}, timeout=WRITE_WAIT_S,
            name="crossroads")
        try:
            self.pool.open(wait=True, timeout=OPEN_WAIT_S)
        except Exception as exc:
            self.pool.close()
            raise DatabaseError(f"cannot connect to {redact_url(url)}: "
                                f"{_scrub(str(exc), url) or type(exc).__name__}") from None
        from crossroads.ledger.pg_migrate import migrate  # noqa: PLC0415 (needs psycopg)

        try:
            with self.pool.connection() as conn:
                migrate(conn)
        except Exception:
            self.pool.close()
            raise

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    def unavailable(self, exc: BaseException) -> DatabaseUnavailable:
        """Remember that the database is down, and the error to give the caller."""
        with self._lock:
            self._down_until = time.monotonic() + DOWN_S
        log.warning("database %s unavailable: %s", self.redacted_url,
                    _scrub(str(exc), self.url) or type(exc).__name__)
        return DatabaseUnavailable("The database is unavailable; retry shortly")

    def _connection_errors(self) -> tuple[type[BaseException], ...]:
        from psycopg_pool import PoolTimeout  # noqa: PLC0415

        return (self._psycopg.OperationalError, PoolTimeout)

    def run(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        """One read, written with `?` placeholders (the SQL both databases share)."""
        if self._down_until > time.monotonic():
            raise DatabaseUnavailable("The database is unavailable; retry shortly")
        text = to_pg(sql)
        errors = self._connection_errors()
        for attempt in range(2):
            try:
                with self.pool.connection(timeout=READ_WAIT_S) as conn:
                    rows: list[tuple[Any, ...]] = conn.execute(text, args).fetchall()
                    return rows
            except errors as exc:
                # The first failure may be a connection the server dropped while idle.
                if attempt == 1 or not isinstance(exc, self._psycopg.OperationalError):
                    raise self.unavailable(exc) from None
        raise AssertionError("unreachable")

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor inside one transaction: committed on a clean exit, else rolled back.
        Losing the database on the way raises `DatabaseUnavailable`."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                yield conn.cursor()
        except self._connection_errors() as exc:
            raise self.unavailable(exc) from None
        self._down_until = 0.0

    def close(self) -> None:
        self.pool.close()


def to_pg(sql: str) -> str:
    """The shared SQL's `?` placeholders as psycopg's `%s`."""
    return sql.replace("?", "%s")
