"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temp data dir, loopback.

`initdb` and `pg_ctl` come from `/usr/lib/postgresql/<version>/bin` (Debian's `postgresql`
package, which `.ci/run` installs). PostgreSQL refuses to run as root, so as root every command
runs as the `postgres` system user with the temp dir handed to it. The server listens on a free
loopback port and keeps its unix socket in the temp dir, so it never meets a system cluster.
Password authentication (SCRAM) is on, so the tests also see that the password never leaks.

Each test gets its own database (`fresh_database`), so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port

USER = "crossroads"
PASSWORD = "s3cret-Pg-" + uuid.uuid4().hex[:8]  # distinctive: a leak is found by grep
MISSING = ("PostgreSQL's server binaries (initdb, pg_ctl) were not found under "
           "/usr/lib/postgresql/*/bin. Install Debian's `postgresql` package "
           "(`apt-get install -y postgresql`); `.ci/run` installs it on CI machines.")


def _binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if not found:
        pytest.fail(MISSING, pytrace=False)
    return found[-1].parent


class PostgresServer:
    """One running cluster; `stop`/`start` simulate an outage of the database."""

    def __init__(self, root: Path) -> None:
        self.bin = _binaries()
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        self.sockets.mkdir()
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            for path in (root, self.sockets):
                os.chown(path, account.pw_uid, account.pw_gid)
        password_file = root / "pwfile"
        password_file.write_text(PASSWORD + "\n")
        if self._as_postgres:
            os.chown(password_file, pwd.getpwnam("postgres").pw_uid, -1)
        self._run("initdb", "-D", str(self.data), "-U", USER, "--pwfile", str(password_file),
                  "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        password_file.unlink()
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                                check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}):\n{result.stdout}\n"
                               f"{result.stderr}")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.sockets} -c fsync=off "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; → its URL."""
        import psycopg  # noqa: PLC0415 (only tests that use the server need it)

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    root = Path(tempfile.mkdtemp(prefix="crossroads-pg-"))
    try:
        server = PostgresServer(root)
        try:
            yield server
        finally:
            server.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database()
