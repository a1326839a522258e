"""A pasted listing page as plain text: blocks of a title line and an abstract paragraph.

This is what copying a daily-papers page from a browser gives: a few header lines
("Subscribe", a date), then, separated by blank lines, each paper's title and its
abstract. A title is a short line directly followed by an abstract-sized paragraph; any
other short line is page furniture and ignored. A URL ending an abstract becomes the
paper's code link (a repository host) or project link (any other page).

When fetched, a paper known only by its title is looked up in the arXiv API's title
search (``api_url``, unless ``resolve_titles = false``) and stored as its arXiv record.
"""

from __future__ import annotations

import re
from dataclasses import replace

from digest.errors import ParseError, SourceError
from digest.ids import canonical_id, normalize_title, parse_arxiv_id
from digest.models import Paper
from digest.sources.arxiv_api import parse_page, with_params
from digest.sources.base import (
    DocumentAdapter,
    FetchContext,
    FetchResult,
    Listing,
    SourceSpec,
    abstract_links,
    arxiv_links,
    decode_text,
)
from digest.text import clean_text, one_line

MIN_ABSTRACT_WORDS = 35
MAX_TITLE_WORDS = 40
MAX_TITLE_CHARS = 400
_BLOCK_SPLIT = re.compile(r"\n[ \t]*\n")
_ARXIV_REF = re.compile(r"arxiv(?:\.org/(?:abs|pdf)/|:)\s*\S+", re.IGNORECASE)


def parse(data: bytes) -> Listing:
    text = decode_text(data, "the listing").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        raise ParseError("the listing is not plain text (it contains NUL bytes)")
    blocks = [b.strip() for b in _BLOCK_SPLIT.split(text) if b.strip()]
    pairs: list[tuple[str, str]] = []
    previous_was_abstract = False
    for index, block in enumerate(blocks):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        joined = " ".join(lines)
        if _is_abstract(joined):
            before = blocks[index - 1] if index else ""
            if index and _is_title(before) and not previous_was_abstract:
                pairs.append((before, joined))
            elif len(lines) > 1 and _is_title(lines[0]) and _is_abstract(" ".join(lines[1:])):
                pairs.append((lines[0], " ".join(lines[1:])))
            elif previous_was_abstract and pairs:
                title, abstract = pairs[-1]
                pairs[-1] = (title, f"{abstract} {joined}")
            previous_was_abstract = True
        else:
            previous_was_abstract = False
    papers = [_paper(title, abstract) for title, abstract in pairs]
    if not papers:
        if blocks:
            raise ParseError(
                "no papers found: expected a title line followed by an abstract "
                "paragraph, separated by blank lines"
            )
        return Listing([], "empty listing")
    return Listing(papers)


def _is_abstract(text: str) -> bool:
    return len(text.split()) >= MIN_ABSTRACT_WORDS


def _is_title(block: str) -> bool:
    return (
        "\n" not in block.strip()
        and len(block) <= MAX_TITLE_CHARS
        and 0 < len(block.split()) <= MAX_TITLE_WORDS
        and not _is_abstract(block)
    )


def _paper(title: str, abstract: str) -> Paper:
    clean_title = clean_text(title)
    clean_abstract = clean_text(abstract)
    reference = _ARXIV_REF.search(clean_title)
    arxiv = parse_arxiv_id(reference.group(0)) if reference else None
    if arxiv is not None:
        return Paper(
            id=arxiv.key,
            title=clean_title,
            abstract=clean_abstract,
            version=arxiv.version,
            links=arxiv_links(arxiv, clean_abstract),
        )
    return Paper(
        id=canonical_id(title=clean_title),
        title=clean_title,
        abstract=clean_abstract,
        links=abstract_links(clean_abstract),
    )


class ListingAdapter(DocumentAdapter):
    kind = "listing"
    priority = 10
    summary = "a pasted listing page as plain text: title line, then abstract paragraph"

    def __init__(self) -> None:
        super().__init__(parse)

    def fetch(self, source: SourceSpec, ctx: FetchContext) -> FetchResult:
        result = super().fetch(source, ctx)
        if not source.resolve_titles or result.not_modified:
            return result
        papers, note = resolve_titles(result.papers, source.api_url, ctx)
        notes = "; ".join(n for n in (result.note, note) if n) or None
        return replace(result, papers=papers, note=notes)


def resolve_titles(
    papers: list[Paper], api_url: str, ctx: FetchContext
) -> tuple[list[Paper], str | None]:
    """Title-only papers replaced by their arXiv record, found by the API's title search.

    One request per such paper, ``[fetch] arxiv_api_interval`` apart like every arXiv API
    call; a title the API does not know exactly stays as it is (its links search for it).
    The first failed request stops the lookups: the rest wait for the next fetch.
    """
    resolved: list[Paper] = []
    found = tried = 0
    problem = None
    for paper in papers:
        if not paper.id.startswith("title:") or problem is not None:
            resolved.append(paper)
            continue
        tried += 1
        try:
            match = _lookup(paper, api_url, ctx)
        except SourceError as exc:
            problem = f"title lookup stopped: {one_line(str(exc), 160)}"
            match = None
        if match is not None:
            found += 1
            resolved.append(
                replace(
                    match,
                    abstract=match.abstract or paper.abstract,
                    links={**paper.links, **match.links},
                )
            )
        else:
            resolved.append(paper)
    if not tried:
        return resolved, None
    note = f"{found} of {tried} titles found on arXiv"
    return resolved, f"{note}; {problem}" if problem else note


def _lookup(paper: Paper, api_url: str, ctx: FetchContext) -> Paper | None:
    words = re.findall(r"\w+", paper.title)
    if not words:
        return None
    query = with_params(api_url, search_query=f'ti:"{" ".join(words)}"', max_results=5)
    response = ctx.http.get(
        query, min_interval=ctx.settings.arxiv_api_interval, max_bytes=ctx.settings.max_bytes
    )
    wanted = normalize_title(paper.title)
    for candidate in parse_page(response.content).papers:
        if normalize_title(candidate.title) == wanted:
            return candidate
    return None
