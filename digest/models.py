"""Value objects that flow through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
LINK_KINDS = ("abs", "pdf", "code", "project")


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as one source describes it. Text fields are plain text already."""

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    version: int | None = None
    published: datetime | None = None
    updated: datetime | None = None
    links: dict[str, str] = field(default_factory=dict)
    doi: str | None = None
    journal_ref: str | None = None
    comment: str | None = None
    announce_type: str | None = None
    upvotes: int | None = None
    num_comments: int | None = None
    github_stars: int | None = None
    ai_summary: str | None = None
    keywords: tuple[str, ...] = ()

    @property
    def is_replacement(self) -> bool:
        return self.announce_type in ("replace", "replace-cross")


@dataclass(frozen=True, slots=True)
class StoredPaper:
    """A paper record as the store holds it: merged from every source that listed it."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    version: int | None
    published: datetime | None
    updated: datetime | None
    first_seen: datetime
    last_seen: datetime
    links: dict[str, str]
    sources: tuple[str, ...]
    doi: str | None = None
    journal_ref: str | None = None
    comment: str | None = None
    announce_type: str | None = None
    upvotes: int | None = None
    num_comments: int | None = None
    github_stars: int | None = None
    ai_summary: str | None = None
    keywords: tuple[str, ...] = ()

    @property
    def is_replacement(self) -> bool:
        return self.announce_type in ("replace", "replace-cross")

    def as_json(self) -> dict[str, Any]:
        """The public JSON shape of ``digest papers --format jsonl``."""
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "abstract": self.abstract,
            "authors": list(self.authors),
            "categories": list(self.categories),
            "published": self.published.isoformat() if self.published else None,
            "first_seen": self.first_seen.isoformat(),
            "links": {k: self.links[k] for k in LINK_KINDS if self.links.get(k)},
            "sources": list(self.sources),
            "announce_type": self.announce_type,
            "upvotes": self.upvotes,
        }
