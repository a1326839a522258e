"""Every link the project builds: archive, feed and paper URLs, and the signed links a
reader gets (unsubscribe, preferences, confirm), all from ``[site] base_url``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from digest.config import Settings
from digest.models import StoredPaper
from digest.periods import Period, current_period
from digest.text import one_line, safe_url
from digest.tokens import Tokens


@dataclass(frozen=True, slots=True)
class ReaderLinks:
    """The links one reader's message carries."""

    unsubscribe: str
    preferences: str
    unsubscribe_mailto: str


class Links:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.site.base_url
        self.zone = settings.site.timezone
        self.site_host = settings.site_host
        self.unsubscribe_address = settings.unsubscribe_address

    def home(self) -> str:
        return f"{self.base}/"

    def archive(self, period: str | None = None, topic: str | None = None) -> str:
        base = f"{self.base}/archive/"
        if period and topic:
            return f"{base}{period}/{topic}/"
        return base

    def edition(self, period: Period, topic: str) -> str:
        """The archive page of a topic for an edition's period: the day's page, or for a
        weekly edition the topic's page (the archive has a page per day)."""
        if period.kind == "daily":
            return self.archive(period.key, topic)
        return f"{self.base}/archive/{topic}/"

    def in_archive(self, period: Period, topic: str, paper: StoredPaper) -> str:
        """A paper's entry on the archive page of a topic's edition (for a weekly edition,
        the page of the day the paper arrived)."""
        day = (
            period.key
            if period.kind == "daily"
            else current_period(paper.first_seen, "daily", self.zone).key
        )
        return f"{self.archive(day, topic)}#{paper_anchor(paper.id)}"

    def subscribe(self) -> str:
        return f"{self.base}/"

    def opml(self) -> str:
        return f"{self.base}/feeds.opml"

    def feed(self, topic: str, kind: str = "rss") -> str:
        return f"{self.base}/feeds/{topic}.{kind}"

    def unsubscribe(self, token: str) -> str:
        return f"{self.base}/unsubscribe/{token}"

    def preferences(self, token: str) -> str:
        return f"{self.base}/preferences/{token}"

    def confirm(self, tokens: Tokens, subscriber_id: int, nonce: str | None = None) -> str:
        """The double opt-in link, bound to one opt-in by its ``nonce``."""
        return f"{self.base}/confirm/{tokens.make('confirm', subscriber_id, nonce)}"

    def reader(self, tokens: Tokens, subscriber_id: int) -> ReaderLinks:
        """A subscriber's signed links."""
        token = tokens.make("unsubscribe", subscriber_id)
        return ReaderLinks(
            self.unsubscribe(token),
            self.preferences(tokens.make("preferences", subscriber_id)),
            f"mailto:{self.unsubscribe_address}?subject=unsubscribe%20{token}",
        )

    def preview(self) -> ReaderLinks:
        """Stand-ins for a preview message, which no reader gets."""
        return ReaderLinks(
            self.unsubscribe("preview"),
            self.preferences("preview"),
            f"mailto:unsubscribe@{self.site_host}?subject=unsubscribe",
        )


def paper_anchor(paper_id: str) -> str:
    """The id of a paper's card on an archive page (letters, digits, ``-``, ``.``, ``_``)."""
    return "p-" + re.sub(r"[^A-Za-z0-9_.-]", "-", paper_id)


def archive_path(period: str, topic: str) -> str:
    """Where an edition's page lives in the site folder (relative to its root)."""
    return f"archive/{period}/{topic}/index.html"


_LINK_LABELS = (("abs", "Abstract"), ("pdf", "PDF"), ("code", "Code"), ("project", "Project"))


def paper_url(paper: StoredPaper, kind: str) -> str | None:
    """One of a paper's links, if it is an absolute http(s) URL without control characters."""
    url = safe_url(paper.links.get(kind))
    if url is None or not url.isprintable():
        return None
    return url


def hugging_face_url(paper: StoredPaper) -> str | None:
    """A Daily Papers paper's page on huggingface.co (a paper with upvotes was listed there)."""
    if paper.upvotes is None or not paper.id.startswith("arxiv:"):
        return None
    arxiv = paper.id.removeprefix("arxiv:")
    if not re.fullmatch(r"[A-Za-z0-9./-]+", arxiv):
        return None
    return f"https://huggingface.co/papers/{arxiv}"


def title_search_url(paper: StoredPaper) -> str:
    """A search for the paper's title on arXiv: where a title-only paper can be found."""
    return "https://arxiv.org/search/?" + urlencode(
        {"query": one_line(paper.title, 300), "searchtype": "title"}
    )


def paper_links(paper: StoredPaper) -> list[tuple[str, str]]:
    found = []
    for kind, label in _LINK_LABELS:
        url = paper_url(paper, kind)
        if url:
            found.append(
                (label if kind != "abs" or not paper.id.startswith("arxiv:") else "arXiv", url)
            )
    hf = hugging_face_url(paper)
    if hf:
        found.insert(min(len(found), 2), ("Hugging Face", hf))
    if not found:
        found.append(("Search arXiv", title_search_url(paper)))
    return found


def main_link(paper: StoredPaper) -> str:
    """Where a paper's title leads: its page, else a search for its title."""
    for kind in ("abs", "project", "code", "pdf"):
        url = paper_url(paper, kind)
        if url:
            return url
    return hugging_face_url(paper) or title_search_url(paper)
