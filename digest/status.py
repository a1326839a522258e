"""The state of things, for an operator and for monitoring (``digest status``): each
source's last fetch, each topic's last edition, the daemon's next runs, the deliveries of
the current and the previous period, the subscribers, and the problems to fix."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa

from digest.config import Settings
from digest.config.checks import local_host
from digest.errors import DigestError
from digest.periods import current_period
from digest.store import Store
from digest.store.schema import daemon_lock, deliveries, subscribers
from digest.tokens import Tokens

#: Subscribers in these states are (or will be) mailed, so their topics matter.
READING = ("active", "pending")


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    kind: str
    outcome: str  # "ok", "failed" or "never"
    last_attempt: datetime | None
    last_success: datetime | None
    new: int | None
    updated: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class EditionStatus:
    topic: str
    period: str | None
    built_at: datetime | None
    relevant: int | None


@dataclass(slots=True)
class Status:
    sources: list[SourceStatus] = field(default_factory=list)
    editions: list[EditionStatus] = field(default_factory=list)
    #: (job id, next run) from the daemon's plan in the store; empty if never planned.
    next_runs: list[tuple[str, datetime | None]] = field(default_factory=list)
    #: The daemon holding the lock, if its heartbeat is recent.
    daemon: str | None = None
    #: period key -> status -> count, for the current and the previous periods.
    deliveries: dict[str, dict[str, int]] = field(default_factory=dict)
    subscribers: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: Worth knowing, nothing to fix: no effect on the exit code.
    notices: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def stamp(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "sources": [
                {
                    **asdict(s),
                    "last_attempt": stamp(s.last_attempt),
                    "last_success": stamp(s.last_success),
                }
                for s in self.sources
            ],
            "editions": [{**asdict(e), "built_at": stamp(e.built_at)} for e in self.editions],
            "daemon": {
                "running": self.daemon,
                "next_runs": [
                    {"job": job, "next_run": stamp(when)} for job, when in self.next_runs
                ],
            },
            "deliveries": self.deliveries,
            "subscribers": self.subscribers,
            "problems": self.problems,
            "notices": self.notices,
        }

    def lines(self, zone: str) -> list[str]:
        """The report for a terminal, times in the site's time zone."""
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(zone)

        def when(value: datetime | None) -> str:
            return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if value else "never"

        out = ["Sources:"]
        for s in self.sources:
            if s.outcome == "failed":
                out.append(f"  {s.name}: failed {when(s.last_attempt)}: {s.error}")
            elif s.outcome == "never":
                out.append(f"  {s.name}: never fetched")
            else:
                brought = f": {s.new} new, {s.updated} updated" if s.new is not None else ""
                out.append(f"  {s.name}: ok {when(s.last_success)}{brought}")
        out.append("Editions:")
        for e in self.editions:
            built = (
                f"{e.period}, built {when(e.built_at)}, {e.relevant} relevant"
                if e.period
                else "none yet"
            )
            out.append(f"  {e.topic}: {built}")
        out.append(f"Daemon: {'running (' + self.daemon + ')' if self.daemon else 'not running'}")
        for job, at in self.next_runs:
            out.append(f"  {job}: next {when(at) if at else 'paused'}")
        if not self.next_runs:
            out.append("  no plan yet ('digest schedule' makes one)")
        out.append("Deliveries:")
        for period, counts in self.deliveries.items():
            text = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
            out.append(f"  {period}: {text}")
        text = ", ".join(f"{n} {state}" for state, n in sorted(self.subscribers.items())) or "none"
        out.append(f"Subscribers: {text}")
        out.append("Problems:" if self.problems else "Problems: none")
        out.extend(f"  {problem}" for problem in self.problems)
        if self.notices:
            out.append("Notices:")
            out.extend(f"  {notice}" for notice in self.notices)
        return out


