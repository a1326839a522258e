"""The topic edition: a period's highlights per topic, with counts of what else arrived.

A topic's edition of a period ranks the papers first seen in the period's window
(``since`` moves the start), leaving out what the topic picked in another period, plus
any paper the editor pinned. The same store and settings give the same edition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.compose.edition import Edition, Section
from digest.config import Settings, TopicSettings
from digest.ids import parse_arxiv_id
from digest.periods import Period
from digest.picks import Pick
from digest.rank import Corpus, TopicRanking, rank_topic
from digest.store import EditionItem, EditionRecord, Store


@dataclass(frozen=True, slots=True)
class Composition:
    """Rankings of several topics over one period's candidates."""

    period: Period
    window: tuple[datetime, datetime]
    arrived: int
    rankings: tuple[TopicRanking, ...]
    built_at: datetime

    def editions(self) -> list[Edition]:
        return [
            Edition(self.period, (section_of(r),), self.arrived, self.built_at)
            for r in self.rankings
        ]


def section_of(ranking: TopicRanking) -> Section:
    return Section(
        ranking.topic,
        ranking.picks,
        ranking.candidates,
        ranking.more_relevant,
        ranking.empty_reason,
        also_relevant(ranking),
    )


def also_relevant(ranking: TopicRanking) -> tuple[Pick, ...]:
    """The relevant papers that did not make the picks (beyond the top N, or near-copies)."""
    found = [
        r
        for r in ranking.ranked
        if not r.picked
        and (r.duplicate_of is not None or (r.why_not or "").startswith("beyond the top"))
    ]
    return tuple(sorted(found, key=lambda r: (-r.score, r.paper.id)))


def seed_ids(topic: TopicSettings) -> list[str]:
    """The store ids of a topic's seed papers (arXiv ids in any spelling, or store ids)."""
    ids = []
    for seed in topic.seed_papers:
        arxiv = None if seed.startswith(("doi:", "url:", "title:")) else parse_arxiv_id(seed)
        ids.append(arxiv.key if arxiv else seed)
    return ids


def compose(
    settings: Settings,
    store: Store,
    period: Period,
    topics: Sequence[TopicSettings],
    now: datetime,
    since: datetime | None = None,
) -> Composition:
    """Rank every topic over the period's new papers (one shared index)."""
    start = since or period.start
    end = period.end
    arrived = store.papers(since=start, until=end)
    pins = {t.slug: store.pins(t.slug) for t in topics}
    picked = {t.slug: store.picked_elsewhere(t.slug, period.key) for t in topics}
    window_ids = {p.id for p in arrived}
    pinned_ids = sorted(
        {
            pid
            for marks in pins.values()
            for pid, action in marks.items()
            if action == "pin" and pid not in window_ids
        }
    )
    extra = store.papers(ids=pinned_ids) if pinned_ids else []
    corpus = Corpus([*arrived, *extra])
    rankings = []
    for topic in topics:
        wanted = seed_ids(topic)
        seeds = store.papers(ids=wanted) if wanted else []
        found = {s.id for s in seeds}
        before = picked[topic.slug]
        candidate_ids = [p.id for p in arrived if p.id not in before]
        candidate_ids += [
            pid for pid in pinned_ids if pins[topic.slug].get(pid) == "pin" and pid not in before
        ]
        rankings.append(
            rank_topic(
                topic,
                corpus,
                settings=settings.rank,
                now=now,
                seeds=seeds,
                missing_seeds=[w for w in wanted if w not in found],
                pins=pins[topic.slug],
                candidate_ids=candidate_ids,
            )
        )
    return Composition(period, (start, end), len(arrived), tuple(rankings), now)


def save(store: Store, composition: Composition) -> None:
    """Keep each topic's edition (replacing an earlier build of the same period)."""
    start, end = composition.window
    for ranking in composition.rankings:
        record = EditionRecord(
            topic=ranking.topic.slug,
            period=composition.period.key,
            kind=composition.period.kind,
            built_at=composition.built_at,
            window_start=start,
            window_end=end,
            arrived=composition.arrived,
            candidates=ranking.candidates,
            relevant=ranking.relevant,
            empty_reason=ranking.empty_reason,
        )
        items = [
            EditionItem(
                ranking.topic.slug,
                composition.period.key,
                pick.paper.id,
                position,
                pick.score,
                pick.reasons,
            )
            for position, pick in enumerate(ranking.picks, start=1)
        ]
        # The relevant papers below the picks, at negative positions: -1 is the best.
        items += [
            EditionItem(
                ranking.topic.slug,
                composition.period.key,
                pick.paper.id,
                -position,
                pick.score,
                pick.reasons,
            )
            for position, pick in enumerate(also_relevant(ranking), start=1)
        ]
        store.save_edition(record, items)


def load_edition(
    store: Store, topic: TopicSettings, record: EditionRecord, period: Period
) -> Edition:
    """A stored edition as it was composed (for the archive and the feeds)."""
    items = store.edition_items(topic.slug, record.period, also=True)
    papers = {p.id: p for p in store.papers(ids=[i.paper_id for i in items])}

    def picks(wanted: list[EditionItem]) -> tuple[Pick, ...]:
        return tuple(
            Pick(papers[i.paper_id], i.score, i.reasons, period=i.period)
            for i in wanted
            if i.paper_id in papers
        )

    highlights = picks([i for i in items if i.position > 0])
    section = Section(
        topic,
        highlights,
        record.candidates,
        max(0, record.relevant - len(highlights)),
        record.empty_reason,
        picks(sorted((i for i in items if i.position < 0), key=lambda i: -i.position)),
    )
    return Edition(period, (section,), record.arrived, record.built_at)
