"""Delivery: every due edition goes out once.

For each due subscriber the edition is composed (from rankings shared by the run), its
ledger row is claimed, the message is handed to the transport, and the outcome recorded:
the claim is committed before the hand-over and ``sent`` right after the server accepts,
so a crash can leave at most the messages in flight unrecorded, and the ledger shows them
as ``pending`` (a later run sends them again, with the same Message-ID). 4xx answers and
dropped connections are retried within the run after ``retry_delays`` and then by later
runs, up to ``max_attempts``; a 5xx for the recipient marks the edition ``bounced`` and,
after ``bounce_limit`` bounces, the subscriber too. One recipient's failure never stops
the others; a transport that cannot take anything (server down, login refused) stops the
run, and what was not sent is due again next time.
"""

from __future__ import annotations

import gc
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digest.compose import Edition
from digest.config import Settings
from digest.deliver.editions import SharedRankings, personal_edition, stored_edition, superset_of
from digest.deliver.plan import Due, Plan, claimant, plan
from digest.emailkit import EmailKit
from digest.message import MessageBuilder, Outgoing
from digest.render import HTML_LIMIT, RenderedEmail, Renderer
from digest.store import Delivery, LedgerWriter, Outcome, Store
from digest.tokens import Tokens
from digest.transport import Connection, Result, Transport, TransportUnavailable, transport_for

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    bounced: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    not_due: int = 0
    done_before: int = 0
    planned: list[tuple[str, str, int]] = field(default_factory=list)
    stopped: str | None = None

    def summary(self) -> str:
        return (
            f"sent {self.sent}, skipped {len(self.skipped)}, retried {self.retried}, "
            f"failed {self.failed}, bounced {self.bounced}"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "skipped": len(self.skipped),
            "retried": self.retried,
            "failed": self.failed,
            "bounced": self.bounced,
            "not_due": self.not_due,
            "already_sent": self.done_before,
            "stopped": self.stopped,
            "skipped_reasons": [{"email": e, "reason": r} for e, r in self.skipped],
        }


@dataclass(slots=True)
class Job:
    due: Due
    edition: Edition

    @property
    def papers(self) -> list[list[str]]:
        """The edition as the ledger keeps it: (topic, paper) pairs in order."""
        return [[s.topic.slug, h.paper.id] for s in self.edition.sections for h in s.highlights]


@dataclass(slots=True)
class Prepared:
    """A run's plan turned into jobs: each due subscriber's edition, composed."""

    report: SendReport
    jobs: list[Job]


def prepare(
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    period_key: str | None = None,
    limit: int | None = None,
    schedule: Plan | None = None,
) -> Prepared:
    """Plan the run (unless ``schedule`` is that plan) and compose every due edition:
    each topic ranked once per window, every subscriber's choice made from those."""
    report = SendReport()
    schedule = schedule or plan(settings, store, now, period_key=period_key)
    report.not_due, report.done_before = schedule.not_due, schedule.done
    report.skipped += [(s.email, reason) for s, reason in schedule.skipped]
    if not schedule.due:
        return Prepared(report, [])
    needs = {
        (d.existing.window_start if d.existing else d.window_start, t)
        for d in schedule.due
        for t in d.subscriber.topics
    }
    with _paused_gc():
        shared = SharedRankings(settings, store, needs, now, now)
        jobs: list[Job] = []
        for due in schedule.due:
            sub = due.subscriber
            if due.existing is not None:
                edition = stored_edition(
                    shared,
                    store,
                    due.period,
                    due.existing.papers,
                    due.existing.window_start,
                    due.existing.window_end,
                    now,
                )
            else:
                edition = personal_edition(
                    shared,
                    sub.topics,
                    due.period,
                    due.window_start,
                    now,
                    sub.max_papers or settings.mail.max_papers,
                    now,
                )
            if not edition.highlights and not settings.mail.send_empty and due.existing is None:
                report.skipped.append((sub.email, _empty_reason(sub.topics, due.window_start)))
                continue
            jobs.append(Job(due, edition))
    return Prepared(report, jobs[:limit] if limit is not None else jobs)


def send_due(
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    period_key: str | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    transport: Transport | None = None,
    tokens: Tokens | None = None,
    on_progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SendReport:
    """Send every edition that is due at ``now`` (or for the period ``period_key``)."""
    prepared = prepare(settings, store, now=now, period_key=period_key, limit=limit)
    report = prepared.report
    if dry_run:
        report.planned = [
            (j.due.subscriber.email, j.due.period.key, len(j.papers)) for j in prepared.jobs
        ]
        return report
    if not prepared.jobs:
        return report
    dispatcher = Dispatcher(
        settings,
        store,
        transport or transport_for(settings),
        tokens or Tokens.from_environment(),
        report,
        now,
        on_progress,
        stop or threading.Event(),
        sleep,
    )
    dispatcher.run(prepared.jobs)
    return report


@contextmanager
def _paused_gc() -> Iterator[None]:
    """Composing 100,000 editions allocates millions of small objects, none of them in
    cycles; with the cycle collector paused, it does not walk everything built so far
    again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _empty_reason(topics: tuple[str, ...], since: datetime) -> str:
    return (
        f"empty edition: no new papers matched {', '.join(topics)} since {since:%Y-%m-%d %H:%M} UTC"
    )


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
    ) -> None:
        self.settings = settings
        self.store = store
        self.transport = transport
        self.tokens = tokens
        self.report = report
        self.now = now
        self.on_progress = on_progress
        self.stop = stop
        self.sleep = sleep
        self.renderer = Renderer(settings)
        self.builder = MessageBuilder(settings)
        self.me = claimant()
        self._started = time.monotonic()
        self.lock = threading.Lock()
        self.kits: dict[str, EmailKit | None] = {}

    def clock(self) -> datetime:
        """The run's time: its start as given, moved on by the time spent since."""
        return self.now + timedelta(seconds=time.monotonic() - self._started)

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
        workers = 1 if self.transport.name == "outbox" else self.settings.mail.smtp.connections
        threads = [
            threading.Thread(target=self._work, args=(work,), daemon=True)
            for _ in range(min(workers, max(1, len(jobs))))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _work(self, work: queue.Queue[Job]) -> None:
        connection = self.transport.connect()
        writer = self.store.ledger_writer()
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
                result = self._send(connection, self.message(job, message_id))
                outcome = self._outcome(job, result)
                if self.on_progress:
                    self.on_progress(1)
        finally:
            if outcome is not None:
                writer.step(outcome)
            writer.close()
            connection.close()

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
        base = self.settings.site.base_url
        unsubscribe_token = self.tokens.make("unsubscribe", sub.id)
        unsubscribe = f"{base}/unsubscribe/{unsubscribe_token}"
        preferences = f"{base}/preferences/{self.tokens.make('preferences', sub.id)}"
        html, text = rendered.fill(unsubscribe, preferences)
        return self.builder.build(
            to=sub.email,
            subject=rendered.subject,
            text=text,
            html=html,
            message_id=message_id,
            date=self.now,
            list_slug="digest",
            unsubscribe_url=unsubscribe,
            unsubscribe_mailto=f"mailto:{self.settings.unsubscribe_address}"
            f"?subject=unsubscribe%20{unsubscribe_token}",
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
                with self.lock:
                    self.report.stopped = str(exc)
                self.stop.set()
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
        if attempts >= mail.max_attempts:
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
