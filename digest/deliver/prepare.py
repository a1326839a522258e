"""Preparing a run: the plan turned into jobs, each due subscriber's edition composed
from rankings shared by the run (each topic ranked once per window)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from digest.compose import Edition
from digest.compose.personal import personal_edition, stored_edition
from digest.config import Settings
from digest.deliver.plan import Due, Plan, plan
from digest.deliver.report import SendReport
from digest.deliver.shared import needs_of, rankings_for
from digest.store import Store


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
    shard: tuple[int, int] | None = None,
    me: str | None = None,
    saved: bool = False,
) -> Prepared:
    """Plan the run (unless ``schedule`` is that plan) and compose every due edition:
    each topic ranked once per window (``saved``: read from the rankings the run kept in
    the store, see :mod:`digest.deliver.shared`), every subscriber's choice made from those."""
    report = SendReport()
    if schedule is None:
        chosen = store.recipients(shard) if shard is not None else None
        schedule = plan(
            settings, store, now, period_key=period_key, subscribers=chosen, claimant=me
        )
    report.not_due, report.done_before = schedule.not_due, schedule.done
    report.skipped += [(s.email, reason) for s, reason in schedule.skipped]
    if not schedule.due:
        return Prepared(report, [])
    with _paused_gc():
        shared = rankings_for(settings, store, needs_of(schedule.due), now, saved=saved)
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
