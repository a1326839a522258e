"""Test databases on a PostgreSQL server, for the store fixtures and the PostgreSQL tests.

``DIGEST_TEST_STORE=postgresql`` points the store fixtures at PostgreSQL instead of SQLite
files. Creating and dropping a database per test costs seconds (a drop waits for a
checkpoint), so the stores come from a pool: databases copied once from a template at
the newest schema, emptied between tests. Tests that need a database with nothing in it
(a store created by the code under test) get a new one: ``DATABASES.empty_database()``,
dropped at the end of the run, or ``fresh_database()``, dropped when the test is done with
it (the subprocess tests, whose processes hold connections to the end).

Without a reachable server a test marked ``postgres`` is skipped, saying why (under
CI=true it fails); ``fresh_database()`` does the same for a test that is not marked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

#: The database the store fixtures use: "sqlite" (files in tmp_path) or "postgresql".
TEST_STORE = os.environ.get("DIGEST_TEST_STORE", "sqlite").strip().lower()
ON_POSTGRES = TEST_STORE == "postgresql"
#: The server: any database on it, reached as the user that may create databases.
SERVER = os.environ.get(
    "DIGEST_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
HOW_TO_START = (
    "start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
    "or set DIGEST_TEST_POSTGRES to a server's URL"
)


def _connect(url: str) -> Any:
    import psycopg

    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname=parsed.database or "postgres",
        autocommit=True,
        connect_timeout=5,
    )


class Databases:
    """The test databases of one pytest run (one process)."""

    def __init__(self, server: str = SERVER) -> None:
        self.server = make_url(server)
        self.prefix = f"digest_test_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self.pool: list[str] = []
        self.in_use: dict[str, str] = {}
        self.made: list[str] = []
        self._names = count()
        self._admin: Any = None
        self._unreachable: str | None = None
        self._checked = False
        self._template_ready = False

    def unreachable(self) -> str | None:
        """Why the server cannot be used; None when it can."""
        if not self._checked:
            self._checked = True
            try:
                self._admin = _connect(self.url("postgres"))
            except Exception as exc:  # noqa: BLE001 - any failure is the reason given
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                self._unreachable = f"no PostgreSQL at {self.describe()} ({first}): {HOW_TO_START}"
            else:
                self._drop_leftovers()
        return self._unreachable

    def describe(self) -> str:
        return self.server.render_as_string(hide_password=True)

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def store_url(self, key: str) -> str:
        """The store for ``key`` (a path the test would give SQLite) in this test: an empty
        store at the newest schema, the same one for the same key until the test ends."""
        if key not in self.in_use:
            slot = len(self.in_use)
            while slot >= len(self.pool):
                self.pool.append(self._create(f"{self.prefix}_{len(self.pool)}", self._templated()))
            self.in_use[key] = self.url(self.pool[slot])
        return self.in_use[key]

    def empty_database(self) -> str:
        """A new database with no tables, for code that creates the store itself."""
        self.made.append(self._create(f"{self.prefix}_new_{next(self._names)}", None))
        return self.url(self.made[-1])

    def drop(self, url: str) -> None:
        """Drop a database made by ``empty_database`` now, whoever is still connected."""
        name = make_url(url).database or ""
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    def end_test(self) -> None:
        """Empty the stores the test used, for the next test."""
        for url in self.in_use.values():
            self._reset(make_url(url).database or "")
        self.in_use.clear()

    def close(self) -> None:
        if self._admin is None:
            return
        for name in [*self.pool, *self.made, self.template]:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin.close()
        self._admin = None

    def _create(self, name: str, template: str | None) -> str:
        self.unreachable()
        source = f' TEMPLATE "{template}"' if template else ""
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin.execute(f'CREATE DATABASE "{name}"{source}')
        return name

    def _templated(self) -> str:
        if not self._template_ready:
            from digest.store.database import open_engine

            self._create(self.template, None)
            open_engine(self.url(self.template)).dispose()
            self._template_ready = True
        return self.template

    def _reset(self, name: str) -> None:
        from digest.store.database import HEAD

        with _connect(self.url(name)) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                ).fetchall()
            ]
            revision = None
            if "alembic_version" in tables:
                found = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = found[0] if found else None
            if revision == HEAD and "papers" in tables:
                data = ", ".join(f'"{t}"' for t in tables if t != "alembic_version")
                conn.execute(f"TRUNCATE {data} RESTART IDENTITY CASCADE")
                return
        # the test changed the schema itself: start this database anew
        self._admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')

    def _drop_leftovers(self) -> None:
        """Drop the databases of earlier runs that ended without cleaning up."""
        names = self._admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'digest\\_test\\_%'"
        ).fetchall()
        for (name,) in names:
            match = re.match(r"digest_test_(\d+)_", name)
            if match is None or _alive(int(match.group(1))):
                continue
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


DATABASES = Databases()


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new database with no tables on the test server, dropped on the way out; yields its
    SQLAlchemy URL. Skips the test, saying why, when the server cannot be reached (fails
    under CI=true)."""
    why = DATABASES.unreachable()
    if why is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true runs the PostgreSQL tests, and there is {why}")
        pytest.skip(f"needs PostgreSQL: {why}")
    url = DATABASES.empty_database()
    try:
        yield url
    finally:
        DATABASES.drop(url)


class Server:
    """A PostgreSQL server of the test's own (initdb in a temporary folder, pg_ctl on a free
    port), for tests that stop or restart the database: never the shared one. initdb refuses
    to run as root, so as root the server runs as the ``postgres`` user, in a folder it owns.
    """

    def __init__(self, bin_dir: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.port = port
        self.home = Path(tempfile.mkdtemp(prefix="digest-test-pg-"))
        self.data = self.home / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.home, "postgres", "postgres")

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as, str(self.bin_dir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)}: {done.stdout}{done.stderr}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.home / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop the server (every connection dropped) and start it again on the same port."""
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.home / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with suppress(RuntimeError):
                self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)


def server_binaries() -> Path | None:
    """The newest PostgreSQL server programs installed (initdb, pg_ctl), if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else None


@contextmanager
def own_server(port: int) -> Iterator[Server]:
    """A throwaway PostgreSQL server, started, removed on the way out. Skips the test,
    saying why, when the server programs are not installed (fails under CI=true)."""
    bin_dir = server_binaries()
    if bin_dir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        why = "the PostgreSQL server programs (/usr/lib/postgresql/*/bin/initdb, pg_ctl)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true runs the PostgreSQL tests, and there are not {why}")
        pytest.skip(f"needs {why}: install the postgresql package")
    server = Server(bin_dir, port)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()
