"""What a reader meets: fair multi-topic editions, true counts, short subjects, the whole
abstract in the archive and the feeds, and the archive browsable by topic."""

from __future__ import annotations

import re
from datetime import timedelta

import feedparser
from conftest import SAMPLE, SAMPLE_DAY, SAMPLE_NOW, make_settings

from digest.compose.personal import SharedRankings, fair_counts, personal_edition
from digest.fetch import fetch_sources
from digest.periods import parse_period
from digest.publish import preview
from digest.render import Renderer
from digest.render.lines import SUBJECT_LIMIT

SOURCES = [
    {"name": "arxiv", "kind": "arxiv-rss", "path": str(SAMPLE / "arxiv-listing.xml")},
    {"name": "hf", "kind": "hf-daily", "path": str(SAMPLE / "hf-daily.json")},
]
THREE = [
    {
        "slug": "rl",
        "name": "Reinforcement learning",
        "keywords": ["reinforcement learning", "reward", "policy"],
        "max_items": 5,
    },
    {
        "slug": "lm",
        "name": "Language models",
        "keywords": ["language model", "LLM", "reasoning"],
        "max_items": 5,
    },
    {"slug": "vision", "name": "Vision", "keywords": ["image", "video", "vision"], "max_items": 5},
]


def test_fair_counts_go_round_by_round():
    # the first topic ranks best everywhere, yet every topic gets its turn
    first = [(-0.9 + i * 0.01, f"a{i}") for i in range(8)]
    second = [(-0.5 + i * 0.01, f"b{i}") for i in range(8)]
    third = [(-0.2 + i * 0.01, f"c{i}") for i in range(8)]
    assert fair_counts([first, second, third], 10) == [4, 3, 3]
    assert fair_counts([first, second, third], 2) == [1, 1, 0]
    assert fair_counts([first, second[:1], third], 10) == [5, 1, 4]
    assert fair_counts([[], second], 3) == [0, 3]


def shared_three(tmp_path, open_store):
    settings = make_settings(tmp_path, SOURCES, topics=THREE)
    store = open_store(settings)
    fetch_sources(settings, store, now=lambda: SAMPLE_NOW - timedelta(hours=1))
    since = SAMPLE_NOW - timedelta(hours=2)
    needs = {(since, t["slug"]) for t in THREE}
    return settings, store, SharedRankings(settings, store, needs, SAMPLE_NOW, SAMPLE_NOW), since


def test_a_multi_topic_email_shares_its_maximum_and_counts_truly(tmp_path, open_store):
    settings, _, shared, since = shared_three(tmp_path, open_store)
    period = parse_period(SAMPLE_DAY, "UTC")
    edition = personal_edition(
        shared, ["rl", "lm", "vision"], period, since, SAMPLE_NOW, 10, SAMPLE_NOW
    )
    sizes = [len(s.highlights) for s in edition.sections]
    assert sum(sizes) == 10
    assert max(sizes) - min(sizes) <= 1, sizes
    for section in edition.sections:
        relevant = shared.relevant_in_window(section.topic.slug, since)
        assert section.more_relevant == relevant - len(section.highlights)
    html = Renderer(settings).email(edition).html
    for section in edition.sections:
        if section.more_relevant:
            assert f"{section.more_relevant} more matched {section.topic.name}: <a" in html
    assert "did not make the top" not in html


def published(tmp_path, open_store):
    """The sample sources fetched and the sample day's editions of THREE published."""
    settings = make_settings(
        tmp_path, SOURCES, topics=THREE, site={"out_dir": str(tmp_path / "site")}
    )
    store = open_store(settings)
    fetch_sources(settings, store, now=lambda: SAMPLE_NOW)
    result = preview(
        settings,
        store,
        period=parse_period(SAMPLE_DAY, "UTC"),
        topics=settings.topics,
        out_dir=tmp_path / "site",
        now=SAMPLE_NOW,
    )
    return settings, store, tmp_path / "site", result


def test_the_archive_lists_every_relevant_paper_below_the_picks(tmp_path, open_store):
    settings, _, out, result = published(tmp_path, open_store)
    for ranking in result.composition.rankings:
        slug = ranking.topic.slug
        page = (out / "archive" / SAMPLE_DAY / slug / "index.html").read_text()
        cards = re.findall(r'<div class="card" id="(p-[^"]+)"', page)
        assert len(cards) == ranking.relevant == len(set(cards))
        email_text = (out / "preview" / SAMPLE_DAY / slug / "email.html").read_text()
        more = re.search(r"(\d+) more matched", email_text)
        assert (int(more.group(1)) if more else 0) == ranking.relevant - len(ranking.picks)
        # each "more" link of the email points at a card of that page
        for anchor in re.findall(rf"/archive/{SAMPLE_DAY}/{slug}/#(p-[^\"]+)\">more<", email_text):
            assert anchor in cards
        # the archive can be browsed by topic, and leads to the subscribe page
        topic_page = (out / "archive" / slug / "index.html").read_text()
        assert f'href="../../archive/{SAMPLE_DAY}/{slug}/index.html"' in topic_page
        assert f'href="{settings.site.base_url}/">Get it by email' in topic_page
    index = (out / "archive" / "index.html").read_text()
    assert "Subscribe by email" in index and "feeds.opml" in index
    opml = (out / "feeds.opml").read_text()
    assert opml.count("<outline ") == len(settings.topics)
    for topic in settings.topics:
        assert f'xmlUrl="{settings.site.base_url}/feeds/{topic.slug}.rss"' in opml


def test_subjects_lead_with_the_top_pick_and_stay_short(tmp_path, open_store):
    settings, _, shared, since = shared_three(tmp_path, open_store)
    period = parse_period(SAMPLE_DAY, "UTC")
    edition = personal_edition(
        shared, ["rl", "lm", "vision"], period, since, SAMPLE_NOW, 10, SAMPLE_NOW
    )
    rendered = Renderer(settings).email(edition)
    assert len(rendered.subject) <= SUBJECT_LIMIT
    assert rendered.subject.startswith(edition.top.paper.title[:30])
    assert rendered.subject.endswith("(+9 more)")
    assert rendered.preheader.startswith(f"{edition.name}, {period.label()}:")
    assert rendered.preheader in rendered.html


def test_feeds_carry_every_author_and_the_whole_abstract(tmp_path, open_store):
    settings, store, out, _ = published(tmp_path, open_store)
    papers = {p.id: p for p in store.papers()}
    for kind in ("rss", "atom"):
        parsed = feedparser.parse((out / "feeds" / f"rl.{kind}").read_bytes())
        assert parsed.bozo == 0 and parsed.entries
        for entry in parsed.entries:
            paper = papers[entry.id]
            assert entry.author == ", ".join(paper.authors)  # what a feed reader shows
            assert entry.summary.startswith(paper.abstract)


def test_a_weekly_email_links_pages_the_archive_has(tmp_path, open_store):
    from digest.links import Links

    settings, store, _, _ = published(tmp_path, open_store)
    paper = store.papers()[0]
    links = Links(settings)
    week = parse_period("2026-W48", "UTC")
    base = settings.site.base_url
    assert links.edition(week, "rl") == f"{base}/archive/rl/"
    day = paper.first_seen.date().isoformat()
    assert links.in_archive(week, "rl", paper).startswith(f"{base}/archive/{day}/rl/#p-")
    daily = parse_period(SAMPLE_DAY, "UTC")
    assert links.edition(daily, "rl") == f"{base}/archive/{SAMPLE_DAY}/rl/"
