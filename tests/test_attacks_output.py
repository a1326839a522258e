"""Attacks on the output side: hostile feeds against the per-recipient slots, addresses
that are not ASCII, and a broken outbox, DKIM key or site folder."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ROOT, SAMPLE_NOW, SmtpSink, free_port, make_settings, store_url

from digest.deliver import send_due
from digest.fetch import fetch_sources
from digest.periods import parse_period
from digest.publish import preview
from digest.store import Store
from digest.subscribers import subscription
from digest.tokens import Tokens

SECRET = "test-secret-0123456789abcdef"
TOKENS = Tokens(SECRET)
SITE = "papers.example.org"
LATER = SAMPLE_NOW + timedelta(minutes=5)

#: Every marker the email code has used for what differs per recipient or per part.
MARKERS = [
    "PD-UNSUBSCRIBE-URL-0d1f",
    "PD-PREFERENCES-URL-0d1f",
    *(f"PDTOK{n}0d1f" for n in ("SUBJECT", "PREHEADER", "HEADING", "SUMMARY", "COUNTS", "MORE")),
    "PD0123456789abcdef000PD",
    "PD0123456789abcdef001PD",
    "PD0123456789abcdef002PD",
]
WORDS = (
    "robots galaxies proteins markets climate poetry chess traffic music vaccines bridges "
    "forests oceans volcanoes deserts glaciers rivers"
).split()
STRUCTURE = ["<!--pd:card-->", "<!--pd:section-->", "<!--pd:sections_end-->", "pd:more"]


def _item(title: str, link: str, abstract: str, authors: str) -> str:
    from xml.sax.saxutils import escape

    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid isPermaLink='false'>{escape(link)}</guid>"
        f"<description>{escape(abstract)}</description>"
        f"<dc:creator>{escape(authors)}</dc:creator>"
        "<pubDate>Thu, 26 Nov 2026 00:00:00 -0500</pubDate></item>"
    )


def hostile_feed(path: Path) -> Path:
    """Papers naming every marker in their links, titles, abstracts and authors."""
    query = "&".join(f"m{i}={m}" for i, m in enumerate(MARKERS))
    items = []
    for i, marker in enumerate(MARKERS + STRUCTURE):
        items.append(
            _item(
                f"Reinforcement learning and reward {WORDS[i]} {marker} "
                f'"><b onmouseover="alert({i})">',
                f"https://evil.example/steal/{i}/{marker if '<' not in marker else 'x'}?{query}",
                f"We study {WORDS[i]} {WORDS[-1 - i]}. {' '.join(MARKERS + STRUCTURE)} reward.",
                f"{marker}, Mallory {i}",
            )
        )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        "<title>Hostile</title><link>https://evil.example/</link><description>x</description>"
        + "".join(items)
        + "</channel></rss>",
        encoding="utf-8",
    )
    return path


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "href":
                self.hrefs.append(value or "")
            if tag == "a":
                self.attributes.append(name)
            assert not name.startswith("on"), (tag, name, value)


def links_of(html: str, text: str) -> list[str]:
    anchors = _Anchors()
    anchors.feed(html)
    assert set(anchors.attributes) <= {"href", "style"}, anchors.attributes
    return anchors.hrefs + re.findall(r"https?://\S+", text)


def _bodies(data: bytes) -> tuple[str, str]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    return (
        message.get_body(("html",)).get_content(),
        message.get_body(("plain",)).get_content(),
    )


def _reader_tokens(urls: list[str]) -> set[str]:
    found = set()
    for url in urls:
        parts = urlsplit(url)
        if parts.hostname == SITE and parts.path.startswith(("/unsubscribe/", "/preferences/")):
            found.add(parts.path.rsplit("/", 1)[1])
    return found


def hostile_settings(tmp_path: Path, **mail):
    return make_settings(
        tmp_path,
        [{"name": "hostile", "kind": "feed", "path": str(hostile_feed(tmp_path / "h.xml"))}],
        topics=[
            {"slug": "rl", "name": "RL", "keywords": ["reinforcement learning"], "max_items": 5},
            {"slug": "rw", "name": "Reward", "keywords": ["reward"], "max_items": 5},
        ],
        site={"base_url": f"https://{SITE}", "title": "Digest"},
        mail={"outbox_dir": str(tmp_path / "outbox"), "retry_delays": [0.0], **mail},
    )


def test_markers_in_paper_content_never_receive_a_readers_links(tmp_path):
    settings = hostile_settings(tmp_path)
    store = Store.open(settings.store.url)
    fetch_sources(settings, store, now=lambda: SAMPLE_NOW - timedelta(hours=6))
    for i, topics in enumerate(["rl", "rl,rw", "rw", "rl"]):
        request = subscription(settings, email=f"reader{i}@example.org", topics=topics)
        store.add_subscriber(request, status="active", now=SAMPLE_NOW - timedelta(days=1))
    report = send_due(settings, store, now=LATER, tokens=TOKENS, sleep=lambda s: None)
    assert report.sent == 4, report.summary()
    messages = [_bodies(p.read_bytes()) for p in sorted((tmp_path / "outbox").glob("*.eml"))]
    # and the directly rendered path, as the preview builds it
    result = preview(
        settings,
        store,
        period=parse_period("2026-11-26", "UTC"),
        topics=settings.topics,
        out_dir=tmp_path / "site",
        now=SAMPLE_NOW,
    )
    store.close()
    messages += [_bodies(p.read_bytes()) for p in result.paths if p.name == "email.eml"]
    every_link = [links_of(html, text) for html, text in messages]
    tokens = set().union(*(_reader_tokens(urls) for urls in every_link)) - {"preview"}
    assert len(tokens) == 8  # each reader's unsubscribe and preferences token
    foreign = [u for urls in every_link for u in urls if urlsplit(u).hostname != SITE]
    assert any("evil.example/steal" in u for u in foreign)
    for url in foreign:
        assert not any(token in url for token in tokens), url
    # the markers a feed names stay the text it sent
    steal = next(u for u in foreign if "/steal/0/" in u)
    for marker in MARKERS:
        assert marker in steal
    for html, text in messages:
        assert "Digest: RL" not in "".join(u for u in foreign if "steal" in u)
        for marker in MARKERS:
            assert marker in text or marker in html


def _smtp(smtputf8: bool):
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    return sink, port, controller


ADDRESSES = ["first@example.org", "jörg@example.org", "user@bücher.example", "last@example.org"]


def _smtp_run(tmp_path: Path, smtputf8: bool):
    sink, port, controller = _smtp(smtputf8)
    try:
        settings = make_settings(
            tmp_path,
            [
                {
                    "name": "s",
                    "kind": "arxiv-rss",
                    "path": str(ROOT / "digest/sample/arxiv-listing.xml"),
                }
            ],
            topics=[{"slug": "rl", "name": "RL", "keywords": ["reinforcement learning"]}],
            site={"base_url": f"https://{SITE}"},
            mail={
                "transport": "smtp",
                "retry_delays": [0.0],
                "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "connections": 1},
            },
        )
        store = Store.open(settings.store.url)
        fetch_sources(settings, store, now=lambda: SAMPLE_NOW - timedelta(hours=6))
        for address in ADDRESSES:
            request = subscription(settings, email=address, topics="rl")
            store.add_subscriber(request, status="active", now=SAMPLE_NOW - timedelta(days=1))
        report = send_due(settings, store, now=LATER, tokens=TOKENS, sleep=lambda s: None)
        ledger = {store.subscriber_by_id(d.subscriber_id).email: d for d in store.deliveries()}
        store.close()
        return sink, report, ledger
    finally:
        controller.stop()


def test_a_non_ascii_address_fails_alone_without_smtputf8(tmp_path):
    sink, report, ledger = _smtp_run(tmp_path, smtputf8=False)
    assert (report.sent, report.failed, report.stopped) == (3, 1, None), report.summary()
    rcpts = [r for _, rcpts, _ in sink.messages for r in rcpts]
    assert rcpts == ["first@example.org", "user@xn--bcher-kva.example", "last@example.org"]
    assert {e: d.status for e, d in ledger.items()} == {
        "first@example.org": "sent",
        "jörg@example.org": "failed",
        "user@bücher.example": "sent",
        "last@example.org": "sent",
    }
    assert "SMTPUTF8" in ledger["jörg@example.org"].last_error
    to = [
        email.message_from_bytes(data, policy=email.policy.default)["To"]
        for _, _, data in sink.messages
    ]
    assert "user@xn--bcher-kva.example" in to


def test_a_non_ascii_address_goes_out_with_smtputf8(tmp_path):
    sink, report, ledger = _smtp_run(tmp_path, smtputf8=True)
    assert (report.sent, report.failed) == (4, 0), report.summary()
    rcpts = [r for _, rcpts, _ in sink.messages for r in rcpts]
    assert "jörg@example.org" in rcpts and "user@xn--bcher-kva.example" in rcpts
    assert {d.status for d in ledger.values()} == {"sent"}


CLI_CONFIG = """
[site]
base_url = "https://papers.example.org"
out_dir = "{out_dir}"
[store]
url = "{url}"
[[sources]]
name = "s"
kind = "arxiv-rss"
path = "{sample}"
[[topics]]
slug = "rl"
name = "RL"
keywords = ["reinforcement learning"]
[mail]
outbox_dir = "{outbox}"
{mail}
"""


def run_cli(tmp_path: Path, *args: str, out_dir="site", outbox="outbox", mail="", smtp=None):
    config = tmp_path / "digest.toml"
    config.write_text(
        CLI_CONFIG.format(
            out_dir=tmp_path / out_dir,
            url=store_url(tmp_path / "digest.db"),
            sample=ROOT / "digest/sample/arxiv-listing.xml",
            outbox=tmp_path / outbox,
            mail=mail,
        )
    )
    env = {**os.environ, "DIGEST_SECRET": SECRET, "DIGEST_CONFIG": str(config)}
    env.pop("DIGEST_STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _subscribed(tmp_path: Path, **options) -> None:
    assert run_cli(tmp_path, "fetch", **options).returncode == 0
    added = run_cli(
        tmp_path,
        "subscribers",
        "add",
        "ada@example.org",
        "--topics",
        "rl",
        "--hour",
        "0",
        "--active",
        **options,
    )
    assert added.returncode == 0, added.stderr


def assert_one_line_error(result, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]


def _pending(tmp_path: Path) -> list[str]:
    store = Store.open(store_url(tmp_path / "digest.db"))
    try:
        return [d.status for d in store.deliveries() if d.status == "pending"]
    finally:
        store.close()


@pytest.mark.slow
def test_an_unwritable_outbox_is_one_line_and_leaves_nothing_pending(tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    _subscribed(tmp_path, outbox="afile/outbox")
    result = run_cli(tmp_path, "send", "--period", "2026-11-26", outbox="afile/outbox")
    assert_one_line_error(result, "mail.outbox_dir")
    assert _pending(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("key", ["garbage", "missing"])
def test_an_unreadable_dkim_key_is_one_line_and_leaves_nothing_pending(tmp_path, key):
    path = tmp_path / "dkim.pem"
    if key == "garbage":
        path.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    dkim = f'[mail.dkim]\nselector = "s1"\ndomain = "example.org"\nprivate_key_path = "{path}"'
    _subscribed(tmp_path, mail=dkim)
    result = run_cli(tmp_path, "send", "--period", "2026-11-26", mail=dkim)
    assert_one_line_error(result, "mail.dkim.private_key_path")
    assert _pending(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("command", [["preview", "--date", "2026-11-26"], ["run"]])
def test_a_site_folder_that_is_a_file_is_one_line(tmp_path, command):
    (tmp_path / "site").write_text("not a folder")
    result = run_cli(tmp_path, *command)
    assert_one_line_error(result, "site.out_dir")


@pytest.mark.slow
def test_send_exits_non_zero_and_counts_the_address_it_could_not_send(tmp_path):
    sink, port, controller = _smtp(smtputf8=False)
    smtp = f'transport = "smtp"\nretry_delays = [0.0]\n[mail.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"'
    try:
        assert run_cli(tmp_path, "fetch", mail=smtp).returncode == 0
        settings = make_settings(tmp_path, [], topics=[{"slug": "rl", "name": "RL"}])
        store = Store.open(settings.store.url)
        for address in ADDRESSES:
            request = subscription(settings, email=address, topics="rl", hour=0)
            store.add_subscriber(request, status="active", now=SAMPLE_NOW - timedelta(days=1))
        store.close()
        result = run_cli(tmp_path, "send", "--period", "2026-11-26", mail=smtp)
    finally:
        controller.stop()
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "sent 3, skipped 0, retried 0, failed 1, bounced 0" in result.stdout
    assert len(sink.messages) == 3
    assert _pending(tmp_path) == []


def test_an_unwritable_outbox_stops_the_run_before_any_claim(tmp_path):
    from digest.errors import ConfigError

    (tmp_path / "afile").write_text("not a folder")
    settings = hostile_settings(tmp_path, outbox_dir=str(tmp_path / "afile" / "outbox"))
    store = Store.open(settings.store.url)
    fetch_sources(settings, store, now=lambda: SAMPLE_NOW - timedelta(hours=6))
    request = subscription(settings, email="reader@example.org", topics="rl")
    store.add_subscriber(request, status="active", now=SAMPLE_NOW - timedelta(days=1))
    with pytest.raises(ConfigError, match="mail.outbox_dir: cannot write to"):
        send_due(settings, store, now=LATER, tokens=TOKENS, sleep=lambda s: None)
    assert store.deliveries() == []
    store.close()


class _Breaks:
    """An outbox that raises an unexpected error for one recipient."""

    name = "breaks"
    max_connections = 2

    def __init__(self, inner, victim: str) -> None:
        self.inner, self.victim = inner, victim

    def connect(self):
        connection = self.inner.connect()
        victim = self.victim

        class Connection:
            def send(self, message):
                if message.recipient == victim:
                    raise RuntimeError("something nobody expected")
                return connection.send(message)

            def close(self):
                connection.close()

        return Connection()


def test_an_unexpected_error_is_that_deliverys_recorded_failure(tmp_path):
    from digest.transport import transport_for

    settings = hostile_settings(tmp_path)
    store = Store.open(settings.store.url)
    fetch_sources(settings, store, now=lambda: SAMPLE_NOW - timedelta(hours=6))
    for i in range(5):
        request = subscription(settings, email=f"reader{i}@example.org", topics="rl")
        store.add_subscriber(request, status="active", now=SAMPLE_NOW - timedelta(days=1))
    transport = _Breaks(transport_for(settings), "reader2@example.org")
    report = send_due(
        settings, store, now=LATER, tokens=TOKENS, transport=transport, sleep=lambda s: None
    )
    assert (report.sent, report.failed, report.stopped) == (4, 1, None)
    ledger = {store.subscriber_by_id(d.subscriber_id).email: d for d in store.deliveries()}
    assert ledger["reader2@example.org"].status == "failed"
    assert "RuntimeError: something nobody expected" in ledger["reader2@example.org"].last_error
    assert sorted(d.status for d in ledger.values()) == ["failed"] + ["sent"] * 4
    store.close()