def gather(
    settings: Settings, store: Store, now: datetime, environ: Mapping[str, str] = os.environ
) -> Status:
    status = Status()
    for source in settings.sources:
        state = store.source_state(source.name)
        failed = state.last_error is not None
        outcome = "failed" if failed else "ok" if state.last_success else "never"
        status.sources.append(
            SourceStatus(
                source.name,
                source.kind,
                outcome,
                state.last_attempt,
                state.last_success,
                state.last_new,
                state.last_updated,
                state.last_error,
            )
        )
    latest: dict[str, Any] = {}
    for record in store.editions():
        if record.topic not in latest or record.built_at > latest[record.topic].built_at:
            latest[record.topic] = record
    for topic in settings.topics:
        found = latest.get(topic.slug)
        status.editions.append(
            EditionStatus(
                topic.slug,
                found.period if found else None,
                found.built_at if found else None,
                found.relevant if found else None,
            )
        )
    with store.engine.connect() as conn:
        status.next_runs = _next_runs(conn)
        status.daemon = _daemon(conn, now, settings.schedule.lock_timeout)
        status.deliveries = _deliveries(conn, settings, now)
        status.subscribers = dict(
            conn.execute(
                sa.select(subscribers.c.status, sa.func.count()).group_by(subscribers.c.status)
            ).all()
        )
        readers = [
            (email, tuple(topics))
            for email, topics in conn.execute(
                sa.select(subscribers.c.email, subscribers.c.topics).where(
                    subscribers.c.status.in_(READING)
                )
            )
        ]
    status.problems = problems(settings, readers, environ)
    status.notices = notices(settings, readers)
    return status


def _next_runs(conn: sa.Connection) -> list[tuple[str, datetime | None]]:
    if not sa.inspect(conn).has_table("apscheduler_jobs"):
        return []
    jobs = sa.table("apscheduler_jobs", sa.column("id"), sa.column("next_run_time"))
    rows = conn.execute(sa.select(jobs.c.id, jobs.c.next_run_time).order_by(jobs.c.id)).all()
    return [
        (job, datetime.fromtimestamp(float(at), UTC) if at is not None else None)
        for job, at in rows
    ]


def _daemon(conn: sa.Connection, now: datetime, timeout: float) -> str | None:
    row = conn.execute(sa.select(daemon_lock.c.holder, daemon_lock.c.heartbeat_at)).first()
    if row is None or now - row.heartbeat_at > timedelta(seconds=timeout):
        return None
    return str(row.holder)


def _deliveries(
    conn: sa.Connection, settings: Settings, now: datetime
) -> dict[str, dict[str, int]]:
    """The ledger of today and yesterday, this week and last week (site's time zone)."""
    zone = settings.site.timezone
    keys = []
    for kind in ("daily", "weekly"):
        current = current_period(now, kind, zone)
        keys += [current.key, current.previous().key]
    counts: dict[str, dict[str, int]] = {key: {} for key in keys}
    query = (
        sa.select(deliveries.c.period, deliveries.c.status, sa.func.count())
        .where(deliveries.c.period.in_(keys))
        .group_by(deliveries.c.period, deliveries.c.status)
    )
    for period, state, count in conn.execute(query):
        counts[period][state] = count
    return counts


def problems(
    settings: Settings, readers: list[tuple[str, tuple[str, ...]]], environ: Mapping[str, str]
) -> list[str]:
    """What an operator must fix, one line each."""
    found: list[str] = []
    known = {t.slug for t in settings.topics}
    orphaned: Counter[str] = Counter()
    for _, topics in readers:
        for slug in topics:
            if slug not in known:
                orphaned[slug] += 1
    for slug, count in sorted(orphaned.items()):
        found.append(
            f"{count} subscriber(s) follow topic {slug!r}, which is no longer configured: "
            "their editions lose it (add it back to [[topics]], or change their topics)"
        )
    try:
        Tokens.from_environment(environ)
    except DigestError as exc:
        found.append(str(exc))
    smtp = settings.mail.smtp
    if settings.mail.transport == "smtp" and smtp.username and not environ.get(smtp.password_env):
        found.append(
            f"{smtp.password_env} is not set: [mail.smtp] username = {smtp.username!r} "
            "cannot log in without its password"
        )
    if settings.mail.transport == "smtp" and (local := _local_sender(settings)):
        found.append(local)
    return found


def notices(settings: Settings, readers: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """What an operator may want to know, one line each; nothing here is an error."""
    found: list[str] = []
    read = {slug for _, topics in readers for slug in topics}
    unread = [t.slug for t in settings.topics if t.slug not in read]
    if unread:
        found.append(
            f"topics no subscriber follows by email: {', '.join(unread)} "
            "(their pages and feeds are still published)"
        )
    if settings.mail.transport != "smtp" and (local := _local_sender(settings)):
        found.append(local + " before mail goes through a relay")
    return found


def _local_sender(settings: Settings) -> str | None:
    domain = parseaddr(settings.sender)[1].rpartition("@")[2].strip("[]")
    if not local_host(domain):
        return None
    return (
        f"the From address {settings.sender!r} is on {domain}: no mail server accepts it "
        'from outside; set [mail] from = "Name <digest@your.domain>"'
    )
