"""Sending a run's jobs: worker threads, one transport connection each, sharing a queue.

Each edition's ledger row is claimed right before its message is handed over and its
outcome written with the next claim. Whatever goes wrong with one message (an address
that cannot be written, a template error, a server answer) is that delivery's recorded
failure; a transport that cannot take anything stops the run, and what was not sent is
due again next time. No worker ends without saying why.
"""

from __future__ import annotations

import gc
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from digest.compose import Edition
from digest.compose.personal import superset_of
from digest.config import Settings
from digest.deliver.claims import claimant
from digest.deliver.prepare import Job
from digest.deliver.report import SendReport
from digest.errors import DigestError
from digest.links import Links
from digest.message import MessageBuilder, Outgoing
from digest.render import HTML_LIMIT, EmailKit, RenderedEmail, Renderer
from digest.store import Delivery, LedgerGroup, LedgerWriter, Outcome, Store
from digest.text import one_line
from digest.tokens import Tokens
from digest.transport import Connection, Result, Transport, TransportUnavailable

log = logging.getLogger(__name__)


class Dispatcher:
    """Worker threads, one transport connection each, sharing the job queue."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        transport: Transport,
        tokens: Tokens,
        report: SendReport,
        now: datetime,
        on_progress: Callable[[int], None] | None,
        stop: threading.Event,
        sleep: Callable[[float], None],
        me: str | None = None,
        started: datetime | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.transport = transport
        self.tokens = tokens
        self.report = report
        self.now = now
        #: when the sending starts by the clock (a queued shard starts after its run's moment)
        self.started = started or now
        self.on_progress = on_progress
        self.stop = stop
        self.sleep = sleep
        self.renderer = Renderer(settings)
        self.builder = MessageBuilder(settings)
        self.links = Links(settings)
        self.me = me or claimant()
        self._began = time.monotonic()  # the clock's reference
        self.lock = threading.Lock()
        self.kits: dict[str, EmailKit | None] = {}

    def clock(self) -> datetime:
        """The time the ledger stamps claims and sends with: the sending's start, moved on
        by the time spent since."""
        return self.started + timedelta(seconds=time.monotonic() - self._began)

    def prepare_kits(self, jobs: list[Job]) -> None:
        """Render each period's shared email parts once."""
        by_period: dict[str, list[Edition]] = {}
        for job in jobs:
            by_period.setdefault(job.due.period.key, []).append(job.edition)
        for key, editions in by_period.items():
            superset = superset_of((e for e in editions if e.sections), self.now)
            self.kits[key] = self.renderer.kit(superset) if superset else None

    def run(self, jobs: list[Job]) -> None:
        self.prepare_kits(jobs)
        gc.freeze()  # the run's editions live to its end: no collection needs to walk them
        try:
            self._run(jobs)
        finally:
            gc.unfreeze()

    def _run(self, jobs: list[Job]) -> None:
        work: queue.Queue[Job] = queue.Queue()
        for job in jobs:
            work.put(job)
        count = min(self.transport.max_connections, max(1, len(jobs)))
        connections: list[Connection] = []
        group: LedgerGroup | None = None
        try:
            for _ in range(count):  # here, so a transport that cannot start is one error
                connections.append(self.transport.connect())
            group = self.store.ledger_group()  # the threads' ledger steps committed together
        except BaseException:
            for connection in connections:
                connection.close()
            raise
        threads = [
            threading.Thread(target=self._work, args=(work, c, group), daemon=True)
            for c in connections
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            if group is not None:
                group.close()

    def _work(
        self, work: queue.Queue[Job], connection: Connection, group: LedgerGroup | None
    ) -> None:
        try:
            writer = self.store.ledger_writer(group)
        except Exception as exc:
            connection.close()
            self._halt(f"cannot write the delivery ledger: {exc}")
            return
        outcome: Outcome | None = None  # of the last message, written with the next claim
        try:
            while not self.stop.is_set():
                try:
                    job = work.get_nowait()
                except queue.Empty:
                    break
                message_id = self._claim(writer, job, outcome)
                outcome = None
                if message_id is None:
                    self._skip(job.due.subscriber.email, "claimed by another run")
                    continue
                outcome = self._outcome(job, self._deliver(connection, job, message_id))
                if self.on_progress:
                    self.on_progress(1)
            if outcome is not None:
                writer.step(outcome)
        except Exception as exc:  # the ledger itself failed: nothing more can be recorded
            log.exception("delivery worker stopped")
            self._halt(f"delivery stopped: {one_line(str(exc), 200) or type(exc).__name__}")
        finally:
            writer.close()
            connection.close()

    def _deliver(self, connection: Connection, job: Job, message_id: str) -> Result:
        """Build and send one message; any failure of its own is that delivery's result."""
        try:
            message = self.message(job, message_id)
        except DigestError as exc:
            return Result("failed", None, one_line(str(exc), 300))
        except Exception as exc:
            log.exception("building the message for %s failed", job.due.subscriber.email)
            return Result("failed", None, f"cannot build the message: {_describe(exc)}")
        try:
            return self._send(connection, message)
        except DigestError as exc:
            return Result("failed", None, one_line(str(exc), 300))
        except Exception as exc:
            log.exception("sending to %s failed", job.due.subscriber.email)
            connection.close()  # its state is unknown: the next message opens a fresh one
            return Result("failed", None, f"cannot send: {_describe(exc)}")

    def _claim(self, writer: LedgerWriter, job: Job, outcome: Outcome | None) -> str | None:
        """Claim the edition right before its message is handed over; its Message-ID if
        this run owns it now, None if another run got there first."""
        existing = job.due.existing
        if existing is not None:
            owned = writer.step(outcome, reclaim=(existing, self.me, self.clock()))
            return existing.message_id if owned else None
        sub, period = job.due.subscriber, job.due.period
        message_id = f"{period.key}.{sub.id}.{secrets.token_hex(6)}"
        owned = writer.step(
            outcome,
            claim=Delivery(
                subscriber_id=sub.id,
                period=period.key,
                status="pending",
                attempts=0,
                last_error=None,
                message_id=message_id,
                papers=tuple((topic, paper) for topic, paper in job.papers),
                window_start=job.due.window_start,
                window_end=self.now,
                claimed_by=self.me,
                claimed_at=self.clock(),
            ),
        )
        return message_id if owned else None

    def message(self, job: Job, message_id: str) -> Outgoing:
        """The finished message for one job: parts joined, links signed, MIME built."""
        sub = job.due.subscriber
        rendered = self._render(job)
        links = self.links.reader(self.tokens, sub.id)
        html, text = rendered.fill(links.unsubscribe, links.preferences)
        return self.builder.build(
            to=sub.email,
            subject=rendered.subject,
            text=text,
            html=html,
            message_id=message_id,
            date=self.clock(),  # when it is handed over, not the run's moment
            list_slug="digest",
            unsubscribe_url=links.unsubscribe,
            unsubscribe_mailto=links.unsubscribe_mailto,
        )

    def _render(self, job: Job) -> RenderedEmail:
        kit = self.kits.get(job.due.period.key)
        if kit is not None and job.edition.sections and kit.covers(job.edition):
            rendered = kit.assemble(job.edition)
            if len(rendered.html.encode()) <= HTML_LIMIT:
                return rendered
        return self.renderer.email(job.edition)

    def _send(self, connection: Connection, message: Outgoing) -> Result:
        delays = list(self.settings.mail.retry_delays)
        while True:
            try:
                result = connection.send(message)
            except TransportUnavailable as exc:
                self._halt(str(exc))
                return Result("retry", None, str(exc))
            if result.status != "retry" or not delays or self.stop.is_set():
                return result
            self.sleep(delays.pop(0))

    def _outcome(self, job: Job, result: Result) -> Outcome:
        """Count the result, and what the ledger should say about it."""
        sub, key, now = job.due.subscriber, job.due.period.key, self.clock()
        mail = self.settings.mail
        if result.status == "sent":
            with self.lock:
                self.report.sent += 1
            return Outcome(sub.id, key, "sent", now)
        if result.status == "bounced":
            log.warning("%s bounced (%s)", sub.email, result.detail)
            with self.lock:
                self.report.bounced += 1
            return Outcome(
                sub.id, key, "bounced", now, result.detail, bounce_limit=mail.bounce_limit
            )
        attempts = (job.due.existing.attempts if job.due.existing else 0) + 1
        if result.status == "failed" or attempts >= mail.max_attempts:
            log.warning("%s failed (%s)", sub.email, result.detail)
            with self.lock:
                self.report.failed += 1
            return Outcome(sub.id, key, "failed", now, result.detail)
        with self.lock:
            self.report.retried += 1
        later = now + timedelta(seconds=mail.retry_after * 2 ** (attempts - 1))
        return Outcome(sub.id, key, "retry", now, result.detail, later)

    def _skip(self, email: str, reason: str) -> None:
        with self.lock:
            self.report.skipped.append((email, reason))

    def _halt(self, reason: str) -> None:
        with self.lock:
            self.report.stopped = self.report.stopped or reason
        self.stop.set()


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {one_line(str(exc), 200)}".rstrip(": ")
