"""Emails for many recipients without rendering or inlining per recipient.

An ``EmailKit`` renders one *superset* edition of a period (every section and paper any
recipient will get) through the normal templates, with markers where each section,
paper and count starts and placeholder tokens for the personal lines, inlines its CSS
once, and cuts it into parts. A recipient's email is then those parts joined in the
order of their edition, with their lines filled in: string work only, the same bytes
the templates give when rendering that edition directly (the tests hold it to that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from digest.compose import Edition
from digest.text import one_line

if TYPE_CHECKING:
    from digest.render import RenderedEmail, Renderer

HTML_MARK = "<!--pd:{}-->"
TEXT_MARK = "\x1epd:{}\x1e"
NUMBER_TOKEN = "\x1e#\x1e"  # three characters, like "1. ", so wrapping is the same
PERSONAL = ("subject", "preheader", "heading", "summary", "counts")


def token(name: str) -> str:
    return f"PDTOK{name.upper()}0d1f"  # starts with TOKEN_PREFIX


MORE_TOKEN = token("more")


@dataclass(frozen=True, slots=True)
class Personal:
    """The lines of an email that depend on what exactly it holds."""

    subject: str
    preheader: str
    heading: str
    summary: str
    counts: str


def personal_lines(site_title: str, edition: Edition) -> Personal:
    top = edition.top
    date = edition.period.label()
    count = len(edition.highlights)
    title = f"{site_title}: {edition.name}, {date}" if edition.sections else f"{site_title}, {date}"
    subject = one_line(f"{title}: {top.paper.title}" if top else title, 180)
    preheader = one_line(
        f"{count} highlight{'s' if count != 1 else ''} among {edition.arrived} new papers"
        + (f": {top.paper.title}" if top else ""),
        140,
    )
    arrived = edition.arrived
    counts = f"{arrived} new paper{'s' if arrived != 1 else ''} arrived for {date}."
    return Personal(subject, preheader, edition.name or site_title, summary_line(edition), counts)


def summary_line(edition: Edition) -> str:
    picked = len(edition.highlights)
    if not picked:
        reasons = [s.empty_reason for s in edition.sections if s.empty_reason]
        return "No highlights this time" + (": " + "; ".join(reasons) if reasons else "") + "."
    parts = [
        f"{picked} highlight{'s' if picked != 1 else ''} among the "
        f"{edition.arrived} papers that arrived"
    ]
    more = sum(s.more_relevant for s in edition.sections)
    if more:
        parts.append(f"{more} more matched but did not make the cut")
    return "; ".join(parts) + "."


def text_escape(value: str) -> str:
    """Text as the HTML serializer of the CSS inliner writes it."""
    return (
        value.replace("&", "&amp;")
        .replace("\xa0", "&nbsp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


@dataclass(frozen=True, slots=True)
class _Parts:
    """One rendered document cut at its markers."""

    head: str
    sections: list[tuple[str, list[str], str, str]]  # (section head, cards, more, tail)
    foot: str


def _cut(document: str, mark: str) -> _Parts:
    def m(name: str) -> str:
        return mark.format(name)

    head, rest = document.split(m("sections"), 1)
    body, foot = rest.split(m("sections_end"), 1)
    sections = []
    lead, *chunks = body.split(m("section"))
    head += lead
    for chunk in chunks:
        cards_part, after = chunk.split(m("cards_end"), 1)
        section_head, *cards = cards_part.split(m("card"))
        more, tail = "", after
        if m("more") in after:
            before, more_rest = after.split(m("more"), 1)
            more, tail = more_rest.split(m("more_end"), 1)
            tail = before + tail
        sections.append((section_head, cards, more, tail))
    return _Parts(head, sections, foot)


class EmailKit:
    """The parts of one period's emails, cut from a rendered superset edition."""

    def __init__(self, renderer: Renderer, superset: Edition, excerpt_limit: int) -> None:
        self.renderer = renderer
        self.excerpt_limit = excerpt_limit
        self.superset = superset
        self._section_index = {s.topic.slug: i for i, s in enumerate(superset.sections)}
        self._card_index = [
            {h.paper.id: j for j, h in enumerate(s.highlights)} for s in superset.sections
        ]
        marked = Edition(
            superset.period,
            tuple(replace(s, more_relevant=MORE_TOKEN) for s in superset.sections),  # type: ignore[arg-type]
            superset.arrived,
            superset.built_at,
        )
        tokens = {name: token(name) for name in PERSONAL}
        html_doc = renderer.render_email_html(marked, tokens, excerpt_limit, HTML_MARK)
        text_doc = renderer.render_email_text(
            marked, tokens, excerpt_limit, TEXT_MARK, number=lambda i: NUMBER_TOKEN
        )
        self._html = _cut(html_doc, HTML_MARK)
        self._text = _cut(text_doc, TEXT_MARK)

    def covers(self, edition: Edition) -> bool:
        for section in edition.sections:
            index = self._section_index.get(section.topic.slug)
            if index is None or not section.highlights:
                return False
            if any(h.paper.id not in self._card_index[index] for h in section.highlights):
                return False
        return True

    def assemble(self, edition: Edition) -> RenderedEmail:
        """The email for ``edition`` (its sections and papers must be in the superset)."""
        from digest.render import RenderedEmail

        lines = personal_lines(self.renderer.settings.site.title, edition)
        wrap = self.renderer.env.filters["wrap"]
        html_values = {token(n): text_escape(getattr(lines, n)) for n in PERSONAL}
        text_values = {
            token(n): wrap(getattr(lines, n)) if n in WRAPPED else getattr(lines, n)
            for n in PERSONAL
        }
        html_body = self._join(self._html, edition, None, html_values)
        text_body = self._join(self._text, edition, _number, text_values)
        return RenderedEmail(lines.subject, lines.preheader, html_body, text_body)

    def _join(
        self,
        parts: _Parts,
        edition: Edition,
        numbered: Callable[[int], str] | None,
        values: dict[str, str],
    ) -> str:
        out = [_fill(parts.head, values)]
        for section in edition.sections:
            index = self._section_index[section.topic.slug]
            section_head, cards, more, tail = parts.sections[index]
            out.append(section_head)
            for position, highlight in enumerate(section.highlights, start=1):
                card = cards[self._card_index[index][highlight.paper.id]]
                out.append(card.replace(NUMBER_TOKEN, numbered(position)) if numbered else card)
            if section.more_relevant:
                out.append(more.replace(MORE_TOKEN, str(section.more_relevant)))
            out.append(tail)
        out.append(_fill(parts.foot, values))
        joined = "".join(out)
        # personal lines belong in the head and the foot; a template that put one
        # elsewhere still gets it filled in
        return _fill(joined, values) if TOKEN_PREFIX in joined else joined


WRAPPED = ("heading", "summary", "counts")
TOKEN_PREFIX = "PDTOK"


def _fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        if name in text:
            text = text.replace(name, value)
    return text


def _number(index: int) -> str:
    return f"{index}.".ljust(3)
