"""The one HTTP client every source goes through.

Timeouts, a descriptive User-Agent, retries with exponential backoff on connection
errors, 5xx and 429 (``Retry-After`` honoured, capped), conditional GET with the
validators the caller remembers, and a minimum interval per host for services that ask
for one (the arXiv API: one request every 3 seconds). ``file://`` URLs and plain paths
are read from disk, so a saved response works like a live one.

Two limits hold whatever the other side does: ``[fetch] timeout`` bounds every wait for
the network and ``[fetch] deadline`` the whole request (connect, headers, body; a server
that dribbles a byte at a time is cut off there), and ``[fetch] max_bytes`` bounds what
one answer may download and what it may inflate to (``digest.limits``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

from digest.deadline import DeadlineBackend, install
from digest.errors import FetchError
from digest.limits import DEFAULT_MAX_BYTES, count_raw, inflate_gzip, read_capped

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class HttpSettings(Protocol):
    """The ``[fetch]`` settings the client reads (``config.FetchSettings``)."""

    @property
    def timeout(self) -> float: ...
    @property
    def deadline(self) -> float: ...
    @property
    def max_bytes(self) -> int: ...
    @property
    def retries(self) -> int: ...
    @property
    def backoff(self) -> float: ...
    @property
    def max_retry_after(self) -> float: ...
    @property
    def user_agent(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    status: int
    content: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class HttpClient:
    """Polite GETs. ``sleep`` and ``clock`` are injectable so tests never wait."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        #: How retry messages name what is being fetched (a source's name; else the host).
        self.label: str | None = None
        self.clock = clock
        self._last_request: dict[str, float] = {}
        self._deadline = DeadlineBackend()
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=True,
            transport=transport,
        )
        install(self._deadline, self._client)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        min_interval: float = 0.0,
        accept: str | None = None,
        max_bytes: int | None = None,
    ) -> Response:
        """GET ``url``; a 304 comes back as a response with ``not_modified`` set.

        ``max_bytes`` lowers ``[fetch] max_bytes`` for this answer (what is left of a
        source's budget when it takes several requests)."""
        cap = (
            self.settings.max_bytes
            if max_bytes is None
            else min(max_bytes, self.settings.max_bytes)
        )
        if urlsplit(url).scheme == "file":
            return read_file(file_url_path(url), url, cap)
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        host = urlsplit(url).netloc
        attempts = self.settings.retries + 1
        for attempt in range(attempts):
            self._wait_for_turn(host, min_interval)
            try:
                with self._deadline.within(self.settings.deadline):
                    response, retry_after = self._get_once(
                        url, headers, cap, attempt + 1 < attempts
                    )
            except httpx.InvalidURL as exc:
                raise FetchError(f"invalid URL {url!r}: {exc}") from exc
            except httpx.TransportError as exc:
                if self._deadline.expired:
                    limit = self.settings.deadline
                    raise FetchError(
                        f"no complete answer from {url} within [fetch] deadline = {limit:g} s"
                    ) from exc
                reason = _describe_transport_error(exc)
                if attempt + 1 >= attempts:
                    raise FetchError(f"{reason} for {url} (after {attempts} attempts)") from exc
                self._back_off(attempt, attempts, None, f"{reason} for {url}", host)
                continue
            finally:
                self._last_request[host] = self.clock()
            if response is None:
                self._back_off(attempt, attempts, retry_after[1], retry_after[0], host)
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(
        self, url: str, headers: dict[str, str], cap: int, may_retry: bool
    ) -> tuple[Response | None, tuple[str, str | None]]:
        """One GET: the response, or None and (reason, Retry-After) when worth retrying."""
        with self._client.stream("GET", url, headers=headers) as reply:
            if reply.status_code in RETRY_STATUSES and may_retry:
                reason = f"HTTP {reply.status_code} from {url}"
                return None, (reason, reply.headers.get("Retry-After"))
            return self._response(url, reply, cap), ("", None)

    def _body(self, url: str, reply: httpx.Response, cap: int) -> bytes:
        """The body, decoded, never more than ``cap`` bytes downloaded or inflated."""
        what = f"the answer from {url}"
        raw: Iterator[bytes] = count_raw(reply.iter_raw(), cap, what)
        encodings = [e for e in reply.headers.get("Content-Encoding", "").split(",") if e.strip()]
        if len(encodings) > 1:
            raise FetchError(f"{what} uses several content encodings ({', '.join(encodings)})")
        body = read_capped(raw, cap, what, encodings[0] if encodings else "identity")
        return inflate_gzip(body, cap, what) if body[:2] == b"\x1f\x8b" else body

    def _response(self, url: str, reply: httpx.Response, cap: int) -> Response:
        if reply.status_code == 304:
            return Response(
                url,
                304,
                etag=reply.headers.get("ETag"),
                last_modified=reply.headers.get("Last-Modified"),
            )
        if reply.status_code >= 400:
            phrase = reply.reason_phrase or ""
            raise FetchError(f"HTTP {reply.status_code} {phrase} from {url}".replace("  ", " "))
        return Response(
            url=str(reply.url),
            status=reply.status_code,
            content=self._body(url, reply, cap),
            content_type=reply.headers.get("Content-Type"),
            etag=reply.headers.get("ETag"),
            last_modified=reply.headers.get("Last-Modified"),
        )

    def _wait_for_turn(self, host: str, min_interval: float) -> None:
        last = self._last_request.get(host)
        if min_interval > 0 and last is not None:
            remaining = min_interval - (self.clock() - last)
            if remaining > 0:
                self.sleep(remaining)

    def _back_off(
        self, attempt: int, attempts: int, retry_after: str | None, reason: str, host: str
    ) -> None:
        """Wait before the next attempt, and say so: long silent waits look like a hang."""
        delay = parse_retry_after(retry_after)
        if delay is None:
            delay = self.settings.backoff * (2**attempt)
        delay = min(delay, self.settings.max_retry_after)
        log.warning(
            "retrying %s in %s s, attempt %d of %d (%s)",
            self.label or host,
            f"{delay:.3g}",
            attempt + 2,
            attempts,
            reason,
        )
        if delay > 0:
            self.sleep(delay)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    return Path(unquote(parts.path))


def read_file(path: Path, url: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Response:
    """A saved listing, read up to ``max_bytes`` (a gzip file: inflated up to it)."""
    try:
        with path.open("rb") as file:
            content = file.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise FetchError(f"no such file: {path}") from exc
    except IsADirectoryError as exc:
        raise FetchError(f"{path} is a directory, not a listing file") from exc
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror}") from exc
    if len(content) > max_bytes:
        raise FetchError(f"{path} is larger than [fetch] max_bytes = {max_bytes} bytes")
    if content[:2] == b"\x1f\x8b":
        content = inflate_gzip(content, max_bytes, str(path))
    return Response(url or path.as_uri(), 200, content)


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection dropped"
    return type(exc).__name__
