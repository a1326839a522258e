"""Deferring jobs and following them: what `digest send` in queue mode and the daemon's
ticks do instead of the work itself."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from digest.config import Settings
from digest.deliver import prune_ledger
from digest.deliver.plan import shards
from digest.deliver.shared import share_run
from digest.errors import StoreError
from digest.queue import QUEUE, RECONNECT_FOR, conninfo, ensure_schema
from digest.store import Store
from digest.store.database import write_transaction
from digest.text import one_line

__all__ = ["FINISHED", "Progress", "Queue", "shards"]

log = logging.getLogger(__name__)

#: The states of a job that will not run again.
FINISHED = ("succeeded", "failed", "cancelled", "aborted")


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    succeeded: int
    failed: int

    @property
    def done(self) -> int:
        return self.succeeded + self.failed


class Queue:
    """Defers jobs to the workers; opened for one command or one daemon."""

    def __init__(self, settings: Settings, store: Store) -> None:
        import procrastinate

        self.settings = settings
        self.store = store
        ensure_schema(store.engine)
        self.app: Any = procrastinate.App(
            connector=procrastinate.SyncPsycopgConnector(conninfo=conninfo(settings.store.url))
        )
        self.app.open()

    def close(self) -> None:
        self.app.close()

    def _defer(self, task: str, lock: str, **kwargs: Any) -> int:
        """Defer one job; if the same one waits in the queue already, that one's id."""
        from procrastinate.exceptions import AlreadyEnqueued

        try:
            job_id: int = self.app.configure_task(task, queue=QUEUE, queueing_lock=lock).defer(
                **kwargs
            )
            return job_id
        except AlreadyEnqueued:
            with self.store.engine.connect() as conn:
                found = conn.execute(
                    sa.text(
                        "SELECT id FROM procrastinate_jobs WHERE queueing_lock = :lock "
                        "AND status = 'todo' ORDER BY id DESC LIMIT 1"
                    ),
                    {"lock": lock},
                ).scalar()
            if found is None:  # it started meanwhile: defer it again for what is left
                return self._defer(task, lock, **kwargs)
            return int(found)

    def defer_send(self, period_key: str | None = None, now: datetime | None = None) -> list[int]:
        """One ``send`` job per shard of the active subscribers with anyone due at ``now``
        (their run's rankings made here once and kept for them); their job ids. Applies
        the retention of the ledger and of finished jobs first."""
        moment = now or datetime.now(UTC)
        self.prune(moment)
        at = moment.isoformat()
        return [
            self._defer(
                "digest.send",
                f"send:{first}-{last}",
                first=first,
                last=last,
                period=period_key,
                at=at,
            )
            for first, last in share_run(self.settings, self.store, moment, period_key)
        ]

    def prune(self, now: datetime) -> None:
        """``[mail] retention_days`` for the ledger and for the engine's finished jobs."""
        prune_ledger(self.settings, self.store, now)
        days = self.settings.mail.retention_days
        if not days:
            return
        with write_transaction(self.store.engine) as conn:
            gone = conn.execute(
                sa.text(
                    "DELETE FROM procrastinate_jobs j WHERE j.status::text IN :done "
                    "AND NOT EXISTS (SELECT 1 FROM procrastinate_events e "
                    "WHERE e.job_id = j.id AND e.at >= :before)"
                ).bindparams(sa.bindparam("done", expanding=True)),
                {"done": list(FINISHED), "before": now - timedelta(days=days)},
            ).rowcount
        if gone:
            log.info("deleted %d finished jobs older than %d days", gone, days)

    def defer_fetch(self, source: str) -> int:
        return self._defer("digest.fetch", f"fetch:{source}", source=source)

    def defer_publish(self, day: str) -> int:
        return self._defer("digest.publish", f"publish:{day}", day=day)

    def progress(self, job_ids: Sequence[int]) -> Progress:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT status, count(*) FROM procrastinate_jobs "
                    "WHERE id = ANY(:ids) GROUP BY status"
                ),
                {"ids": list(job_ids)},
            ).all()
        counts = {str(status): int(n) for status, n in rows}
        failed = sum(counts.get(s, 0) for s in FINISHED[1:])
        return Progress(len(job_ids), counts.get("succeeded", 0), failed)

    def wait(
        self,
        job_ids: Sequence[int],
        on_progress: Callable[[int], None] | None = None,
        every: float = 0.5,
    ) -> Progress:
        """Until every job finished; ``on_progress`` gets the number newly finished. A lost
        connection (the database restarting) is waited out for ``RECONNECT_FOR`` seconds."""
        seen = 0
        lost_since: float | None = None
        while True:
            try:
                progress = self.progress(job_ids)
            except sa.exc.OperationalError as exc:  # the pool reconnects on the next try
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > RECONNECT_FOR:
                    raise StoreError(
                        f"lost the database for {RECONNECT_FOR:.0f} s while waiting for the "
                        f"jobs: {one_line(str(exc.orig or exc), 200)}"
                    ) from exc
                time.sleep(every)
                continue
            lost_since = None
            if on_progress and progress.done > seen:
                on_progress(progress.done - seen)
            seen = progress.done
            if progress.done >= progress.total:
                return progress
            time.sleep(every)
