"""Opening the store: engine, SQLite settings, the check that a database is a store of
ours, migrations to the newest schema, and how writers take turns."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from digest.errors import StoreError, StoreUnusableError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(url: str | URL) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"store url {url!r} is not a database URL") from exc
    options: dict[str, Any] = {}
    path = store_file(parsed)
    if path is not None:
        _make_folder(path)
    if parsed.get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": 30}
    try:
        engine = sa.create_engine(parsed, **options)
    except (ImportError, SQLAlchemyError) as exc:
        raise StoreError(f"cannot use store url {parsed!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    event.listen(engine, "handle_error", _on_error)
    return engine


def store_file(url: str | URL) -> Path | None:
    """The file of a SQLite store; None for an in-memory one or another database."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None  # a URI filename: SQLite reads it, the check for a new file does not
    return Path(database)


def describe(engine: Engine) -> str:
    """The store as an operator names it: the file of SQLite, the URL (no password) else."""
    path = store_file(engine.url)
    return str(path) if path is not None else engine.url.render_as_string(hide_password=True)


def _make_folder(path: Path) -> None:
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (folder, *folder.parents) if p.is_file()), None)
        if blocker is not None:
            raise StoreError(
                f"store {path}: {blocker} is a file, not a folder; set [store] url "
                "(or DIGEST_STORE_URL) to a path in a folder"
            ) from None
        raise StoreError(
            f"cannot create the folder {folder} for store {path}: {exc.strerror}"
        ) from None


#: SQLite's answers for a file that is not a database, or one that is damaged.
_SQLITE_NOTADB, _SQLITE_CORRUPT = 26, 11


def _on_error(context: ExceptionContext) -> None:
    """A damaged store or a file that is not a database, on any statement: one clear error."""
    where = describe(context.engine) if context.engine is not None else "file"
    damaged = damage(where, context.original_exception)
    if damaged is not None:
        raise damaged from context.original_exception


