"""One daemon per database.

On SQLite, a lock row with a heartbeat: a daemon that stops beating for ``timeout``
seconds (it crashed) loses the lock to the next one that starts. On PostgreSQL, a
session-level advisory lock (:class:`LeaderLock`): every `digest schedule` competes for it,
the holder leads, the others wait as hot standbys; the database releases it when the
leader's connection drops (TCP keepalives set to ``timeout`` find a dead machine), and a
standby takes over within ``timeout`` seconds.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from digest.errors import DigestError
from digest.store import Store
from digest.store.database import create_engine, dialect_insert, write_transaction
from digest.store.schema import daemon_lock

log = logging.getLogger("digest.daemon")

#: The advisory lock every `digest schedule` on one PostgreSQL database competes for.
LEADER_KEY = 0x6469_6765_7374_02  # "digest" 2


class LockHeld(DigestError):
    """Another daemon runs on this database."""


class StoppedWaiting(DigestError):
    """A standby daemon was stopped before it led."""


class DaemonLock:
    def __init__(self, store: Store, timeout: float, name: str = "scheduler") -> None:
        self.store = store
        self.timeout = timedelta(seconds=timeout)
        self.name = name
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def acquire(self, now: datetime, wait: bool = False) -> None:
        """Take the lock: one upsert, so of two daemons starting (or taking over a stale
        lock) at once exactly one wins, and the other is told who holds it."""
        taken = {"holder": self.holder, "acquired_at": now, "heartbeat_at": now}
        with write_transaction(self.store.engine) as conn:
            insert = dialect_insert(conn)(daemon_lock).values(name=self.name, **taken)
            won = conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["name"],
                    set_=taken,
                    where=(daemon_lock.c.holder == self.holder)
                    | (daemon_lock.c.heartbeat_at <= now - self.timeout),
                ).execution_options(preserve_rowcount=True)
            ).rowcount
            if won:
                return
            row = (
                conn.execute(sa.select(daemon_lock).where(daemon_lock.c.name == self.name))
                .mappings()
                .one()
            )
        raise LockHeld(
            f"another digest daemon runs on this database ({row['holder']}, alive at "
            f"{row['heartbeat_at']:%Y-%m-%d %H:%M:%S} UTC); stop it first, or wait "
            f"{int(self.timeout.total_seconds())} s after it died"
        )

    def beat(self, now: datetime) -> bool:
        """Show this daemon is alive; False if the lock was taken over meanwhile.

        Each beat opens a connection of its own (the heartbeat runs beside the jobs), so it
        also sees the database file as it is on disk now: damaged, replaced or gone."""
        engine = create_engine(self.store.engine.url.render_as_string(hide_password=False))
        try:
            with write_transaction(engine) as conn:
                result = conn.execute(
                    daemon_lock.update()
                    .where(daemon_lock.c.name == self.name, daemon_lock.c.holder == self.holder)
                    .values(heartbeat_at=now)
                )
                return bool(result.rowcount)
        finally:
            engine.dispose()

    def release(self) -> None:
        with write_transaction(self.store.engine) as conn:
            conn.execute(
                daemon_lock.delete().where(
                    daemon_lock.c.name == self.name, daemon_lock.c.holder == self.holder
                )
            )


class LeaderLock:
    """Leadership among the daemons on one PostgreSQL database (a session advisory lock)."""

    def __init__(self, store: Store, timeout: float, stopping: threading.Event) -> None:
        from digest.queue import conninfo

        self.conninfo = conninfo(store.engine.url.render_as_string(hide_password=False))
        self.timeout = timeout
        self.stopping = stopping
        self.conn: Any = None

    def _connect(self) -> Any:
        import psycopg

        idle = max(1, int(self.timeout / 3))
        probe = max(1, idle // 3)
        conn = psycopg.connect(
            self.conninfo,
            autocommit=True,
            application_name="digest schedule",
            keepalives=1,
            keepalives_idle=idle,
            keepalives_interval=probe,
            keepalives_count=3,
        )
        # the server's side of the same: a leader whose machine died loses the lock in time
        for name, value in (
            ("tcp_keepalives_idle", idle),
            ("tcp_keepalives_interval", probe),
            ("tcp_keepalives_count", 3),
        ):
            conn.execute(f"SET {name} = {int(value)}")
        return conn

    def acquire(self, now: datetime, wait: bool = False) -> None:
        """Lead; with ``wait``, stand by until the leader is gone (or this daemon stops)."""
        conn = self._connect()
        announced = False
        while not conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_KEY,)).fetchone()[0]:
            if not wait:
                conn.close()
                raise LockHeld(
                    "another digest daemon leads on this database; `digest schedule` without "
                    "options waits as a standby and takes over when it stops"
                )
            if not announced:
                log.info("standby: another digest schedule leads; taking over when it stops")
                announced = True
            if self.stopping.wait(min(1.0, self.timeout / 4)):
                conn.close()
                raise StoppedWaiting("stopped while standing by")
        self.conn = conn
        if announced:
            log.info("leading: the previous leader is gone")

    def beat(self, now: datetime) -> bool:
        """Whether this daemon still leads (its session, and so its lock, is alive)."""
        self.conn.execute("SELECT 1")
        return True

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (LEADER_KEY,))
            finally:
                self.conn.close()
                self.conn = None


class Heartbeat:
    """Calls ``beat`` every ``every`` seconds on a thread of its own, so a long job (a
    delivery, a slow fetch) never keeps the lock from being renewed."""

    def __init__(self, beat: Callable[[], bool], every: float) -> None:
        self.beat = beat
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="digest-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            if not self.beat():
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
