"""arXiv listing feeds (rss.arxiv.org): RSS 2.0 and Atom, and the older RSS 1.0/RDF form.

The current feeds give one item per paper with ``arxiv:announce_type`` (new, cross,
replace, replace-cross), every author in one ``dc:creator``, and a description that
starts ``arXiv:<id>vN Announce Type: …  Abstract:`` which is cut off here. The old RDF
feeds put the id, category and UPDATED / CROSS LISTED into the title instead.

Known formats are read with a plain XML parser (fast); a feed that is not well-formed
falls back to feedparser, which repairs what can be repaired.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from lxml import etree

from digest.errors import ParseError
from digest.ids import ArxivId, parse_arxiv_id
from digest.models import Paper
from digest.sources.base import (
    NS,
    DocumentAdapter,
    Listing,
    arxiv_links,
    children,
    from_struct_time,
    local_name,
    parse_date,
    parse_feed,
    parse_xml,
    text_of,
    unwrap,
    xml_error,
)
from digest.text import clean_text, split_names

_PREFIX_RE = re.compile(
    r"^\s*arXiv:\S+\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.IGNORECASE
)
_OLD_TITLE_RE = re.compile(
    r"\s*\(arXiv:(?P<id>\S+?)\s+\[(?P<cat>[^\]]+)\](?:\s+(?P<flag>UPDATED|CROSS LISTED))?\)\s*$"
)
_OLD_FLAGS = {"UPDATED": "replace", "CROSS LISTED": "cross"}
EMPTY_NOTE = "empty listing: no announcements (arXiv announces none on weekends and holidays)"


def parse(data: bytes) -> Listing:
    data = unwrap(data)
    try:
        root = parse_xml(data)
    except (etree.XMLSyntaxError, ValueError) as exc:
        return _parse_with_feedparser(data, xml_error(exc))
    name = local_name(root)
    if name == "rss":
        channel = root.find("channel")
        if channel is None:
            raise ParseError("RSS document without a <channel>")
        papers = [_rss_item(item) for item in channel.iterfind("item")]
        _raise_for_error_feed(channel, papers)
    elif name == "feed":
        papers = [_atom_entry(entry) for entry in root.iterfind("atom:entry", NS)]
        _raise_for_error_feed(root, papers)
    elif name == "RDF":
        papers = [_rdf_item(item) for item in root.iterfind("rss1:item", NS)]
        if not papers:
            papers = [_rdf_item(item) for item in root.iterfind("item")]
    else:
        raise ParseError(f"not an arXiv listing feed (root element <{name or root.tag}>)")
    found = [p for p in papers if p is not None]
    if not found and papers:
        raise ParseError("feed items carry no arXiv ids; is this an arXiv listing feed?")
    return Listing(found, EMPTY_NOTE if not found else None)


def _raise_for_error_feed(channel: etree._Element, papers: list[Paper | None]) -> None:
    """arXiv answers a bad archive name with a valid feed whose title says so."""
    if papers:
        return
    title = clean_text(text_of(channel, "title") or text_of(channel, "atom:title"))
    if title.lower().startswith("feed error"):
        detail = clean_text(text_of(channel, "description") or text_of(channel, "atom:subtitle"))
        raise ParseError(f"arXiv reports an error: {detail or title}")


_ARXIV = "{http://arxiv.org/schemas/atom}"
_DC = "{http://purl.org/dc/elements/1.1/}"


def _rss_item(item: etree._Element) -> Paper | None:
    fields = children(item)

    def first(tag: str) -> str | None:
        values = fields.get(tag)
        return values[0] if values else None

    arxiv = parse_arxiv_id(first("guid")) or parse_arxiv_id(first("link"))
    if arxiv is None:
        return None
    return _paper(
        arxiv,
        title=first("title"),
        description=first("description"),
        announce=first(f"{_ARXIV}announce_type"),
        creators=first(f"{_DC}creator"),
        categories=[clean_text(c) for c in fields.get("category", [])],
        date=parse_date(first("pubDate")),
        doi=first(f"{_ARXIV}DOI"),
        journal_ref=first(f"{_ARXIV}journal_reference"),
    )


def _atom_entry(entry: etree._Element) -> Paper | None:
    arxiv = parse_arxiv_id(text_of(entry, "atom:id"))
    if arxiv is None:
        link = entry.find("atom:link[@rel='alternate']", NS)
        arxiv = parse_arxiv_id(link.get("href") if link is not None else None)
    if arxiv is None:
        return None
    categories = [c.get("term", "") for c in entry.iterfind("atom:category", NS)]
    return _paper(
        arxiv,
        title=text_of(entry, "atom:title"),
        description=text_of(entry, "atom:summary"),
        announce=text_of(entry, "arxiv:announce_type"),
        creators=text_of(entry, "dc:creator"),
        categories=[c for c in categories if c],
        date=parse_date(text_of(entry, "atom:published")),
        doi=text_of(entry, "arxiv:DOI"),
        journal_ref=text_of(entry, "arxiv:journal_reference"),
    )


def _rdf_item(item: etree._Element) -> Paper | None:
    about = item.get(f"{{{NS['rdf']}}}about")
    title = text_of(item, "rss1:title") or text_of(item, "title") or ""
    match = _OLD_TITLE_RE.search(title)
    arxiv = parse_arxiv_id(match.group("id") if match else None) or parse_arxiv_id(about)
    if arxiv is None:
        return None
    categories = [match.group("cat")] if match else []
    announce = _OLD_FLAGS.get(match.group("flag") or "", "new") if match else None
    return _paper(
        arxiv,
        title=title[: match.start()].rstrip().removesuffix(".") if match else title,
        description=text_of(item, "rss1:description") or text_of(item, "description"),
        announce=announce,
        creators=text_of(item, "dc:creator"),
        categories=categories,
        date=parse_date(text_of(item, "dc:date")),
        doi=None,
        journal_ref=None,
    )


def _paper(
    arxiv: ArxivId,
    *,
    title: str | None,
    description: str | None,
    announce: str | None,
    creators: str | None,
    categories: Iterable[str],
    date: datetime | None,
    doi: str | None,
    journal_ref: str | None,
) -> Paper:
    raw = description or ""
    prefix = _PREFIX_RE.match(raw)
    abstract = clean_text(raw[prefix.end() :] if prefix else raw)
    announce_type = clean_text(announce) or (prefix.group("type").lower() if prefix else None)
    replacement = announce_type in ("replace", "replace-cross")
    clean_title = clean_text(title)
    return Paper(
        id=arxiv.key,
        title=clean_title or arxiv.key,
        abstract=abstract,
        authors=split_names(creators),
        categories=tuple(dict.fromkeys(c for c in categories if c)),
        version=arxiv.version,
        published=None if replacement else date,
        updated=date,
        links=arxiv_links(arxiv, abstract),
        doi=clean_text(doi) or None,
        journal_ref=clean_text(journal_ref) or None,
        announce_type=announce_type or None,
    )


def _parse_with_feedparser(data: bytes, reason: str) -> Listing:
    """Repair what feedparser can; a feed it cannot read either fails with the XML reason."""
    parsed = parse_feed(data)
    papers: list[Paper] = []
    for entry in parsed.entries:
        arxiv = parse_arxiv_id(entry.get("id")) or parse_arxiv_id(entry.get("link"))
        if arxiv is None:
            continue
        published = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        papers.append(
            _paper(
                arxiv,
                title=entry.get("title"),
                description=entry.get("summary"),
                announce=entry.get("arxiv_announce_type"),
                creators=entry.get("author"),
                categories=[t.get("term", "") for t in entry.get("tags", [])],
                date=from_struct_time(published),
                doi=entry.get("arxiv_doi"),
                journal_ref=entry.get("arxiv_journal_reference"),
            )
        )
    if not papers:
        raise ParseError(f"cannot read the feed: {reason}")
    return Listing(papers, f"feed is damaged ({reason}); read {len(papers)} items anyway")


class ArxivRssAdapter(DocumentAdapter):
    kind = "arxiv-rss"
    priority = 40
    summary = "rss.arxiv.org listing feeds (RSS 2.0, Atom, or the older RSS 1.0)"
    accept = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.1"

    def __init__(self) -> None:
        super().__init__(parse)
