"""A pasted listing page as plain text: blocks of a title line and an abstract paragraph.

This is what copying a daily-papers page from a browser gives: a few header lines
("Subscribe", a date), then, separated by blank lines, each paper's title and its
abstract. A title is a short line directly followed by an abstract-sized paragraph; any
other short line is page furniture and ignored. A URL ending an abstract becomes the
paper's code link (a repository host) or project link (any other page).
"""

from __future__ import annotations

import re

from digest.errors import ParseError
from digest.ids import canonical_id, parse_arxiv_id
from digest.models import Paper
from digest.sources.base import DocumentAdapter, Listing, abstract_links, arxiv_links, decode_text
from digest.text import clean_text

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