def damage(where: str, error: BaseException) -> StoreUnusableError | None:
    """The error to raise for a SQLite error that says the file is damaged or is not a
    database; None for any other error."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None or code & 0xFF not in (_SQLITE_NOTADB, _SQLITE_CORRUPT):
        return None
    return StoreUnusableError(
        f"store {where} is damaged or is not a database ({error}): restore it from a "
        "backup, or move the file away to start a new store"
    )


def _configure_sqlite(engine: Engine) -> None:
    """WAL for concurrent readers, foreign keys on, and transactions that really begin.

    pysqlite defers BEGIN until the first write, which breaks read-then-write
    transactions between processes; here a transaction begins when SQLAlchemy says so,
    and ``begin_immediate`` takes the write lock up front.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("begin_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


#: The newest migration. Checked against Alembic's own view by the tests, and compared
#: with the database directly, so an up-to-date store opens without loading Alembic.
HEAD = "0010"
#: Every revision of ours: the migration files are named after them (``0003_….py``).
REVISIONS = frozenset(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("0*.py"))


def open_engine(url: str) -> Engine:
    """The engine of a store of ours, migrated to the newest schema.

    A database that is not one of our stores is refused and left as it is: an existing
    file with no schema of ours (an empty file, another application's database), a
    damaged one, or a schema this version does not know. A new store file is built under
    another name and moved into place whole, so a file at the store's path is always a
    complete store, whoever looks at it when.
    """
    path = store_file(url)
    if path is not None:
        if not path.exists():
            _make_folder(path)
            _create(make_url(url), path)
        _probe(path)
    engine = create_engine(url)
    try:
        migrate(engine, new=path is None)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _create(url: URL, path: Path) -> None:
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    try:
        engine = create_engine(url.set(database=str(draft)))
        try:
            migrate(engine, where=str(path))
            with engine.connect() as conn:  # everything into the file itself, none in its WAL
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            engine.dispose()
        try:
            os.link(draft, path)  # never over a file another process moved there meanwhile
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(draft, path)
    finally:
        for leftover in ("", "-wal", "-shm", "-journal"):
            Path(f"{draft}{leftover}").unlink(missing_ok=True)


def _probe(path: Path) -> None:
    """Judge an existing SQLite file read-only, before a connection of ours (which turns
    on WAL) writes to it."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except (sqlite3.Error, OSError):
        return  # opening it for real says what is wrong
    try:
        tables = [
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not name.startswith("sqlite_")
        ]
        revision = None
        if "alembic_version" in tables:
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = revision[0] if revision else None
    except sqlite3.DatabaseError as exc:
        damaged = damage(str(path), exc)
        if damaged is not None:
            raise damaged from exc
        return  # busy, locked: the real open waits or says so
    finally:
        conn.close()
    _judge(str(path), revision, tables, new=False, empty_file=path.stat().st_size == 0)


def migrate(engine: Engine, *, new: bool = True, where: str | None = None) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already.

    ``new``: a database with no tables at all is ours to create (a new file, a server
    database nothing uses yet). ``where``: the store as errors name it.
    """
    where = where or describe(engine)
    try:
        with engine.connect() as conn:
            revision, tables = _schema(conn)
        if revision == HEAD and "papers" in tables:
            return
        with engine.connect() as conn:
            conn = conn.execution_options(begin_immediate=True)
            with conn.begin():  # holds the write lock: another process may be creating it
                take_turns(conn, "migrate")
                revision, tables = _schema(conn)
                _judge(where, revision, tables, new=new)
                if revision != HEAD:
                    _upgrade(conn)
    except OperationalError as exc:
        check = (
            "check that the path is right and its folder writable"
            if engine.dialect.name == "sqlite"
            else "check that the database server runs and the URL names a database on it"
        )
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else exc.orig
        raise StoreError(f"cannot open store {where}: {reason} ({check})") from exc


def _schema(conn: Connection) -> tuple[str | None, list[str]]:
    """The store's revision (None without one) and its tables."""
    tables = sa.inspect(conn).get_table_names()
    revision = None
    if "alembic_version" in tables:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return revision, tables


def _judge(
    where: str, revision: str | None, tables: list[str], *, new: bool, empty_file: bool = False
) -> None:
    """Refuse, with one line saying what to do, a database that is not a store of ours."""
    if revision is None and not tables and new:
        return
    elsewhere = "point [store] url (or DIGEST_STORE_URL) at your store"
    start_anew = "move the file away to start a new store"
    if revision is None and not tables:
        raise StoreUnusableError(
            f"store {where} is {'an empty file' if empty_file else 'an empty database'}, not "
            f"a Paper Digest store: restore the store from a backup, or {start_anew}"
        )
    if revision is None:
        shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise StoreUnusableError(
            f"store {where} is not a Paper Digest store (no schema version; tables: {shown}): "
            f"{elsewhere}, or {start_anew}"
        )
    if revision not in REVISIONS:
        raise StoreUnusableError(
            f"store {where} has schema version {revision!r}, unknown to this version of Paper "
            f"Digest (a newer release's store, or another application's): upgrade Paper "
            f"Digest, or {elsewhere}"
        )
    if "papers" not in tables:
        raise StoreUnusableError(
            f"store {where} is not a Paper Digest store (schema version {revision!r} but no "
            f"papers table): {elsewhere}, or {start_anew}"
        )


#: Alembic runs migrations through module-level proxies: one upgrade at a time per process.
_UPGRADING = threading.Lock()


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    log.info("migrating store to %s", HEAD)
    with _UPGRADING:
        command.upgrade(config, "head")


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def write_lock(engine: Engine) -> threading.Lock:
    """The lock this process's writers to one SQLite database take turns on."""
    return _WRITE_LOCKS.setdefault(engine, threading.Lock())


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the write lock from its start (SQLite) or is a plain one.

    SQLite has one writer at a time; threads of one process take turns on a lock here
    instead of in SQLite's busy handler, which sleeps in steps of milliseconds.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with write_lock(engine), engine.connect() as conn:
        conn = conn.execution_options(begin_immediate=True)
        with conn.begin():
            yield conn


def take_turns(conn: Connection, name: str) -> None:
    """Make the transactions that write ``name`` run one after another, to their end.

    Needed where a write depends on what was read first (merging a paper with its stored
    record). On SQLite every write transaction holds the one write lock from its start
    already (``write_transaction``); on PostgreSQL a transaction-level advisory lock does it,
    released by the database at commit, at rollback, and when the connection drops.
    """
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"paper-digest:{name}".encode())
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def dialect_insert(conn: Connection) -> Any:
    """The INSERT construct with ON CONFLICT for the connection's database."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert
