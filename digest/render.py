"""Rendering editions with Jinja2: HTML and plain-text email, RSS and Atom, archive pages.

Templates come from ``templates/`` (inside the wheel: ``digest/templates``); an
operator's folder (``[site] templates``) is searched first, and a template there can
extend the one it replaces as ``"default:email/digest.html"``. HTML and XML are
autoescaped and undefined names are errors.

The email's CSS is written once, as a stylesheet in the template, and inlined once per
edition; what differs per recipient (unsubscribe and preferences links) is left as
placeholder tokens that ``RenderedEmail.fill`` swaps in, so no recipient pays for
rendering or inlining again.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from markupsafe import Markup

from digest.compose import Edition
from digest.config import Settings, TopicSettings
from digest.emailkit import EmailKit, Personal, personal_lines, summary_line
from digest.errors import ConfigError
from digest.models import StoredPaper
from digest.resources import templates_dir
from digest.text import one_line, safe_url

#: Stand-ins for what differs per recipient; plain tokens that survive CSS inlining.
UNSUBSCRIBE_TOKEN = "PD-UNSUBSCRIBE-URL-0d1f"
PREFERENCES_TOKEN = "PD-PREFERENCES-URL-0d1f"
MAX_AUTHORS = 5
EXCERPT = 360
#: Gmail clips an HTML body over 102 KB; abstracts are cut shorter, then left out, to stay under.
HTML_LIMIT = 100 * 1024
EXCERPT_STEPS = (EXCERPT, 160, 0)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str

    def fill(self, unsubscribe_url: str, preferences_url: str) -> tuple[str, str]:
        """The HTML and text bodies for one recipient."""
        body_html = self.html.replace(UNSUBSCRIBE_TOKEN, html.escape(unsubscribe_url)).replace(
            PREFERENCES_TOKEN, html.escape(preferences_url)
        )
        body_text = self.text.replace(UNSUBSCRIBE_TOKEN, unsubscribe_url).replace(
            PREFERENCES_TOKEN, preferences_url
        )
        return body_html, body_text


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One paper in a topic's feed: picked in the edition of ``period`` at ``date``."""

    paper: StoredPaper
    reasons: tuple[str, ...]
    period: str
    date: datetime


class Renderer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        builtin = FileSystemLoader(str(templates_dir()))
        loaders: list[Any] = []
        if settings.site.templates:
            folder = Path(settings.site.templates)
            if not folder.is_dir():
                raise ConfigError(f"site.templates: no such folder {folder}")
            loaders.append(FileSystemLoader(str(folder)))
        loaders += [PrefixLoader({"default": builtin}, delimiter=":"), builtin]
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(["html", "xml"], default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters.update(
            authors=short_authors,
            excerpt=excerpt,
            wrap=wrap,
            rfc822=rfc822,
            rfc3339=rfc3339,
            links=paper_links,
            main_link=main_link,
            safe_url=safe_url,
            one_line=one_line,
        )
        self.env.globals.update(site=settings.site, base_url=settings.site.base_url)
        self.inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)

    def render(self, name: str, **context: Any) -> str:
        try:
            return self.env.get_template(name).render(**context)
        except TemplateError as exc:
            where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
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
        lines = personal_lines(self.settings.site.title, edition)
        text = self.render_email_text(edition, _fields(lines), limit)
        return RenderedEmail(lines.subject, lines.preheader, inlined, text)

    def kit(self, superset: Edition) -> EmailKit:
        """Parts of the emails of one period, for recipients whose editions it covers."""
        return EmailKit(self, superset, EXCERPT)

    def _full_html(self, edition: Edition, excerpt_limit: int) -> str:
        lines = personal_lines(self.settings.site.title, edition)
        return self.render_email_html(edition, _fields(lines), excerpt_limit)

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
            mark=lambda name: Markup(mark.format(name)) if mark else "",
            number=_number,
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
            mark=lambda name: mark.format(name) if mark else "",
            number=number or _number,
        )

    def _email_context(self, edition: Edition, personal: Mapping[str, str]) -> dict[str, Any]:
        return {
            "edition": edition,
            **personal,
            "unsubscribe_url": UNSUBSCRIBE_TOKEN,
            "preferences_url": PREFERENCES_TOKEN,
            "archive_url": self.archive_url,
            "feed_url": self.feed_url,
        }

    def archive_url(self, period: str | None = None, topic: str | None = None) -> str:
        base = f"{self.settings.site.base_url}/archive/"
        if period and topic:
            return f"{base}{period}/{topic}/"
        return base

    def feed_url(self, topic: str, kind: str = "rss") -> str:
        return f"{self.settings.site.base_url}/feeds/{topic}.{kind}"

    # feeds

    def feed(
        self, kind: str, topic: TopicSettings, entries: Sequence[FeedEntry], built_at: datetime
    ) -> str:
        updated = max((e.date for e in entries), default=built_at)
        return self.render(
            f"feed/{'rss' if kind == 'rss' else 'atom'}.xml",
            topic=topic,
            entries=entries,
            updated=updated,
            self_url=self.feed_url(topic.slug, kind),
            archive_url=self.archive_url,
        )

    # archive pages

    def archive_index(
        self,
        periods: Sequence[tuple[str, str, Sequence[Mapping[str, Any]]]],
        topics: Sequence[TopicSettings],
        root: str = "../",
    ) -> str:
        return self.render(
            "site/index.html", periods=periods, topics=topics, root=root, feed_url=self.feed_url
        )

    def edition_page(self, edition: Edition, root: str = "../../../") -> str:
        section = edition.sections[0]
        return self.render(
            "site/edition.html",
            excerpt_limit=EXCERPT,
            edition=edition,
            section=section,
            summary=summary_line(edition),
            root=root,
            feed_url=self.feed_url,
            archive_url=self.archive_url,
        )

    def stylesheet(self) -> str:
        return self.render("site/style.css")


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


def _fields(lines: Personal) -> dict[str, str]:
    return {name: getattr(lines, name) for name in lines.__slots__}


def _number(index: int) -> str:
    return f"{index}.".ljust(3)


def short_authors(authors: Sequence[str], limit: int = MAX_AUTHORS) -> str:
    names = list(authors)
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def excerpt(text: str, limit: int = EXCERPT) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + " …"


def wrap(text: str, width: int = 72, indent: str = "", first: str | None = None) -> str:
    """Text wrapped for a plain-text email (URLs and long words are never broken)."""
    return textwrap.fill(
        one_line(text),
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def rfc822(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_LINK_LABELS = (("abs", "Abstract"), ("pdf", "PDF"), ("code", "Code"), ("project", "Project"))


def paper_links(paper: StoredPaper) -> list[tuple[str, str]]:
    found = []
    for kind, label in _LINK_LABELS:
        url = safe_url(paper.links.get(kind))
        if url:
            found.append(
                (label if kind != "abs" or not paper.id.startswith("arxiv:") else "arXiv", url)
            )
    return found


def main_link(paper: StoredPaper) -> str | None:
    for kind in ("abs", "project", "code", "pdf"):
        url = safe_url(paper.links.get(kind))
        if url:
            return url
    return None
