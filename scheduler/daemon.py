"""The Paper Digest daemon: APScheduler jobs that fetch, publish and deliver on time.

Jobs and their next run times live in the store's own database (APScheduler's
SQLAlchemy job store), so a restart keeps the plan. A run missed while the daemon was
down is made up once when it comes back (coalesced), if it is at most
``[schedule] misfire_grace`` late. Jobs run one at a time. A job that raises is logged
with its traceback by APScheduler and runs again at its next time; it never stops the
daemon, except a database that cannot be used any more (damaged, replaced, gone): that
stops the daemon with one line and a non-zero exit. The lock is renewed by a heartbeat
on a thread of its own, so a long job never lets a second daemon take over. SIGTERM or
SIGINT stops it: a delivery in progress finishes the message in flight, records it, and
the daemon exits.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import DatabaseError, OperationalError

from digest import pipeline
from digest.config import Settings, cron_trigger
from digest.errors import StoreError
from digest.store import Store
from digest.text import one_line
from digest.tokens import Tokens
from digest.transport import Transport
from scheduler import jobs
from scheduler.lock import DaemonLock, Heartbeat, LeaderLock, StoppedWaiting

if TYPE_CHECKING:
    from digest.queue.defer import Queue

log = logging.getLogger("digest.daemon")


@dataclass(frozen=True, slots=True)
class JobSpec:
    id: str
    name: str
    func: Callable[..., None]
    trigger: Any
    args: tuple[str, ...] = ()


def _schedule(trigger: Any) -> str:
    """A trigger's schedule without the moment it was made (an interval trigger starts
    when it is created), so a restart keeps the kept plan's next run times."""
    if isinstance(trigger, IntervalTrigger):
        return f"every {trigger.interval} in {trigger.timezone}, jitter {trigger.jitter}"
    return repr(trigger)


