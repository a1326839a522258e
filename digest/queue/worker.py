"""`digest worker`: runs the queued jobs on any machine that reaches the store.

Each job calls :mod:`digest.pipeline`. A ``send`` shard claims its editions in the
worker's and the job's name (``worker:<id>/<job>:<name>``, see :mod:`digest.deliver.claims`).
SIGTERM or SIGINT stops the worker: a shard being sent finishes the message in flight,
records it, and goes back to the queue for the rest (any worker picks it up), then the
worker exits. A job that lost the database (a restart) goes back to the queue too, and the
engine's own queries wait for it (:mod:`digest.queue.connector`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from digest import pipeline
from digest.config import Settings
from digest.deliver.claims import WORKER_SILENCE, worker_claimant
from digest.errors import DigestError, StoreError
from digest.queue import QUEUE, RECONNECT_FOR, conninfo, ensure_schema
from digest.queue.connector import Connector
from digest.store import Store
from digest.tokens import Tokens
from digest.transport import Transport

log = logging.getLogger("digest.worker")

#: How often every worker looks for jobs whose worker stopped beating (seconds): with
#: :data:`WORKER_SILENCE`, a dead worker's shard runs again within a minute.
RETAKE_EVERY = 10.0
#: How often a worker records that it is alive (seconds): see :data:`WORKER_SILENCE`.
HEARTBEAT_EVERY = 10.0
#: How often an idle worker asks for jobs besides the database's notifications (seconds):
#: a job put back (retried, or retaken) is not notified, so it waits at most this long.
POLL_EVERY = 5.0
#: How often a running job is checked for an abort request: never asked for here, so
#: rarely (each check is a query).
ABORT_POLL_EVERY = 300.0


class ShardUnfinished(DigestError):
    """A shard stopped before its end (the worker stops, or the relay took nothing):
    the job goes back to the queue."""


class ShardStop(threading.Event):
    """One shard's stop: set when the worker stops, or by the shard itself (a relay that
    takes nothing, a lost ledger), which stops that shard and not the worker."""

    def __init__(self, worker: threading.Event) -> None:
        super().__init__()
        self.worker = worker

    def is_set(self) -> bool:
        return super().is_set() or self.worker.is_set()


@dataclass
class Runtime:
    """What a worker's jobs share: the settings, one store, the stop signal."""

    settings: Settings
    store: Store
    transport: Transport | None = None
    tokens: Tokens | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def fetch(self, source: str) -> None:
        fetched = pipeline.fetch_and_publish(self.settings, self.store, names=[source])
        for report in fetched.sources:
            log.info("fetch %s", report.summary())

    def publish(self, day: str) -> None:
        composition = pipeline.publish_day(self.settings, self.store, date.fromisoformat(day))
        log.info("publish %s: %d topic editions", day, len(composition.rankings))

    def send(self, me: str, first: int, last: int, period: str | None, at: str | None) -> None:
        report = pipeline.send_shard(
            self.settings,
            self.store,
            first,
            last,
            now=datetime.fromisoformat(at) if at else datetime.now(UTC),
            claimant=me,
            period_key=period,
            transport=self.transport,
            tokens=self.tokens or Tokens.from_environment(),
            stop=ShardStop(self.stopping),
        )
        log.info("send %d-%d: %s", first, last, report.summary())
        if report.stopped:
            raise ShardUnfinished(f"send {first}-{last} stopped: {report.stopped}")
        if self.stopping.is_set():
            raise ShardUnfinished(f"send {first}-{last} stopped: the worker stops")


def build_app(runtime: Runtime) -> Any:
    """The engine's app with the jobs registered, bound to ``runtime``."""
    import procrastinate

    url = runtime.settings.store.url
    app = procrastinate.App(connector=Connector(conninfo=conninfo(url), stopping=runtime.stopping))
    # a job that lost the database (a restart) runs again once it answers
    lost = {sa.exc.OperationalError}
    retry = procrastinate.RetryStrategy(
        max_attempts=50, wait=2, retry_exceptions={ShardUnfinished, *lost}
    )
    again = procrastinate.RetryStrategy(max_attempts=50, wait=2, retry_exceptions=lost)

    @app.task(name="digest.fetch", queue=QUEUE, retry=again)
    def fetch(source: str) -> None:
        runtime.fetch(source)

    @app.task(name="digest.publish", queue=QUEUE, retry=again)
    def publish(day: str) -> None:
        runtime.publish(day)

    @app.task(name="digest.send", queue=QUEUE, pass_context=True, retry=retry)
    def send(
        context: Any, first: int, last: int, period: str | None = None, at: str | None = None
    ) -> None:
        """``at``: the moment of the run that deferred it (its rankings are kept under it)."""
        me = worker_claimant(context.job.worker_id, context.worker_name, context.job.id)
        runtime.send(me, first, last, period, at)

    return app


async def retake(app: Any, stopping: threading.Event) -> None:
    """Every :data:`RETAKE_EVERY` seconds, put back the jobs of workers that stopped
    beating, wherever they ran (a side task of every worker, not a job: it runs while
    the worker's job slots are busy, and costs one query when nothing stalled)."""
    from procrastinate.exceptions import ConnectorException

    while not stopping.is_set():
        await asyncio.sleep(RETAKE_EVERY)
        try:
            stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=WORKER_SILENCE)
            for job in stalled:
                log.warning("job %s: its worker stopped beating; running it again", job.call_string)
                try:
                    await app.job_manager.retry_job(job)
                except ConnectorException:  # another worker put it back first
                    continue
        except ConnectorException as exc:  # the database is away: the next round tries again
            log.warning("looking for stalled jobs failed: %s", exc)


def run_worker(
    settings: Settings,
    *,
    concurrency: int = 1,
    name: str | None = None,
    transport: Transport | None = None,
) -> None:
    """Run jobs until SIGTERM or SIGINT; then finish the messages in flight and return."""
    store = Store.open(settings.store.url)
    try:
        ensure_schema(store.engine)
        runtime = Runtime(settings, store, transport, Tokens.from_environment())
        asyncio.run(_work(build_app(runtime), runtime, concurrency, name))
    finally:
        store.close()


async def _work(app: Any, runtime: Runtime, concurrency: int, name: str | None) -> None:
    async with app.open_async():
        task = asyncio.create_task(
            app.run_worker_async(
                queues=[QUEUE],
                concurrency=concurrency,
                name=name,
                install_signal_handlers=False,
                stalled_worker_timeout=WORKER_SILENCE,
                update_heartbeat_interval=HEARTBEAT_EVERY,
                fetch_job_polling_interval=POLL_EVERY,
                abort_job_polling_interval=ABORT_POLL_EVERY,
            )
        )
        retaking = asyncio.create_task(retake(app, runtime.stopping))
        loop = asyncio.get_running_loop()

        def stop() -> None:
            log.info("stopping: finishing the messages in flight")
            runtime.stopping.set()
            task.cancel()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop)
        try:
            await task
        except asyncio.CancelledError:
            if not runtime.stopping.is_set():
                raise
        finally:
            retaking.cancel()
        if not runtime.stopping.is_set():  # the engine stopped on its own: say so, exit 1
            raise StoreError(
                "the worker stopped on its own (the log above says why; the database is "
                f"waited for {RECONNECT_FOR:.0f} s): start it again"
            )
