"""Ranking: relevance, reasons, floor, diversity, pins, and the general rules as properties."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from digest.config import RankSettings, TopicSettings
from digest.models import StoredPaper
from digest.rank import Corpus, rank_topic

NOW = datetime(2026, 11, 27, 8, tzinfo=UTC)
RL = TopicSettings(
    slug="rl",
    name="RL",
    keywords=["reinforcement learning", "reward model"],
    exclude=["survey"],
    categories=["cs.LG"],
    max_items=3,
)


def paper(pid: str, title: str, abstract: str = "", **kw) -> StoredPaper:
    base = dict(
        id=pid,
        title=title,
        abstract=abstract,
        authors=("A. Author",),
        categories=("cs.CL",),
        version=1,
        published=NOW - timedelta(hours=6),
        updated=None,
        first_seen=NOW,
        last_seen=NOW,
        links={},
        sources=("s",),
    )
    base.update(kw)
    return StoredPaper(**base)


def ranked(papers, topic=RL, **kw):
    return rank_topic(
        topic, Corpus(papers), settings=kw.pop("settings", RankSettings()), now=NOW, **kw
    )


def test_title_beats_abstract_and_phrase_beats_scattered_words():
    result = ranked(
        [
            paper("a", "Deep reinforcement learning for robots"),
            paper("b", "Robots", "We apply reinforcement learning to robots."),
            paper("c", "Robots", "Learning to walk with a reinforcement signal and more learning."),
        ]
    )
    scores = {r.paper.id: r for r in result.ranked}
    assert scores["a"].score > scores["b"].score > scores["c"].score
    assert "'reinforcement learning' in the title" in scores["a"].reasons
    assert "'reinforcement learning' in the abstract" in scores["b"].reasons
    assert "'reinforcement' and 'Learning' in the abstract" in scores["c"].reasons
    assert not scores["c"].picked and scores["c"].why_not.startswith("below the relevance floor")


def test_categories_authors_upvotes_and_seeds_count_and_say_so():
    seed = paper(
        "seed",
        "Offline policy evaluation with importance weighting",
        "Importance weighting estimators for offline policy evaluation in bandits.",
    )
    topic = RL.model_copy(update={"authors": ["Jane Doe"]})
    result = ranked(
        [
            paper("cat", "Reward model ensembles", categories=("cs.LG",)),
            paper("hf", "Reward model audits", upvotes=41),
            paper("auth", "Bandits in practice", authors=("J. Doe",)),
            paper(
                "sim",
                "Doubly robust offline policy evaluation",
                "Importance weighting and doubly robust estimators for offline policy evaluation.",
            ),
        ],
        topic=topic,
        seeds=[seed],
    )
    by_id = {r.paper.id: r for r in result.ranked}
    assert "category cs.LG" in by_id["cat"].reasons
    assert "41 upvotes" in by_id["hf"].reasons and by_id["hf"].score > by_id["cat"].score - 1
    assert "by followed author J. Doe" in by_id["auth"].reasons and by_id["auth"].picked
    assert "close to your seed paper 'Offline policy evaluation with importance weighting'" in (
        by_id["sim"].reasons
    )
    assert by_id["sim"].picked


def test_floor_excludes_and_empty_edition_says_why():
    result = ranked(
        [
            paper("x", "Protein folding", categories=("cs.LG",)),
            paper("y", "A survey of reinforcement learning"),
        ]
    )
    assert result.picks == ()
    assert {r.paper.id: r.why_not for r in result.ranked}["y"] == "excluded: contains 'survey'"
    assert result.empty_reason.startswith("none of the 2 new papers matched closely enough")
    assert ranked([]).empty_reason == "no new papers arrived in this period"


def test_near_duplicates_do_not_crowd_the_list():
    text = (
        "We propose group relative policy optimization with verifiable rewards for "
        "reinforcement learning of reasoning models and study advantage normalisation."
    )
    result = ranked(
        [
            paper("d1", "Group relative policy optimization with verifiable rewards", text),
            paper(
                "d2", "Group-relative policy optimization with verifiable rewards, revisited", text
            ),
            paper("other", "Reward model calibration", "A reward model study."),
        ]
    )
    picked = [r.paper.id for r in result.picks]
    assert "other" in picked and len({"d1", "d2"} & set(picked)) == 1
    twin = next(r for r in result.ranked if r.paper.id in {"d1", "d2"} and not r.picked)
    assert twin.why_not.startswith("near-duplicate of 'Group")


def test_pins_and_drops_beat_the_score():
    papers = [paper(f"p{i}", f"Reinforcement learning study {i}") for i in range(6)]
    papers.append(paper("weak", "Protein folding"))
    result = ranked(papers, pins={"weak": "pin", "p0": "drop"})
    picks = [r.paper.id for r in result.picks]
    assert picks[0] == "weak" and "p0" not in picks
    assert result.picks[0].reasons[0] == "pinned by the editor"
    assert {r.paper.id: r.why_not for r in result.ranked}["p0"] == "dropped by the editor"


def test_replacements_are_left_out_unless_asked_for():
    revised = paper("r", "Reinforcement learning, revised", announce_type="replace")
    assert ranked([revised]).picks == ()
    assert ranked([revised], settings=RankSettings(include_replacements=True)).picks


WORDS = [
    "reinforcement",
    "learning",
    "reward",
    "model",
    "policy",
    "vision",
    "language",
    "graph",
    "protein",
    "survey",
    "robot",
    "diffusion",
    "agent",
]


@st.composite
def listings(draw):
    count = draw(st.integers(0, 25))
    papers = []
    for i in range(count):
        title = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8)))
        abstract = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=40)))
        papers.append(
            paper(
                f"arxiv:2611.{i:05d}",
                title,
                abstract,
                categories=tuple(
                    draw(
                        st.lists(
                            st.sampled_from(["cs.LG", "cs.CV", "cs.CL"]), max_size=2, unique=True
                        )
                    )
                ),
                upvotes=draw(st.none() | st.integers(0, 500)),
                announce_type=draw(st.sampled_from(["new", "cross", "replace"])),
            )
        )
    return papers


@settings(max_examples=120, deadline=None)
@given(
    papers=listings(),
    seed=st.integers(0, 10_000),
    keywords=st.lists(
        st.sampled_from(WORDS + ["reinforcement learning", "reward model"]), min_size=1, max_size=4
    ),
    max_items=st.integers(1, 6),
)
def test_ranking_is_deterministic_order_independent_and_picks_from_the_input(
    papers, seed, keywords, max_items
):
    topic = RL.model_copy(update={"keywords": keywords, "max_items": max_items})
    first = ranked(papers, topic=topic)
    shuffled = papers[:]
    random.Random(seed).shuffle(shuffled)
    second = ranked(shuffled, topic=topic)
    assert [(r.paper.id, r.score, r.picked, r.reasons) for r in first.ranked] == [
        (r.paper.id, r.score, r.picked, r.reasons) for r in second.ranked
    ]
    picked = [r.paper.id for r in first.picks]
    assert len(picked) == len(set(picked)) <= max_items
    assert set(picked) <= {p.id for p in papers}
    assert all(r.reasons for r in first.picks)
    assert [r.score for r in first.ranked] == sorted((r.score for r in first.ranked), reverse=True)
    # delivery's walk (reasons only for what it lists, stopping at the top N) picks the same
    quick = ranked(papers, topic=topic, score_all=False)
    assert [(r.paper.id, r.score, r.reasons, r.relevance) for r in quick.picks] == [
        (r.paper.id, r.score, r.reasons, r.relevance) for r in first.picks
    ]
    assert quick.relevant <= first.relevant and len(quick.ranked) <= len(first.ranked)
