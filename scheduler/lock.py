"""One daemon per database: a lock row with a heartbeat.

The lock lives in the database itself, so it also holds between machines sharing one
PostgreSQL. A daemon that stops beating for ``timeout`` seconds (it crashed, or its
machine did) loses the lock to the next one that starts.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from digest.errors import DigestError
from digest.store import Store
from digest.store.database import create_engine, dialect_insert, write_transaction
from digest.store.schema import daemon_lock


class LockHeld(DigestError):
    """Another daemon runs on this database."""


class DaemonLock:
    def __init__(self, store: Store, timeout: float, name: str = "scheduler") -> None:
        self.store = store
        self.timeout = timedelta(seconds=timeout)
        self.name = name
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def acquire(self, now: datetime) -> None:
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
