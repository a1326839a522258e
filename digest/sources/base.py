"""What every source adapter shares: the result types, reading the document, XML and dates."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol

from lxml import etree

from digest.errors import FetchError, ParseError
from digest.http import HttpClient, HttpSettings, Response, read_file
from digest.ids import ArxivId
from digest.limits import DEFAULT_MAX_BYTES, bounded_all, inflate_gzip
from digest.models import Paper
from digest.text import link_kind, trailing_link

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rss1": "http://purl.org/rss/1.0/",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}


@dataclass(frozen=True, slots=True)
class Listing:
    """What one document held: papers (text fields within ``digest.limits``' caps), and a
    note worth telling the operator."""

    papers: list[Paper]
    note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "papers", bounded_all(self.papers))


@dataclass(slots=True)
class FetchResult:
    papers: list[Paper] = field(default_factory=list)
    not_modified: bool = False
    note: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    requests: int = 0


class SourceSpec(Protocol):
    """What an adapter reads of one ``[[sources]]`` table (``config.SourceSettings``)."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def path(self) -> str | None: ...
    @property
    def max_results(self) -> int: ...
    @property
    def page_size(self) -> int: ...
    @property
    def api_url(self) -> str: ...
    @property
    def resolve_titles(self) -> bool: ...


class FetchOptions(HttpSettings, Protocol):
    """The ``[fetch]`` settings an adapter reads (``config.FetchSettings``)."""

    @property
    def arxiv_api_interval(self) -> float: ...


class Validators(Protocol):
    """What is remembered of the last fetch of a source (``store.SourceState``)."""

    @property
    def etag(self) -> str | None: ...
    @property
    def last_modified(self) -> str | None: ...
    @property
    def content_hash(self) -> str | None: ...


@dataclass(slots=True)
class FetchContext:
    http: HttpClient
    settings: FetchOptions
    state: Validators


class Adapter(Protocol):
    """One kind of source. ``kind`` is the name a ``[[sources]]`` table gives; ``priority``
    says how much the kind is trusted for a paper's bibliographic fields when several
    sources list it (higher wins); ``summary`` is its line in the starter file."""

    kind: str
    priority: int
    summary: str

    def fetch(self, source: SourceSpec, ctx: FetchContext) -> FetchResult: ...


class DocumentAdapter:
    """A source that is one document (a feed, a JSON response, a text file)."""

    kind = ""
    priority = 0
    summary = ""
    accept: str | None = None

    def __init__(self, parse: Callable[[bytes], Listing]) -> None:
        self.parse = parse

    def fetch(self, source: SourceSpec, ctx: FetchContext) -> FetchResult:
        response = get_document(source, ctx, accept=self.accept)
        result = unchanged_result(response, ctx.state)
        if result is not None:
            return result
        listing = self.parse(response.content)
        return FetchResult(
            papers=listing.papers,
            note=listing.note,
            etag=response.etag,
            last_modified=response.last_modified,
            content_hash=content_hash(response.content),
            requests=1,
        )


def get_document(
    source: SourceSpec,
    ctx: FetchContext,
    *,
    accept: str | None = None,
    min_interval: float = 0.0,
) -> Response:
    if source.path is not None:
        return read_file(Path(source.path), max_bytes=ctx.settings.max_bytes)
    assert source.url is not None
    return ctx.http.get(
        source.url,
        etag=ctx.state.etag,
        last_modified=ctx.state.last_modified,
        accept=accept,
        min_interval=min_interval,
    )


def unchanged_result(response: Response, state: Validators) -> FetchResult | None:
    """A not-modified result for a 304, or for the very bytes read last time."""
    if response.not_modified:
        return FetchResult(
            not_modified=True,
            note="not modified (HTTP 304)",
            etag=response.etag or state.etag,
            last_modified=response.last_modified or state.last_modified,
            content_hash=state.content_hash,
            requests=1,
        )
    digest = content_hash(response.content)
    if state.content_hash is not None and digest == state.content_hash:
        return FetchResult(
            not_modified=True,
            note="unchanged since the last fetch",
            etag=response.etag,
            last_modified=response.last_modified,
            content_hash=digest,
            requests=1,
        )
    return None


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unwrap(data: bytes, cap: int = DEFAULT_MAX_BYTES) -> bytes:
    """Bytes as meant: a gzip body served without Content-Encoding is inflated (to ``cap``)."""
    if data[:2] == b"\x1f\x8b":
        try:
            return inflate_gzip(data, cap, "the body")
        except FetchError as exc:
            raise ParseError(str(exc)) from exc
    return data


_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True, remove_pis=True
)


def parse_feed(data: bytes) -> Any:
    """feedparser's reading of a feed; its crashes on hostile bytes become our error.
    (Imported here: loading the settings imports the adapters, and needs no feedparser.)"""
    import feedparser

    try:
        return feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # feedparser raises whatever its decoders raise
        raise ParseError(
            f"cannot read the feed: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"[:200]
        ) from exc


def parse_xml(data: bytes) -> etree._Element:
    """A strictly parsed XML root; raises ``etree.XMLSyntaxError`` for the caller to handle."""
    return etree.fromstring(data, parser=_XML_PARSER)


def xml_error(exc: Exception) -> str:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"not well-formed XML ({message})"


def text_of(element: etree._Element | None, path: str | None = None) -> str | None:
    if element is None:
        return None
    node = element.find(path, NS) if path else element
    if node is None:
        return None
    return "".join(node.itertext())


def children(element: etree._Element) -> dict[str, list[str]]:
    """The text of each child element by its qualified tag (one pass, for hot loops)."""
    found: dict[str, list[str]] = {}
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        text = "".join(child.itertext()) if len(child) else (child.text or "")
        found.setdefault(tag, []).append(text)
    return found


def local_name(element: etree._Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_date(value: str | None) -> datetime | None:
    """An aware UTC datetime from an RFC 822 or ISO 8601 date, or None."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def from_struct_time(value: tuple[int, ...] | None) -> datetime | None:
    """A UTC datetime from feedparser's ``*_parsed`` time tuples."""
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def arxiv_links(
    arxiv: ArxivId, abstract: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    links = {"abs": arxiv.abs_url, "pdf": arxiv.pdf_url}
    links.update(abstract_links(abstract))
    if extra:
        links.update({k: v for k, v in extra.items() if v})
    return links


def abstract_links(abstract: str) -> dict[str, str]:
    """A code or project link that an abstract ends with."""
    url = trailing_link(abstract)
    return {link_kind(url): url} if url else {}


def decode_text(data: bytes, what: str) -> str:
    """Text from UTF-8 (or UTF-16 with a byte-order mark); anything else is an error."""
    data = unwrap(data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ParseError(f"{what} is not valid UTF-16 text: {exc.reason}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
