"""Attacks on fetching and on the configuration, against a real local HTTP server.

- a gzip bomb (a small body that inflates a thousandfold), served with
  ``Content-Encoding: gzip`` and saved as a file, and an endless body: capped by
  ``[fetch] max_bytes``, without ever holding more than the cap (#9.5);
- a 200 KB title, 1,500 long author names: cut to the stored fields' caps (#9.5);
- a server that dribbles one byte at a time, in the headers or in the body: cut off by
  ``[fetch] deadline`` (#9.6);
- ``[mail] from = "nobody"``, ``timeout = inf`` and other absurd numbers: refused at load
  with one line naming the key (#9.14).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import SAMPLE, make_settings

from digest.config import FetchSettings, load_settings
from digest.errors import ConfigError, FetchError
from digest.fetch import fetch_sources
from digest.http import HttpClient
from digest.limits import MAX_AUTHOR, MAX_AUTHORS, MAX_TITLE
from digest.sources import feed
from digest.store import Store

CAP = 1_000_000  # [fetch] max_bytes in these tests
BOMB_INFLATED = 100 * CAP  # what the bomb inflates to: a hundred times the cap
MB = 1 << 20
NOW = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)

Writer = Callable[[BaseHTTPRequestHandler, threading.Event], None]


def gzip_bomb(inflated: int) -> Iterator[bytes]:
    """A gzip stream of ``inflated`` zero bytes, compressed as it goes (a few KB at a time)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MB)
    for _ in range(inflated // MB):
        out = compressor.compress(zeros)
        if out:
            yield out
    yield compressor.flush()


class ScriptedServer:
    """A local HTTP server whose handler for each path writes the raw response itself."""

    def __init__(self) -> None:
        self.routes: dict[str, Writer] = {}
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                writer = outer.routes.get(urlsplit(self.path).path)
                if writer is None:
                    self.send_error(404)
                    return
                # the client going away is how a dribble ends
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    writer(self, outer.stop)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, writer: Writer) -> str:
        self.routes[path] = writer
        return self.url(path)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    scripted.thread.start()
    yield scripted
    scripted.stop.set()
    scripted.httpd.shutdown()
    scripted.httpd.server_close()


