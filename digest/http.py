"""The one HTTP client every source goes through.

Timeouts, a descriptive User-Agent, retries with exponential backoff on connection
errors, 5xx and 429 (``Retry-After`` honoured, capped), conditional GET with the
validators the caller remembers, and a minimum interval per host for services that ask
for one (the arXiv API: one request every 3 seconds). ``file://`` URLs and plain paths
are read from disk, so a saved response works like a live one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from digest.config import FetchSettings
from digest.errors import FetchError

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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
        settings: FetchSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self._last_request: dict[str, float] = {}
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=True,
            transport=transport,
        )

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
    ) -> Response:
        """GET ``url``; a 304 comes back as a response with ``not_modified`` set."""
        if urlsplit(url).scheme == "file":
            return read_file(file_url_path(url), url)
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
                reply = self._client.get(url, headers=headers)
            except httpx.InvalidURL as exc:
                raise FetchError(f"invalid URL {url!r}: {exc}") from exc
            except httpx.TransportError as exc:
                reason = _describe_transport_error(exc)
                if attempt + 1 >= attempts:
                    raise FetchError(f"{reason} for {url} (after {attempts} attempts)") from exc
                self._back_off(attempt, None, f"{reason} for {url}")
                continue
            finally:
                self._last_request[host] = self.clock()
            if reply.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                self._back_off(
                    attempt,
                    reply.headers.get("Retry-After"),
                    f"HTTP {reply.status_code} from {url}",
                )
                continue
            return self._response(url, reply)
        raise AssertionError("unreachable")  # pragma: no cover

    def _response(self, url: str, reply: httpx.Response) -> Response:
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
            content=reply.content,
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

    def _back_off(self, attempt: int, retry_after: str | None, reason: str) -> None:
        delay = parse_retry_after(retry_after)
        if delay is None:
            delay = self.settings.backoff * (2**attempt)
        delay = min(delay, self.settings.max_retry_after)
        log.info("%s; retrying in %.1f s", reason, delay)
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


def read_file(path: Path, url: str | None = None) -> Response:
    try:
        content = path.read_bytes()
    except FileNotFoundError as exc:
        raise FetchError(f"no such file: {path}") from exc
    except IsADirectoryError as exc:
        raise FetchError(f"{path} is a directory, not a listing file") from exc
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror}") from exc
    return Response(url or path.as_uri(), 200, content)


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection dropped"
    return type(exc).__name__