class _JobStore(SQLAlchemyJobStore):
    """APScheduler's job store in our database. A database that cannot be used any more
    while the scheduler runs stops the daemon (``failed`` says so) instead of killing the
    scheduler's thread with a traceback."""

    def __init__(self, failed: Callable[[DatabaseError], bool], **options: Any) -> None:
        super().__init__(**options)
        self._failed = failed

    def get_due_jobs(self, now: datetime) -> list[Any]:
        try:
            return super().get_due_jobs(now)  # type: ignore[no-any-return]
        except DatabaseError as exc:
            if not self._failed(exc):
                raise
            return []

    def get_next_run_time(self) -> datetime | None:
        try:
            return super().get_next_run_time()  # type: ignore[no-any-return]
        except DatabaseError as exc:
            if not self._failed(exc):
                raise
            return None

    def update_job(self, job: Any) -> None:
        try:
            super().update_job(job)
        except DatabaseError as exc:
            if not self._failed(exc):
                raise


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        transport: Transport | None = None,
        tokens: Tokens | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.transport = transport
        self.tokens = tokens or Tokens.from_environment()  # fail at start, not at each tick
        self.store = Store.open(settings.store.url)
        self.stopping = threading.Event()
        timeout = settings.schedule.lock_timeout
        self.lock: DaemonLock | LeaderLock = (
            LeaderLock(self.store, timeout, self.stopping)
            if self.store.engine.dialect.name == "postgresql"
            else DaemonLock(self.store, timeout)
        )
        #: In queue mode ([deliver] mode = "queue"), where the ticks defer their work.
        self.queue: Queue | None = None
        self.heartbeat_thread = Heartbeat(self.heartbeat, settings.schedule.lock_timeout / 4)
        #: Why the daemon stopped on its own, if it did (raised by run_forever and run_once).
        self.fatal: StoreError | None = None
        self.reported: dict[str, date] = {}
        self.scheduler = BackgroundScheduler(
            jobstores={"default": _JobStore(self._database_failed, engine=self.store.engine)},
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(settings.schedule.misfire_grace),
            },
            timezone=UTC,
        )
        self._started = False

    # the plan

    def plan(self) -> list[JobSpec]:
        zone = self.settings.site.timezone
        specs = [
            JobSpec(
                f"fetch:{s.name}",
                f"fetch {s.name}",
                jobs.fetch,
                cron_trigger(s.schedule, s.schedule_timezone or zone),
                (s.name,),
            )
            for s in self.settings.sources
            if s.enabled
        ]
        specs.append(
            JobSpec(
                "deliver",
                "deliver due editions",
                jobs.deliver,
                IntervalTrigger(seconds=self.settings.schedule.deliver_every, timezone=UTC),
            )
        )
        return specs

    def start(self, *, paused: bool = False, wait: bool = False) -> list[str]:
        """Take the lock (on PostgreSQL with ``wait``: stand by until it is free), load the
        kept plan, bring it in line with the configuration.

        Returns the ids of the jobs that were not in the kept plan yet."""
        try:
            self.lock.acquire(self.clock(), wait=wait)
            if self.settings.deliver.mode == "queue":
                from digest.queue.defer import Queue

                self.queue = Queue(self.settings, self.store)
        except BaseException:
            self.lock.release()
            self.store.close()
            raise
        self.heartbeat_thread.start()
        jobs.attach(self)
        self.scheduler.start(paused=True)
        self._started = True
        added = self._sync()
        if not paused:
            self.scheduler.resume()
        return added

    def _sync(self) -> list[str]:
        kept = {job.id: job for job in self.scheduler.get_jobs()}
        wanted = {spec.id: spec for spec in self.plan()}
        added = []
        for spec in wanted.values():
            job = kept.get(spec.id)
            if job is None:
                self.scheduler.add_job(
                    spec.func, spec.trigger, args=spec.args, id=spec.id, name=spec.name
                )
                added.append(spec.id)
            elif _schedule(job.trigger) != _schedule(spec.trigger):
                job.reschedule(spec.trigger)  # the schedule changed in the configuration
        for job_id in kept.keys() - wanted.keys():
            self.scheduler.remove_job(job_id)
        return added

    def listing(self) -> list[tuple[str, str, datetime | None]]:
        return [
            (job.id, job.name, job.next_run_time)
            for job in sorted(self.scheduler.get_jobs(), key=lambda j: j.id)
        ]

    # running

    def run_forever(self) -> None:
        """Run until SIGTERM or SIGINT, then stop cleanly."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        try:
            self.start(wait=True)
        except StoppedWaiting:
            return
        log.info(
            "daemon started: %d jobs, next: %s",
            len(self.listing()),
            ", ".join(f"{job_id} {when:%H:%M:%S}" for job_id, _, when in self.listing() if when),
        )
        while not self.stopping.wait(0.2):
            pass
        log.info("stopping")
        self.shutdown()
        if self.fatal:
            raise self.fatal

    def run_once(self) -> None:
        """Run the due jobs one time, in the pipeline's order, then stop: fetch every
        source that is due (or new to the kept plan, or never fetched yet), publish once if
        that brought anything new, then deliver what is due, new editions included."""
        added = set(self.start(paused=True))
        now = self.clock()
        try:
            fetches = sorted(
                (job for job in self.scheduler.get_jobs() if job.id.startswith("fetch:")),
                key=lambda job: job.id,
            )
            due = [job for job in fetches if job.id in added or self._fetch_due(job, now)]
            if due and not self.stopping.is_set():
                self.fetch(*(job.args[0] for job in due))
                for job in due:
                    job.modify(next_run_time=job.trigger.get_next_fire_time(None, now))
            deliver = self.scheduler.get_job("deliver")
            if deliver is not None and not self.stopping.is_set():
                self.deliver()
                deliver.modify(next_run_time=deliver.trigger.get_next_fire_time(None, now))
        finally:
            self.shutdown()
        if self.fatal:
            raise self.fatal

    def _fetch_due(self, job: Any, now: datetime) -> bool:
        if job.next_run_time is None or job.next_run_time <= now:
            return True
        # planned (by `--list`, say) but never run: a fresh database has nothing to send
        return self.store.source_state(job.args[0]).last_attempt is None

    def shutdown(self) -> None:
        self.stopping.set()
        if self._started:
            # APScheduler 3 looks at due jobs once more after shutdown(), when its executor
            # is gone already: a due run would be marked done without running. Detached
            # from the job store first, it finds nothing, and the kept plan stays as it is.
            self.scheduler.pause()
            self.scheduler.remove_jobstore("default", shutdown=False)
            self.scheduler.shutdown(wait=True)
            self._started = False
        self.heartbeat_thread.stop()
        try:
            self.lock.release()
        except DatabaseError:
            if self.fatal is None:
                raise
            # the database failed under the daemon: its lock row expires after lock_timeout
        jobs.detach(self)
        if self.queue is not None:
            self.queue.close()
        self.store.close()

    # the jobs

    def fetch(self, *sources: str) -> None:
        """Fetch the sources, then publish once if anything new arrived (in queue mode:
        defer one fetch job per source)."""
        if self.queue is not None:
            for source in sources:
                log.info("fetch %s: deferred (job %d)", source, self.queue.defer_fetch(source))
            return
        fetched = None
        with self._store_guard():
            fetched = pipeline.fetch_and_publish(
                self.settings, self.store, names=list(sources), now=self.clock
            )
        if fetched is None:
            return
        for report in fetched.sources:
            if report.failed:
                self._report_failure(report.name, report.error or "failed")
            else:
                self.reported.pop(report.name, None)
                log.info("fetch %s (%.1f s)", report.summary(), report.seconds)
        composition = fetched.published
        if composition is not None:
            log.info(
                "publish %s: %d topic editions, %d highlights",
                composition.period.key,
                len(composition.rankings),
                sum(len(r.picks) for r in composition.rankings),
            )

    def _report_failure(self, source: str, error: str) -> None:
        """A source that keeps failing is reported once a day, not at every run."""
        today = self.clock().astimezone(ZoneInfo(self.settings.site.timezone)).date()
        if self.reported.get(source) != today:
            self.reported[source] = today
            log.warning(
                "fetch %s failed: %s (reported once a day while it keeps failing)", source, error
            )
        else:
            log.debug("fetch %s failed again: %s", source, error)

    def deliver(self) -> None:
        if self.queue is not None:
            with self._store_guard():
                pipeline.confirm(
                    self.settings,
                    self.store,
                    now=self.clock(),
                    transport=self.transport,
                    tokens=self.tokens,
                )
                jobs = self.queue.defer_send(now=self.clock())
                log.info("deliver: deferred %d send jobs", len(jobs))
            return
        started = time.perf_counter()
        report = None
        with self._store_guard():
            report = pipeline.deliver(
                self.settings,
                self.store,
                now=self.clock(),
                stop=self.stopping,
                transport=self.transport,
                tokens=self.tokens,
            )
        if report is None:
            return
        log.info(
            "deliver: %s; %d not due yet (%.1f s)",
            report.summary(),
            report.not_due,
            time.perf_counter() - started,
        )
        for email, reason in report.skipped:
            log.info("deliver: skipped %s: %s", email, reason)
        if report.stopped:
            log.warning("deliver stopped: %s", report.stopped)

    def heartbeat(self) -> bool:
        """Renew the lock (on the heartbeat's own thread); False ends the beating."""
        try:
            with self._store_guard():
                if self.lock.beat(self.clock()):
                    return True
                log.error("another daemon took over the lock; stopping")
        except Exception as exc:  # noqa: BLE001 - the thread must stop the daemon, not die
            self._fail(StoreError(f"the daemon lock could not be renewed: {one_line(str(exc))}"))
        self.stopping.set()
        return False

    # failing

    @contextmanager
    def _store_guard(self) -> Iterator[None]:
        """A database that cannot be used any more stops the daemon (the job ends quietly;
        run_forever raises the error once stopped). Other failures go on up."""
        try:
            yield
        except StoreError as exc:
            self._fail(self._unusable(str(exc)))
        except DatabaseError as exc:
            if not self._database_failed(exc):
                raise

    def _database_failed(self, exc: DatabaseError) -> bool:
        """Stop for a database that cannot be used any more; False if it is only busy."""
        if isinstance(exc, OperationalError) and "locked" in str(exc.orig):
            return False  # busy for a while: the next run tries again
        self._fail(self._unusable(str(exc.orig or exc)))
        return True

    def _unusable(self, reason: str) -> StoreError:
        url = self.store.engine.url.render_as_string(hide_password=True)
        return StoreError(f"the database {url} cannot be used any more: {one_line(reason)}")

    def _fail(self, error: StoreError) -> None:
        if self.fatal is None:
            self.fatal = error
        self.stopping.set()
