"""Size caps on what a source may make us hold: bytes downloaded, bytes inflated, field lengths.

A listing is read in chunks and counted as it arrives; a compressed body (``Content-Encoding``
or a gzip file) is inflated in bounded steps, so a small bomb never becomes a large buffer.
Over the cap is a ``FetchError`` naming the cap; the caller fails that one source.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import replace

from digest.errors import FetchError
from digest.models import Paper

#: ``[fetch] max_bytes`` by default: what one source may download, and what it may inflate to.
DEFAULT_MAX_BYTES = 50_000_000
_STEP = 1 << 16


def too_large(what: str, cap: int) -> FetchError:
    return FetchError(f"{what} is larger than [fetch] max_bytes = {cap} bytes")


def _decompressor(encoding: str, what: str) -> zlib._Decompress | None:
    """A streaming decoder for a Content-Encoding (None: the bytes are as they are)."""
    if encoding in ("identity", ""):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj(zlib.MAX_WBITS)  # raw deflate is handled on the first chunk
    raise FetchError(f"{what} uses an unsupported content encoding {encoding!r}")


def _inflate_chunks(chunks: Iterable[bytes], encoding: str, what: str) -> Iterator[bytes]:
    """The inflated bytes, at most ``_STEP`` at a time whatever one chunk inflates to."""
    decoder = _decompressor(encoding, what)
    if decoder is None:
        yield from chunks
        return
    first = True
    try:
        for chunk in chunks:
            if first and encoding == "deflate" and chunk and (chunk[0] & 0x0F) != 8:
                decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate without zlib's header
            first = False
            data = chunk
            while data and not decoder.eof:
                yield decoder.decompress(data, _STEP)
                data = decoder.unconsumed_tail
            if decoder.eof:
                return
        yield decoder.flush(_STEP)
    except zlib.error as exc:
        raise FetchError(f"{what} cannot be inflated ({encoding}): {exc}") from exc


def read_capped(chunks: Iterable[bytes], cap: int, what: str, encoding: str = "identity") -> bytes:
    """The bytes of ``chunks`` decoded per ``encoding``, at most ``cap`` of them."""
    buffer = bytearray()
    for piece in _inflate_chunks(chunks, encoding.strip().lower(), what):
        buffer += piece
        if len(buffer) > cap:
            raise too_large(what, cap)
    return bytes(buffer)


def count_raw(chunks: Iterable[bytes], cap: int, what: str) -> Iterator[bytes]:
    """``chunks`` as they come, stopped once more than ``cap`` bytes came."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > cap:
            raise too_large(what, cap)
        yield chunk


def inflate_gzip(data: bytes, cap: int, what: str) -> bytes:
    """A gzip body served without Content-Encoding (a ``.gz`` file), inflated up to ``cap``."""
    return read_capped(_split(data), cap, what, "gzip")


def _split(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), _STEP):
        yield data[start : start + _STEP]


class Budget:
    """What is left of one source's ``max_bytes`` when it takes several requests."""

    def __init__(self, cap: int, what: str) -> None:
        self.cap = cap
        self.left = cap
        self.what = what

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise too_large(self.what, self.cap)


# What one paper may bring into the store, whatever its source says. arXiv abstracts stay
# under 2,000 characters and titles under 300; collaborations list a few thousand authors.
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
MAX_AUTHOR = 200
MAX_AUTHORS = 1_000
MAX_SHORT = 2_000  # comment, journal reference, AI summary, each category and keyword
MAX_TERMS = 100  # categories, keywords
MAX_URL = 2_000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cut_opt(text: str | None, limit: int) -> str | None:
    return None if text is None else _cut(text, limit)


def bounded(paper: Paper) -> Paper | None:
    """``paper`` with every text field cut to its cap; None if its id is absurdly long."""
    if len(paper.id) > MAX_URL:
        return None
    links = {k: v for k, v in paper.links.items() if len(v) <= MAX_URL}
    within = (
        len(paper.title) <= MAX_TITLE
        and len(paper.abstract) <= MAX_ABSTRACT
        and len(paper.authors) <= MAX_AUTHORS
        and all(len(a) <= MAX_AUTHOR for a in paper.authors)
        and len(paper.categories) <= MAX_TERMS
        and len(paper.keywords) <= MAX_TERMS
        and all(len(t) <= MAX_SHORT for t in (*paper.categories, *paper.keywords))
        and all(
            v is None or len(v) <= MAX_SHORT
            for v in (paper.comment, paper.journal_ref, paper.ai_summary, paper.doi)
        )
        and len(links) == len(paper.links)
    )
    if within:
        return paper
    return replace(
        paper,
        title=_cut(paper.title, MAX_TITLE),
        abstract=_cut(paper.abstract, MAX_ABSTRACT),
        authors=tuple(_cut(a, MAX_AUTHOR) for a in paper.authors[:MAX_AUTHORS]),
        categories=tuple(_cut(c, MAX_SHORT) for c in paper.categories[:MAX_TERMS]),
        keywords=tuple(_cut(k, MAX_SHORT) for k in paper.keywords[:MAX_TERMS]),
        comment=_cut_opt(paper.comment, MAX_SHORT),
        journal_ref=_cut_opt(paper.journal_ref, MAX_SHORT),
        ai_summary=_cut_opt(paper.ai_summary, MAX_SHORT),
        doi=paper.doi if paper.doi is None or len(paper.doi) <= MAX_SHORT else None,
        links=links,
    )


def bounded_all(papers: Iterable[Paper]) -> list[Paper]:
    return [b for b in (bounded(p) for p in papers) if b is not None]
