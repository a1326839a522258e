"""Rendering details: template overrides, strictness, header safety, size limits."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from conftest import RSS_ALL, make_settings

from digest.compose import Edition, Section
from digest.config import TopicSettings
from digest.errors import ConfigError
from digest.fetch import fetch_sources
from digest.message import MessageBuilder
from digest.models import StoredPaper
from digest.periods import parse_period
from digest.picks import Pick
from digest.publish import preview
from digest.render import Renderer, short_authors
from digest.text import safe_url

NOW = datetime(2026, 11, 27, 8, tzinfo=UTC)
TOPIC = TopicSettings(slug="rl", name="Reinforcement learning", keywords=["learning"])


def edition_with(title: str, **paper_fields) -> Edition:
    paper = StoredPaper(
        id="arxiv:2611.00001",
        title=title,
        abstract="An abstract.",
        authors=("A. Author",),
        categories=("cs.LG",),
        version=1,
        published=NOW,
        updated=None,
        first_seen=NOW,
        last_seen=NOW,
        links={"abs": "https://arxiv.org/abs/2611.00001"},
        sources=("s",),
        **paper_fields,
    )
    section = Section(TOPIC, (Pick(paper, 3.0, ("phrase 'x' in title",)),), 10, 0)
    return Edition(parse_period("2026-11-27", "UTC"), (section,), 10, NOW)


def test_operator_templates_override_and_extend_the_built_in_ones(tmp_path):
    folder = tmp_path / "mine"
    (folder / "email").mkdir(parents=True)
    (folder / "email" / "digest.html").write_text(
        '{% extends "default:email/digest.html" %}'
        "{% block title %}Lab digest | {{ super() }}{% endblock %}"
    )
    (folder / "email" / "digest.txt").write_text("Only {{ edition.name }} today.\n")
    settings = make_settings(
        tmp_path, [], site={"templates": str(folder)}, topics=[TOPIC.model_dump()]
    )
    rendered = Renderer(settings).email(edition_with("A title"))
    assert "<title>Lab digest | Paper Digest: Reinforcement learning" in rendered.html
    assert 'class="card"' in rendered.html  # the rest is the built-in template
    assert rendered.text == "Only Reinforcement learning today.\n"


def test_template_errors_are_one_line_config_errors(tmp_path):
    folder = tmp_path / "mine"
    (folder / "email").mkdir(parents=True)
    (folder / "email" / "digest.txt").write_text("{{ no_such_thing }}\n")
    settings = make_settings(tmp_path, [], site={"templates": str(folder)})
    with pytest.raises(ConfigError, match=r"template email/digest.txt.*no_such_thing"):
        Renderer(settings).email(edition_with("A title"))
    missing = make_settings(tmp_path, [], site={"templates": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="site.templates: no such folder"):
        Renderer(missing)


def test_a_newline_in_a_title_never_starts_a_header(tmp_path):
    settings = make_settings(tmp_path, [])
    rendered = Renderer(settings).email(
        edition_with("Evil\r\nBcc: victim@example.org\r\nX-Spam: yes\n\nbody")
    )
    html, text = rendered.fill("https://x.org/u", "https://x.org/p")
    message = MessageBuilder(settings).build(
        subject=rendered.subject,
        text=text,
        html=html,
        to="Reader <r@example.org>",
        message_id="m1",
        date=NOW,
        list_slug="rl",
        unsubscribe_url="https://x.org/u",
    )
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["X-Spam"] is None
    assert "Bcc: victim@example.org" in parsed["Subject"]
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_recipient_links_are_filled_in_escaped():
    from digest.config import parse_settings

    rendered = Renderer(parse_settings({})).email(edition_with("T"))
    html, text = rendered.fill("https://x.org/u?a=1&b=2", "https://x.org/p")
    assert 'href="https://x.org/u?a=1&amp;b=2"' in html
    assert "Unsubscribe: https://x.org/u?a=1&b=2" in text


def test_only_http_links_are_links():
    assert safe_url("https://arxiv.org/abs/1") == "https://arxiv.org/abs/1"
    for bad in (
        "javascript:alert(1)",
        "/relative",
        "data:text/html,x",
        "https://x.org/a b",
        'https://x.org/"onmouseover=',
        None,
        "",
    ):
        assert safe_url(bad) is None


def test_authors_are_shortened_past_five():
    assert short_authors(["A", "B"]) == "A, B"
    assert short_authors([str(i) for i in range(8)]) == "0, 1, 2, 3, 4 and 3 more"


@pytest.mark.realdata
def test_a_large_edition_stays_under_gmail_clipping(tmp_path, open_store):
    topic = {
        "slug": "all",
        "name": "Everything",
        "keywords": ["learning", "model", "data"],
        "max_items": 50,
    }
    settings = make_settings(
        tmp_path, [{"name": "all", "kind": "arxiv-rss", "path": str(RSS_ALL)}], topics=[topic]
    )
    store = open_store(settings)
    fetch_sources(settings, store, now=lambda: NOW)
    result = preview(
        settings,
        store,
        period=parse_period("2026-11-27", "UTC"),
        topics=settings.topics,
        out_dir=tmp_path / "site",
        now=NOW,
    )
    assert len(result.composition.rankings[0].picks) == 50
    html = (tmp_path / "site" / "preview" / "2026-11-27" / "all" / "email.html").read_bytes()
    assert len(html) < 102 * 1024


def test_a_huge_edition_sheds_abstract_text_rather_than_be_clipped(tmp_path):
    settings = make_settings(tmp_path, [])
    one = edition_with("A title that is reasonably long for a paper about learning")
    paper = one.sections[0].highlights[0].paper
    sections = []
    for n in range(6):
        topic = TopicSettings(slug=f"t{n}", name=f"Topic {n}", max_items=50)
        highlights = tuple(
            Pick(
                StoredPaper(
                    **{
                        **{f: getattr(paper, f) for f in paper.__slots__},
                        "id": f"arxiv:2611.{n}{i:04d}",
                        "abstract": "word " * 200,
                    }
                ),
                1.0,
                ("phrase 'learning' in title",),
            )
            for i in range(50)
        )
        sections.append(Section(topic, highlights, 300, 0))
    edition = Edition(one.period, tuple(sections), 300, NOW)
    rendered = Renderer(settings).email(edition)
    assert len(rendered.html.encode()) <= 100 * 1024
    cards = rendered.html.count('class="card"')
    assert 50 < cards < 300
    assert "more matched Topic 5: <a" in rendered.html
    assert rendered.text.count("Why: ") == cards


def test_every_link_is_built_in_one_place():
    from digest.config import parse_settings
    from digest.links import Links, archive_path, main_link
    from digest.tokens import Tokens

    settings = parse_settings({"site": {"base_url": "https://papers.example.org"}})
    links = Links(settings)
    assert links.archive() == "https://papers.example.org/archive/"
    assert links.archive("2026-11-26", "rl") == "https://papers.example.org/archive/2026-11-26/rl/"
    assert links.feed("rl", "atom") == "https://papers.example.org/feeds/rl.atom"
    assert archive_path("2026-W48", "rl") == "archive/2026-W48/rl/index.html"
    tokens = Tokens("test-secret-0123456789abcdef")
    reader = links.reader(tokens, 7)
    unsubscribe = reader.unsubscribe.rsplit("/", 1)[1]
    assert tokens.read("unsubscribe", unsubscribe) == 7
    assert tokens.read("preferences", reader.preferences.rsplit("/", 1)[1]) == 7
    assert reader.unsubscribe_mailto.endswith(f"?subject=unsubscribe%20{unsubscribe}")
    assert tokens.read("confirm", links.confirm(tokens, 7).rsplit("/", 1)[1]) == 7
    # a paper link with a control character in it is no link: the title is searched instead
    paper = edition_with("T").highlights[0].paper
    broken = main_link(replace(paper, links={"abs": "https://x.org/a\x1eb"}))
    assert broken == "https://arxiv.org/search/?query=T&searchtype=title"
    assert main_link(replace(paper, links={"abs": "https://x.org/ab"})) == "https://x.org/ab"
