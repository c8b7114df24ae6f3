"""Where presets live: the config file's (read-only here) and the API's (in the database).

Requests read presets from memory (`PresetBook.by_slug`); the API writes through to the
database (SQLite, or PostgreSQL with `database_url`: `PresetRows`) so an edited preset survives
a restart, and every worker and replica reloads the table each second (`follow`), as it polls
API keys. A config-file preset cannot be changed or deleted through
the API — the file would bring it back at the next start — and the API cannot shadow one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any, Protocol

import msgspec
import orjson

from crossroads.errors import BadRequest, Conflict
from crossroads.ledger.migrate import migrate
from crossroads.ledger.pg_database import Database
from crossroads.ledger.sqlite import connect
from crossroads.presets import Preset, PresetConfig, check_preset, make_preset

log = logging.getLogger("crossroads.presets")

COLUMNS = ("slug", "name", "description", "system_prompt", "config", "version", "created_at",
           "updated_at")


def _preset(row: tuple[Any, ...]) -> Preset:
    slug, name, description, system_prompt, config, version, created_at, updated_at = row
    return Preset(slug=slug, name=name, description=description, system_prompt=system_prompt,
                  config=orjson.loads(config), version=version, created_at=created_at,
                  updated_at=updated_at, source="api")


_UPSERT = (f"INSERT INTO presets ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
           "ON CONFLICT (slug) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:]))


class PresetRows(Protocol):
    """The presets table of one database."""

    def load(self) -> list[tuple[Any, ...]]: ...

    def put(self, row: tuple[Any, ...]) -> None: ...

    def delete(self, slug: str) -> None: ...

    def close(self) -> None: ...


class SQLitePresetRows:
    """On the ledger's SQLite file, one connection behind the book's lock."""

    __slots__ = ("_conn",)

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(Path(path))
        migrate(self._conn)

    def load(self) -> list[tuple[Any, ...]]:
        return self._conn.execute(f"SELECT {', '.join(COLUMNS)} FROM presets").fetchall()

    def put(self, row: tuple[Any, ...]) -> None:
        self._conn.execute(_UPSERT, row)

    def delete(self, slug: str) -> None:
        self._conn.execute("DELETE FROM presets WHERE slug = ?", (slug,))

    def close(self) -> None:
        self._conn.close()


class PostgresPresetRows:
    """On the shared PostgreSQL database (its pool; the database is closed by its opener)."""

    __slots__ = ("_database",)

    def __init__(self, database: Database) -> None:
        self._database = database

    def load(self) -> list[tuple[Any, ...]]:
        return self._database.run(f"SELECT {', '.join(COLUMNS)} FROM presets", ())

    def put(self, row: tuple[Any, ...]) -> None:
        with self._database.transaction() as cursor:
            cursor.execute(_UPSERT.replace("?", "%s"), row)

    def delete(self, slug: str) -> None:
        with self._database.transaction() as cursor:
            cursor.execute("DELETE FROM presets WHERE slug = %s", (slug,))

    def close(self) -> None:
        return None


class PresetBook:
    """Every preset, by slug; thread-safe writes, lock-free reads of a replaced dict."""

    def __init__(self, rows: PresetRows | str | Path, configured: dict[str, PresetConfig]
                 ) -> None:
        self._rows = SQLitePresetRows(rows) if isinstance(rows, str | Path) else rows
        self._lock = threading.Lock()
        self._configured = {slug: make_preset(slug, given, "config")
                            for slug, given in configured.items()}
        stored = {p.slug: p for p in map(_preset, self._rows.load())
                  if p.slug not in self._configured}
        self.by_slug: dict[str, Preset] = {**stored, **self._configured}

    def all(self) -> list[Preset]:
        return sorted(self.by_slug.values(), key=lambda p: (-p.updated_at, p.slug))

    def put(self, slug: str, given: PresetConfig) -> tuple[Preset, bool]:
        """Create or replace an API preset; → (it, whether it was created)."""
        if slug in self._configured:
            raise Conflict(f"Preset {slug!r} is defined in the config file; edit it there",
                           metadata={"param": "slug"})
        check_preset(slug, given, "preset")
        with self._lock:
            old = self.by_slug.get(slug)
            preset = make_preset(slug, given, "api", version=old.version + 1 if old else 1,
                                 created_at=old.created_at if old else None)
            self._rows.put(
                (preset.slug, preset.name, preset.description, preset.system_prompt,
                 orjson.dumps(preset.config).decode(), preset.version, preset.created_at,
                 preset.updated_at))
            self.by_slug = {**self.by_slug, slug: preset}
        return preset, old is None

    def delete(self, slug: str) -> bool:
        if slug in self._configured:
            raise Conflict(f"Preset {slug!r} is defined in the config file; remove it there",
                           metadata={"param": "slug"})
        with self._lock:
            if slug not in self.by_slug:
                return False
            self._rows.delete(slug)
            self.by_slug = {k: v for k, v in self.by_slug.items() if k != slug}
        return True

    def reload(self) -> None:
        """Take in what other workers and replicas created, changed or deleted. Under the
        lock, so a put or delete of this process is never overwritten by an older read."""
        with self._lock:
            self.by_slug = {**{p.slug: p for p in map(_preset, self._rows.load())
                               if p.slug not in self._configured}, **self._configured}

    async def follow(self, interval_s: float) -> None:
        """Reload every `interval_s`, off the event loop, until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self.reload)
            except Exception:
                log.exception("could not reload presets from the store; retrying")

    def close(self) -> None:
        with self._lock:
            self._rows.close()


def parse_preset_body(raw: bytes) -> PresetConfig:
    try:
        return msgspec.json.decode(raw, type=PresetConfig)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadRequest(f"Invalid preset: {exc}") from None
