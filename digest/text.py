"""Plain text from whatever a feed sends: tags stripped, entities decoded, spaces collapsed.

Only real HTML elements are stripped, so mathematics such as ``$a<b$`` or
``$p<q and r>s$`` survives, and LaTeX is kept as written.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

_HTML_ELEMENTS = (
    "a abbr acronym address article aside b big blockquote body br caption center cite code "
    "col colgroup dd del details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4 "
    "h5 h6 head header hr html i iframe img ins kbd li link main mark meta nav noscript "
    "object ol p param picture pre q s samp script section small source span strike strong "
    "style sub summary sup table tbody td tfoot th thead title tr tt u ul var video audio wbr"
).split()
_TAG_RE = re.compile(
    r"<!--.*?-->|<!\[CDATA\[|\]\]>|</?(?:" + "|".join(_HTML_ELEMENTS) + r")"
    r"(?:\s+[\w:-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'<>]+))*\s*/?>",
    re.IGNORECASE | re.DOTALL,
)
_DROP_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACE_RE = re.compile(r"\s+")
_CONTROL_TABLE = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLOCK_RE = re.compile(r"<(?:br|/p|/div|/li|/h\d)\b[^>]*>", re.IGNORECASE)
_URL_TAIL_RE = re.compile(r"(https?://[^\s<>\"']+?)[\s.,;:)\]]*$")
_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "huggingface.co")


def strip_tags(text: str) -> str:
    text = _DROP_RE.sub(" ", text)
    text = _BLOCK_RE.sub(" ", text)
    return _TAG_RE.sub("", text)


def clean_text(text: str | None) -> str:
    """One line of plain text: tags stripped, entities decoded, whitespace collapsed."""
    if not text:
        return ""
    if "<" in text or "&" in text:
        text = html.unescape(strip_tags(text))
    return " ".join(text.translate(_CONTROL_TABLE).split())


def split_names(text: str | None) -> tuple[str, ...]:
    """Authors from one comma-separated string (``A, B and C`` and ``A, B, C``)."""
    cleaned = clean_text(text)
    if not cleaned:
        return ()
    parts = re.split(r",\s*|\s+and\s+|;\s*", cleaned)
    return tuple(p.strip() for p in parts if p.strip())


def trailing_link(abstract: str) -> str | None:
    """The URL an abstract ends with ("Code is available at https://…."), if any."""
    match = _URL_TAIL_RE.search(abstract.strip())
    if not match:
        return None
    return match.group(1).rstrip(".,;:/") or None


def link_kind(url: str) -> str:
    """``code`` for a repository host, ``project`` for any other page."""
    host = re.sub(r"^https?://(www\.)?", "", url.lower()).split("/")[0]
    return "code" if host in _CODE_HOSTS else "project"


def one_line(text: str, limit: int | None = None) -> str:
    """Text safe for one header or table cell: no line breaks, no control characters."""
    flat = _SPACE_RE.sub(" ", _CONTROL_RE.sub("", text.replace("\r", " "))).strip()
    if limit and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) link; anything else (javascript:, relative) is None."""
    if not url:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if (
        parts.scheme.lower() in ("http", "https")
        and parts.netloc
        and not any(c in url for c in "\r\n\t <>\"'`")
    ):
        return url
    return None
