"""What a reader sees in Chromium: a three-topic email, the archive of a topic and day
with every relevant paper, the archive by topic, and the page after unsubscribing.
Screenshots at 375 and 1280 px go to test-artifacts/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import SAMPLE_DAY, SAMPLE_NOW
from test_browser import ARTIFACTS, browser  # noqa: F401  (the Chromium fixture)
from test_browser import pytestmark as browser_marks
from test_reader import THREE, published
from test_web import TOKENS, web  # noqa: F401  (the app fixture)

from digest.compose.personal import SharedRankings, personal_edition
from digest.periods import parse_period
from digest.render import Renderer

pytestmark = browser_marks
WIDTHS = [375, 1280]


def shot(page, name: str, width: int) -> float:
    """Save a full-page screenshot; the page's horizontal overflow in px."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture(scope="module")
def reader_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reader")
    opened = []

    def open_store(settings):
        from digest.store import Store

        opened.append(Store.open(settings.store.url))
        return opened[-1]

    settings, store, out, _ = published(tmp, open_store)
    since = SAMPLE_NOW - timedelta(days=1)
    needs = {(since, t["slug"]) for t in THREE}
    until = SAMPLE_NOW + timedelta(minutes=1)
    shared = SharedRankings(settings, store, needs, until, until)
    edition = personal_edition(
        shared,
        [t["slug"] for t in THREE],
        parse_period(SAMPLE_DAY, "UTC"),
        since,
        until,
        10,
        until,
    )
    html, _ = Renderer(settings).email(edition).fill("https://x.test/u", "https://x.test/p")
    (out / "three.html").write_text(html)
    yield settings, out, edition
    for each in opened:
        each.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", WIDTHS)
def test_a_three_topic_email(browser, reader_site, width, scheme):  # noqa: F811
    settings, out, edition = reader_site
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page.goto((out / "three.html").as_uri())
    overflow = shot(page, f"email-three-topics-{scheme}", width)
    headings = page.evaluate(
        "[...document.querySelectorAll('h2 a')].map(a => {const s = getComputedStyle(a);"
        " return [s.color, s.textDecorationLine, getComputedStyle(a.parentElement).color]})"
    )
    cards = page.locator(".card").count()
    mores = page.evaluate(
        "[...document.querySelectorAll('.abstract a')].map(a => a.getAttribute('href'))"
    )
    page.close()
    assert overflow <= 0
    assert cards == 10 and len(headings) == 3
    for color, decoration, heading_color in headings:  # styled like the heading, no underline
        assert color == heading_color and decoration == "none"
    assert mores and all(m.startswith(settings.site.base_url + "/archive/") for m in mores)
    assert len((out / "three.html").read_bytes()) < 102 * 1024


@pytest.mark.parametrize("width", WIDTHS)
def test_the_archive_of_a_topic_and_day_and_by_topic(browser, reader_site, width):  # noqa: F811
    _, out, _ = reader_site
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto((out / "archive" / SAMPLE_DAY / "rl" / "index.html").as_uri())
    overflow = shot(page, "archive-day", width)
    also = page.locator("#also").count()
    abstract = page.locator(".abstract").first.inner_text()
    page.click("text=Reinforcement learning >> nth=0")  # the crumb: the topic's page
    topic_overflow = shot(page, "archive-topic", width)
    on_topic_page = page.url.endswith("/archive/rl/index.html")
    page.close()
    assert overflow <= 0 and topic_overflow <= 0 and on_topic_page
    assert also == 1 and not abstract.endswith("…")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_after_unsubscribing_offers_to_undo(browser, web, width):  # noqa: F811
    settings = web.app.state.site.settings
    from digest.subscribers import subscription

    found, _ = web.store.add_subscriber(
        subscription(settings, email="pia@example.org", topics="rl"),
        status="active",
        now=SAMPLE_NOW,
    )
    html = web.post(f"/unsubscribe/{TOKENS.make('unsubscribe', found.id)}").text
    page = browser.new_page(viewport={"width": width, "height": 700})
    page.set_content(html)
    page.add_style_tag(content=web.app.state.site.renderer.stylesheet())
    overflow = shot(page, "unsubscribed", width)
    heading = page.locator("h1").inner_text()
    undo = page.locator("button[value=undo]").count()
    page.close()
    assert overflow <= 0 and heading == "You are unsubscribed" and undo == 1
