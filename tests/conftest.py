"""Shared fixtures: a real HTTP server, a real store, the real data in ../shared/data.

Tests that read the real data are marked ``realdata``; on a machine without it they are
skipped with a reason saying how to run them. Under ``CI=true`` missing data stops the run.

The store fixtures use SQLite files in tmp_path, or with ``DIGEST_TEST_STORE=postgresql``
databases on a PostgreSQL server (``tests/postgres.py``). Tests marked ``postgres`` need
that server too; without one they are skipped, saying why, except under ``CI=true``.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from postgres import DATABASES, ON_POSTGRES, TEST_STORE

from digest.config import FetchSettings, Settings, parse_settings
from digest.http import HttpClient
from digest.store import Store

ROOT = Path(__file__).resolve().parents[1]
# outputs must not depend on whether the semantic extra is installed: the tests that rank
# by meaning give the ranker their own embedder (tests/test_rank_semantic.py)
os.environ.setdefault("DIGEST_EMBEDDER", "none")
DATA = Path(os.environ.get("DIGEST_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
SAMPLE = ROOT / "digest" / "sample"

RSS_ALL = DATA / "arxiv-rss" / "rss.arxiv.org_all-archives_2024-11-28.xml"
RSS_ATOM = DATA / "arxiv-rss" / "rss.arxiv.org_atom_cs.AI_2025-08-20.xml"
RSS_ERROR = DATA / "arxiv-rss" / "rss.arxiv.org_error_bad-archive_2024-11-28.xml"
RSS_EMPTY = DATA / "arxiv-rss" / "rss.arxiv.org_test_empty_2024-11-28.xml"
API_QUERY = DATA / "arxiv-api" / "export.arxiv.org_query_cs.AI-LG-CL_25_2026-08-02.xml"
API_BODIES = DATA / "arxiv-api" / "arxiv.py_fixtures_2026_extracted_bodies"
API_2016 = DATA / "arxiv-api" / "arxiv.py_fixtures_2016"
HF_RAW = DATA / "hf-daily" / "api_daily_papers_raw_2026-07-31.json"
HF_DIR = DATA / "hf-daily"
LISTING = DATA / "listing" / "000_f818781e1eb7ac74.txt"
TRICKY = DATA / "feeds-tricky"

HAVE_DATA = DATA.is_dir()
HOW_TO_GET_DATA = (
    "put it at ../shared/data beside the checkout, or set DIGEST_SHARED_DATA to its folder"
)


IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    if not HAVE_DATA and IN_CI:
        raise pytest.UsageError(
            f"CI=true runs every test, and the real test data is not at {DATA}: " + HOW_TO_GET_DATA
        )
    if TEST_STORE not in ("sqlite", "postgresql"):
        raise pytest.UsageError(
            f"DIGEST_TEST_STORE={TEST_STORE!r}: say 'sqlite' (the default) or 'postgresql'"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not HAVE_DATA:
        skip = pytest.mark.skip(reason=f"needs the real test data: {HOW_TO_GET_DATA}")
        for item in items:
            if "realdata" in item.keywords:
                item.add_marker(skip, append=False)
    needs_server = [i for i in items if ON_POSTGRES or "postgres" in i.keywords]
    why = DATABASES.unreachable() if needs_server else None
    if why is None:
        return
    if IN_CI:
        raise pytest.UsageError(f"CI=true runs the PostgreSQL tests, and there is {why}")
    skip = pytest.mark.skip(reason=f"needs PostgreSQL: {why}")
    for item in needs_server:
        item.add_marker(skip, append=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    DATABASES.close()


def store_url(path: Path) -> str:
    """The URL of the test's store at ``path``: that SQLite file, or under
    DIGEST_TEST_STORE=postgresql an empty PostgreSQL store kept for ``path`` in this test."""
    if ON_POSTGRES:
        return DATABASES.store_url(str(path))
    return f"sqlite:///{path}"


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int


@dataclass
class FileServer:
    """A real HTTP server on 127.0.0.1 serving files, with scripted failures.

    ``routes`` maps a URL path to a file or to a callable returning (status, body,
    headers); ``script`` maps a path to statuses answered before the real response.
    ETag and Last-Modified are sent, and a matching conditional GET gets a 304.
    """

    base_url: str = ""
    routes: dict[str, Any] = field(default_factory=dict)
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def serve(
        self, path: str, target: Path | Callable[..., tuple[int, bytes, dict[str, str]]]
    ) -> str:
        self.routes[path] = target
        return self.url(path)

    def fail_first(self, path: str, *answers: tuple[int, dict[str, str]]) -> None:
        self.script.setdefault(path, []).extend(answers)

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            status, body, headers = self._answer(parts.path, query)
            with server.lock:
                server.requests.append(Request(parts.path, query, dict(self.headers), status))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(
            self, path: str, query: dict[str, list[str]]
        ) -> tuple[int, bytes, dict[str, str]]:
            with server.lock:
                scripted = server.script.get(path)
                if scripted:
                    status, headers = scripted.pop(0)
                    return status, f"scripted {status}".encode(), headers
            target = server.routes.get(path)
            if target is None:
                return 404, b"not found", {}
            if callable(target):
                return target(query)
            body = Path(target).read_bytes()
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            modified = email.utils.formatdate(Path(target).stat().st_mtime, usegmt=True)
            headers = {"ETag": etag, "Last-Modified": modified, "Content-Type": "application/xml"}
            if self.headers.get("If-None-Match") == etag:
                return 304, b"", headers
            return 200, body, headers

    return Handler


@pytest.fixture
def http_server() -> Iterator[FileServer]:
    files = FileServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(files))
    files.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield files
    httpd.shutdown()
    httpd.server_close()


class FakeTime:
    """A clock that only moves when slept on: backoff and rate limits cost no real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def http_client(fake_time: FakeTime) -> Iterator[HttpClient]:
    client = HttpClient(
        FetchSettings(timeout=5.0, backoff=1.0), sleep=fake_time.sleep, clock=fake_time.clock
    )
    yield client
    client.close()


