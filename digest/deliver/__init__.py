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

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digest.compose import Edition
from digest.config import Settings
from digest.deliver.editions import SharedRankings, personal_edition, stored_edition, superset_of
from digest.deliver.plan import Due, claimant, plan
from digest.emailkit import EmailKit
from digest.message import MessageBuilder, Outgoing
from digest.render import HTML_LIMIT, RenderedEmail, Renderer
from digest.store import Delivery, Store
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
class _Job:
    due: Due
    edition: Edition
    papers: list[list[str]]


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
    report = SendReport()
    schedule = plan(settings, store, now, period_key=period_key)
    report.not_due, report.done_before = schedule.not_due, schedule.done
    report.skipped += [(s.email, reason) for s, reason in schedule.skipped]
    if not schedule.due:
        return report
    if not dry_run:
        tokens = tokens or Tokens.from_environment()
        transport = transport or transport_for(settings)
    shared = SharedRankings(
        settings,
        store,
        {t for d in schedule.due for t in d.subscriber.topics},
        min(d.window_start for d in schedule.due),
        now,
        now,
    )
    jobs: list[_Job] = []
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
        papers = [[s.topic.slug, h.paper.id] for s in edition.sections for h in s.highlights]
        jobs.append(_Job(due, edition, papers))
    if limit is not None:
        jobs = jobs[:limit]
    if dry_run:
        report.planned = [(j.due.subscriber.email, j.due.period.key, len(j.papers)) for j in jobs]
        return report
    assert transport is not None and tokens is not None
    _Dispatch(
        settings,
        store,
        transport,
        tokens,
        report,
        now,
        on_progress,
        stop or threading.Event(),
        sleep,
    ).run(jobs)
    return report


def _empty_reason(topics: tuple[str, ...], since: datetime) -> str:
    return (
        f"empty edition: no new papers matched {', '.join(topics)} since {since:%Y-%m-%d %H:%M} UTC"
    )


class _Dispatch:
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

    def run(self, jobs: list[_Job]) -> None:
        by_period: dict[str, list[Edition]] = {}
        for job in jobs:
            by_period.setdefault(job.due.period.key, []).append(job.edition)
        for key, editions in by_period.items():
            superset = superset_of(e for e in editions if e.sections)
            self.kits[key] = self.renderer.kit(superset) if superset else None
        work: queue.Queue[_Job] = queue.Queue()
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

    def _work(self, work: queue.Queue[_Job]) -> None:
        connection = self.transport.connect()
        try:
            while not self.stop.is_set():
                try:
                    job = work.get_nowait()
                except queue.Empty:
                    return
                self._deliver(job, connection)
                if self.on_progress:
                    self.on_progress(1)
        finally:
            connection.close()

    def _deliver(self, job: _Job, connection: Connection) -> None:
        sub = job.due.subscriber
        now = self.clock()
        existing = job.due.existing
        if existing is None:
            message_id = f"{job.due.period.key}.{sub.id}.{secrets.token_hex(6)}"
            owned = self.store.claim_delivery(
                Delivery(
                    subscriber_id=sub.id,
                    period=job.due.period.key,
                    status="pending",
                    attempts=0,
                    last_error=None,
                    message_id=message_id,
                    papers=tuple(tuple(p) for p in job.papers),  # type: ignore[arg-type]
                    window_start=job.due.window_start,
                    window_end=self.now,
                    claimed_by=self.me,
                    claimed_at=now,
                )
            )
        else:
            message_id = existing.message_id
            owned = self.store.reclaim_delivery(existing, self.me, now)
        if not owned:
            self._skip(sub.email, "claimed by another run")
            return
        message = self._message(job, message_id)
        result = self._send(connection, message)
        self._record(job, result, existing.attempts if existing else 0)

    def _message(self, job: _Job, message_id: str) -> Outgoing:
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

    def _render(self, job: _Job) -> RenderedEmail:
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

    def _record(self, job: _Job, result: Result, attempts_before: int) -> None:
        sub = job.due.subscriber
        key = job.due.period.key
        now = self.clock()
        mail = self.settings.mail
        if result.status == "sent":
            self.store.finish_delivery(sub.id, key, status="sent", now=now)
            with self.lock:
                self.report.sent += 1
        elif result.status == "bounced":
            self.store.finish_delivery(sub.id, key, status="bounced", now=now, error=result.detail)
            status = self.store.record_bounce(sub.id, mail.bounce_limit)
            log.warning(
                "%s bounced (%s)%s",
                sub.email,
                result.detail,
                "; no longer mailed" if status == "bounced" else "",
            )
            with self.lock:
                self.report.bounced += 1
        else:
            attempts = attempts_before + 1
            if attempts >= mail.max_attempts:
                self.store.finish_delivery(
                    sub.id, key, status="failed", now=now, error=result.detail
                )
                with self.lock:
                    self.report.failed += 1
            else:
                later = now + timedelta(seconds=mail.retry_after * 2 ** (attempts - 1))
                self.store.finish_delivery(
                    sub.id, key, status="retry", now=now, error=result.detail, next_attempt_at=later
                )
                with self.lock:
                    self.report.retried += 1

    def _skip(self, email: str, reason: str) -> None:
        with self.lock:
            self.report.skipped.append((email, reason))
