"""Which database holds the ledger, the keys and the presets: SQLite by default, PostgreSQL
when `[server] database_url` (or `--database-url`, or CROSSROADS_DATABASE_URL) names one.

With PostgreSQL all three share one `Database` (one bounded pool, migrated once); the ledger's
journal stays on local disk in `state_dir`, which is what makes an outage lose nothing.
"""

from __future__ import annotations

import os

import msgspec

from crossroads.accounts.pg_store import PostgresKeyStore
from crossroads.accounts.store import KeyStore, SQLiteKeyStore
from crossroads.errors import redact_url
from crossroads.ledger.pg_database import Database, DatabaseError, is_postgres_url
from crossroads.ledger.postgres import PostgresLedger
from crossroads.ledger.sqlite import SQLiteLedger
from crossroads.ledger.store import Store
from crossroads.preset_store import PostgresPresetRows, PresetRows, SQLitePresetRows
from crossroads.settings import ConfigError, Settings

URL_ENV = "CROSSROADS_DATABASE_URL"


def with_database_url(settings: Settings, url: str | None) -> Settings:
    """Settings with the command line's (or the environment's) URL over the config file's."""
    url = url or os.environ.get(URL_ENV) or None
    if url is None:
        return settings
    if not is_postgres_url(url):
        raise ConfigError(f"--database-url {redact_url(url)}: only postgresql:// URLs are "
                          "supported (the default store is SQLite in state_dir)")
    return msgspec.structs.replace(
        settings, server=msgspec.structs.replace(settings.server, database_url=url))


def open_database(settings: Settings) -> Database | None:
    """The PostgreSQL database the settings name, opened and migrated; None for SQLite."""
    url = settings.server.database_url
    if url is None:
        return None
    if not is_postgres_url(url):
        raise DatabaseError(f"[server] database_url {redact_url(url)}: only postgresql:// "
                            "URLs are supported")
    return Database(url, settings.server.database_pool_size)


class Stores:
    """The ledger, the key store and the presets' rows, on one database."""

    __slots__ = ("database", "keys", "ledger", "presets")

    def __init__(self, settings: Settings) -> None:
        self.database = open_database(settings)
        self.ledger: Store
        self.keys: KeyStore
        self.presets: PresetRows
        if self.database is None:
            self.ledger = SQLiteLedger(settings.database_path)
            self.keys = SQLiteKeyStore(settings.database_path)
            self.presets = SQLitePresetRows(settings.database_path)
        else:
            try:
                self.ledger = PostgresLedger(self.database, settings.server.state_dir)
            except BaseException:
                self.database.close()
                raise
            self.keys = PostgresKeyStore(self.database)
            self.presets = PostgresPresetRows(self.database)

    def close_database(self) -> None:
        """After the ledger, keys and presets are closed: release the pool."""
        if self.database is not None:
            self.database.close()


def open_key_store(settings: Settings) -> tuple[KeyStore, Database | None]:
    """The key store alone (the `keys` CLI), and the database to close after it."""
    database = open_database(settings)
    if database is None:
        return SQLiteKeyStore(settings.database_path), None
    return PostgresKeyStore(database), database