def sample_config(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    """The built-in sample settings with everything they write in ``tmp_path`` (the store,
    the site, the outbox); ``sections`` change keys by section, e.g. mail={"send_empty": True}.
    """
    from digest.config import sample_settings

    base = sample_settings()
    parts: dict[str, dict[str, Any]] = {
        "store": {"url": store_url(tmp_path / "digest.db")},
        "site": {"out_dir": str(tmp_path / "site")},
        "mail": {"outbox_dir": str(tmp_path / "outbox")},
    }
    for name, values in sections.items():
        parts.setdefault(name, {}).update(values)
    return base.model_copy(
        update={name: getattr(base, name).model_copy(update=v) for name, v in parts.items()}
    )


@pytest.fixture
def sample(tmp_path: Path) -> Settings:
    """The sample settings, writing into tmp_path."""
    return sample_config(tmp_path)


@pytest.fixture
def open_store() -> Iterator[Callable[[Settings], Store]]:
    """Opens the store of the settings given; every store it opened is closed at teardown."""
    opened: list[Store] = []

    def open_(settings: Settings) -> Store:
        opened.append(Store.open(settings.store.url))
        return opened[-1]

    yield open_
    for each in opened:
        each.close()


@pytest.fixture
def store(sample: Settings, open_store: Callable[[Settings], Store]) -> Store:
    """The sample settings' store: a real, empty one (a SQLite file in tmp_path, or a
    PostgreSQL database), closed at teardown."""
    return open_store(sample)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def new_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes the URL of a store that does not exist yet, once on SQLite (a file that is not
    there) and once on PostgreSQL (a database with no tables)."""
    names = iter(range(1000))

    def make() -> str:
        if request.param == "postgresql":
            return DATABASES.empty_database()
        return f"sqlite:///{tmp_path / f'store{next(names)}' / 'digest.db'}"

    return make


@pytest.fixture(autouse=True)
def _every_store_is_closed(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """A store a test opened and left open is closed here, and the test fails for it: every
    store a test opens is closed (``open_store`` and ``store`` do it for you)."""
    opened: list[Store] = []
    closed: set[int] = set()
    real_open = Store.open.__func__  # type: ignore[attr-defined]
    real_close = Store.close

    def open_(cls: type[Store], *args: Any, **kwargs: Any) -> Store:
        opened.append(real_open(cls, *args, **kwargs))
        return opened[-1]

    def close(self: Store) -> None:
        closed.add(id(self))
        real_close(self)

    monkeypatch.setattr(Store, "open", classmethod(open_))
    monkeypatch.setattr(Store, "close", close)
    yield
    left = [each for each in opened if id(each) not in closed]
    for each in left:
        real_close(each)
    if ON_POSTGRES:
        DATABASES.end_test()
    if left:
        pytest.fail(f"{request.node.nodeid} left {len(left)} store(s) open", pytrace=False)


def make_settings(tmp_path: Path, sources: list[dict[str, Any]], **sections: Any) -> Settings:
    data: dict[str, Any] = {
        "store": {"url": store_url(tmp_path / "digest.db")},
        "sources": sources,
        **sections,
    }
    return parse_settings(data, origin=str(tmp_path / "digest.toml"))


GOLDEN = ROOT / "tests" / "golden"
#: The sample listing's announcement day, and a time during it when editions are built.
SAMPLE_DAY = "2026-11-26"
SAMPLE_NOW = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


def load_case(case: Path, tmp_path: Path, **env: str) -> Settings:
    """A golden case's settings, with the store in ``tmp_path``."""
    from digest.config import load_settings

    environ = {"DIGEST_STORE_URL": store_url(tmp_path / "digest.db"), **env}
    return load_settings(case / "digest.toml", environ=environ)


def fetched_store(settings: Settings, now: datetime = SAMPLE_NOW) -> Store:
    from digest.fetch import fetch_sources

    store = Store.open(settings.store.url)
    reports = fetch_sources(settings, store, now=lambda: now)
    assert not any(r.failed for r in reports), [r.summary() for r in reports]
    return store


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

    ``answers`` maps a recipient to the reply its RCPT gets (e.g. "451 4.3.0 later",
    "550 5.1.1 unknown"); ``drop_at`` drops the connection at the RCPT of that message
    number (1-based); ``received`` fires each time a message is accepted.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.answers: dict[str, str] = {}
        self.drop_at: set[int] = set()
        self.rcpt_count = 0
        self.lock = threading.Lock()
        self.received = threading.Condition(self.lock)
        #: An async callable awaited before each message is accepted (latency, pauses).
        self.data_hook: Callable[[int], Any] | None = None

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        with self.lock:
            self.rcpt_count += 1
            count = self.rcpt_count
        if count in self.drop_at:
            server.transport.close()
            return "421 4.4.2 dropped"
        answer = self.answers.get(address)
        if answer and not answer.startswith("2"):
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data_hook:
            with self.lock:
                number = len(self.messages) + 1
            await self.data_hook(number)
        with self.received:
            self.messages.append(
                (
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                )
            )
            self.received.notify_all()
        return "250 2.0.0 accepted"

    def count(self, recipient: str) -> int:
        with self.lock:
            return sum(recipient in rcpts for _, rcpts, _ in self.messages)

    def per_recipient(self) -> Counter[str]:
        """How many messages each recipient got (one pass, for runs of thousands)."""
        with self.lock:
            return Counter(r for _, rcpts, _ in self.messages for r in rcpts)

    def wait_for(self, total: int, timeout: float = 30.0) -> bool:
        with self.received:
            return self.received.wait_for(lambda: len(self.messages) >= total, timeout)


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
