"""The personal edition: a subscriber's picks from rankings shared by the run.

Each topic is ranked once per run over every paper any due subscriber may get; a
subscriber's edition then takes, for each of their topics, the best papers first seen
in their own window (since their previous edition), leaves out near-duplicates of what
it already holds, caps each topic at its ``max_items`` and shares their maximum between
their topics fairly: round by round, each topic gets its next best paper (within a round,
the better-ranked first), so the last topic is not left with what the first ones spare.
That personal step is list filtering over precomputed entries, so it costs microseconds.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.compose.edition import Edition, Section
from digest.compose.topic import seed_ids
from digest.config import Settings, TopicSettings
from digest.periods import Period
from digest.picks import Pick
from digest.rank import Corpus, rank_topic
from digest.rank.embed import semantic_for
from digest.store import Store

#: How many papers each topic offers per window, in multiples of its ``max_items``:
#: room for a subscriber's edition to skip what another of their topics holds already.
DEPTH = 3


class SharedRankings:
    """Every needed topic ranked once per window start over the papers first seen then.

    Subscribers whose previous edition ended at the same moment (nearly everybody in a
    run: it was the previous run) share a window, so a run ranks each topic only a few
    times, and a daily subscriber's window is never crowded out by a weekly one's.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        needs: Iterable[tuple[datetime, str]],
        until: datetime,
        now: datetime,
    ) -> None:
        self.settings = settings
        self.topics = {t.slug: t for t in settings.topics}
        wanted: dict[datetime, set[str]] = {}
        for since, slug in needs:
            if slug in self.topics:
                wanted.setdefault(since, set()).add(slug)
        earliest = min(wanted, default=until)
        papers = store.papers(since=earliest, until=until)
        self.first_seen = sorted(p.first_seen for p in papers)
        chosen = {slug: self.topics[slug] for slugs in wanted.values() for slug in slugs}
        seeds = {
            s: store.papers(ids=seed_ids(t)) if t.seed_papers else [] for s, t in chosen.items()
        }
        known = [*papers, *(p for found in seeds.values() for p in found)]
        keywords = [chosen[s].keywords for s in sorted(chosen)]
        semantic = semantic_for(store, settings.rank.semantic, known, keywords)
        corpus = Corpus(papers, semantic)
        pins = {slug: store.pins(slug) for slugs in wanted.values() for slug in slugs}
        self.entries: dict[tuple[str, datetime], list[Pick]] = {}
        self.relevant: dict[tuple[str, datetime], int] = {}
        for since in sorted(wanted):
            ids = [p.id for p in papers if since <= p.first_seen < until]
            for slug in sorted(wanted[since]):
                topic = self.topics[slug]
                ranking = rank_topic(
                    topic,
                    corpus,
                    settings=settings.rank,
                    now=now,
                    seeds=seeds[slug],
                    pins=pins[slug],
                    candidate_ids=ids,
                    picks=DEPTH * topic.max_items,
                    score_all=False,
                )
                self.entries[(slug, since)] = [
                    r for r in ranking.ranked if r.picked or r.duplicate_of
                ]
                self.relevant[(slug, since)] = ranking.relevant
        self._caches()

    @classmethod
    def restored(
        cls,
        settings: Settings,
        entries: dict[tuple[str, datetime], list[Pick]],
        relevant: dict[tuple[str, datetime], int],
        first_seen: list[datetime],
    ) -> SharedRankings:
        """Rankings made earlier (by another process of the same run), without ranking."""
        shared = cls.__new__(cls)
        shared.settings = settings
        shared.topics = {t.slug: t for t in settings.topics}
        shared.first_seen = sorted(first_seen)
        shared.entries, shared.relevant = dict(entries), dict(relevant)
        shared._caches()
        return shared

    def _caches(self) -> None:
        self._sections: dict[tuple[str, datetime, int], Section] = {}
        self._tops: dict[tuple[str, datetime], _Top] = {}
        self._arrived: dict[tuple[datetime, datetime], int] = {}

    def top(self, topic: TopicSettings, since: datetime) -> _Top:
        """What a subscriber of this topic alone gets from this window (computed once)."""
        key = (topic.slug, since)
        found = self._tops.get(key)
        if found is None:
            entries = self.entries.get(key, [])
            picks = _choose(entries, topic.max_items, set())
            found = _Top(
                picks,
                frozenset(e.paper.id for e in picks),
                [(-e.score, e.paper.id) for e in picks],
                max(len(entries), self.relevant.get(key, 0)),
            )
            self._tops[key] = found
        return found

    def top_section(self, topic: TopicSettings, since: datetime, count: int) -> Section:
        """A section of the topic's first ``count`` picks (shared by many editions)."""
        key = (topic.slug, since, count)
        section = self._sections.get(key)
        if section is None:
            top = self.top(topic, since)
            section = Section(
                topic,
                tuple(e for e in top.picks[:count]),
                top.window,
                max(0, top.window - count),
            )
            self._sections[key] = section
        return section

    def arrived(self, since: datetime, until: datetime) -> int:
        key = (since, until)
        count = self._arrived.get(key)
        if count is None:
            count = bisect.bisect_left(self.first_seen, until) - bisect.bisect_left(
                self.first_seen, since
            )
            self._arrived[key] = count
        return count

    def in_window(self, slug: str, since: datetime, until: datetime) -> list[Pick]:
        return self.entries.get((slug, since), [])

    def relevant_in_window(self, slug: str, since: datetime) -> int:
        """How many papers of the window are relevant to the topic (picked or not)."""
        return max(len(self.entries.get((slug, since), [])), self.relevant.get((slug, since), 0))

    def entry(self, slug: str, paper_id: str) -> Pick | None:
        for (found, _), entries in self.entries.items():
            if found == slug:
                for entry in entries:
                    if entry.paper.id == paper_id:
                        return entry
        return None


