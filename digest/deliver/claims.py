"""Who holds a ledger claim, and whether they are still alive.

A claim names its sender. A process sending inline (``digest send``, the SQLite daemon)
is ``host:pid:start``: on its own host a dead process is seen at once, elsewhere only
after ``[mail] claim_timeout``. A queue worker is ``worker:<id>/<job>:<name>``, its id the
one the engine gives it in ``procrastinate_workers``, where it beats every few seconds, and
the job the one that sends the shard: a claim whose worker stopped beating (or left that
table) is retaken by any host within :data:`WORKER_SILENCE` seconds, however long
``claim_timeout`` is; so is a claim whose worker no longer runs that job (the shard went
back to the queue when the database restarted under it, and runs again anywhere).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.store import Delivery

#: Seconds without a heartbeat after which a worker counts as gone (it beats every 10 s).
WORKER_SILENCE = 30.0

_STARTED = datetime.now().timestamp()


def claimant() -> str:
    """Who claims editions in this process when it sends inline: host, pid, start time."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(_STARTED)}"


def worker_claimant(worker_id: int, name: str | None, job_id: int | None = None) -> str:
    """Who claims editions in a queue worker: the engine's worker id, the job sending (if
    any) and the worker's name."""
    job = f"/{job_id}" if job_id is not None else ""
    return f"worker:{worker_id}{job}:{name or 'worker'}"


def live_workers(engine: Engine, silence: float = WORKER_SILENCE) -> frozenset[int]:
    """The ids of the queue workers that beat within ``silence`` seconds."""
    query = sa.text(
        "SELECT id FROM procrastinate_workers "
        "WHERE last_heartbeat > now() - make_interval(secs => :silence)"
    )
    with engine.connect() as conn:
        return frozenset(int(i) for (i,) in conn.execute(query, {"silence": silence}))


def running_jobs(engine: Engine) -> frozenset[tuple[int, int]]:
    """The (job id, worker id) of the queue's jobs being run now."""
    query = sa.text(
        "SELECT id, worker_id FROM procrastinate_jobs "
        "WHERE status = 'doing' AND worker_id IS NOT NULL"
    )
    with engine.connect() as conn:
        return frozenset((int(j), int(w)) for j, w in conn.execute(query))


class Liveness:
    """Judges the ``pending`` claims of one plan (the live workers read once, when needed)."""

    def __init__(self, engine: Engine, timeout: float, me: str | None = None) -> None:
        self.engine = engine
        self.timeout = timeout
        self.me = me or claimant()
        self._workers: frozenset[int] | None = None
        self._running: frozenset[tuple[int, int]] | None = None

    def workers(self) -> frozenset[int]:
        if self._workers is None:
            self._workers = live_workers(self.engine)
        return self._workers

    def running(self) -> frozenset[tuple[int, int]]:
        if self._running is None:
            self._running = running_jobs(self.engine)
        return self._running

    def abandoned(self, delivery: Delivery, now: datetime) -> bool:
        """Whether a ``pending`` claim's sender is gone."""
        by = delivery.claimed_by or ""
        if by == self.me:
            return True  # an earlier attempt of this very sender
        if by.startswith("worker:") and self.engine.dialect.name == "postgresql":
            worker, _, job = by.split(":")[1].partition("/")
            if not worker.isdigit() or int(worker) not in self.workers():
                return True
            return job.isdigit() and (int(job), int(worker)) not in self.running()
        if delivery.claimed_at is None or now - delivery.claimed_at > timedelta(
            seconds=self.timeout
        ):
            return True
        host, _, rest = by.partition(":")
        pid_text = rest.partition(":")[0]
        if host != socket.gethostname() or not pid_text.isdigit():
            return False
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
