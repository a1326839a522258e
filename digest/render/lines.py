"""The plain lines of an email and a page: subject, preheader, summary, counts, numbers."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from digest.compose import Edition
from digest.text import one_line

MAX_AUTHORS = 5
EXCERPT = 360


@dataclass(frozen=True, slots=True)
class Personal:
    """The lines of an email that depend on what exactly it holds."""

    subject: str
    preheader: str
    heading: str
    summary: str
    counts: str

    def fields(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.__slots__}


#: Inboxes show about this many characters of a subject.
SUBJECT_LIMIT = 70


def personal_lines(site_title: str, edition: Edition) -> Personal:
    """The subject leads with the top pick (inboxes cut long subjects); the topics and the
    date go to the preheader, the line an inbox shows after it."""
    top = edition.top
    date = edition.period.label()
    count = len(edition.highlights)
    if top:
        rest = f" (+{count - 1} more)" if count > 1 else ""
        subject = one_line(top.paper.title, SUBJECT_LIMIT - len(rest)) + rest
    else:
        subject = one_line(f"{site_title}: no highlights, {date}", SUBJECT_LIMIT)
    preheader = one_line(
        f"{edition.name or site_title}, {date}: {count} highlight{'s' if count != 1 else ''}"
        f" among {edition.arrived} new papers",
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


def number(index: int) -> str:
    """A paper's number in the plain-text email: three columns, like its indent."""
    return f"{index}.".ljust(3)


def text_escape(value: str) -> str:
    """Text as the HTML serializer of the CSS inliner writes it."""
    return (
        value.replace("&", "&amp;")
        .replace("\xa0", "&nbsp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def short_authors(authors: Sequence[str], limit: int = MAX_AUTHORS) -> str:
    names = list(authors)
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The text cut to about ``limit`` characters at a word; a negative limit keeps it whole."""
    if limit < 0 or len(text) <= limit:
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