def send_bomb(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Encoding", "gzip")
    handler.end_headers()
    for chunk in gzip_bomb(BOMB_INFLATED):
        if stop.is_set():
            return
        handler.wfile.write(chunk)


def send_endless(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """An identity body with no length that never ends (until the client goes)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.end_headers()
    block = b"<rss>" + b" " * (64 * 1024)
    while not stop.is_set():
        handler.wfile.write(block)


def dribble_body(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Length", "1000000")
    handler.end_headers()
    handler.wfile.flush()
    dribble(handler, stop)


def dribble_headers(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    dribble(handler, stop)


def dribble(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """One byte every 0.1 s, until the client goes (or the test ends: at most 60 s)."""
    for _ in range(600):
        handler.wfile.write(b"a")
        handler.wfile.flush()
        if stop.wait(0.1):
            return


def client(**fetch: float) -> HttpClient:
    settings = FetchSettings(**{"timeout": 5.0, "retries": 0, "max_bytes": CAP, **fetch})
    return HttpClient(settings)


def peak_while(action: Callable[[], object]) -> tuple[object, int]:
    """What ``action`` returned or raised, and the peak of memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        try:
            result: object = action()
        except FetchError as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- #9.5: caps on what a source may make us download and inflate ---------------------


def test_a_gzip_bomb_over_http_is_capped_without_being_inflated(server):
    url = server.serve("/bomb.xml", send_bomb)
    with client() as http:
        result, peak = peak_while(lambda: http.get(url))
    assert isinstance(result, FetchError)
    message = str(result)
    assert "\n" not in message and f"larger than [fetch] max_bytes = {CAP} bytes" in message
    assert peak < 8 * CAP  # the bomb inflates to 100 times the cap; never held


def test_a_gzip_bomb_file_is_capped_without_being_inflated(tmp_path):
    bomb = tmp_path / "listing.xml.gz"
    with bomb.open("wb") as out:
        for chunk in gzip_bomb(BOMB_INFLATED):
            out.write(chunk)
    assert bomb.stat().st_size < CAP
    with client() as http:
        result, peak = peak_while(lambda: http.get(bomb.as_uri()))
    assert isinstance(result, FetchError) and "max_bytes" in str(result)
    assert peak < 8 * CAP


def test_an_endless_body_is_cut_at_the_cap(server):
    url = server.serve("/endless.xml", send_endless)
    with client() as http:
        result, peak = peak_while(lambda: http.get(url))
    assert isinstance(result, FetchError) and "max_bytes" in str(result)
    assert peak < 8 * CAP


def test_an_over_cap_source_fails_with_one_line_and_the_others_are_stored(server, tmp_path):
    bomb_url = server.serve("/bomb.xml", send_bomb)
    gz_file = tmp_path / "bomb.gz"
    gz_file.write_bytes(b"".join(gzip_bomb(BOMB_INFLATED)))
    settings = make_settings(
        tmp_path,
        [
            {"name": "bomb", "kind": "feed", "url": bomb_url},
            {"name": "bomb-file", "kind": "arxiv-rss", "path": str(gz_file)},
            {"name": "sample", "kind": "arxiv-rss", "path": str(SAMPLE / "arxiv-listing.xml")},
        ],
        fetch={"max_bytes": CAP, "retries": 0, "timeout": 5.0},
    )
    store = Store.open(settings.store.url)
    try:
        reports = {r.name: r for r in fetch_sources(settings, store, now=lambda: NOW)}
        assert len(store.papers()) == reports["sample"].counts.new > 0
    finally:
        store.close()
    for name in ("bomb", "bomb-file"):
        assert reports[name].failed
        summary = reports[name].summary()
        assert f"max_bytes = {CAP} bytes" in summary and "\n" not in summary
    assert not reports["sample"].failed


def test_stored_fields_are_capped(tmp_path):
    title = "Huge " * 40_000
    authors = ", ".join(f"Author {i} " + "x" * 250 for i in range(1500))
    rss = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>t</title><item><title>{title}</title>"
        "<link>https://journal.example.org/paper/1</link>"
        f"<description>{'word ' * 30_000}</description><dc:creator>{authors}</dc:creator>"
        "</item></channel></rss>"
    ).encode()
    (paper,) = feed.parse(rss).papers
    assert len(paper.title) <= MAX_TITLE and paper.title.startswith("Huge Huge")
    assert len(paper.abstract) <= 20_000
    assert 0 < len(paper.authors) <= MAX_AUTHORS
    assert all(len(a) <= MAX_AUTHOR for a in paper.authors)
    path = tmp_path / "big.xml"
    path.write_bytes(rss)
    settings = make_settings(tmp_path, [{"name": "big", "kind": "feed", "path": str(path)}])
    store = Store.open(settings.store.url)
    try:
        (report,) = fetch_sources(settings, store, now=lambda: NOW)
        stored = store.paper(paper.id)
    finally:
        store.close()
    assert not report.failed and stored is not None
    assert len(stored.title) <= MAX_TITLE and len(stored.authors) <= MAX_AUTHORS


def api_page(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """An arXiv API page of 100 entries (about 0.4 MB) out of 10,000 results."""
    start = int(dict(p.split("=", 1) for p in urlsplit(handler.path).query.split("&"))["start"])
    entries = "".join(
        f"<entry><id>http://arxiv.org/abs/2401.{start + i:05d}v1</id><title>Paper {i}</title>"
        f"<summary>{'text ' * 800}</summary></entry>"
        for i in range(100)
    )
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"<opensearch:totalResults>10000</opensearch:totalResults>{entries}</feed>"
    ).encode()
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_a_paged_source_shares_one_budget_across_its_pages(server, tmp_path):
    url = server.serve("/api/query", api_page)
    settings = make_settings(
        tmp_path,
        [{"name": "api", "kind": "arxiv-api", "url": url, "max_results": 10_000}],
        fetch={"max_bytes": CAP, "retries": 0, "arxiv_api_interval": 0.0},
    )
    store = Store.open(settings.store.url)
    try:
        (report,) = fetch_sources(settings, store, now=lambda: NOW)
    finally:
        store.close()
    assert report.failed and "max_bytes" in report.summary()


# -- #9.6: a total deadline per request ------------------------------------------------


@pytest.mark.parametrize("writer", [dribble_body, dribble_headers], ids=["body", "headers"])
def test_a_dribbling_server_is_cut_off_at_the_deadline(server, writer):
    url = server.serve("/slow.xml", writer)
    with client(timeout=5.0, deadline=1.0) as http, pytest.raises(FetchError) as caught:
        http.get(url)
    message = str(caught.value)
    assert "\n" not in message
    assert message == f"no complete answer from {url} within [fetch] deadline = 1 s"


def test_a_dribbling_proxy_is_cut_off_at_the_deadline(server, monkeypatch):
    proxy = server.url("")
    server.serve("/slow.xml", dribble_body)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    url = "http://papers.invalid/slow.xml"
    with client(timeout=5.0, deadline=1.0) as http, pytest.raises(FetchError) as caught:
        http.get(url)
    assert str(caught.value) == f"no complete answer from {url} within [fetch] deadline = 1 s"


def test_a_server_that_never_answers_is_cut_off_at_the_deadline():
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"
        with client(timeout=5.0, deadline=1.0) as http, pytest.raises(FetchError) as caught:
            http.get(url)
    finally:
        listener.close()
    assert "within [fetch] deadline = 1 s" in str(caught.value)


def test_the_deadline_lets_a_prompt_answer_through(server):
    def answer(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "5")
        handler.end_headers()
        handler.wfile.write(b"<rss>")

    url = server.serve("/fast.xml", answer)
    with client(deadline=1.0) as http:
        assert http.get(url).content == b"<rss>"
        assert http.get(url).content == b"<rss>"  # a reused connection gets a new deadline


# -- #9.14: absurd settings are refused at load ----------------------------------------


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[mail]\nfrom = "nobody"\n', "'mail.from'"),
        ('[mail]\nfrom = "Digest <nobody>"\n', "'mail.from'"),
        ('[mail]\nfrom = "a@example.org, b@example.org"\n', "'mail.from'"),
        ('[mail]\nreply_to = "not an address"\n', "'mail.reply_to'"),
        ('[mail]\nunsubscribe_address = "@example.org"\n', "'mail.unsubscribe_address'"),
        ("[fetch]\ntimeout = inf\n", "'fetch.timeout'"),
        ("[fetch]\ndeadline = nan\n", "'fetch.deadline'"),
        ("[fetch]\nmax_bytes = 0\n", "'fetch.max_bytes'"),
        ("[mail.smtp]\ntimeout = inf\n", "'mail.smtp.timeout'"),
        ("[mail.smtp]\nrate = 1e300\n", "'mail.smtp.rate'"),
        ("[mail]\nretry_delays = [2.0, inf]\n", "'mail.retry_delays"),
        ("[mail]\nretry_after = -inf\n", "'mail.retry_after'"),
        ("[schedule]\ndeliver_every = 1e12\n", "'schedule.deliver_every'"),
        ("[rank]\nrelevance_floor = nan\n", "'rank.relevance_floor'"),
        ("[web]\nsubscribe_window = inf\n", "'web.subscribe_window'"),
    ],
)
def test_absurd_settings_are_refused_with_one_line_naming_the_key(tmp_path, body, key):
    path = tmp_path / "digest.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: {key}")


def test_a_real_from_address_is_accepted(tmp_path):
    path = tmp_path / "digest.toml"
    path.write_text('[mail]\nfrom = "Paper Digest <digest@papers.example.org>"\n')
    assert load_settings(path, environ={}).sender == "Paper Digest <digest@papers.example.org>"


def test_sample_files_stay_within_the_caps():
    assert (SAMPLE / "arxiv-listing.xml").stat().st_size < CAP
    assert isinstance(Path(SAMPLE / "hf-daily.json").read_bytes(), bytes)
