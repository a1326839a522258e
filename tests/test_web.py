"""The web app in-process: every endpoint, and every way a request can be wrong."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
import time_machine
from conftest import SAMPLE, SAMPLE_NOW, make_settings
from starlette.testclient import TestClient

from digest.config import sample_settings
from digest.fetch import fetch_sources
from digest.periods import parse_period
from digest.publish import preview
from digest.store import Store
from digest.subscribers import subscription
from digest.tokens import Tokens
from digest.web import create_app

TOKENS = Tokens("test-secret-0123456789abcdef")
XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


class Clock:
    def __init__(self) -> None:
        self.now = SAMPLE_NOW
        self.mono = 0.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono


@pytest.fixture
def web(tmp_path):
    settings = make_settings(
        tmp_path,
        [{"name": "arxiv", "kind": "arxiv-rss", "path": str(SAMPLE / "arxiv-listing.xml")}],
        topics=[t.model_dump() for t in sample_settings().topics],
        site={"base_url": "https://papers.example.org", "title": "Paper Digest"},
        mail={"outbox_dir": str(tmp_path / "outbox")},
        web={"subscribe_limit": 3},
    )
    store = Store.open(settings.store.url)
    fetch_sources(settings, store, now=lambda: SAMPLE_NOW - timedelta(hours=1))
    preview(
        settings,
        store,
        period=parse_period("2026-11-26", "UTC"),
        topics=settings.topics,
        out_dir=tmp_path / "site",
        now=SAMPLE_NOW,
    )
    clock = Clock()
    app = create_app(settings, store=store, tokens=TOKENS, clock=clock, monotonic=clock.monotonic)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.store, client.clock, client.tmp = store, clock, tmp_path  # type: ignore[attr-defined]
        yield client
    store.close()


def mails(client) -> list[email.message.EmailMessage]:
    client.app.state.confirmations.settle()  # confirmations are mailed in the background
    found = sorted((client.tmp / "outbox").glob("*.eml"))
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in found]


def link(message, kind: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"https://papers\.example\.org(/{kind}/\S+)", text).group(1)


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def assert_secure(response) -> None:
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "Traceback" not in response.text


def test_home_lists_the_latest_editions_and_the_form(web):
    page = web.get("/")
    assert page.status_code == 200
    assert_secure(page)
    assert 'name="topics" value="rl"' in page.text and 'name="csrf_token"' not in page.text
    assert 'option value="Europe/Berlin"' in page.text and "/static/app.js" in page.text
    assert "Verifier-Anchored Group Relative Policy Optimization" in page.text
    assert "<script>" not in page.text.replace('<script src="/static/app.js" defer></script>', "")


def test_double_opt_in_from_subscribe_to_confirm(web):
    form = {
        "email": "Ada@Example.org",
        "topics": ["rl", "nlp"],
        "frequency": "weekly",
        "weekday": "fri",
        "timezone": "Europe/Berlin",
        "hour": "7",
    }
    answer = web.post("/subscribe", data=form)
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    subscriber = web.store.subscriber("ada@example.org")
    assert (subscriber.status, subscriber.topics, subscriber.weekday, subscriber.hour) == (
        "pending",
        ("rl", "nlp"),
        4,
        7,
    )
    [message] = mails(web)
    confirm = link(message, "confirm")
    page = web.get(confirm)  # a GET changes nothing
    assert page.status_code == 200 and web.store.subscriber("ada@example.org").status == "pending"
    assert web.post(confirm, data={}).status_code == 400  # no CSRF token
    assert web.post(confirm, data={"csrf_token": "forged"}).status_code == 400
    done = web.post(confirm, data={"csrf_token": csrf(page.text)})
    assert done.status_code == 200 and "You are subscribed" in done.text
    assert web.store.subscriber("ada@example.org").status == "active"


def test_subscribing_never_tells_who_is_subscribed_and_mails_at_most_hourly(web):
    first = web.post("/subscribe", data={"email": "bo@example.org", "topics": ["rl"]})
    again = web.post("/subscribe", data={"email": "bo@example.org", "topics": ["rl"]})
    assert len(mails(web)) == 1
    web.clock.now += timedelta(minutes=61)
    web.clock.mono += 601
    web.post("/subscribe", data={"email": "bo@example.org", "topics": ["rl"]})
    assert len(mails(web)) == 2
    web.store.add_subscriber(
        subscription(web.store and _settings(web), email="cy@example.org", topics="rl"),
        status="active",
        now=SAMPLE_NOW,
    )
    active = web.post("/subscribe", data={"email": "cy@example.org", "topics": ["rl"]})
    assert len(mails(web)) == 2  # nothing for an active subscriber
    assert first.text.replace("bo@", "X@") == again.text.replace("bo@", "X@")
    assert active.text.replace("cy@", "X@") == first.text.replace("bo@", "X@")


def _settings(web):
    return web.app.state.site.settings


def test_json_subscribe_and_its_errors(web):
    ok = web.post("/subscribe", json={"email": "dee@example.org", "topics": ["vision"]})
    assert ok.status_code == 200 and ok.json() == {"status": "check your inbox"}
    bad = web.post("/subscribe", json={"email": "dee@example.org", "topics": ["astrology"]})
    assert bad.status_code == 400 and "unknown topic 'astrology'" in bad.json()["error"]


def test_subscribing_is_rate_limited_per_client(web):
    for i in range(3):
        assert (
            web.post(
                "/subscribe", data={"email": f"r{i}@example.org", "topics": ["rl"]}
            ).status_code
            == 200
        )
    limited = web.post("/subscribe", data={"email": "r9@example.org", "topics": ["rl"]})
    assert limited.status_code == 429 and "Too many requests" in limited.text
    web.clock.mono += 601
    assert (
        web.post("/subscribe", data={"email": "r9@example.org", "topics": ["rl"]}).status_code
        == 200
    )


@pytest.mark.parametrize("field", ["email", "topics", "frequency", "weekday", "timezone", "hour"])
def test_hostile_input_in_every_field_comes_back_escaped(web, field):
    form = {
        "email": "x@example.org",
        "topics": ["rl"],
        "frequency": "daily",
        "weekday": "mon",
        "timezone": "UTC",
        "hour": "8",
    }
    form[field] = [XSS] if field == "topics" else XSS
    answer = web.post("/subscribe", data=form)
    assert answer.status_code == 400
    assert "<script>alert(1)" not in answer.text and "onerror=alert(2)>" not in answer.text
    assert "&lt;script&gt;" in answer.text
    assert_secure(answer)


def test_preferences_change_and_unsubscribe(web):
    subscriber, _ = web.store.add_subscriber(
        subscription(_settings(web), email="eve@example.org", topics="rl"),
        status="active",
        now=SAMPLE_NOW,
    )
    url = f"/preferences/{TOKENS.make('preferences', subscriber.id)}"
    page = web.get(url)
    assert page.status_code == 200 and 'value="rl" checked' in page.text
    assert web.post(url, data={"topics": ["nlp"]}).status_code == 400  # no CSRF token
    saved = web.post(
        url,
        data={
            "csrf_token": csrf(page.text),
            "topics": ["nlp", "vision"],
            "frequency": "daily",
            "timezone": "Asia/Tokyo",
            "hour": "21",
            "action": "save",
        },
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    updated = web.store.subscriber("eve@example.org")
    assert (updated.topics, updated.timezone, updated.hour) == (("nlp", "vision"), "Asia/Tokyo", 21)
    bad = web.post(
        url,
        data={"csrf_token": csrf(page.text), "topics": ["nlp"], "timezone": XSS, "action": "save"},
    )
    assert (
        bad.status_code == 200 and "&lt;script&gt;" in bad.text and "<script>alert" not in bad.text
    )
    gone = web.post(url, data={"csrf_token": csrf(page.text), "action": "unsubscribe"})
    assert "You are unsubscribed" in gone.text
    assert web.store.subscriber("eve@example.org").status == "unsubscribed"


def test_one_click_unsubscribe_and_a_get_that_changes_nothing(web):
    subscriber, _ = web.store.add_subscriber(
        subscription(_settings(web), email="fay@example.org", topics="rl"),
        status="active",
        now=SAMPLE_NOW,
    )
    url = f"/unsubscribe/{TOKENS.make('unsubscribe', subscriber.id)}"
    page = web.get(url)
    assert page.status_code == 200 and "<form" in page.text
    assert web.store.subscriber("fay@example.org").status == "active"
    web.cookies.clear()
    one_click = web.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert web.store.subscriber("fay@example.org").status == "unsubscribed"


def test_forged_expired_and_wrong_purpose_tokens_get_a_friendly_400(web):
    subscriber, _ = web.store.add_subscriber(
        subscription(_settings(web), email="gus@example.org", topics="rl"),
        status="pending",
        now=SAMPLE_NOW,
    )
    confirm = TOKENS.make("confirm", subscriber.id)
    for url in (
        f"/confirm/{confirm}x",
        f"/unsubscribe/{confirm}",
        f"/confirm/{TOKENS.make('unsubscribe', subscriber.id)}",
        "/preferences/not-a-token",
        f"/confirm/{Tokens('another-secret-xxxxxxxx').make('confirm', subscriber.id)}",
    ):
        answer = web.get(url)
        assert answer.status_code == 400, url
        assert "This link does not work" in answer.text
        assert_secure(answer)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8)):
        expired = web.get(f"/confirm/{confirm}")
    assert expired.status_code == 400 and "expired" in expired.text
    assert web.post(f"/unsubscribe/{confirm}").status_code == 400
    assert web.store.subscriber("gus@example.org").status == "pending"


def test_archive_feeds_health_and_unknown_pages(web):
    index = web.get("/archive/")
    assert index.status_code == 200 and "/archive/2026-11-26/rl/index.html" in index.text
    page = web.get("/archive/2026-11-26/rl")
    picks = page.text.split('id="also"')[0]
    assert page.status_code == 200 and picks.count('class="card"') == 5
    assert web.get("/archive/2026-11-26/rl/index.html").status_code == 200
    assert web.get("/archive/2026-11-26/astrology").status_code == 404
    for kind in ("rss", "atom"):
        feed = web.get(f"/feeds/rl.{kind}")
        assert feed.status_code == 200 and feedparser.parse(feed.content).bozo == 0
        assert len(feedparser.parse(feed.content).entries) == 5
    assert web.get("/feeds/nope.rss").status_code == 404
    assert web.get("/healthz").json() == {"status": "ok"}
    missing = web.get("/no/such/page")
    assert missing.status_code == 404 and "Not found" in missing.text
    assert_secure(missing)
    assert web.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert web.get("/subscribe").status_code == 405


def test_an_unexpected_error_is_a_page_not_a_traceback(web, monkeypatch):
    monkeypatch.setattr("digest.web.archive.latest", lambda site: 1 / 0)
    answer = web.get("/")
    assert answer.status_code == 500 and "Something went wrong" in answer.text
    assert "ZeroDivisionError" not in answer.text
