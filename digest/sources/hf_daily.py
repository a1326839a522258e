"""Hugging Face Daily Papers (``/api/daily_papers``): popularity and links for arXiv papers.

Each element wraps a ``paper`` object. Fields moved between the two over the years, so
each is read from ``paper`` first and from the wrapper second.
"""

from __future__ import annotations

import json
from typing import Any

from digest.errors import ParseError
from digest.ids import parse_arxiv_id
from digest.models import Paper
from digest.sources.base import DocumentAdapter, Listing, arxiv_links, decode_text, parse_date
from digest.text import clean_text, one_line


def parse(data: bytes) -> Listing:
    text = decode_text(data, "the Daily Papers response")
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"Daily Papers response is not JSON ({exc.msg} at line {exc.lineno})"
        ) from exc
    if isinstance(items, dict):
        if "error" in items:
            raise ParseError(f"Daily Papers API error: {one_line(str(items['error']), 200)}")
        items = items.get("papers", items.get("items"))
    if not isinstance(items, list):
        raise ParseError("Daily Papers response is not a JSON list of papers")
    papers = [p for p in (_item(i) for i in items if isinstance(i, dict)) if p is not None]
    skipped = len(items) - len(papers)
    note = f"skipped {skipped} items without an arXiv id or title" if skipped else None
    if not items:
        note = "empty listing: no papers on the daily list (weekends are quiet)"
    return Listing(papers, note)


def _item(item: dict[str, Any]) -> Paper | None:
    wrapped = item.get("paper")
    paper: dict[str, Any] = wrapped if isinstance(wrapped, dict) else {}

    def field(name: str) -> Any:
        value = paper.get(name)
        return value if value not in (None, "", []) else item.get(name)

    arxiv = parse_arxiv_id(str(field("id") or ""))
    title = clean_text(_str(field("title")))
    if arxiv is None or not title:
        return None
    abstract = clean_text(_str(field("summary")))
    authors = field("authors") or []
    names = tuple(
        clean_text(_str(a.get("name")))
        for a in authors
        if isinstance(a, dict) and clean_text(_str(a.get("name")))
    )
    keywords = field("ai_keywords") or []
    extra = {
        "code": _url(field("githubRepo")),
        "project": _url(field("projectPage")),
    }
    return Paper(
        id=arxiv.key,
        title=title,
        abstract=abstract,
        authors=names,
        version=arxiv.version,
        published=parse_date(_str(paper.get("publishedAt") or item.get("publishedAt"))),
        links=arxiv_links(arxiv, abstract, {k: v for k, v in extra.items() if v}),
        upvotes=_int(field("upvotes")),
        num_comments=_int(item.get("numComments", paper.get("numComments"))),
        github_stars=_int(field("githubStars")),
        ai_summary=clean_text(_str(field("ai_summary"))) or None,
        keywords=tuple(clean_text(_str(k)) for k in keywords if isinstance(k, str))
        if isinstance(keywords, list)
        else (),
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _url(value: Any) -> str | None:
    text = _str(value).strip()
    return text if text.startswith(("http://", "https://")) else None


class HfDailyAdapter(DocumentAdapter):
    kind = "hf-daily"
    priority = 30
    summary = "Hugging Face Daily Papers JSON (https://huggingface.co/api/daily_papers)"
    accept = "application/json"

    def __init__(self) -> None:
        super().__init__(parse)
