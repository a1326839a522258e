"""Rendering editions with Jinja2: HTML and plain-text email, RSS and Atom, archive pages.

The email's CSS is written once, as a stylesheet in the template, and inlined once per
edition; what differs per recipient (unsubscribe and preferences links) is left as slots
that ``RenderedEmail.fill`` fills by position, so no recipient pays for rendering or
inlining again, and nothing a paper says can reach a reader's links.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import css_inline
from jinja2 import TemplateError
from markupsafe import Markup

from digest.compose import Edition
from digest.config import Settings, TopicSettings
from digest.errors import ConfigError
from digest.links import Links
from digest.periods import parse_period
from digest.picks import Pick
from digest.render.environment import environment
from digest.render.kit import EmailKit
from digest.render.lines import EXCERPT, personal_lines, summary_line
from digest.render.lines import number as paper_number
from digest.render.slots import PREFERENCES, UNSUBSCRIBE, Marks, RenderedEmail

#: Gmail clips an HTML body over 102 KB; abstracts are cut shorter, then left out, to stay under.
HTML_LIMIT = 100 * 1024
EXCERPT_STEPS = (EXCERPT, 160, 0)
#: The archive pages and the feeds carry the whole abstract.
WHOLE = -1


class Renderer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.site_title = settings.site.title
        self.links = Links(settings)
        self.env = environment(settings)
        self.marks = Marks()
        self.inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)

    def render(self, name: str, **context: Any) -> str:
        try:
            return self.env.get_template(name).render(**context)
        except TemplateError as exc:
            lineno = getattr(exc, "lineno", None)
            where = f" (line {lineno})" if lineno else ""
            raise ConfigError(f"template {name}{where}: {exc}") from exc

    # email

    def email(self, edition: Edition) -> RenderedEmail:
        """Render and inline one email, kept under Gmail's clipping size.

        A too-large edition first loses abstract text, then its lowest highlights (they
        stay in the archive, and the email says how many more there are).
        """
        for limit in EXCERPT_STEPS:
            inlined = self._full_html(edition, limit)
            if len(inlined.encode()) <= HTML_LIMIT:
                break
        while len(inlined.encode()) > HTML_LIMIT and edition.highlights:
            edition = _trimmed(edition, len(inlined.encode()))
            inlined = self._full_html(edition, limit)
        lines = personal_lines(self.site_title, edition)
        text = self.render_email_text(edition, lines.fields(), limit)
        return RenderedEmail(
            lines.subject,
            lines.preheader,
            self.marks.cut(inlined),
            self.marks.cut(text),
            self.marks,
        )

    def kit(self, superset: Edition) -> EmailKit:
        """Parts of the emails of one period, for recipients whose editions it covers."""
        return EmailKit(self, superset, EXCERPT)

    def _full_html(self, edition: Edition, excerpt_limit: int) -> str:
        lines = personal_lines(self.site_title, edition)
        return self.render_email_html(edition, lines.fields(), excerpt_limit)

    def render_email_html(
        self,
        edition: Edition,
        personal: Mapping[str, str],
        excerpt_limit: int,
        mark: str | None = None,
    ) -> str:
        page = self.render(
            "email/digest.html",
            **self._email_context(edition, personal),
            excerpt_limit=excerpt_limit,
            mark=lambda name: Markup(mark.format(self.marks.structure(name))) if mark else "",
            number=paper_number,
        )
        return self.inliner.inline(page).rstrip("\n") + "\n"

    def render_email_text(
        self,
        edition: Edition,
        personal: Mapping[str, str],
        excerpt_limit: int,
        mark: str | None = None,
        number: Callable[[int], str] | None = None,
    ) -> str:
        return self.render(
            "email/digest.txt",
            **self._email_context(edition, personal),
            excerpt_limit=excerpt_limit,
            mark=lambda name: mark.format(self.marks.structure(name)) if mark else "",
            number=number or paper_number,
        )

    def _email_context(self, edition: Edition, personal: Mapping[str, str]) -> dict[str, Any]:
        return {
            "edition": edition,
            **personal,
            "unsubscribe_url": self.marks.slot(UNSUBSCRIBE),
            "preferences_url": self.marks.slot(PREFERENCES),
            "archive_url": self.links.archive,
            "in_archive": self.links.in_archive,
            "edition_url": self.links.edition,
            "feed_url": self.links.feed,
        }

    # feeds

    def feed(
        self, kind: str, topic: TopicSettings, entries: Sequence[Pick], built_at: datetime
    ) -> str:
        """A topic's feed of the picks of its stored editions (each ``Pick.period`` set)."""
        zone = self.settings.site.timezone
        dates = {e.period: parse_period(e.period, zone).start for e in entries if e.period}
        updated = max(dates.values(), default=built_at)
        return self.render(
            f"feed/{'rss' if kind == 'rss' else 'atom'}.xml",
            topic=topic,
            entries=entries,
            dates=dates,
            updated=updated,
            self_url=self.links.feed(topic.slug, kind),
            archive_url=self.links.archive,
        )

    # archive pages

    def archive_index(
        self,
        periods: Sequence[tuple[str, str, Sequence[Mapping[str, Any]]]],
        topics: Sequence[TopicSettings],
        root: str = "../",
    ) -> str:
        return self.site_page(
            "site/index.html", root, periods=periods, topics=topics, opml_url=self.links.opml()
        )

    def topic_page(
        self,
        topic: TopicSettings,
        periods: Sequence[tuple[str, str, Sequence[Mapping[str, Any]]]],
        root: str = "../../",
    ) -> str:
        """A topic's editions, newest first (the archive browsed by topic)."""
        return self.site_page("site/topic.html", root, topic=topic, periods=periods)

    def site_page(self, name: str, root: str, **context: Any) -> str:
        """An archive page: ``root`` leads to the site's top; feeds and subscribe linked."""
        return self.render(
            name,
            root=root,
            feed_url=self.links.feed,
            archive_url=self.links.archive,
            subscribe_url=self.links.subscribe(),
            **context,
        )

    def opml(self, topics: Sequence[TopicSettings]) -> str:
        """An OPML list of every topic's feed, for feed readers to import at once."""
        return self.render("feed/feeds.opml", topics=topics, feed_url=self.links.feed)

    def edition_page(self, edition: Edition, root: str = "../../../") -> str:
        section = edition.sections[0]
        return self.site_page(
            "site/edition.html",
            root,
            excerpt_limit=WHOLE,
            edition=edition,
            section=section,
            summary=summary_line(edition),
        )

    def stylesheet(self) -> str:
        return self.render("site/style.css")

    # links (for templates and callers that had them here)

    def archive_url(self, period: str | None = None, topic: str | None = None) -> str:
        return self.links.archive(period, topic)

    def feed_url(self, topic: str, kind: str = "rss") -> str:
        return self.links.feed(topic, kind)


def _trimmed(edition: Edition, size: int) -> Edition:
    """The edition with its lowest highlights moved to "more", in proportion to the excess."""
    count = len(edition.highlights)
    keep = max(0, min(count - 1, int(count * HTML_LIMIT / size * 0.95)))
    sections = []
    budget = keep
    for section in edition.sections:
        share = min(len(section.highlights), max(1, keep * len(section.highlights) // count))
        share = min(share, budget)
        budget -= share
        dropped = len(section.highlights) - share
        sections.append(
            replace(
                section,
                highlights=section.highlights[:share],
                more_relevant=section.more_relevant + dropped,
            )
        )
    return replace(edition, sections=tuple(sections))
