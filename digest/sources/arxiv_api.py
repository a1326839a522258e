"""arXiv API (export.arxiv.org/api/query) Atom responses, paged politely.

A query URL is fetched page by page (``start``/``max_results``), at least
``[fetch] arxiv_api_interval`` seconds apart (arXiv asks for 3), until
``opensearch:totalResults`` or the source's ``max_results`` cap. 429 and 503 answers
are retried with backoff by the HTTP client. A ``path`` or ``file://`` source is one
saved response, read as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from lxml import etree

from digest.errors import ParseError
from digest.ids import parse_arxiv_id
from digest.limits import Budget, bounded_all
from digest.models import Paper
from digest.sources.base import (
    NS,
    FetchContext,
    FetchResult,
    Listing,
    SourceSpec,
    arxiv_links,
    content_hash,
    get_document,
    local_name,
    parse_date,
    parse_xml,
    text_of,
    unchanged_result,
    unwrap,
    xml_error,
)
from digest.text import clean_text

_CODE_IN_COMMENT = re.compile(r"https?://(?:www\.)?(?:github\.com|gitlab\.com)/[^\s,;)]+")


@dataclass(frozen=True, slots=True)
class ApiPage:
    papers: list[Paper]
    total: int | None
    start: int
    per_page: int | None


def parse_page(data: bytes) -> ApiPage:
    data = unwrap(data)
    try:
        root = parse_xml(data)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ParseError(f"arXiv API response is {xml_error(exc)}") from exc
    if local_name(root) != "feed":
        raise ParseError(f"not an arXiv API response (root element <{local_name(root)}>)")
    entries = root.findall("atom:entry", NS)
    for entry in entries:
        entry_id = text_of(entry, "atom:id") or ""
        if "/api/errors" in entry_id:
            detail = clean_text(text_of(entry, "atom:summary")) or "unknown error"
            raise ParseError(f"arXiv API error: {detail}")
    papers = [p for p in (_entry(e) for e in entries) if p is not None]
    return ApiPage(
        papers=bounded_all(papers),
        total=_int(text_of(root, "opensearch:totalResults")),
        start=_int(text_of(root, "opensearch:startIndex")) or 0,
        per_page=_int(text_of(root, "opensearch:itemsPerPage")),
    )


def parse(data: bytes) -> Listing:
    page = parse_page(data)
    note = "no results" if not page.papers else None
    return Listing(page.papers, note)


def _entry(entry: etree._Element) -> Paper | None:
    arxiv = parse_arxiv_id(text_of(entry, "atom:id"))
    if arxiv is None:
        return None
    abstract = clean_text(text_of(entry, "atom:summary"))
    primary = entry.find("arxiv:primary_category", NS)
    categories = [primary.get("term", "")] if primary is not None else []
    categories += [c.get("term", "") for c in entry.iterfind("atom:category", NS)]
    comment = clean_text(text_of(entry, "arxiv:comment")) or None
    extra: dict[str, str] = {}
    code = _CODE_IN_COMMENT.search(comment or "")
    if code:
        extra["code"] = code.group(0).rstrip(".")
    doi = clean_text(text_of(entry, "arxiv:doi")) or None
    return Paper(
        id=arxiv.key,
        title=clean_text(text_of(entry, "atom:title")) or arxiv.key,
        abstract=abstract,
        authors=tuple(
            clean_text(text_of(a, "atom:name"))
            for a in entry.iterfind("atom:author", NS)
            if clean_text(text_of(a, "atom:name"))
        ),
        categories=tuple(dict.fromkeys(c for c in categories if c)),
        version=arxiv.version,
        published=parse_date(text_of(entry, "atom:published")),
        updated=parse_date(text_of(entry, "atom:updated")),
        links=arxiv_links(arxiv, abstract, extra),
        doi=doi,
        journal_ref=clean_text(text_of(entry, "arxiv:journal_ref")) or None,
        comment=comment,
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value else None
    except ValueError:
        return None


def with_params(url: str, **params: object) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query, safe=':,+()"')))


def fetch_pages(url: str, ctx: FetchContext, cap: int, page_size: int) -> tuple[list[Paper], int]:
    """All pages of one query, up to ``cap`` papers; returns the papers and request count."""
    papers: list[Paper] = []
    start = 0
    requests = 0
    budget = Budget(ctx.settings.max_bytes, f"the answers to {url}")
    while len(papers) < cap:
        wanted = min(page_size, cap - len(papers))
        response = ctx.http.get(
            with_params(url, start=start, max_results=wanted),
            min_interval=ctx.settings.arxiv_api_interval,
            max_bytes=budget.left,
        )
        budget.spend(len(response.content))
        requests += 1
        page = parse_page(response.content)
        papers.extend(page.papers)
        start += len(page.papers)
        if not page.papers or page.total is None or start >= page.total:
            break
    return papers[:cap], requests


class ArxivApiAdapter:
    kind = "arxiv-api"
    priority = 50
    summary = "an arXiv API query URL, paged politely; max_results caps it"

    def fetch(self, source: SourceSpec, ctx: FetchContext) -> FetchResult:
        if source.path is not None or (source.url or "").startswith("file:"):
            response = get_document(source, ctx)
            unchanged = unchanged_result(response, ctx.state)
            if unchanged is not None:
                return unchanged
            listing = parse(response.content)
            return FetchResult(
                papers=listing.papers,
                note=listing.note,
                content_hash=content_hash(response.content),
                requests=1,
            )
        assert source.url is not None
        papers, requests = fetch_pages(source.url, ctx, source.max_results, source.page_size)
        return FetchResult(papers=papers, note=None if papers else "no results", requests=requests)
