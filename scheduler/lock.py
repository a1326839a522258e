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
from digest.store.database import create_engine, write_transaction
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
        with write_transaction(self.store.engine) as conn:
            row = (
                conn.execute(sa.select(daemon_lock).where(daemon_lock.c.name == self.name))
                .mappings()
                .first()
            )
            if row is None:
                conn.execute(
                    daemon_lock.insert().values(
                        name=self.name, holder=self.holder, acquired_at=now, heartbeat_at=now
                    )
                )
                return
            if row["holder"] != self.holder and now - row["heartbeat_at"] < self.timeout:
                raise LockHeld(
                    f"another digest daemon runs on this database ({row['holder']}, alive at "
                    f"{row['heartbeat_at']:%Y-%m-%d %H:%M:%S} UTC); stop it first, or wait "
                    f"{int(self.timeout.total_seconds())} s after it died"
                )
            conn.execute(
                daemon_lock.update()
                .where(daemon_lock.c.name == self.name)
                .values(holder=self.holder, acquired_at=now, heartbeat_at=now)
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
