"""Emails for many recipients without rendering or inlining per recipient.

An ``EmailKit`` renders one *superset* edition of a period (every section and paper any
recipient will get) through the normal templates, with markers where each section,
paper and count starts and slots for the personal lines, inlines its CSS once, and cuts
it into parts, each cut at its slots once. A recipient's email is then those parts
joined in the order of their edition, their lines filled in by position: list work only,
the same bytes the templates give when rendering that edition directly (the tests hold
it to that).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from digest.compose import Edition
from digest.render.lines import number, personal_lines, text_escape, wrap
from digest.render.slots import MORE, PERSONAL, Marks, RenderedEmail, Slot, Slotted

#: Three characters, like "1. ", so wrapping is the same; a card's first one is its number.
NUMBER_TOKEN = "\x1e#\x1e"
WRAPPED = ("heading", "summary", "counts")


class EmailRenderer(Protocol):
    """What the kit needs of a renderer."""

    marks: Marks
    site_title: str

    def render_email_html(
        self, edition: Edition, personal: Mapping[str, str], excerpt_limit: int, mark: str | None
    ) -> str: ...

    def render_email_text(
        self,
        edition: Edition,
        personal: Mapping[str, str],
        excerpt_limit: int,
        mark: str | None,
        number: Callable[[int], str] | None,
    ) -> str: ...


@dataclass(frozen=True, slots=True)
class _Card:
    """A paper's part; in the text email, cut at its number."""

    head: Slotted
    tail: Slotted | None = None  # after the number (text only)


@dataclass(frozen=True, slots=True)
class _Section:
    head: Slotted
    cards: list[_Card]
    more: Slotted
    tail: Slotted


@dataclass(frozen=True, slots=True)
class _Parts:
    """One rendered document cut at its markers."""

    head: Slotted
    sections: list[_Section]
    foot: Slotted


def _cut(document: str, mark: str, marks: Marks, numbered: bool) -> _Parts:
    def m(name: str) -> str:
        return mark.format(marks.structure(name))

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
        sections.append(
            _Section(
                marks.cut(section_head),
                [_card(card, marks, numbered) for card in cards],
                marks.cut(more),
                marks.cut(tail),
            )
        )
    return _Parts(marks.cut(head), sections, marks.cut(foot))


def _card(card: str, marks: Marks, numbered: bool) -> _Card:
    if numbered and NUMBER_TOKEN in card:
        before, after = card.split(NUMBER_TOKEN, 1)
        return _Card(marks.cut(before), marks.cut(after))
    return _Card(marks.cut(card))


class EmailKit:
    """The parts of one period's emails, cut from a rendered superset edition."""

    def __init__(self, renderer: EmailRenderer, superset: Edition, excerpt_limit: int) -> None:
        self.renderer = renderer
        self.marks = renderer.marks
        self.excerpt_limit = excerpt_limit
        self.superset = superset
        self._section_index = {s.topic.slug: i for i, s in enumerate(superset.sections)}
        self._card_index = [
            {h.paper.id: j for j, h in enumerate(s.highlights)} for s in superset.sections
        ]
        more = self.marks.slot(MORE)
        marked = Edition(
            superset.period,
            tuple(replace(s, more_relevant=more) for s in superset.sections),  # type: ignore[arg-type]
            superset.arrived,
            superset.built_at,
        )
        slots = {name: self.marks.slot(name) for name in PERSONAL}
        html_mark = "<!--{}-->"
        text_mark = "\x1e{}\x1e"
        html_doc = renderer.render_email_html(marked, slots, excerpt_limit, html_mark)
        text_doc = renderer.render_email_text(
            marked, slots, excerpt_limit, text_mark, lambda i: NUMBER_TOKEN
        )
        self._html = _cut(html_doc, html_mark, self.marks, numbered=False)
        self._text = _cut(text_doc, text_mark, self.marks, numbered=True)

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
        lines = personal_lines(self.renderer.site_title, edition)
        html_values = {n: text_escape(getattr(lines, n)) for n in PERSONAL}
        text_values = {
            n: wrap(getattr(lines, n)) if n in WRAPPED else getattr(lines, n) for n in PERSONAL
        }
        html_body = self._join(self._html, edition, html_values)
        text_body = self._join(self._text, edition, text_values)
        return RenderedEmail(lines.subject, lines.preheader, html_body, text_body, self.marks)

    def _join(self, parts: _Parts, edition: Edition, values: dict[str, str]) -> Slotted:
        out: list[str | Slot] = parts.head.partial(values)
        for section in edition.sections:
            index = self._section_index[section.topic.slug]
            part = parts.sections[index]
            out += part.head.partial(values)
            for position, highlight in enumerate(section.highlights, start=1):
                card = part.cards[self._card_index[index][highlight.paper.id]]
                out += card.head.partial(values)
                if card.tail is not None:
                    out.append(number(position))
                    out += card.tail.partial(values)
            if section.more_relevant:
                out += part.more.partial({**values, MORE: str(section.more_relevant)})
            out += part.tail.partial(values)
        out += parts.foot.partial(values)
        return Slotted(tuple(out))
