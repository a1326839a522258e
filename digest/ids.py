"""Canonical paper ids.

A paper is one record whatever source or version it came from. Its key is, in order
of preference: ``arxiv:<id>`` (version kept apart), ``doi:<doi>``, ``url:<normalized
link>``, or, for a pasted listing with no link at all, ``title:<hash of the title>``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# New-style ids: YYMM.NNNN (2007-2014) or YYMM.NNNNN (2015 on); old-style: archive/YYMMNNN.
_NEW = r"(?P<new>\d{4}\.\d{4,5})"
_OLD = r"(?P<old>[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]{2})?/\d{7})"
_ARXIV_RE = re.compile(rf"(?<![\w.]){_NEW}(?:v(?P<v1>\d+))?(?!\d)|{_OLD}(?:v(?P<v2>\d+))?(?!\d)")
_ARXIV_URL_RE = re.compile(r"arxiv\.org/(?:abs|pdf|html|format)/(?P<rest>[^?#\s]+)", re.I)
_DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+)", re.I)
_WORD_RE = re.compile(r"\w+")
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|ref|source)$", re.I)


@dataclass(frozen=True, slots=True)
class ArxivId:
    id: str
    version: int | None

    @property
    def key(self) -> str:
        return f"arxiv:{self.id}"

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.id}"


def parse_arxiv_id(text: str | None) -> ArxivId | None:
    """The arXiv id in an id, an ``arXiv:`` or OAI identifier, or an abs/pdf URL.

    >>> parse_arxiv_id("https://arxiv.org/pdf/2401.01234v3.pdf")
    ArxivId(id='2401.01234', version=3)
    >>> parse_arxiv_id("oai:arXiv.org:hep-th/9901001v2")
    ArxivId(id='hep-th/9901001', version=2)
    """
    if not text:
        return None
    text = text.strip()
    url = _ARXIV_URL_RE.search(text)
    if url:
        text = url.group("rest").removesuffix(".pdf")
    else:
        text = re.sub(r"^(?:oai:arxiv\.org:|arxiv:)", "", text, flags=re.I)
    match = _ARXIV_RE.search(text)
    if not match:
        return None
    ident = match.group("new") or match.group("old")
    version = match.group("v1") or match.group("v2")
    return ArxivId(ident, int(version) if version else None)


def is_arxiv_id(text: str) -> bool:
    """Whether the whole of ``text`` is an arXiv id (with or without version or prefix)."""
    stripped = re.sub(r"^(?:arxiv:)", "", text.strip(), flags=re.I)
    match = _ARXIV_RE.fullmatch(stripped)
    return match is not None


def normalize_doi(text: str | None) -> str | None:
    if not text:
        return None
    match = _DOI_RE.search(text.strip())
    if not match:
        return None
    return match.group(1).rstrip(".,;)").lower()


def normalize_link(url: str | None) -> str | None:
    """A link in one spelling: https, lower-case host without ``www.``, no fragment,
    no tracking parameters, no trailing slash."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.lower().removeprefix("www.")
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)])
    path = parts.path.rstrip("/") or ""
    return urlunsplit(("https", host, path, query, ""))


def normalize_title(title: str) -> str:
    text = title.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_WORD_RE.findall(text.replace("'", "").replace("’", "")))


@lru_cache(maxsize=16384)
def title_key(title: str) -> str:
    digest = hashlib.sha1(normalize_title(title).encode("utf-8")).hexdigest()
    return f"title:{digest[:20]}"


def canonical_id(
    *,
    arxiv: ArxivId | None = None,
    doi: str | None = None,
    link: str | None = None,
    title: str | None = None,
) -> str:
    if arxiv is not None:
        return arxiv.key
    normalized_doi = normalize_doi(doi)
    if normalized_doi:
        return f"doi:{normalized_doi}"
    normalized_link = normalize_link(link)
    if normalized_link:
        return "url:" + normalized_link.removeprefix("https://")
    if title and normalize_title(title):
        return title_key(title)
    raise ValueError("a paper needs an arXiv id, a DOI, a link or a title")
