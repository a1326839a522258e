"""Any RSS 0.9x / 1.0 / 2.0 or Atom feed (journals, bioRxiv, blogs), read with feedparser.

An entry's key is its arXiv id if it links to arXiv, else its DOI (``prism:doi``,
``dc:identifier``, a doi.org link), else its link. A feed that feedparser had to repair
still yields what it could read; one with nothing readable fails with the reason.
"""

from __future__ import annotations

from typing import Any

from digest.errors import ParseError
from digest.ids import canonical_id, normalize_doi, parse_arxiv_id
from digest.models import Paper
from digest.sources.base import (
    DocumentAdapter,
    Listing,
    arxiv_links,
    from_struct_time,
    parse_feed,
    unwrap,
)
from digest.text import clean_text, safe_url, split_names


def parse(data: bytes) -> Listing:
    data = unwrap(data)
    if not data.strip():
        raise ParseError("the feed is empty (no bytes)")
    parsed = parse_feed(data)
    papers = [p for p in (_entry(e) for e in parsed.entries) if p is not None]
    problem = _describe(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    if not parsed.get("version") and not papers:
        raise ParseError(_not_a_feed(data, problem))
    if problem and not papers:
        raise ParseError(f"cannot read the feed: {problem}")
    if problem:
        return Listing(papers, f"feed is damaged ({problem}); read {len(papers)} entries anyway")
    if not papers:
        return Listing([], "empty feed: no entries")
    return Listing(papers)


def _entry(entry: Any) -> Paper | None:
    title = clean_text(entry.get("title"))
    link = safe_url(entry.get("link")) or ""
    ident = entry.get("id") or ""
    arxiv = parse_arxiv_id(link) if "arxiv.org" in link else None
    arxiv = arxiv or (parse_arxiv_id(ident) if "arxiv" in ident.lower() else None)
    doi = normalize_doi(
        entry.get("prism_doi")
        or entry.get("dc_identifier")
        or (link if "doi.org/" in link else None)
    )
    abstract = clean_text(_summary(entry))
    if not title and not link:
        return None
    try:
        key = canonical_id(arxiv=arxiv, doi=doi, link=link or ident or None, title=title)
    except ValueError:
        return None
    links = arxiv_links(arxiv, abstract) if arxiv else ({"abs": link} if link else {})
    return Paper(
        id=key,
        title=title or link,
        abstract=abstract,
        authors=_authors(entry),
        categories=tuple(
            dict.fromkeys(
                clean_text(t.get("term"))
                for t in entry.get("tags", [])
                if clean_text(t.get("term"))
            )
        ),
        version=arxiv.version if arxiv else None,
        published=from_struct_time(
            _field(entry, "published_parsed") or _field(entry, "updated_parsed")
        ),
        updated=from_struct_time(_field(entry, "updated_parsed")),
        links=links,
        doi=doi,
    )


def _field(entry: Any, name: str) -> Any:
    """A field as the feed gave it, without feedparser's deprecated fallbacks."""
    return dict.get(entry, name)


def _summary(entry: Any) -> str:
    summary = entry.get("summary") or ""
    if not summary and entry.get("content"):
        summary = entry["content"][0].get("value", "")
    return summary


def _authors(entry: Any) -> tuple[str, ...]:
    names = [clean_text(a.get("name")) for a in entry.get("authors", []) if a.get("name")]
    if len(names) == 1 and "," in names[0]:
        return split_names(names[0])
    return tuple(n for n in names if n)


def _describe(exc: Any) -> str | None:
    if exc is None:
        return None
    message = str(getattr(exc, "getMessage", lambda: exc)()) or type(exc).__name__
    return message.splitlines()[0][:200]


def _not_a_feed(data: bytes, problem: str | None) -> str:
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "not a feed: the server sent an HTML page"
    if problem:
        return f"not an RSS or Atom feed ({problem})"
    return "not an RSS or Atom feed"


class FeedAdapter(DocumentAdapter):
    kind = "feed"
    priority = 20
    summary = "any RSS or Atom feed (journals, bioRxiv, blogs)"
    accept = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.1"

    def __init__(self) -> None:
        super().__init__(parse)
