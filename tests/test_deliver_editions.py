"""Personal editions: the shared fast path chooses exactly what the paper-by-paper one does."""

from __future__ import annotations

from datetime import timedelta

from conftest import SAMPLE, SAMPLE_NOW, make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.compose.personal import SharedRankings, _edition_by_paper, personal_edition
from digest.config import sample_settings
from digest.fetch import fetch_sources
from digest.periods import parse_period

TOPICS = [t.model_copy(update={"max_items": 4}) for t in sample_settings().topics] + [
    sample_settings()
    .topics[0]
    .model_copy(update={"slug": "rl2", "max_items": 3, "keywords": ["policy", "reward"]})
]


def shared_rankings(open_store, tmp_path):
    config = make_settings(
        tmp_path,
        [
            {"name": "arxiv", "kind": "arxiv-rss", "path": str(SAMPLE / "arxiv-listing.xml")},
            {"name": "hf", "kind": "hf-daily", "path": str(SAMPLE / "hf-daily.json")},
        ],
        topics=[t.model_dump() for t in TOPICS],
    )
    store = open_store(config)
    fetch_sources(config, store, now=lambda: SAMPLE_NOW - timedelta(hours=1))
    since = SAMPLE_NOW - timedelta(hours=2)
    shared = SharedRankings(
        config, store, {(since, t.slug) for t in TOPICS}, SAMPLE_NOW, SAMPLE_NOW
    )
    return shared, since


def test_fast_and_paper_by_paper_choices_agree(tmp_path_factory, open_store):
    shared, since = shared_rankings(open_store, tmp_path_factory.mktemp("editions"))
    period = parse_period("2026-11-26", "UTC")
    slugs = [t.slug for t in TOPICS]
    trimmed_fast = []

    @settings(
        max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        topics=st.lists(st.sampled_from(slugs), min_size=1, max_size=4, unique=True),
        maximum=st.integers(1, 12),
    )
    def check(topics, maximum):
        fast = personal_edition(shared, topics, period, since, SAMPLE_NOW, maximum, SAMPLE_NOW)
        slow = _edition_by_paper(
            shared,
            [shared.topics[s] for s in topics],
            period,
            since,
            SAMPLE_NOW,
            maximum,
            SAMPLE_NOW,
        )
        assert [
            (s.topic.slug, [h.paper.id for h in s.highlights], s.more_relevant)
            for s in fast.sections
        ] == [
            (s.topic.slug, [h.paper.id for h in s.highlights], s.more_relevant)
            for s in slow.sections
        ]
        assert len(fast.highlights) <= maximum
        assert len({h.paper.id for h in fast.highlights}) == len(fast.highlights)
        tops = [shared.top(shared.topics[s], since) for s in topics]
        ids = [i for top in tops for i in top.ids]
        if len(ids) == len(set(ids)) and len(ids) > maximum:
            trimmed_fast.append(topics)

    check()
    assert len(trimmed_fast) > 10  # the shared path had to cut often enough to be tested
