"""The rendered email and archive pages in headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import GOLDEN, ROOT, SAMPLE, SAMPLE_DAY, SAMPLE_NOW, fetched_store, load_case

from digest.periods import parse_period
from digest.publish import preview

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
SAMPLE_LISTING = SAMPLE / "arxiv-listing.xml"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    settings = load_case(GOLDEN / "sample-rl", tmp)
    store = fetched_store(settings)
    preview(
        settings,
        store,
        period=parse_period(SAMPLE_DAY, "UTC"),
        topics=settings.topics,
        out_dir=tmp / "site",
        now=SAMPLE_NOW,
    )
    store.close()
    return tmp / "site"


@pytest.mark.parametrize("width", [375, 600])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_email_fits_the_width_without_horizontal_scrolling(browser, site, width, scheme):
    page = browser.new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)
    page.goto((site / "preview" / SAMPLE_DAY / "rl" / "email.html").as_uri())
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    widest = page.evaluate(
        "Math.max(...[...document.querySelectorAll('body *')]"
        ".map(e => e.getBoundingClientRect().right))"
    )
    cards = page.locator(".card").count()
    title_color = page.evaluate("getComputedStyle(document.querySelector('.paper-title a')).color")
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.container')).backgroundColor"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"email-{width}-{scheme}.png"), full_page=True)
    page.close()
    assert overflow <= 0 and widest <= width + 0.5
    assert cards == 5
    assert title_color != background
    if scheme == "dark":
        assert background == "rgb(22, 27, 34)"


@pytest.mark.parametrize("width", [375, 1280])
def test_archive_page_fits(browser, site, width):
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto((site / "archive" / SAMPLE_DAY / "rl" / "index.html").as_uri())
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert page.locator(".card").count() == 8  # the 5 picks, then the 3 others that matched
    feeds = page.locator("link[rel=alternate]").evaluate_all("ls => ls.map(l => l.href)")
    assert feeds == [
        "https://papers.example.org/feeds/rl.rss",
        "https://papers.example.org/feeds/rl.atom",
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"archive-{width}.png"), full_page=True)
    page.close()


def test_a_delivered_multi_topic_email_fits_375px(browser, tmp_path, open_store):
    import email as email_package
    import email.policy

    from test_deliver import send, setup, subscribe

    settings, store = setup(open_store, tmp_path)
    subscribe(settings, store, "reader@example.org", topics="rl,nlp,vision", max_papers=12)
    assert send(settings, store).sent == 1
    [path] = (tmp_path / "outbox").glob("*.eml")
    message = email_package.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    html = tmp_path / "delivered.html"
    html.write_text(message.get_body(("html",)).get_content())
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.goto(html.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert page.locator("h2").count() == 3 and page.locator(".card").count() == 12
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "delivered-375.png"), full_page=True)
    page.close()


def test_subscribe_confirm_receive_and_unsubscribe_in_the_browser(browser, tmp_path, smtp_sink):
    import email as email_package
    import email.policy
    import re

    from conftest import free_port, make_settings

    from digest.config import sample_settings
    from digest.deliver import send_due
    from digest.fetch import fetch_sources
    from digest.store import Store
    from digest.tokens import Tokens
    from digest.web import create_app

    sink, smtp_port = smtp_sink
    port = free_port()
    settings = make_settings(
        tmp_path,
        [{"name": "arxiv", "kind": "arxiv-rss", "path": str(SAMPLE_LISTING)}],
        topics=[t.model_dump() for t in sample_settings().topics],
        site={"base_url": f"http://127.0.0.1:{port}"},
        mail={
            "transport": "smtp",
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none"},
        },
    )
    store = Store.open(settings.store.url)
    fetch_sources(settings, store)
    tokens = Tokens("test-secret-0123456789abcdef")
    app = create_app(settings, store=store, tokens=tokens)
    import socket as socket_module

    import uvicorn

    sock = socket_module.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    import threading

    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"

    def parse(data):
        return email_package.message_from_bytes(data, policy=email.policy.default)

    def shoot(page, name):
        """Screenshots at phone and desktop width; neither may scroll sideways."""
        for width in (375, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
            page.screenshot(path=str(ARTIFACTS / f"web-{name}-{width}.png"), full_page=True)

    try:
        ARTIFACTS.mkdir(exist_ok=True)
        page = browser.new_page(viewport={"width": 375, "height": 900})
        page.goto(base + "/")
        shoot(page, "home")
        page.fill("input[name=email]", "reader@example.org")
        page.check("input[name=topics][value=nlp]")
        page.select_option("select[name=hour]", "0")
        page.click("button[type=submit]")
        assert "Check your inbox" in page.content()
        shoot(page, "check-inbox")
        assert sink.wait_for(1)
        confirmation = parse(sink.messages[0][2])
        url = re.search(
            r"(http://127\.0\.0\.1:\d+/confirm/\S+)",
            confirmation.get_body(("plain",)).get_content(),
        ).group(1)
        page.goto(url)
        assert store.subscriber("reader@example.org").status == "pending"
        shoot(page, "confirm")
        page.click("button[type=submit]")
        assert "You are subscribed" in page.content()
        shoot(page, "subscribed")
        subscriber = store.subscriber("reader@example.org")
        assert subscriber.status == "active" and set(subscriber.topics) >= {"nlp"}

        report = send_due(settings, store, now=datetime.now(UTC), tokens=tokens)
        assert report.sent == 1 and sink.wait_for(2)
        digest = parse(sink.messages[1][2])
        assert digest["To"] == "reader@example.org"
        unsubscribe = digest["List-Unsubscribe"].split(",")[0].strip(" <>")
        page.goto(unsubscribe)
        assert store.subscriber("reader@example.org").status == "active"  # GET: a question
        shoot(page, "unsubscribe")
        page.click("button[type=submit]")
        assert "You are unsubscribed" in page.content()
        assert store.subscriber("reader@example.org").status == "unsubscribed"
        preferences = re.search(
            r"(http://127\.0\.0\.1:\d+/preferences/\S+)", digest.get_body(("plain",)).get_content()
        ).group(1)
        page.goto(preferences)
        shoot(page, "preferences")
        page.goto(base + "/archive/")
        shoot(page, "archive")
        page.close()
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()
