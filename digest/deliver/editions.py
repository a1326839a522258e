"""Personal editions from shared rankings.

Each topic is ranked once per run over every paper any due subscriber may get; a
subscriber's edition then takes, for each of their topics, the best papers first seen
in their own window (since their previous edition), leaves out near-duplicates of what
it already holds, caps each topic at its ``max_items`` and the whole at their maximum.
That personal step is list filtering over precomputed entries, so it costs microseconds.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.compose import Edition, Highlight, Section
from digest.config import Settings, TopicSettings
from digest.models import StoredPaper
from digest.periods import Period
from digest.rank import Corpus, rank_topic
from digest.store import Store


@dataclass(frozen=True, slots=True)
class Entry:
    paper: StoredPaper
    score: float
    reasons: tuple[str, ...]
    twin: str | None
    first_seen: datetime


class SharedRankings:
    """Every needed topic ranked once over the papers first seen in ``[since, until)``."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        slugs: Iterable[str],
        since: datetime,
        until: datetime,
        now: datetime,
    ) -> None:
        self.settings = settings
        self.topics = {t.slug: t for t in settings.topics}
        papers = store.papers(since=since, until=until)
        self.first_seen = sorted(p.first_seen for p in papers)
        corpus = Corpus(papers)
        self.entries: dict[str, list[Entry]] = {}
        for slug in sorted(set(slugs)):
            topic = self.topics.get(slug)
            if topic is None:
                continue
            ranking = rank_topic(
                topic, corpus, settings=settings.rank, now=now, pins=store.pins(slug), pick_all=True
            )
            self.entries[slug] = [
                Entry(r.paper, r.score, r.reasons, r.duplicate_of, r.paper.first_seen)
                for r in ranking.ranked
                if r.picked or r.duplicate_of
            ]
        self._window_cache: dict[tuple[str, datetime], list[Entry]] = {}

    def arrived(self, since: datetime, until: datetime) -> int:
        return bisect.bisect_left(self.first_seen, until) - bisect.bisect_left(
            self.first_seen, since
        )

    def in_window(self, slug: str, since: datetime, until: datetime) -> list[Entry]:
        key = (slug, since)
        found = self._window_cache.get(key)
        if found is None:
            found = [e for e in self.entries.get(slug, ()) if since <= e.first_seen < until]
            self._window_cache[key] = found
        return found

    def entry(self, slug: str, paper_id: str) -> Entry | None:
        return next((e for e in self.entries.get(slug, ()) if e.paper.id == paper_id), None)


def personal_edition(
    shared: SharedRankings,
    topics: Sequence[str],
    period: Period,
    since: datetime,
    until: datetime,
    max_papers: int,
    now: datetime,
) -> Edition:
    """The edition of one subscriber: their topics, their window, their maximum."""
    chosen: set[str] = set()
    per_topic: list[tuple[TopicSettings, list[Entry], int]] = []
    for slug in topics:
        topic = shared.topics.get(slug)
        if topic is None:
            continue
        entries = shared.in_window(slug, since, until)
        picks: list[Entry] = []
        for entry in entries:
            if len(picks) >= topic.max_items:
                break
            if entry.paper.id in chosen or (entry.twin is not None and entry.twin in chosen):
                continue
            picks.append(entry)
            chosen.add(entry.paper.id)
        per_topic.append((topic, picks, len(entries)))
    ranked = sorted(
        ((e.score, e.paper.id, i) for i, (_, picks, _) in enumerate(per_topic) for e in picks),
        key=lambda item: (-item[0], item[1]),
    )
    if len(ranked) > max_papers:
        keep = {(i, pid) for _, pid, i in ranked[:max_papers]}
        per_topic = [
            (topic, [e for e in picks if (i, e.paper.id) in keep], count)
            for i, (topic, picks, count) in enumerate(per_topic)
        ]
    sections = tuple(
        Section(
            topic,
            tuple(Highlight(e.paper, e.score, e.reasons) for e in picks),
            count,
            max(0, count - len(picks)),
        )
        for topic, picks, count in per_topic
        if picks
    )
    return Edition(period, sections, shared.arrived(since, until), now)


def stored_edition(
    shared: SharedRankings,
    store: Store,
    period: Period,
    papers: Sequence[Sequence[str]],
    since: datetime,
    until: datetime,
    now: datetime,
) -> Edition:
    """An edition claimed earlier, rebuilt from the (topic, paper) pairs in the ledger."""
    found = {p.id: p for p in store.papers(ids=[pid for _, pid in papers])}
    grouped: dict[str, list[Highlight]] = {}
    for slug, paper_id in papers:
        paper = found.get(paper_id)
        if paper is None or slug not in shared.topics:
            continue
        entry = shared.entry(slug, paper_id)
        grouped.setdefault(slug, []).append(
            Highlight(paper, entry.score if entry else 0.0, entry.reasons if entry else ())
        )
    sections = tuple(
        Section(shared.topics[slug], tuple(items), len(items), 0) for slug, items in grouped.items()
    )
    return Edition(period, sections, shared.arrived(since, until), now)


def superset_of(editions: Iterable[Edition]) -> Edition | None:
    """One edition holding every section and paper of ``editions`` (for the email kit)."""
    sections: dict[str, tuple[TopicSettings, dict[str, Highlight]]] = {}
    period = None
    for edition in editions:
        period = period or edition.period
        for section in edition.sections:
            _, highlights = sections.setdefault(section.topic.slug, (section.topic, {}))
            for highlight in section.highlights:
                highlights.setdefault(highlight.paper.id, highlight)
    if period is None:
        return None
    built = tuple(
        Section(topic, tuple(sorted(h.values(), key=lambda h: (-h.score, h.paper.id))), 0, 0)
        for topic, h in sections.values()
    )
    return Edition(period, built, 0, datetime.now().astimezone())