@dataclass(frozen=True, slots=True)
class _Top:
    picks: list[Pick]
    ids: frozenset[str]
    order: list[tuple[float, str]]  # (-score, id): the by-paper path's order
    window: int  # relevant papers of the topic in the window


def _choose(entries: Sequence[Pick], limit: int, chosen: set[str]) -> list[Pick]:
    """The first ``limit`` entries that are not already chosen, nor twins of one."""
    picks: list[Pick] = []
    for entry in entries:
        if len(picks) >= limit:
            break
        if _taken(entry, chosen):
            continue
        picks.append(entry)
        chosen.add(entry.paper.id)
    return picks


def personal_edition(
    shared: SharedRankings,
    topics: Sequence[str],
    period: Period,
    since: datetime,
    until: datetime,
    max_papers: int,
    now: datetime,
) -> Edition:
    """The edition of one subscriber: their topics, their window, their maximum.

    When no paper belongs to two of their topics (the usual case), each section is a
    prefix of what the topic alone offers, so the sections are shared objects and the
    work is a few set and list operations; otherwise the choice is made paper by paper.
    """
    tops = [
        (shared.topics[slug], shared.top(shared.topics[slug], since))
        for slug in topics
        if slug in shared.topics
    ]
    total = sum(len(top.picks) for _, top in tops)
    disjoint = len(tops) < 2 or len(frozenset().union(*(top.ids for _, top in tops))) == total
    if disjoint:
        counts = (
            [len(top.picks) for _, top in tops]
            if total <= max_papers
            else fair_counts([top.order for _, top in tops], max_papers)
        )
        sections = tuple(
            shared.top_section(topic, since, count)
            for (topic, _), count in zip(tops, counts, strict=True)
            if count
        )
        return Edition(period, sections, shared.arrived(since, until), now)
    return _edition_by_paper(shared, [t for t, _ in tops], period, since, until, max_papers, now)


def fair_counts(orders: Sequence[Sequence[tuple[float, str]]], limit: int) -> list[int]:
    """How many of each list (ascending keys) a fair share of ``limit`` takes.

    Round-robin by rank: each round gives every list that has more its next item, the
    lists whose next item ranks better first, until ``limit`` items are taken.
    """
    taken = [0] * len(orders)
    left = limit
    while left > 0:
        turn = sorted(
            (column[taken[i]], i) for i, column in enumerate(orders) if taken[i] < len(column)
        )
        if not turn:
            break
        for _, i in turn[:left]:
            taken[i] += 1
        left -= min(left, len(turn))
    return taken


def _edition_by_paper(
    shared: SharedRankings,
    topics: Sequence[TopicSettings],
    period: Period,
    since: datetime,
    until: datetime,
    max_papers: int,
    now: datetime,
) -> Edition:
    chosen: set[str] = set()
    lists = [shared.in_window(t.slug, since, until) for t in topics]
    picks: list[list[Pick]] = [[] for _ in topics]
    at = [0] * len(topics)
    left = max_papers
    while left > 0:
        turn = []
        for i, entries in enumerate(lists):
            while at[i] < len(entries) and _taken(entries[at[i]], chosen):
                at[i] += 1
            if at[i] < len(entries) and len(picks[i]) < topics[i].max_items:
                turn.append((-entries[at[i]].score, entries[at[i]].paper.id, i))
        if not turn:
            break
        for _, _, i in sorted(turn)[:left]:
            entry = lists[i][at[i]]
            if not _taken(entry, chosen):
                picks[i].append(entry)
                chosen.add(entry.paper.id)
                left -= 1
    sections = tuple(
        Section(
            topic,
            tuple(found),
            shared.relevant_in_window(topic.slug, since),
            max(0, shared.relevant_in_window(topic.slug, since) - len(found)),
        )
        for topic, found in zip(topics, picks, strict=True)
        if found
    )
    return Edition(period, sections, shared.arrived(since, until), now)


def _taken(entry: Pick, chosen: set[str]) -> bool:
    return entry.paper.id in chosen or (
        entry.duplicate_of is not None and entry.duplicate_of in chosen
    )


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
    grouped: dict[str, list[Pick]] = {}
    for slug, paper_id in papers:
        paper = found.get(paper_id)
        if paper is None or slug not in shared.topics:
            continue
        entry = shared.entry(slug, paper_id)
        grouped.setdefault(slug, []).append(
            Pick(paper, entry.score if entry else 0.0, entry.reasons if entry else ())
        )
    sections = tuple(
        Section(shared.topics[slug], tuple(items), len(items), 0) for slug, items in grouped.items()
    )
    return Edition(period, sections, shared.arrived(since, until), now)


def superset_of(editions: Iterable[Edition], now: datetime) -> Edition | None:
    """One edition holding every section and paper of ``editions`` (for the email kit)."""
    sections: dict[str, tuple[TopicSettings, dict[str, Pick]]] = {}
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
    return Edition(period, built, 0, now)
